package stack

// KubernetesSettings is the kubernetes: section of llmmon.yaml: how
// `llmmon render --kubernetes` fits llmmon's scrape jobs, rules and
// dashboard into a cluster that runs kube-prometheus-stack. It is plain
// data: stack/kubernetes fills the defaults and validates it, naming the
// key to fix. Empty fields take those defaults.
type KubernetesSettings struct {
	// Namespace every object is created in (default monitoring).
	Namespace string `yaml:"namespace,omitempty" json:"namespace,omitempty"`
	// Release is the value of the release label that kube-prometheus-stack's
	// podMonitorSelector, serviceMonitorSelector and ruleSelector match: the
	// Helm release name it was installed with (default kube-prometheus-stack).
	Release string `yaml:"release,omitempty" json:"release,omitempty"`
	// Monitor is PodMonitor (default) or ServiceMonitor.
	Monitor string `yaml:"monitor,omitempty" json:"monitor,omitempty"`
	// ModelLabel is the pod label whose value becomes the engines' model
	// label (default model, as vLLM's production stack labels its pods).
	ModelLabel string `yaml:"model_label,omitempty" json:"model_label,omitempty"`
	// Engines are the scrape jobs of the inference engines and the GPU
	// exporter; absent, one job per known kind with its usual labels.
	Engines []KubernetesEngine `yaml:"engines,omitempty" json:"engines,omitempty"`
	Gateway KubernetesGateway  `yaml:"gateway,omitempty" json:"gateway,omitzero"`
	Grafana KubernetesGrafana  `yaml:"grafana,omitempty" json:"grafana,omitzero"`
}

// KubernetesEngine is one engine's scrape job in the cluster.
type KubernetesEngine struct {
	// Kind is vllm, llamacpp, tgi, sglang or dcgm; it picks the metrics
	// path and port name the engine serves by default.
	Kind string `yaml:"kind" json:"kind"`
	// Name is the job label (default: the kind).
	Name string `yaml:"name,omitempty" json:"name,omitempty"`
	// Selector is the pod (or, with ServiceMonitor, Service) labels.
	Selector map[string]string `yaml:"selector,omitempty" json:"selector,omitempty"`
	// Namespaces to look in; empty means every namespace.
	Namespaces []string `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	// Port is the container (or Service) port name.
	Port string `yaml:"port,omitempty" json:"port,omitempty"`
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
}

// KubernetesGateway is llmmon's gateway (serve --upstream) in the cluster.
type KubernetesGateway struct {
	// Upstreams are serve's --upstream values ([NAME=]URL). With any, a
	// Deployment and a Service run the gateway; without, the gateway job
	// scrapes pods that carry Selector.
	Upstreams []string `yaml:"upstreams,omitempty" json:"upstreams,omitempty"`
	// Image is the image `make image` builds, pushed where the cluster
	// pulls from (default llmmon:VERSION).
	Image      string            `yaml:"image,omitempty" json:"image,omitempty"`
	Replicas   int               `yaml:"replicas,omitempty" json:"replicas,omitempty"`
	Selector   map[string]string `yaml:"selector,omitempty" json:"selector,omitempty"`
	Namespaces []string          `yaml:"namespaces,omitempty" json:"namespaces,omitempty"`
	// APIKeySecret and UpstreamAPIKeySecret are Secrets, as NAME/KEY, that
	// the gateway reads as LLMMON_API_KEY (the key clients must present)
	// and LLMMON_UPSTREAM_API_KEY (the key it sends upstream); never in
	// the manifests themselves.
	APIKeySecret         string `yaml:"api_key_secret,omitempty" json:"api_key_secret,omitempty"`
	UpstreamAPIKeySecret string `yaml:"upstream_api_key_secret,omitempty" json:"upstream_api_key_secret,omitempty"`
}

// KubernetesGrafana says how the dashboard reaches Grafana.
type KubernetesGrafana struct {
	// FolderAnnotation is the annotation the dashboard sidecar reads the
	// folder from (its folderAnnotation value; default grafana_folder).
	FolderAnnotation string `yaml:"folder_annotation,omitempty" json:"folder_annotation,omitempty"`
	// Operator also writes a GrafanaDashboard for grafana-operator,
	// imported into the Grafana instances InstanceSelector matches.
	Operator         bool              `yaml:"operator,omitempty" json:"operator,omitempty"`
	InstanceSelector map[string]string `yaml:"instance_selector,omitempty" json:"instance_selector,omitempty"`
}
