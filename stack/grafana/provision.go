// Package grafana renders Grafana's provisioning files, imports llmmon's
// dashboard through the HTTP API, and checks Grafana's health.
package grafana

import (
	"github.com/llmmon/llmmon/templates"
)

// Paths of the rendered files, relative to --dir.
const (
	DatasourceFile             = "grafana/provisioning/datasources/prometheus.yml"
	AlertmanagerDatasourceFile = "grafana/provisioning/datasources/alertmanager.yml"
	DashboardProviderFile      = "grafana/provisioning/dashboards/llmmon.yml"
	// UserDashboardsDir holds dashboard JSON the user drops in; the
	// provider above loads it from DashboardsPathInContainer.
	UserDashboardsDir         = "grafana/dashboards"
	DashboardsPathInContainer = "/etc/grafana/dashboards"
)

// ProvisionedDatasource is the Prometheus datasource written to provisioning YAML.
type ProvisionedDatasource struct {
	Name         string
	UID          string
	URL          string
	TimeInterval string
}

// RenderDatasource returns the datasource provisioning YAML.
func RenderDatasource(d ProvisionedDatasource) ([]byte, error) {
	return templates.Render("grafana-datasource.yml.tmpl", d)
}

// AlertmanagerDatasource is the Alertmanager datasource written to provisioning YAML.
type AlertmanagerDatasource struct {
	Name, UID, URL string
}

// RenderAlertmanagerDatasource returns its provisioning YAML: Grafana's
// alertmanager type, with the Prometheus implementation.
func RenderAlertmanagerDatasource(d AlertmanagerDatasource) ([]byte, error) {
	return templates.Render("grafana-alertmanager-datasource.yml.tmpl", d)
}

// RenderDashboardProvider returns the dashboard provider YAML for the
// user's own dashboards folder.
func RenderDashboardProvider(folder string) ([]byte, error) {
	return templates.Render("grafana-dashboards.yml.tmpl", struct{ Folder, Path string }{folder, DashboardsPathInContainer})
}
