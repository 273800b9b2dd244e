package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"time"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// ComponentStatus is one container as status reports it.
type ComponentStatus struct {
	Component    string   `json:"component"`
	Container    string   `json:"container"`
	ID           string   `json:"id,omitempty"`
	Image        string   `json:"image,omitempty"`
	State        string   `json:"state"`  // the engine's state, or "missing"
	Health       string   `json:"health"` // what its HTTP API says: ready, or why not
	Healthy      bool     `json:"healthy"`
	RestartCount int      `json:"restart_count"`
	Ports        []string `json:"ports,omitempty"` // 127.0.0.1:9090->9090/tcp
	URL          string   `json:"url,omitempty"`
}

// StatusReport is the stack as status shows it.
type StatusReport struct {
	Stack string `json:"stack"`
	Dir   string `json:"dir"`
	// DirFromLabels: the stack is not the one --dir records, and Dir is
	// where its containers say up ran.
	DirFromLabels bool `json:"dir_from_labels,omitempty"`
	Up            bool `json:"up"` // every container runs
	// OK: every container runs and is ready, and Grafana can query
	// Prometheus. Scrape targets are the user's servers: reported, not
	// counted.
	OK         bool              `json:"ok"`
	Components []ComponentStatus `json:"components"`
	// Datasource is "ok" when Grafana can query Prometheus, else why not.
	Datasource   string              `json:"datasource,omitempty"`
	Targets      []prometheus.Target `json:"targets"`
	TargetsError string              `json:"targets_error,omitempty"`
	// Engines says what each scraped job runs and which dashboard rows it feeds.
	Engines []TargetEngine `json:"engines,omitempty"`
	// Alerting is Alertmanager's side: who is notified, whether Prometheus
	// sends to it, what fires, whether notifications fail.
	Alerting     *AlertingStatus `json:"alerting,omitempty"`
	AdminUser    string          `json:"grafana_admin_user"`
	PasswordFile string          `json:"grafana_password_file"`
	// Password is only filled when asked (--show-password).
	Password string `json:"grafana_password,omitempty"`
}

// StatusOptions selects the stack and what to reveal.
type StatusOptions struct {
	Dir          string
	Name         string
	ShowPassword bool
}

