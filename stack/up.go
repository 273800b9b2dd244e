package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// PullPolicy says when up pulls an image.
type PullPolicy string

// Pull policies, as --pull takes them.
const (
	PullMissing PullPolicy = "missing"
	PullAlways  PullPolicy = "always"
	PullNever   PullPolicy = "never"
)

// ParsePullPolicy reads --pull.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case PullMissing, PullAlways, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("invalid --pull %q: want missing, always or never", s)
}

// DefaultWait bounds up's readiness wait.
const DefaultWait = 2 * time.Minute

// DashboardImport is what the dashboard importer reports back to up.
type DashboardImport struct {
	Summary string // one line for up's output
	URL     string
	// Version is the Grafana dashboard version llmmon wrote (or found
	// untouched); up records it and passes it back next time.
	Version int
}

// UpOptions is everything Up needs besides the engine.
type UpOptions struct {
	Dir    string
	Config Config
	Pull   PullPolicy
	// Wait bounds the readiness wait; zero skips it (objects only, like
	// `docker-compose up -d`).
	Wait     time.Duration
	Out      io.Writer
	Terminal bool
	// Verbose also reports the objects left unchanged.
	Verbose bool
	// ImportDashboard runs once Grafana's datasource is healthy, with the
	// dashboard version up recorded last time (0 if none); nil skips it.
	ImportDashboard func(ctx context.Context, g *grafana.Client, lastVersion int) (DashboardImport, error)
	// CheckPort reports whether addr (host:port) can be listened on; nil
	// tries net.Listen. Tests replace it.
	CheckPort func(addr string) error
}

// Action is what up did with one engine object.
type Action struct {
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	Verb string `json:"verb"` // created, recreated, started, unchanged
}

// UpResult is what up did and where the stack answers.
type UpResult struct {
	Names         Names
	Actions       []Action
	ContainerIDs  map[string]string // by component
	PrometheusURL string
	GrafanaURL    string
	PasswordFile  string
	Dashboard     *DashboardImport
	Targets       []prometheus.Target
	TargetsErr    error
}

// Unreachable is the error for an engine that does not answer, worded
// as the user needs it; it wraps ErrEngineUnreachable.
func Unreachable(host string, err error) error { return &unreachableError{host: host, err: err} }

type unreachableError struct {
	host string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Docker daemon at %s: is it running? (see llmmon doctor)", e.host)
}
func (e *unreachableError) Unwrap() error { return e.err }

// engineInfo pings the engine, turning "unreachable" into the user's error.
func engineInfo(ctx context.Context, eng Engine) (EngineInfo, error) {
	info, err := eng.Info(ctx)
	if errors.Is(err, ErrEngineUnreachable) {
		host := info.Host
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		return info, Unreachable(host, err)
	}
	return info, err
}

