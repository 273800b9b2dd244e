package stack

import (
	"context"
	"path/filepath"
	"time"

	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// DefaultWait bounds up's readiness wait.
const DefaultWait = 2 * time.Minute

// UpOptions is everything Up needs besides the engine.
type UpOptions struct {
	Dir string
	// Settings are this run's llmmon.yaml and flags, over what the last
	// up recorded in Dir (see Resolve).
	Settings Overrides
	Pull     PullPolicy
	// Wait bounds the readiness wait; zero skips it and everything after
	// it (objects only, like `docker-compose up -d`).
	Wait      time.Duration
	Dashboard DashboardOptions
	// Events receives what up does as it happens; nil discards it.
	Events func(Event)
	// PullProgress is where the engine draws an image pull.
	PullProgress Progress
	// CheckPort reports whether addr (host:port) can be listened on; nil
	// tries net.Listen. Tests replace it.
	CheckPort func(addr string) error
	// Lock says how up waits for another up or down on Dir.
	Lock LockOptions
	// StackLocks is the folder of this machine's per-name locks (see
	// StackLockDir), which keep out an up of the same --name from another
	// --dir; empty: none. StackBusy is told when one holds it.
	StackLocks string
	StackBusy  func(name string, h LockHolder)
}

// UpResult is what up did and where the stack answers.
type UpResult struct {
	Names           Names
	Config          Config // the settings up brought the stack to, and recorded
	Actions         []Action
	ContainerIDs    map[string]string // by component
	PrometheusURL   string
	GrafanaURL      string
	AlertmanagerURL string
	PasswordFile    string
	// Notified names who gets alerts (Alerting.Notified); empty: nobody.
	Notified []string
	// After the readiness wait only:
	Dashboard  *grafana.ImportResult // nil when skipped
	Targets    []prometheus.Target
	TargetsErr error
	Engines    []TargetEngine // what each scraped target looks like
}

// Up brings the stack to the resolved settings. Nothing in Dir changes
// and nothing is created until the settings are valid and the preflight
// passed; from then on Dir records the stack, so down, status and doctor
// find it even if up stops half-way. Up holds Dir's lock throughout.
func Up(ctx context.Context, eng Engine, o UpOptions) (*UpResult, error) {
	start := time.Now()
	emit := o.Events
	if emit == nil {
		emit = func(Event) {}
	}
	lock, err := LockDir(ctx, o.Dir, o.Lock)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()

	settings, err := Resolve(o.Dir, o.Settings)
	if err != nil {
		return nil, err
	}
	for _, note := range settings.Notes {
		emit(Notice{Text: note})
	}
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	cfg := settings.Config
	names := NamesFor(cfg.Name)
	if o.StackLocks != "" {
		nameLock, err := lockStackName(ctx, o, cfg.Name)
		if err != nil {
			return nil, err
		}
		defer nameLock.Unlock()
	}

	pre, err := preflight(ctx, eng, cfg, names, o.CheckPort, pullOptions{o.Pull, o.PullProgress}, emit)
	if err != nil {
		return nil, err
	}

	rendered, err := render(cfg)
	if err != nil {
		return nil, err
	}
	secrets, err := ReadSecretFiles(rendered.Secrets)
	if err != nil {
		return nil, settings.WithOrigins(err)
	}
	dir, err := writeDir(o.Dir, rendered, newState(settings, names, pre.info))
	if err != nil {
		return nil, err
	}
	state := dir.state
	res := &UpResult{Names: names, Config: cfg, PasswordFile: AdminPasswordPath(o.Dir),
		PrometheusURL: state.PrometheusURL, GrafanaURL: state.GrafanaURL, AlertmanagerURL: state.AlertmanagerURL,
		Notified: cfg.Alerting.Notified()}

	made, err := createObjects(ctx, eng, SpecInput{
		Config: cfg, Rendered: rendered, UserDashboards: dir.userDashboards, AdminPassword: dir.password, PrometheusSecrets: secrets,
		ImageIDs: pre.imageIDs, AlertSecrets: pre.secrets, Engine: pre.info, Dir: absDir(o.Dir),
	}, pre, state, emit)
	res.Actions, res.ContainerIDs = made.actions, made.ids
	if err != nil {
		return res, err
	}
	if err := recordCreated(o.Dir, &state, made); err != nil {
		return res, err
	}
	if o.Wait <= 0 {
		return res, nil
	}

	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	prom := prometheus.NewClient(res.PrometheusURL)
	graf := grafana.NewClient(res.GrafanaURL, grafana.Auth{User: AdminUser, Password: dir.password})
	w := &waiter{eng: eng, emit: emit, wait: o.Wait, start: start}
	urls := map[string]string{ComponentPrometheus: res.PrometheusURL, ComponentGrafana: res.GrafanaURL, ComponentAlertmanager: res.AlertmanagerURL}
	if err := w.waitReady(wctx, readinessProbes(names, cfg, urls, graf)); err != nil {
		return res, err
	}
	if err := w.checkDatasource(wctx, graf, o.Dir, names, made.freshGrafana, cfg.Grafana.Image); err != nil {
		return res, err
	}
	if err := w.checkAlertmanagerDatasource(wctx, graf, names); err != nil {
		return res, err
	}
	if !o.Dashboard.Skip {
		if res.Dashboard, err = importDashboard(wctx, graf, &state, o.Dashboard); err != nil {
			return res, err
		}
		if err := SaveState(o.Dir, state); err != nil {
			return res, err
		}
	}
	if res.Targets, res.TargetsErr = scrapeTargets(wctx, prom, cfg); res.TargetsErr == nil {
		res.Engines = detectEngines(wctx, prom, res.Targets)
	}
	return res, nil
}

// absDir is dir made absolute for the containers' label; as given when
// that fails (the label is a hint, never a key).
func absDir(dir string) string {
	if a, err := filepath.Abs(dir); err == nil {
		return a
	}
	return dir
}
