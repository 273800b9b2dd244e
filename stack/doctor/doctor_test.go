package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

func TestRunBoundsEveryCheckAndKeepsOrder(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	checks := []Check{
		{Group: "A", Name: "ok", Run: func(ctx context.Context) Result { return Pass("fine") }},
		{Group: "A", Name: "honours ctx", Timeout: 50 * time.Millisecond, Hint: "the hint", Run: func(ctx context.Context) Result {
			<-ctx.Done()
			return Fail("gave up: "+ctx.Err().Error(), "", "")
		}},
		{Group: "B", Name: "ignores ctx", Timeout: 50 * time.Millisecond, Hint: "look at it", Run: func(ctx context.Context) Result {
			<-block
			return Pass("never seen")
		}},
		{Group: "B", Name: "panics", Run: func(ctx context.Context) Result { panic("boom") }},
		{Group: "B", Name: "own fix wins", Hint: "hint", Run: func(ctx context.Context) Result { return Warn("w", "c", "own fix") }},
	}
	r := Run(context.Background(), checks)
	want := []struct {
		name   string
		status Status
		msg    string
		fix    string
	}{
		{"ok", StatusOK, "fine", ""},
		{"honours ctx", StatusFail, "gave up: context deadline exceeded", "the hint"},
		{"ignores ctx", StatusFail, "did not answer within 50ms", "look at it"},
		{"panics", StatusFail, "check crashed: boom", "report it"},
		{"own fix wins", StatusWarn, "w", "own fix"},
	}
	if len(r.Results) != len(want) {
		t.Fatalf("got %d results", len(r.Results))
	}
	for i, w := range want {
		got := r.Results[i]
		if got.Check != w.name || got.Status != w.status || !strings.Contains(got.Message, w.msg) || !strings.Contains(got.Fix, w.fix) {
			t.Errorf("result %d = %+v, want %+v", i, got, w)
		}
	}
	if r.Results[2].Group != "B" {
		t.Errorf("group not filled: %+v", r.Results[2])
	}
}

func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		statuses []Status
		want     int
	}{
		{[]Status{StatusOK, StatusOK}, 0},
		{[]Status{StatusOK, StatusSkip}, 0},
		{[]Status{StatusOK, StatusWarn}, 2},
		{[]Status{StatusWarn, StatusFail, StatusSkip}, 1},
		{nil, 0},
	} {
		var r Report
		for _, s := range c.statuses {
			r.Results = append(r.Results, Result{Status: s})
		}
		if got := r.ExitCode(); got != c.want {
			t.Errorf("%v: exit %d, want %d", c.statuses, got, c.want)
		}
	}
}

func TestDatasourceRefs(t *testing.T) {
	var dash map[string]any
	if err := json.Unmarshal([]byte(`{
		"templating": {"list": [
			{"type": "datasource", "name": "datasource", "query": "prometheus", "current": {"value": "llmmon-prometheus"}},
			{"type": "datasource", "name": "unset", "query": "prometheus", "current": {}},
			{"type": "query", "name": "job", "datasource": {"type": "prometheus", "uid": "${datasource}"}}
		]},
		"annotations": {"list": [{"datasource": {"type": "grafana", "uid": "-- Grafana --"}}]},
		"panels": [
			{"datasource": {"type": "prometheus", "uid": "$datasource"}, "targets": [{"datasource": {"uid": "${datasource}"}}]},
			{"type": "row", "panels": [{"datasource": {"type": "prometheus", "uid": "hardcoded-uid"}}]},
			{"datasource": "legacy-name-or-uid"},
			{"datasource": {"uid": "${unset}"}}
		]}`), &dash); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(datasourceRefs(dash), ",")
	if want := "hardcoded-uid,legacy-name-or-uid,llmmon-prometheus"; got != want {
		t.Errorf("refs = %s, want %s", got, want)
	}
}

func TestListenerOwnerNamesThisProcess(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := listenerOwner(l.Addr().(*net.TCPAddr).Port)
	if want := fmt.Sprintf("pid %d ", os.Getpid()); !strings.HasPrefix(got, want) {
		t.Errorf("listenerOwner = %q, want it to start with %q", got, want)
	}
}