// Up renders the configuration into o.Dir and brings the stack to it:
// preflight first (engine, names, ports, images), then the network,
// volumes and containers, each left alone when already as specified.
func Up(ctx context.Context, eng Engine, o UpOptions) (*UpResult, error) {
	start := time.Now()
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Name == DefaultStackName {
		return nil, fmt.Errorf("--name %q is reserved for the stack started without --name: choose another name", DefaultStackName)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	names := NamesFor(cfg.Name)
	res := &UpResult{Names: names, ContainerIDs: map[string]string{}, PasswordFile: filepath.Join(o.Dir, AdminPasswordFile)}

	// 1. Render: the files in --dir are the user-visible source of truth.
	rendered, err := Render(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := WriteFiles(o.Dir, rendered.All()); err != nil {
		return nil, err
	}
	dashboards, err := ReadUserDashboards(o.Dir)
	if err != nil {
		return nil, err
	}

	// 2. Preflight, before creating anything.
	info, err := engineInfo(ctx, eng)
	if err != nil {
		return nil, err
	}
	found, err := findAll(ctx, eng, names)
	if err != nil {
		return nil, err
	}
	if err := refuseForeign(found, names); err != nil {
		return nil, err
	}
	if !info.Remote() {
		if err := checkPorts(cfg, found, o.CheckPort); err != nil {
			return nil, err
		}
	}
	imageIDs, err := ensureImages(ctx, eng, []string{cfg.Prometheus.Image, cfg.Grafana.Image}, o.Pull, Progress{Out: out, Terminal: o.Terminal})
	if err != nil {
		return nil, err
	}
	password, err := adminPassword(res.PasswordFile)
	if err != nil {
		return nil, err
	}

	// Record the stack before creating anything, so down, status and
	// doctor find it by --dir even if this up stops half-way.
	res.PrometheusURL = EndpointURL(cfg.Bind, cfg.Prometheus.Port, info)
	res.GrafanaURL = EndpointURL(cfg.Bind, cfg.Grafana.Port, info)
	old, oldErr := LoadState(o.Dir)
	if oldErr != nil || old.Config.Name != cfg.Name {
		old = State{}
	}
	state := State{
		Config:        cfg,
		Names:         names,
		PrometheusURL: res.PrometheusURL,
		GrafanaURL:    res.GrafanaURL,
		AdminUser:     AdminUser,
		EngineHost:    info.Host,
		UpdatedAt:     time.Now().UTC(),

		GrafanaContainerID: old.GrafanaContainerID,
		GrafanaFilesHash:   old.GrafanaFilesHash,
		DashboardVersion:   old.DashboardVersion,
	}
	if err := SaveState(o.Dir, state); err != nil {
		return nil, err
	}

	// 3. Objects: network, volumes, then containers.
	netObj, ok := found[key(KindNetwork, names.Network)]
	specs0 := BuildSpecs(SpecInput{Config: cfg})
	if ok {
		res.act(out, o.Verbose, Action{KindNetwork, names.Network, "unchanged"})
	} else {
		if netObj, err = eng.CreateNetwork(ctx, specs0.Network); err != nil {
			return res, err
		}
		res.act(out, o.Verbose, Action{KindNetwork, names.Network, "created"})
	}
	for _, v := range specs0.Volumes {
		if _, ok := found[key(KindVolume, v.Name)]; ok {
			res.act(out, o.Verbose, Action{KindVolume, v.Name, "unchanged"})
			continue
		}
		if _, err := eng.CreateVolume(ctx, v); err != nil {
			return res, err
		}
		res.act(out, o.Verbose, Action{KindVolume, v.Name, "created"})
	}
	specs := BuildSpecs(SpecInput{
		Config: cfg, Rendered: rendered, UserDashboards: dashboards, AdminPassword: password,
		HostGateway:       HostGatewayFor(info, netObj),
		PrometheusImageID: imageIDs[cfg.Prometheus.Image], GrafanaImageID: imageIDs[cfg.Grafana.Image],
	})
	for _, spec := range specs.Containers() {
		var existing *Object
		delivered := ""
		if obj, ok := found[key(KindContainer, spec.Name)]; ok {
			existing = &obj
			delivered = obj.Labels[LabelFilesHash]
			if old.GrafanaContainerID == obj.ID && old.GrafanaFilesHash != "" {
				delivered = old.GrafanaFilesHash
			}
		}
		id, verb, err := ensureContainer(ctx, eng, spec, existing, delivered, cfg)
		if err != nil {
			return res, err
		}
		res.ContainerIDs[spec.Labels[LabelComponent]] = id
		res.act(out, o.Verbose, Action{KindContainer, spec.Name, verb})
	}

	state.GrafanaContainerID = res.ContainerIDs[ComponentGrafana]
	state.GrafanaFilesHash = specs.Grafana.Labels[LabelFilesHash]
	state.UpdatedAt = time.Now().UTC()
	if err := SaveState(o.Dir, state); err != nil {
		return res, err
	}
	if o.Wait <= 0 {
		return res, nil
	}

	// 4. Readiness, bounded by --wait.
	wctx, cancel := context.WithTimeout(ctx, o.Wait)
	defer cancel()
	prom := prometheus.NewClient(res.PrometheusURL)
	graf := grafana.NewClient(res.GrafanaURL, grafana.Auth{User: AdminUser, Password: password})
	w := &waiter{eng: eng, out: out, tty: o.Terminal, wait: o.Wait, start: start}
	if err := w.ready(wctx, []probe{
		{name: "prometheus", container: names.Prometheus, what: "/-/ready", url: res.PrometheusURL, check: prom.Ready},
		{name: "grafana", container: names.Grafana, what: "/api/health", url: res.GrafanaURL, check: func(ctx context.Context) error {
			_, err := graf.Health(ctx)
			return err
		}},
	}); err != nil {
		return res, err
	}
	if err := checkDatasource(wctx, w, graf, o.Dir, names); err != nil {
		return res, err
	}
	if o.ImportDashboard != nil {
		imp, err := o.ImportDashboard(wctx, graf, state.DashboardVersion)
		if err != nil {
			return res, fmt.Errorf("import the dashboard: %w", err)
		}
		res.Dashboard = &imp
		state.DashboardVersion = imp.Version
		if err := SaveState(o.Dir, state); err != nil {
			return res, err
		}
	}
	res.Targets, res.TargetsErr = prom.Targets(wctx)
	if res.TargetsErr == nil {
		res.Targets = withPendingTargets(res.Targets, cfg)
	}
	return res, nil
}

// withPendingTargets adds the configured jobs Prometheus does not list
// yet (it syncs targets a few seconds after start) as health "unknown".
func withPendingTargets(ts []prometheus.Target, cfg Config) []prometheus.Target {
	have := map[string]bool{}
	for _, t := range ts {
		have[t.Job] = true
	}
	self := prometheus.SelfScrape()
	jobs := append([]Target{{Name: self.Name, Address: self.Address, Path: self.MetricsPath}}, cfg.AllTargets()...)
	for _, j := range jobs {
		if !have[j.Name] {
			ts = append(ts, prometheus.Target{Job: j.Name, ScrapeURL: "http://" + j.Address + j.MetricsPath(), Health: "unknown"})
		}
	}
	return ts
}

// act records what up did to an object and says so, unless nothing changed.
func (r *UpResult) act(out io.Writer, verbose bool, a Action) {
	r.Actions = append(r.Actions, a)
	if a.Verb != "unchanged" || verbose {
		fmt.Fprintf(out, "%-9s %s %s\n", a.Verb, a.Kind, a.Name)
	}
}

func key(k Kind, name string) string { return string(k) + "/" + name }

// findAll looks up every object name the stack uses.
func findAll(ctx context.Context, eng Engine, n Names) (map[string]Object, error) {
	found := map[string]Object{}
	for _, q := range []struct {
		kind Kind
		name string
	}{
		{KindNetwork, n.Network}, {KindVolume, n.PrometheusData}, {KindVolume, n.GrafanaData},
		{KindContainer, n.Prometheus}, {KindContainer, n.Grafana},
	} {
		obj, err := eng.Find(ctx, q.kind, q.name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found[key(q.kind, q.name)] = obj
	}
	return found, nil
}

// refuseForeign names every object that has one of our names but not our
// label. Those are never touched.
func refuseForeign(found map[string]Object, n Names) error {
	var errs []error
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := found[k]
		if o.Owned(n.Stack) {
			continue
		}
		owner := "was not created by llmmon"
		if s := o.Labels[LabelStack]; s != "" {
			owner = fmt.Sprintf("belongs to llmmon stack %q", s)
		}
		errs = append(errs, fmt.Errorf("a %s named %q already exists and %s (no %s=%s label): llmmon will not touch it; remove or rename it, or pass --name to prefix llmmon's objects",
			o.Kind, o.Name, owner, LabelStack, n.Stack))
	}
	return errors.Join(errs...)
}

// checkPorts fails on a host port that is taken by anything but this stack.
func checkPorts(cfg Config, found map[string]Object, check func(string) error) error {
	if check == nil {
		check = listenCheck
	}
	ours := map[int]bool{}
	for _, o := range found {
		if o.Kind == KindContainer && o.Container != nil && o.Container.Running() {
			for _, p := range o.Container.Ports {
				ours[p.HostPort] = true
			}
		}
	}
	for _, p := range []struct {
		port int
		flag string
	}{{cfg.Prometheus.Port, "--prometheus-port"}, {cfg.Grafana.Port, "--grafana-port"}} {
		if ours[p.port] {
			continue
		}
		if err := check(net.JoinHostPort(cfg.Bind, strconv.Itoa(p.port))); err != nil {
			return portInUse(cfg.Bind, p.port, p.flag)
		}
	}
	return nil
}

func portInUse(bind string, port int, flag string) error {
	return fmt.Errorf("port %d on %s is in use (by another program or container): stop it, or pass %s to publish on another port", port, bind, flag)
}

func listenCheck(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// ensureImages makes every image present per the pull policy and returns their IDs.
func ensureImages(ctx context.Context, eng Engine, refs []string, policy PullPolicy, p Progress) (map[string]string, error) {
	if policy == "" {
		policy = PullMissing
	}
	ids := map[string]string{}
	for _, ref := range refs {
		if _, done := ids[ref]; done {
			continue
		}
		id, err := eng.ImageID(ctx, ref)
		present := err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		if policy == PullNever && !present {
			return nil, fmt.Errorf("image %s is not on the Docker engine and --pull never was given: load it (docker pull %s, or docker load), or use --pull missing", ref, ref)
		}
		if policy == PullAlways || !present {
			fmt.Fprintf(p.Out, "pulling %s\n", ref)
			if err := eng.PullImage(ctx, ref, p); err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, fmt.Errorf("pull image %s: %v\n  is the registry reachable? If the image is on the engine already (docker load, or a local build), pass --pull never", ref, err)
			}
			if id, err = eng.ImageID(ctx, ref); err != nil {
				return nil, fmt.Errorf("image %s after pulling it: %w", ref, err)
			}
		}
		ids[ref] = id
	}
	return ids, nil
}

// adminPassword reads the stored Grafana admin password, generating and
// storing one (mode 0600) on the first up.
func adminPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			return pw, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the Grafana admin password: %w", err)
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	if err := WriteSecret(path, []byte(pw+"\n")); err != nil {
		return "", fmt.Errorf("store the Grafana admin password: %w", err)
	}
	return pw, nil
}

// ReadUserDashboards returns the dashboard JSON the user dropped into
// DIR/grafana/dashboards, which Grafana's file provider loads.
func ReadUserDashboards(dir string) ([]File, error) {
	root := filepath.Join(dir, filepath.FromSlash(grafana.UserDashboardsDir))
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: grafana.UserDashboardsDir + "/" + e.Name(), Content: b, Mode: 0o644})
	}
	return files, nil
}

