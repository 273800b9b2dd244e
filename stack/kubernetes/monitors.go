package kubernetes

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scrapeJob is what a PodMonitor or ServiceMonitor is built from.
type scrapeJob struct {
	component  string // the component label and the object's name suffix
	job        string
	selector   map[string]string
	namespaces []string
	port, path string
	interval   string
	// modelLabel, when set, is the pod label copied to the model label.
	modelLabel  string
	honorLabels bool
}

func (b *builder) scrapeJobs() []scrapeJob {
	var jobs []scrapeJob
	g := b.o.Gateway
	gw := scrapeJob{component: componentGateway, job: g.Job, selector: g.Selector, namespaces: g.Namespaces,
		port: g.Port, path: g.Path, interval: b.interval}
	if g.Deploy() {
		gw.namespaces = []string{b.o.Namespace}
	}
	jobs = append(jobs, gw)
	for _, e := range b.o.Engines {
		d := engineDefaults[e.Kind]
		j := scrapeJob{component: e.Job, job: e.Job, selector: e.Selector, namespaces: e.Namespaces,
			port: e.Port, path: e.Path, interval: b.interval, honorLabels: d.honorLabels}
		if d.model {
			j.modelLabel = b.o.ModelLabel
		}
		jobs = append(jobs, j)
	}
	return jobs
}

// relabelings run after the operator's own, which already set namespace,
// pod and container (and service, for a ServiceMonitor) and a job named
// after the monitor. They give the job the name llmmon's rules and
// dashboard use, and add node and model.
func (j scrapeJob) relabelings() []monitoringv1.RelabelConfig {
	rc := []monitoringv1.RelabelConfig{
		{Action: "replace", TargetLabel: "job", Replacement: &j.job},
		// (.+): an endpoint backed by a node, not a pod, keeps the
		// operator's own node label.
		{Action: "replace", SourceLabels: []monitoringv1.LabelName{"__meta_kubernetes_pod_node_name"}, Regex: "(.+)", TargetLabel: "node"},
	}
	if j.modelLabel != "" {
		// Only when the pod has the label: (.+) does not match an empty value.
		rc = append(rc, monitoringv1.RelabelConfig{Action: "replace",
			SourceLabels: []monitoringv1.LabelName{monitoringv1.LabelName("__meta_kubernetes_pod_label_" + sanitizeLabelName(j.modelLabel))},
			Regex:        "(.+)", TargetLabel: "model"})
	}
	return rc
}

func (j scrapeJob) namespaceSelector() monitoringv1.NamespaceSelector {
	if len(j.namespaces) == 0 {
		return monitoringv1.NamespaceSelector{Any: true}
	}
	return monitoringv1.NamespaceSelector{MatchNames: j.namespaces}
}

func (b *builder) podMonitor(j scrapeJob) *monitoringv1.PodMonitor {
	port := j.port
	return &monitoringv1.PodMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PodMonitorsKind},
		ObjectMeta: b.meta(j.component, j.component, true),
		Spec: monitoringv1.PodMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: j.selector},
			NamespaceSelector: j.namespaceSelector(),
			PodMetricsEndpoints: []monitoringv1.PodMetricsEndpoint{{
				Port:           &port,
				Path:           j.path,
				Interval:       monitoringv1.Duration(j.interval),
				HonorLabels:    j.honorLabels,
				RelabelConfigs: j.relabelings(),
			}},
		},
	}
}

func (b *builder) serviceMonitor(j scrapeJob) *monitoringv1.ServiceMonitor {
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.ServiceMonitorsKind},
		ObjectMeta: b.meta(j.component, j.component, true),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector:          metav1.LabelSelector{MatchLabels: j.selector},
			NamespaceSelector: j.namespaceSelector(),
			Endpoints: []monitoringv1.Endpoint{{
				Port:           j.port,
				Path:           j.path,
				Interval:       monitoringv1.Duration(j.interval),
				HonorLabels:    j.honorLabels,
				RelabelConfigs: j.relabelings(),
			}},
		},
	}
}

// sanitizeLabelName is how Prometheus' Kubernetes discovery turns a pod
// label into a meta label name: anything but [a-zA-Z0-9_] becomes _.
func sanitizeLabelName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
