package stack

// Labels on every Docker object llmmon creates. down and status find
// objects by these; an object without them is never touched.
const (
	LabelStack      = "dev.llmmon.stack"
	LabelComponent  = "dev.llmmon.component"
	LabelConfigHash = "dev.llmmon.config-hash"
)

// DefaultStackName is the label value of a stack started without --name.
const DefaultStackName = "default"

// Names are the Docker object names of one stack, as in the seed's compose file.
type Names struct {
	Stack          string // label value
	Network        string
	Prometheus     string
	Grafana        string
	PrometheusData string
	GrafanaData    string
}

// NamesFor prefixes the seed's names with the stack name, when one is given.
func NamesFor(name string) Names {
	prefix, stack := "", DefaultStackName
	if name != "" {
		prefix, stack = name+"-", name
	}
	return Names{
		Stack:          stack,
		Network:        prefix + "monitoring",
		Prometheus:     prefix + "llm-prometheus",
		Grafana:        prefix + "llm-grafana",
		PrometheusData: prefix + "llm-prometheus-data",
		GrafanaData:    prefix + "llm-grafana-data",
	}
}
