package stack

import (
	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Part is one of the stack's containers as the steps that treat them
// alike see it: preflight's ports and images, the readiness wait,
// status, doctor. Each part has its own image and port settings under
// its component's key in llmmon.yaml (prometheus.port, ...).
type Part struct {
	Component string // the LabelComponent value and the settings' key
	Title     string // as the user reads it: Prometheus
	// Alias is its name on the stack's network; ContainerPort where it
	// listens there.
	Alias         string
	ContainerPort int
	// ReadyPath answers 200 once it is ready.
	ReadyPath string
	PortFlag  string
	ImageFlag string
}

// parts are the stack's containers in start order: Grafana last, as it
// queries the other two.
var parts = []Part{
	{Component: ComponentPrometheus, Title: "Prometheus", Alias: PrometheusAlias, ContainerPort: prometheus.Port,
		ReadyPath: "/-/ready", PortFlag: "--prometheus-port", ImageFlag: "--prometheus-image"},
	{Component: ComponentAlertmanager, Title: "Alertmanager", Alias: AlertmanagerAlias, ContainerPort: alertmanager.Port,
		ReadyPath: "/-/ready", PortFlag: "--alertmanager-port", ImageFlag: "--alertmanager-image"},
	{Component: ComponentGrafana, Title: "Grafana", Alias: GrafanaAlias, ContainerPort: grafanaContainerPort,
		ReadyPath: "/api/health", PortFlag: "--grafana-port", ImageFlag: "--grafana-image"},
}

// Parts lists the stack's containers in start order.
func (Config) Parts() []Part { return append([]Part(nil), parts...) }

// PartOf returns the part of a component; ok is false for an unknown one.
func PartOf(component string) (Part, bool) {
	for _, p := range parts {
		if p.Component == component {
			return p, true
		}
	}
	return Part{}, false
}

// Part returns the image and port settings of a component.
func (c Config) Part(component string) Component {
	switch component {
	case ComponentPrometheus:
		return c.Prometheus.Component
	case ComponentGrafana:
		return c.Grafana
	case ComponentAlertmanager:
		return c.Alertmanager
	}
	return Component{}
}

// Images lists the images of the stack's containers, in start order.
func (c Config) Images() []string {
	out := make([]string, len(parts))
	for i, p := range parts {
		out[i] = c.Part(p.Component).Image
	}
	return out
}

// Container is the name of a component's container.
func (n Names) Container(component string) string {
	switch component {
	case ComponentPrometheus:
		return n.Prometheus
	case ComponentGrafana:
		return n.Grafana
	case ComponentAlertmanager:
		return n.Alertmanager
	}
	return ""
}

// Volume is the name of a component's data volume.
func (n Names) Volume(component string) string {
	switch component {
	case ComponentPrometheus:
		return n.PrometheusData
	case ComponentGrafana:
		return n.GrafanaData
	case ComponentAlertmanager:
		return n.AlertmanagerData
	}
	return ""
}
