package stack

import "time"

// written is what writeDir left in --dir, for the steps after it.
type written struct {
	password       string
	userDashboards []File // DIR/grafana/dashboards/*.json
	state          State
}

// writeDir records the stack in dir before anything is created, so down,
// status and doctor find it even if up stops half-way: the rendered
// files, the admin password (generated on the first up) and the state.
func writeDir(dir string, r Rendered, st State) (written, error) {
	w := written{state: st}
	if _, err := WriteFiles(dir, r.All()); err != nil {
		return w, err
	}
	var err error
	if w.password, err = ensureAdminPassword(dir); err != nil {
		return w, err
	}
	if w.userDashboards, err = ReadUserDashboards(dir); err != nil {
		return w, err
	}
	return w, SaveState(dir, w.state)
}

// newState is what up records before creating anything: the settings,
// where the stack answers from this machine, and what the last up of this
// stack recorded about Grafana's files and dashboard.
func newState(s Settings, names Names, info EngineInfo) State {
	c := s.Config
	// The kubernetes: section describes no Docker object: not recorded
	// (see recordedPaths).
	c.Kubernetes = KubernetesSettings{}
	st := State{
		Config:          c,
		Names:           names,
		PrometheusURL:   EndpointURL(c.Bind, c.Prometheus.Port, info),
		GrafanaURL:      EndpointURL(c.Bind, c.Grafana.Port, info),
		AlertmanagerURL: EndpointURL(c.Bind, c.Alertmanager.Port, info),
		AdminUser:       AdminUser,
		EngineHost:      info.Host,
		UpdatedAt:       time.Now().UTC(),
	}
	if last := s.Recorded; last != nil {
		st.GrafanaContainerID, st.GrafanaFilesHash = last.GrafanaContainerID, last.GrafanaFilesHash
		st.PrometheusContainerID, st.PrometheusFilesHash = last.PrometheusContainerID, last.PrometheusFilesHash
		st.DashboardVersion = last.DashboardVersion
	}
	return st
}

// recordCreated records which container got which files, so the
// next up copies in only what changed.
func recordCreated(dir string, st *State, c created) error {
	st.GrafanaContainerID = c.ids[ComponentGrafana]
	st.GrafanaFilesHash = c.specs.Grafana.Labels[LabelFilesHash]
	st.PrometheusContainerID = c.ids[ComponentPrometheus]
	st.PrometheusFilesHash = c.specs.Prometheus.Labels[LabelFilesHash]
	st.UpdatedAt = time.Now().UTC()
	return SaveState(dir, *st)
}
