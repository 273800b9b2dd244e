package stack

import (
	"net"
	"strconv"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Labels on the Docker objects llmmon creates. down and status find
// objects by LabelStack; an object without it is never touched.
const (
	// LabelStack is on every object: the stack's name (DefaultStackName
	// without --name).
	LabelStack = "dev.llmmon.stack"
	// LabelComponent says which part an object is: ComponentPrometheus or
	// ComponentGrafana; the network has none.
	LabelComponent = "dev.llmmon.component"
	// LabelConfigHash is on each container: the hash of the spec it was
	// created from, so up recreates only what changed.
	LabelConfigHash = "dev.llmmon.config-hash"
	// LabelFilesHash is on Grafana's container: the content of the files it
	// was created with. up records later deliveries in its state.
	LabelFilesHash = "dev.llmmon.files-hash"
	// LabelDir is on each container: the absolute --dir up ran with, so
	// status --name finds the stack's files from anywhere (as Compose's
	// working_dir label). Labels are outside the config hash: a moved
	// folder recreates nothing.
	LabelDir = "dev.llmmon.dir"
)

// Components, as in the LabelComponent label.
const (
	ComponentPrometheus   = "prometheus"
	ComponentGrafana      = "grafana"
	ComponentAlertmanager = "alertmanager"
)

// Names on the stack's own network: Grafana reaches Prometheus by its
// alias, through the datasource that render provisions.
const (
	PrometheusAlias   = "prometheus"
	GrafanaAlias      = "grafana"
	AlertmanagerAlias = "alertmanager"
	DatasourceName    = "Prometheus"
	DatasourceUID     = "llmmon-prometheus"
	// The Alertmanager datasource shows firing alerts and silences in
	// Grafana's alerting pages.
	AlertmanagerDatasourceName = "Alertmanager"
	AlertmanagerDatasourceUID  = "llmmon-alertmanager"
)

// DatasourceURL is where Grafana queries Prometheus: its alias, at the
// port it listens on in its container.
var DatasourceURL = "http://" + net.JoinHostPort(PrometheusAlias, strconv.Itoa(prometheus.Port))

// AlertmanagerURL is where Prometheus sends alerts and Grafana reads
// them, on the stack's network.
var AlertmanagerURL = "http://" + AlertmanagerAddress

// AlertmanagerAddress is Alertmanager's host:port on the stack's network.
var AlertmanagerAddress = net.JoinHostPort(AlertmanagerAlias, strconv.Itoa(alertmanager.Port))

// DefaultStackName is the label value of a stack started without --name.
const DefaultStackName = "default"

// Names are the Docker object names of one stack, as in the seed's compose file.
type Names struct {
	Stack            string // label value
	Network          string
	Prometheus       string
	Grafana          string
	Alertmanager     string
	PrometheusData   string
	GrafanaData      string
	AlertmanagerData string
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
		// The third container, delivering alerts.
		Alertmanager:     prefix + "llm-alertmanager",
		AlertmanagerData: prefix + "llm-alertmanager-data",
	}
}