// ensureContainer leaves a container that already runs this spec alone and
// (re)creates it otherwise. A spec with LabelFilesHash (Grafana) gets
// changed file contents copied in and a restart instead. A half-created
// container from an interrupted up is replaced, so a following up always
// finishes the job. delivered is the files hash the container has now.
func ensureContainer(ctx context.Context, eng Engine, spec ContainerSpec, existing *Object, delivered string, cfg Config) (id, verb string, err error) {
	verb = "created"
	if existing != nil {
		st := existing.Container
		if existing.Labels[LabelConfigHash] == spec.Labels[LabelConfigHash] && st != nil {
			want := spec.Labels[LabelFilesHash]
			stale := want != "" && delivered != want
			switch {
			case (st.Status == "running" || st.Status == "restarting") && !stale:
				return existing.ID, "unchanged", nil
			case st.Status == "running" || st.Status == "restarting" || st.Status == "exited":
				// Stopped (docker stop, a reboot) containers ran with their
				// files before; stale files are replaced in place.
				if stale {
					if err := eng.CopyFiles(ctx, existing.ID, spec.Dirs, spec.Files); err != nil {
						return "", "", err
					}
				}
				start, verb := eng.StartContainer, "started"
				if st.Status != "exited" {
					start, verb = eng.RestartContainer, "restarted"
				}
				if err := start(ctx, existing.ID); err == nil {
					if stale {
						verb += " (new configuration)"
					}
					return existing.ID, verb, nil
				}
			}
		}
		if err := eng.Remove(ctx, KindContainer, existing.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return "", "", err
		}
		verb = "recreated"
	}
	id, err = eng.CreateContainer(ctx, spec)
	if err != nil {
		return "", "", err
	}
	if err := eng.StartContainer(ctx, id); err != nil {
		// Leave nothing behind that would need this container's ports.
		eng.Remove(context.WithoutCancel(ctx), KindContainer, id)
		if errors.Is(err, ErrPortAllocated) {
			port, flag := cfg.Prometheus.Port, "--prometheus-port"
			if spec.Labels[LabelComponent] == ComponentGrafana {
				port, flag = cfg.Grafana.Port, "--grafana-port"
			}
			return "", "", portInUse(cfg.Bind, port, flag)
		}
		return "", "", err
	}
	return id, verb, nil
}

