// Package kubernetes renders llmmon's monitoring for a cluster that runs
// kube-prometheus-stack: a kustomize base of Prometheus Operator objects
// (PodMonitors or ServiceMonitors, a PrometheusRule, an AlertmanagerConfig),
// the dashboard as a ConfigMap for Grafana's sidecar (and, as an option, a
// GrafanaDashboard for grafana-operator), and optionally llmmon's gateway
// as a Deployment and Service.
//
// Every object is built from the real API types (the operator's
// pkg/apis/monitoring, k8s.io/api) and written with sigs.k8s.io/yaml, so
// field names cannot drift; the rules and the dashboard come from the same
// sources `llmmon up` uses.
package kubernetes

// Labels on every object, and the component values they take.
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelPartOf    = "app.kubernetes.io/part-of"
	labelManagedBy = "app.kubernetes.io/managed-by"
	// labelRelease is what kube-prometheus-stack's podMonitorSelector,
	// serviceMonitorSelector and ruleSelector match on.
	labelRelease = "release"

	partOf           = "llmmon"
	componentGateway = "gateway"
	componentRules   = "rules"
	componentDash    = "dashboard"
	componentAlerts  = "alerting"

	// The sidecar of kube-prometheus-stack's Grafana loads ConfigMaps that
	// carry this label (sidecar.dashboards.label and labelValue).
	dashboardLabel      = "grafana_dashboard"
	dashboardLabelValue = "1"

	gatewayPortName = "http"
	gatewayPort     = 8000
	// ImageUID is the non-root user `make image` gives the image (see
	// Dockerfile); the gateway's securityContext runs as it.
	ImageUID = 65532
)
