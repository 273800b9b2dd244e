package kubernetes

import "strings"

// EngineKind is an inference engine (or the GPU exporter) llmmon knows the
// metrics endpoint of.
type EngineKind string

// Engine kinds, as kubernetes.engines[].kind takes them.
const (
	VLLM     EngineKind = "vllm"
	LlamaCPP EngineKind = "llamacpp"
	TGI      EngineKind = "tgi"
	SGLang   EngineKind = "sglang"
	DCGM     EngineKind = "dcgm"
)

// engineKinds is the order render writes the jobs in.
var engineKinds = []EngineKind{VLLM, LlamaCPP, TGI, SGLang, DCGM}

// engineDefault is where an engine serves its metrics, as its own
// deployment recipes name things.
type engineDefault struct {
	path string
	// podPort and servicePort are the port names PodMonitors and
	// ServiceMonitors select.
	podPort, servicePort string
	// selector is the recommended app.kubernetes.io/name label.
	selector map[string]string
	// model says the pods serve one model each, so the model pod label
	// (kubernetes.model_label) becomes the model target label.
	model bool
	// honorLabels keeps the exporter's own pod/namespace/container labels:
	// dcgm-exporter names the pod that holds each GPU, which is what a
	// GPU panel wants, not the exporter's own pod.
	honorLabels bool
}

func (d engineDefault) port(m MonitorKind) string {
	if m == ServiceMonitor {
		return d.servicePort
	}
	return d.podPort
}

var engineDefaults = map[EngineKind]engineDefault{
	// vLLM serves /metrics on its API port; its Helm chart and the
	// production stack name that port container-port (service-port on the
	// Service) and label each pod with its model.
	VLLM: {path: "/metrics", podPort: "container-port", servicePort: "service-port",
		selector: map[string]string{labelName: "vllm"}, model: true},
	// llama.cpp's llama-server serves /metrics on its port with --metrics.
	LlamaCPP: {path: "/metrics", podPort: "http", servicePort: "http",
		selector: map[string]string{labelName: "llama-cpp"}, model: true},
	// TGI serves /metrics on its API port.
	TGI: {path: "/metrics", podPort: "http", servicePort: "http",
		selector: map[string]string{labelName: "text-generation-inference"}, model: true},
	// SGLang serves /metrics on its port with --enable-metrics.
	SGLang: {path: "/metrics", podPort: "http", servicePort: "http",
		selector: map[string]string{labelName: "sglang"}, model: true},
	// dcgm-exporter serves /metrics on 9400, port name metrics in its chart.
	DCGM: {path: "/metrics", podPort: "metrics", servicePort: "metrics",
		selector: map[string]string{labelName: "dcgm-exporter"}, honorLabels: true},
}

func kindList() string {
	s := make([]string, len(engineKinds))
	for i, k := range engineKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}