// Status inspects the stack's containers by label and asks Prometheus
// and Grafana how they are.
func Status(ctx context.Context, eng Engine, o StatusOptions) (StatusReport, error) {
	n := NamesFor(o.Name)
	r := StatusReport{Stack: n.Stack, Dir: o.Dir, AdminUser: AdminUser, PasswordFile: AdminPasswordPath(o.Dir)}
	info, err := engineInfo(ctx, eng)
	if err != nil {
		return r, err
	}
	objs, err := eng.List(ctx, KindContainer, map[string]string{LabelStack: n.Stack})
	if err != nil {
		return r, err
	}
	if d, ok := recordedElsewhere(o.Dir, o.Name, objs); ok {
		o.Dir, r.Dir, r.DirFromLabels, r.PasswordFile = d, d, true, AdminPasswordPath(d)
	}
	byComponent := map[string]Object{}
	for _, obj := range objs {
		byComponent[obj.Labels[LabelComponent]] = obj
	}
	password, pwErr := ReadAdminPassword(o.Dir)
	if o.ShowPassword {
		if pwErr != nil {
			return r, fmt.Errorf("%w: run llmmon up --dir %s first", pwErr, o.Dir)
		}
		r.Password = password
	}

	r.Up = true
	urls := map[string]string{}
	healthy := map[string]bool{}
	for _, p := range parts {
		name := n.Container(p.Component)
		cs := ComponentStatus{Component: p.Component, Container: name, State: "missing", Health: "not created"}
		obj, ok := byComponent[p.Component]
		if ok && obj.Container != nil {
			st := obj.Container
			cs.Container, cs.ID, cs.Image, cs.State, cs.RestartCount = obj.Name, shortID(obj.ID), st.Image, st.Status, st.RestartCount
			cs.Health = "not running"
			if st.Paused() {
				cs.Health = "paused (docker pause): llmmon up resumes it"
			}
			sort.Slice(st.Ports, func(i, j int) bool { return st.Ports[i].HostPort < st.Ports[j].HostPort })
			for _, pt := range st.Ports {
				cs.Ports = append(cs.Ports, fmt.Sprintf("%s->%d/tcp", net.JoinHostPort(pt.HostIP, strconv.Itoa(pt.HostPort)), pt.ContainerPort))
				if cs.URL == "" {
					cs.URL = EndpointURL(pt.HostIP, pt.HostPort, info)
				}
			}
		}
		if cs.State != "running" {
			r.Up = false
		} else {
			cs.Healthy, cs.Health = probeHealth(ctx, p.Component, cs.URL, obj.Container)
		}
		urls[p.Component], healthy[p.Component] = cs.URL, cs.Healthy
		r.Components = append(r.Components, cs)
	}
	promURL, grafURL := urls[ComponentPrometheus], urls[ComponentGrafana]

	st, serr := LoadState(o.Dir)
	recorded := serr == nil && st.Config.Name == o.Name
	if promURL != "" && healthy[ComponentPrometheus] {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		r.Targets, err = prometheus.NewClient(promURL).Targets(tctx)
		cancel()
		if err != nil {
			r.TargetsError = err.Error()
		} else if recorded {
			r.Targets = withPendingTargets(r.Targets, st.Config)
		}
		sort.SliceStable(r.Targets, func(i, j int) bool { return r.Targets[i].Job < r.Targets[j].Job })
		if err == nil {
			r.Engines = detectEngines(ctx, prometheus.NewClient(promURL), r.Targets)
		}
	}
	var alerting Alerting
	if recorded {
		alerting = st.Config.Alerting
	}
	r.Alerting = alertingStatus(ctx, alerting, promURL, urls[ComponentAlertmanager], healthy[ComponentPrometheus], healthy[ComponentAlertmanager])
	switch {
	case grafURL == "" || !healthy[ComponentGrafana]:
	case pwErr != nil:
		r.Datasource = fmt.Sprintf("not checked: no admin password in %s; pass the stack's --dir", r.PasswordFile)
	default:
		g := grafana.NewClient(grafURL, grafana.Auth{User: AdminUser, Password: password})
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := g.DatasourceHealth(dctx, DatasourceUID)
		cancel()
		switch {
		case err == nil:
			r.Datasource = "ok"
		case grafana.IsStatus(err, 401):
			r.Datasource = fmt.Sprintf("unknown: grafana rejects the password in %s", r.PasswordFile)
		default:
			r.Datasource = err.Error()
		}
	}
	r.OK = r.Up && r.Datasource == "ok"
	for _, c := range r.Components {
		r.OK = r.OK && c.Healthy
	}
	return r, nil
}

// recordedElsewhere finds the folder of a stack that dir does not record,
// from its containers' LabelDir, when that folder records it.
func recordedElsewhere(dir, name string, objs []Object) (string, bool) {
	if st, err := LoadState(dir); err == nil && st.Config.Name == name {
		return "", false
	}
	for _, o := range objs {
		d := o.Labels[LabelDir]
		if d == "" {
			continue
		}
		if st, err := LoadState(d); err == nil && st.Config.Name == name {
			return d, true
		}
	}
	return "", false
}

func probeHealth(ctx context.Context, component, url string, s *ContainerState) (bool, string) {
	if url == "" {
		return false, "no published port"
	}
	if s != nil && s.Health == "unhealthy" {
		return false, "unhealthy (engine healthcheck)"
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var err error
	switch component {
	case ComponentPrometheus:
		err = prometheus.NewClient(url).Ready(cctx)
	case ComponentAlertmanager:
		err = alertmanager.NewClient(url).Ready(cctx)
	default:
		_, err = grafana.NewClient(url, grafana.Auth{}).Health(cctx)
	}
	if err != nil {
		return false, "not ready: " + err.Error()
	}
	return true, "ready"
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// ResolveName picks the stack a command acts on: --name when given, else
// the one up recorded in dir, else the default stack.
func ResolveName(dir, flagName string, flagSet bool) (string, error) {
	if flagSet {
		return flagName, nil
	}
	s, err := LoadState(dir)
	if errors.Is(err, ErrNoState) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return s.Config.Name, nil
}