// probe is one readiness check of one container.
type probe struct {
	name, container, what, url string
	check                      func(context.Context) error
}

// waiter waits for probes, showing progress, and fails fast with the
// container's last log lines when it exits or restarts.
type waiter struct {
	eng   Engine
	out   io.Writer
	tty   bool
	wait  time.Duration
	start time.Time
}

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

func (w *waiter) ready(ctx context.Context, probes []probe) error {
	done := make([]bool, len(probes))
	lastErr := make([]error, len(probes))
	restarts := map[string]int{}
	if !w.tty {
		var what []string
		for _, p := range probes {
			what = append(what, p.name+" ("+p.what+")")
		}
		fmt.Fprintf(w.out, "waiting up to %s for %s\n", w.wait, strings.Join(what, " and "))
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastInspect := time.Time{}
	for frame := 0; ; frame++ {
		all := true
		for i, p := range probes {
			if done[i] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := p.check(cctx)
			cancel()
			if err == nil {
				done[i] = true
				w.clearLine()
				fmt.Fprintf(w.out, "%s %s ready at %s (%.1fs)\n", w.mark(), p.name, p.url, time.Since(w.start).Seconds())
				continue
			}
			lastErr[i] = err
			all = false
		}
		if all {
			return nil
		}
		// The engine knows sooner than a timeout that a container crashed.
		if time.Since(lastInspect) > time.Second {
			lastInspect = time.Now()
			for i, p := range probes {
				if done[i] {
					continue
				}
				if err := w.crashed(ctx, p.container, restarts); err != nil {
					w.clearLine()
					return err
				}
			}
		}
		if w.tty {
			var pending []string
			for i, p := range probes {
				if !done[i] {
					pending = append(pending, p.name)
				}
			}
			fmt.Fprintf(w.out, "\r\033[K%s waiting for %s… %ds", spinner[frame%len(spinner)], strings.Join(pending, ", "), int(time.Since(w.start).Seconds()))
		}
		select {
		case <-ctx.Done():
			w.clearLine()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				for i, p := range probes {
					if !done[i] {
						return w.notReady(p, lastErr[i])
					}
				}
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func (w *waiter) mark() string {
	if w.tty {
		return "✓"
	}
	return " "
}

func (w *waiter) clearLine() {
	if w.tty {
		fmt.Fprint(w.out, "\r\033[K")
	}
}

// crashed reports a container that exited or restarted, with its logs.
func (w *waiter) crashed(ctx context.Context, name string, restarts map[string]int) error {
	obj, err := w.eng.Find(ctx, KindContainer, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("container %s disappeared while starting (removed by someone else?): run llmmon up again", name)
		}
		return nil // the engine hiccuped; the probe decides
	}
	st := obj.Container
	if st == nil {
		return nil
	}
	first, seen := restarts[name]
	if !seen {
		restarts[name] = st.RestartCount
		first = st.RestartCount
	}
	var what string
	switch {
	case st.Status == "exited" || st.Status == "dead":
		what = fmt.Sprintf("exited with code %d", st.ExitCode)
	case st.RestartCount > first || st.Status == "restarting":
		what = fmt.Sprintf("keeps restarting (exit code %d)", st.ExitCode)
	default:
		return nil
	}
	if st.OOMKilled {
		what += ", killed for lack of memory"
	}
	return fmt.Errorf("container %s %s%s\n  see llmmon doctor, or docker logs %s", name, what, w.logTail(ctx, obj.ID), name)
}

func (w *waiter) logTail(ctx context.Context, id string) string {
	logs, err := w.eng.Logs(context.WithoutCancel(ctx), id, 15)
	logs = strings.TrimRight(logs, "\n")
	if err != nil || logs == "" {
		return ""
	}
	return "; its last log lines:\n    " + strings.ReplaceAll(logs, "\n", "\n    ")
}

func (w *waiter) notReady(p probe, err error) error {
	tail := ""
	if obj, ferr := w.eng.Find(context.Background(), KindContainer, p.container); ferr == nil {
		tail = w.logTail(context.Background(), obj.ID)
	}
	return fmt.Errorf("%s at %s was not ready within %s (--wait): %v%s\n  see llmmon doctor, or pass a longer --wait", p.name, p.url, w.wait, err, tail)
}

// checkDatasource proves the Grafana → Prometheus path: first that the
// stored admin password works, then Grafana's own datasource health check.
func checkDatasource(ctx context.Context, w *waiter, g *grafana.Client, dir string, n Names) error {
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := g.DatasourceByUID(cctx, DatasourceUID)
		if err == nil {
			err = g.DatasourceHealth(cctx, DatasourceUID)
		}
		cancel()
		if err == nil {
			fmt.Fprintf(w.out, "%s datasource %s healthy: Grafana queries Prometheus at %s (%.1fs)\n", w.mark(), DatasourceUID, DatasourceURL, time.Since(w.start).Seconds())
			return nil
		}
		if grafana.IsStatus(err, 401) || grafana.IsStatus(err, 403) {
			return wrongPassword(dir, n)
		}
		if grafana.IsStatus(err, 404) {
			return fmt.Errorf("grafana has no datasource %q: its provisioning was not loaded (see llmmon doctor, or docker logs %s)", DatasourceUID, n.Grafana)
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("grafana's datasource %q did not become healthy within %s: %v\n  see llmmon doctor", DatasourceUID, w.wait, lastErr)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// ErrAdminPassword is a stored admin password that Grafana rejects.
var ErrAdminPassword = errors.New("grafana rejected the stored admin password")

func wrongPassword(dir string, n Names) error {
	file := filepath.Join(dir, AdminPasswordFile)
	args := "--dir " + dir
	if n.Stack != DefaultStackName {
		args += " --name " + n.Stack
	}
	return fmt.Errorf(`%w in %s.
The volume %s was set up with another password: Grafana applies GF_SECURITY_ADMIN_PASSWORD
only when it first creates its database. To recover, either:
  - write the password set before into %s and run llmmon up again, or
  - reset Grafana's to the stored one:
      docker exec %s grafana cli admin reset-admin-password "$(cat %s)"
  - or start Grafana afresh, losing its users and UI edits (Prometheus data is kept):
      llmmon down %s && docker volume rm %s && llmmon up %s`,
		ErrAdminPassword, file, n.GrafanaData, file, n.Grafana, file, args, n.GrafanaData, args)
}