func TestDockerContextIsShown(t *testing.T) {
	dir := t.TempDir()
	// The docker CLI keeps a context's metadata under sha256(name).
	name := "desktop-linux"
	sum := sha256.Sum256([]byte(name))
	meta := filepath.Join(dir, "contexts", "meta", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"currentContext":"desktop-linux"}`), 0o644)
	os.WriteFile(filepath.Join(meta, "meta.json"), []byte(`{"Name":"desktop-linux","Endpoints":{"docker":{"Host":"unix:///home/u/.docker/desktop/docker.sock"}}}`), 0o644)
	env := map[string]string{"DOCKER_CONFIG": dir}
	getenv := func(k string) string { return env[k] }
	gotName, host := dockerContext(getenv)
	if gotName != name || host != "unix:///home/u/.docker/desktop/docker.sock" {
		t.Fatalf("dockerContext = %q %q", gotName, host)
	}
	// With the daemon down, the fix names the context's endpoint.
	f := enginetest.New()
	f.Unreachable = true
	r := runChecks(t, Options{Dir: t.TempDir(), Config: stack.Default(), Engine: f, Getenv: getenv})
	d := r.get("Docker", "daemon")
	if d.Status != StatusFail || !strings.Contains(d.Message, `context "desktop-linux"`) ||
		!strings.Contains(d.Fix, "export DOCKER_HOST=unix:///home/u/.docker/desktop/docker.sock") {
		t.Errorf("daemon = %+v", d)
	}
}

type results []Result

func (rs results) get(group, check string) Result {
	for _, r := range rs {
		if r.Group == group && r.Check == check {
			return r
		}
	}
	return Result{Status: "missing"}
}

// runChecks runs every check against closed local ports, so only the
// engine (a fake) decides the Docker-side results.
// closedURL is an address nothing listens on while the test runs.
func closedURL(tb testing.TB) string {
	tb.Helper()
	return fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(tb))
}

func runChecks(t *testing.T, o Options) results {
	t.Helper()
	closed := func() string { return closedURL(t) }
	if o.PrometheusURL == "" {
		o.PrometheusURL, o.GrafanaURL, o.MetricsURL = closed(), closed(), closed()+"/metrics"
	}
	if o.AlertmanagerURL == "" {
		o.AlertmanagerURL = closed()
	}
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return Run(ctx, Checks(ctx, o)).Results
}

// A stack up recorded, as the fake engine holds it: labelled, running,
// both containers on the network with their aliases.
func fakeStack(t *testing.T, name string) (*enginetest.Fake, stack.Names, Options) {
	f := enginetest.New()
	n := stack.NamesFor(name)
	labels := func(c string) map[string]string {
		return map[string]string{stack.LabelStack: n.Stack, stack.LabelComponent: c}
	}
	f.Add(stack.KindNetwork, n.Network, labels(""))
	for _, c := range []struct{ name, comp, alias string }{
		{n.Prometheus, stack.ComponentPrometheus, stack.PrometheusAlias}, {n.Grafana, stack.ComponentGrafana, stack.GrafanaAlias}} {
		f.Add(stack.KindContainer, c.name, labels(c.comp))
		f.Set(c.name, func(s *stack.ContainerState) {
			s.Image = "img"
			s.Networks[n.Network] = stack.Endpoint{IP: "172.30.0.2", Aliases: []string{c.alias}}
		})
	}
	cfg := stack.Default()
	cfg.Name = name
	return f, n, Options{Dir: t.TempDir(), Config: cfg, State: &stack.State{Config: cfg}, Engine: f}
}

func remove(f *enginetest.Fake, kind stack.Kind, name string) {
	o, err := f.Find(context.Background(), kind, name)
	if err == nil {
		err = f.Remove(context.Background(), kind, o.ID)
	}
	if err != nil {
		panic(err)
	}
}

func TestContainerChecksWithFakeEngine(t *testing.T) {
	cases := []struct {
		name   string
		change func(f *enginetest.Fake, n stack.Names)
		group  string
		check  string
		status Status
		want   []string // in message, cause or fix
	}{
		{"running", func(*enginetest.Fake, stack.Names) {}, "Containers", "grafana", StatusOK, []string{"is running (img"}},
		{"crashed shows its log", func(f *enginetest.Fake, n stack.Names) {
			f.Set(n.Grafana, func(s *stack.ContainerState) { s.Status, s.ExitCode = "exited", 1 })
			f.LogLines[n.Grafana] = "logger=settings msg=starting\nError: ✗ failed to connect to database: permission denied\n"
		}, "Containers", "grafana", StatusFail, []string{"is exited (exit code 1)", "it crashed (exit code 1)",
			"--name s1` starts it again", "docker logs s1-llm-grafana", "failed to connect to database: permission denied"}},
		{"oom", func(f *enginetest.Fake, n stack.Names) {
			f.Set(n.Prometheus, func(s *stack.ContainerState) { s.Status, s.ExitCode, s.OOMKilled = "exited", 137, true })
		}, "Containers", "prometheus", StatusFail, []string{"ran out of memory"}},
		{"restarts", func(f *enginetest.Fake, n stack.Names) {
			f.Set(n.Prometheus, func(s *stack.ContainerState) { s.RestartCount = 3 })
			f.LogLines[n.Prometheus] = "err=\"opening storage failed\""
		}, "Containers", "prometheus", StatusWarn, []string{"restarted 3 times", "opening storage failed"}},
		{"foreign container with our name", func(f *enginetest.Fake, n stack.Names) {
			remove(f, stack.KindContainer, n.Grafana)
			f.Add(stack.KindContainer, n.Grafana, map[string]string{"com.docker.compose.project": "llm_monitor"})
		}, "Containers", "grafana", StatusFail, []string{"llmmon did not create it", "dev.llmmon.stack=s1", "docker rm -f s1-llm-grafana", "--name NAME"}},
		{"removed", func(f *enginetest.Fake, n stack.Names) {
			remove(f, stack.KindContainer, n.Prometheus)
		}, "Containers", "prometheus", StatusFail, []string{"does not exist", "removed after `llmmon up`", "--name s1` creates it again"}},
		{"off the network", func(f *enginetest.Fake, n stack.Names) {
			f.Set(n.Grafana, func(s *stack.ContainerState) { delete(s.Networks, n.Network) })
		}, "Network", "monitoring network", StatusFail, []string{"s1-llm-grafana is not on s1-monitoring", "docker network connect --alias grafana s1-monitoring s1-llm-grafana"}},
		{"no prometheus alias", func(f *enginetest.Fake, n stack.Names) {
			f.Set(n.Prometheus, func(s *stack.ContainerState) { s.Networks[n.Network] = stack.Endpoint{IP: "172.30.0.3"} })
		}, "Network", "monitoring network", StatusFail, []string{`no alias "prometheus"`}},
		{"old engine", func(f *enginetest.Fake, n stack.Names) { f.EngineInfo.Version = "19.03.13" }, "Docker", "host-gateway", StatusWarn,
			[]string{"predates host-gateway", "bridge gateway IP"}},
		{"docker desktop", func(f *enginetest.Fake, n stack.Names) { f.EngineInfo.OperatingSystem = "Docker Desktop" }, "Docker", "host-gateway", StatusOK,
			[]string{"resolves host.docker.internal by itself"}},
		{"daemon down skips the rest", func(f *enginetest.Fake, n stack.Names) { f.Unreachable = true }, "Containers", "grafana", StatusSkip,
			[]string{"Docker unreachable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, n, o := fakeStack(t, "s1")
			c.change(f, n)
			got := runChecks(t, o).get(c.group, c.check)
			if got.Status != c.status {
				t.Fatalf("%s › %s = %+v, want %s", c.group, c.check, got, c.status)
			}
			all := strings.Join(append([]string{got.Message, got.Cause, got.Fix}, got.Details...), "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("%s › %s lacks %q:\n%s", c.group, c.check, w, all)
				}
			}
		})
	}
}

func TestNothingStartedSaysSo(t *testing.T) {
	f := enginetest.New()
	dir := t.TempDir()
	r := runChecks(t, Options{Dir: dir, Config: stack.Default(), Engine: f})
	for _, check := range []string{"prometheus", "grafana"} {
		got := r.get("Containers", check)
		if got.Status != StatusFail || !strings.Contains(got.Cause, "no stack was started from "+dir) || !strings.Contains(got.Fix, "llmmon up --dir "+dir) {
			t.Errorf("%s = %+v", check, got)
		}
	}
	if got := r.get("Grafana", "admin password"); got.Status != StatusSkip {
		t.Errorf("admin password = %+v", got)
	}
	if got := r.get("Rendered config", "prometheus files"); got.Status != StatusSkip {
		t.Errorf("rendered = %+v", got)
	}
}
