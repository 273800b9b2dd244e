package stack_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

const (
	promImage = "prom/prometheus:v3.13.2"
	grafImage = "grafana/grafana:12.4.3"
	amImage   = "prom/alertmanager:v0.35.0"
)

// fakeEngine has the three images and accepts every port.
func fakeEngine() *enginetest.Fake {
	f := enginetest.New()
	f.Images[promImage] = "sha256:prom1"
	f.Images[grafImage] = "sha256:graf1"
	f.Images[amImage] = "sha256:am1"
	return f
}

func testConfig(mod ...func(*stack.Config)) stack.Config {
	c := stack.Default()
	c.Prometheus.Image, c.Grafana.Image, c.Alertmanager.Image = promImage, grafImage, amImage
	for _, m := range mod {
		m(&c)
	}
	return c
}

func freePorts(string) error { return nil }

// events is what one Up reported: its events, and the engine's pull
// progress.
type events struct {
	list  []stack.Event
	pulls bytes.Buffer
}

// has reports whether e was reported (events with a duration match on
// everything else).
func (ev *events) has(e stack.Event) bool {
	for _, x := range ev.list {
		switch x := x.(type) {
		case stack.Ready:
			x.Elapsed = 0
			if x == e {
				return true
			}
		case stack.DatasourceHealthy:
			x.Elapsed = 0
			if x == e {
				return true
			}
		default:
			if fmt.Sprint(x) == fmt.Sprint(e) {
				return true
			}
		}
	}
	return false
}

func (ev *events) String() string {
	return fmt.Sprintf("%+v\npull output: %s", ev.list, ev.pulls.String())
}

// up runs Up without the readiness wait (the fake engine runs nothing)
// for exactly the settings cfg.
func up(t *testing.T, eng stack.Engine, dir string, cfg stack.Config, mod ...func(*stack.UpOptions)) (*stack.UpResult, *events, error) {
	t.Helper()
	ev := &events{}
	o := stack.UpOptions{Dir: dir, Settings: stack.Given(cfg), Pull: stack.PullMissing, CheckPort: freePorts,
		Events: func(e stack.Event) { ev.list = append(ev.list, e) }, PullProgress: stack.Progress{Out: &ev.pulls}}
	for _, m := range mod {
		m(&o)
	}
	res, err := stack.Up(context.Background(), eng, o)
	return res, ev, err
}

func mustUp(t *testing.T, eng stack.Engine, dir string, cfg stack.Config) *stack.UpResult {
	t.Helper()
	res, out, err := up(t, eng, dir, cfg)
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	return res
}

func TestUpCreatesTheStackThenChangesNothing(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	res, out, err := up(t, eng, dir, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"create network monitoring", "create volume llm-prometheus-data", "create volume llm-alertmanager-data", "create volume llm-grafana-data",
		"create container llm-prometheus", "start llm-prometheus", "create container llm-alertmanager", "start llm-alertmanager",
		"create container llm-grafana", "start llm-grafana",
	}
	if got := eng.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n%q\nwant\n%q", got, want)
	}
	for _, a := range []stack.Action{{Kind: stack.KindNetwork, Name: "monitoring", Verb: "created"}, {Kind: stack.KindContainer, Name: "llm-grafana", Verb: "created"}} {
		if !out.has(a) {
			t.Errorf("no event %+v:\n%s", a, out)
		}
	}
	// The rendered files went in through the engine, not a bind mount.
	prom, _ := os.ReadFile(filepath.Join(dir, "prometheus/prometheus.yml"))
	if got, ok := eng.File("llm-prometheus", "/etc/prometheus/prometheus.yml"); !ok || !bytes.Equal(got, prom) {
		t.Errorf("prometheus.yml in the container differs from --dir's")
	}
	if spec, _ := eng.Spec("llm-prometheus"); len(spec.Mounts) != 1 || spec.Mounts[0].Volume != "llm-prometheus-data" {
		t.Errorf("prometheus mounts: %+v", spec.Mounts)
	}
	// The password is generated, kept 0600, and handed to Grafana as a file.
	st, err := os.Stat(res.PasswordFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	pw, _ := os.ReadFile(res.PasswordFile)
	if inside, _ := eng.File("llm-grafana", "/etc/grafana/llmmon/admin-password"); string(inside) != strings.TrimSpace(string(pw)) || len(inside) < 20 {
		t.Errorf("grafana password file %q vs stored %q", inside, pw)
	}
	if strings.Contains(out.String(), strings.TrimSpace(string(pw))) {
		t.Error("up reported the password")
	}
	state, err := stack.LoadState(dir)
	if err != nil || state.Names.Prometheus != "llm-prometheus" || state.PrometheusURL != "http://127.0.0.1:9090" || state.GrafanaFilesHash == "" {
		t.Fatalf("state: %+v %v", state, err)
	}

	res2, out2, err := up(t, eng, dir, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("second up changed things: %q", calls)
	}
	if res2.ContainerIDs["prometheus"] != res.ContainerIDs["prometheus"] || res2.ContainerIDs["grafana"] != res.ContainerIDs["grafana"] {
		t.Errorf("container IDs changed: %v → %v", res.ContainerIDs, res2.ContainerIDs)
	}
	for _, e := range out2.list {
		if a, ok := e.(stack.Action); ok && a.Verb != "unchanged" {
			t.Errorf("second up reports a change: %+v", a)
		}
	}
	pw2, _ := os.ReadFile(res.PasswordFile)
	if !bytes.Equal(pw, pw2) {
		t.Error("password regenerated")
	}
}

func TestUpScrapeIntervalReloadsPrometheus(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	first := mustUp(t, eng, dir, testConfig())
	eng.Calls()
	res := mustUp(t, eng, dir, testConfig(func(c *stack.Config) { c.ScrapeInterval = stack.Duration(5 * time.Second) }))
	want := []string{
		// New prometheus.yml, reloaded in place: same container, no restart.
		"copy files into llm-prometheus", "signal HUP llm-prometheus",
		// Grafana's datasource carries the interval: new file, same container.
		"copy files into llm-grafana", "restart llm-grafana",
	}
	if got := eng.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n%q\nwant\n%q", got, want)
	}
	if res.ContainerIDs["grafana"] != first.ContainerIDs["grafana"] || res.ContainerIDs["prometheus"] != first.ContainerIDs["prometheus"] {
		t.Errorf("ids %v → %v", first.ContainerIDs, res.ContainerIDs)
	}
	if py, _ := eng.File("llm-prometheus", "/etc/prometheus/prometheus.yml"); !strings.Contains(string(py), "scrape_interval: 5s") {
		t.Errorf("prometheus did not get the new prometheus.yml:\n%s", py)
	}
	ds, _ := eng.File("llm-grafana", "/etc/grafana/provisioning/datasources/prometheus.yml")
	if !strings.Contains(string(ds), `timeInterval: "5s"`) {
		t.Errorf("grafana did not get the new datasource file:\n%s", ds)
	}
	// And that delivery is remembered: the next up does nothing.
	mustUp(t, eng, dir, testConfig(func(c *stack.Config) { c.ScrapeInterval = stack.Duration(5 * time.Second) }))
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("third up changed things: %q", calls)
	}
	// A changed Grafana port recreates only Grafana; volumes stay.
	mustUp(t, eng, dir, testConfig(func(c *stack.Config) { c.ScrapeInterval = stack.Duration(5 * time.Second); c.Grafana.Port = 13000 }))
	if got, want := eng.Calls(), []string{"remove container llm-grafana", "create container llm-grafana", "start llm-grafana"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

func TestUpRefusesForeignObjectsAndCreatesNothing(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	eng.Add(stack.KindContainer, "llm-grafana", map[string]string{"com.example": "mine"})
	eng.Add(stack.KindVolume, "llm-prometheus-data", nil)
	eng.Add(stack.KindNetwork, "monitoring", map[string]string{stack.LabelStack: "other"})
	_, _, err := up(t, eng, dir, testConfig())
	if err == nil {
		t.Fatal("up took over foreign objects")
	}
	for _, want := range []string{
		`a container named "llm-grafana" already exists and was not created by llmmon`,
		`a volume named "llm-prometheus-data" already exists and was not created by llmmon`,
		`a network named "monitoring" already exists and belongs to llmmon stack "other"`,
		"pass --name",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("up changed things before refusing: %q", calls)
	}
	// --name sidesteps them.
	mustUp(t, eng, t.TempDir(), testConfig(func(c *stack.Config) { c.Name = "two" }))
	if got := eng.Names(stack.KindContainer); !slices.Equal(got, []string{"llm-grafana", "two-llm-alertmanager", "two-llm-grafana", "two-llm-prometheus"}) {
		t.Errorf("containers: %v", got)
	}
}

func TestUpPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	eng := fakeEngine()
	_, _, err = up(t, eng, t.TempDir(), testConfig(func(c *stack.Config) { c.Grafana.Port = taken; c.Prometheus.Port = testenv.FreePort(t) }),
		func(o *stack.UpOptions) { o.CheckPort = nil })
	want := fmt.Sprintf("port %d on 127.0.0.1 is in use (by another program or container): stop it, or pass --grafana-port to publish on another port", taken)
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("created things: %q", calls)
	}

	// A port the engine finds taken at start (a race) gives the same
	// error and leaves no container behind.
	eng.StartErr["llm-prometheus"] = fmt.Errorf("start: %w: Bind for 127.0.0.1:9090 failed: port is already allocated", stack.ErrPortAllocated)
	_, _, err = up(t, eng, t.TempDir(), testConfig())
	if err == nil || !strings.Contains(err.Error(), "port 9090 on 127.0.0.1 is in use") || !strings.Contains(err.Error(), "--prometheus-port") {
		t.Fatalf("err = %v", err)
	}
	if got := eng.Names(stack.KindContainer); len(got) != 0 {
		t.Errorf("left behind: %v", got)
	}
}

// An up from another --dir on the same --name may start a container on
// a port between this up's lookup and its port check: the error names the
// other up, not "another program" (found by TestConcurrentUpsFromTwoDirs).
func TestUpPortTakenByARacingUp(t *testing.T) {
	eng := fakeEngine()
	cfg := testConfig()
	_, _, err := up(t, eng, t.TempDir(), cfg, func(o *stack.UpOptions) {
		o.CheckPort = func(addr string) error {
			if addr != net.JoinHostPort(cfg.Bind, strconv.Itoa(cfg.Grafana.Port)) {
				return nil
			}
			eng.Add(stack.KindContainer, "llm-grafana", map[string]string{stack.LabelStack: cfg.Name})
			eng.Set("llm-grafana", func(c *stack.ContainerState) {
				c.Ports = []stack.PortSpec{{HostIP: cfg.Bind, HostPort: cfg.Grafana.Port, ContainerPort: 3000}}
			})
			return errors.New("address already in use")
		}
	})
	want := fmt.Sprintf("port %d on %s was taken by this stack's container while this up was running: another llmmon up is bringing up stack %q", cfg.Grafana.Port, cfg.Bind, cfg.Name)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, stack.ErrNameInUse) {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("created things: %q", calls)
	}
}

func TestUpImages(t *testing.T) {
	t.Run("never with a missing image", func(t *testing.T) {
		eng := fakeEngine()
		delete(eng.Images, grafImage)
		_, _, err := up(t, eng, t.TempDir(), testConfig(), func(o *stack.UpOptions) { o.Pull = stack.PullNever })
		if err == nil || !strings.Contains(err.Error(), "--pull never was given, and this image is not on this Docker engine:\n  "+grafImage+"  (--grafana-image)\n") {
			t.Fatalf("err = %v", err)
		}
		if calls := eng.Calls(); len(calls) != 0 {
			t.Errorf("calls: %q", calls)
		}
	})
	t.Run("missing pulls only what is missing", func(t *testing.T) {
		eng := fakeEngine()
		delete(eng.Images, promImage)
		eng.Registry[promImage] = "sha256:pulled"
		_, out, err := up(t, eng, t.TempDir(), testConfig())
		if err != nil {
			t.Fatal(err)
		}
		if calls := eng.Calls(); calls[0] != "pull "+promImage || slices.Contains(calls, "pull "+grafImage) {
			t.Errorf("calls: %q", calls)
		}
		if !out.has(stack.Pulling{Image: promImage}) || !strings.Contains(out.pulls.String(), "Downloaded newer image for "+promImage) {
			t.Errorf("no pull progress:\n%s", out)
		}
	})
	t.Run("always pulls and a new image ID recreates", func(t *testing.T) {
		eng, dir := fakeEngine(), t.TempDir()
		mustUp(t, eng, dir, testConfig())
		eng.Calls()
		eng.Registry[promImage], eng.Registry[grafImage], eng.Registry[amImage] = "sha256:prom2", "sha256:graf1", "sha256:am1"
		if _, _, err := up(t, eng, dir, testConfig(), func(o *stack.UpOptions) { o.Pull = stack.PullAlways }); err != nil {
			t.Fatal(err)
		}
		want := []string{"pull " + promImage, "pull " + amImage, "pull " + grafImage, "remove container llm-prometheus", "create container llm-prometheus", "start llm-prometheus"}
		if got := eng.Calls(); !slices.Equal(got, want) {
			t.Errorf("calls %q, want %q", got, want)
		}
	})
	// Every missing image in one message, with both ways out, and no way
	// out that leads back here: a registry, or local images by flag.
	t.Run("failed pull names every missing image", func(t *testing.T) {
		eng := fakeEngine()
		delete(eng.Images, promImage)
		delete(eng.Images, grafImage)
		delete(eng.Images, amImage)
		_, _, err := up(t, eng, t.TempDir(), testConfig())
		var mi *stack.MissingImagesError
		if !errors.As(err, &mi) || len(mi.Missing) != 3 {
			t.Fatalf("err = %v", err)
		}
		msg := err.Error()
		for _, want := range []string{"cannot pull image " + promImage + ": ", "these images are not on this Docker engine:",
			promImage + "  (--prometheus-image)", amImage + "  (--alertmanager-image)", grafImage + "  (--grafana-image)",
			"docker pull " + promImage + " " + amImage + " " + grafImage,
			"llmmon up --pull never --prometheus-image IMAGE --alertmanager-image IMAGE --grafana-image IMAGE", "make test-images builds a Prometheus and an Alertmanager"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		// --pull never, as the message offers, gives the same list, never
		// "use --pull missing" back.
		_, _, err = up(t, eng, t.TempDir(), testConfig(), func(o *stack.UpOptions) { o.Pull = stack.PullNever })
		if !errors.As(err, &mi) || len(mi.Missing) != 3 || !strings.Contains(err.Error(), "llmmon up --pull never --prometheus-image IMAGE") {
			t.Fatalf("--pull never: %v", err)
		}
	})
	t.Run("failed pull", func(t *testing.T) {
		eng := fakeEngine()
		delete(eng.Images, promImage)
		_, _, err := up(t, eng, t.TempDir(), testConfig())
		if err == nil || !strings.Contains(err.Error(), "cannot pull image "+promImage+": ") || strings.Contains(err.Error(), grafImage+"  (") {
			t.Fatalf("err = %v (only the missing image is listed)", err)
		}
		if got := eng.Names(stack.KindNetwork); len(got) != 0 {
			t.Errorf("created before images were there: %v", got)
		}
	})
}

func TestUpUnreachableEngine(t *testing.T) {
	eng := fakeEngine()
	eng.Unreachable = true
	_, _, err := up(t, eng, t.TempDir(), testConfig())
	if err == nil || err.Error() != "cannot reach the Docker daemon at unix:///var/run/docker.sock: is it running? (see llmmon doctor)" {
		t.Fatalf("err = %v", err)
	}
	if !errors.Is(err, stack.ErrEngineUnreachable) {
		t.Error("not ErrEngineUnreachable")
	}
	_, err = stack.Down(context.Background(), eng, stack.DownOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the Docker daemon at") {
		t.Errorf("down: %v", err)
	}
}

func TestUpRejectsReservedName(t *testing.T) {
	_, _, err := up(t, fakeEngine(), t.TempDir(), testConfig(func(c *stack.Config) { c.Name = "default" }))
	if se := stack.SettingErrors(err); len(se) != 1 || se[0].Paths[0] != "name" || !strings.Contains(err.Error(), `name "default" is reserved`) {
		t.Fatalf("err = %v", err)
	}
}

// An interrupted up leaves states a following up finishes.
func TestUpFinishesWhatAnInterruptedUpLeft(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	first := mustUp(t, eng, dir, testConfig())
	eng.Calls()
	// Created but never started (killed between create and start): replaced.
	eng.Set("llm-grafana", func(s *stack.ContainerState) { s.Status = "created" })
	// Stopped (docker stop, reboot): started as is.
	eng.Set("llm-prometheus", func(s *stack.ContainerState) { s.Status = "exited" })
	res := mustUp(t, eng, dir, testConfig())
	want := []string{"start llm-prometheus", "remove container llm-grafana", "create container llm-grafana", "start llm-grafana"}
	if got := eng.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
	if res.ContainerIDs["prometheus"] != first.ContainerIDs["prometheus"] {
		t.Error("stopped prometheus was recreated instead of started")
	}
	// Only the network exists (interrupted right after it): up goes on.
	eng2, dir2 := fakeEngine(), t.TempDir()
	eng2.Add(stack.KindNetwork, "monitoring", map[string]string{stack.LabelStack: "default"})
	mustUp(t, eng2, dir2, testConfig())
	if got := eng2.Names(stack.KindContainer); len(got) != 3 {
		t.Errorf("containers %v", got)
	}
}

func TestHostGatewayByEngine(t *testing.T) {
	tests := []struct {
		name    string
		info    func(*stack.EngineInfo)
		want    []string
		wantURL string
	}{
		{"linux 20.10", func(*stack.EngineInfo) {}, []string{"host.docker.internal:host-gateway"}, "http://127.0.0.1:9090"},
		{"linux 19.03: bridge gateway", func(i *stack.EngineInfo) { i.Version = "19.03.15" }, []string{"host.docker.internal:172.30.0.1"}, "http://127.0.0.1:9090"},
		{"docker desktop", func(i *stack.EngineInfo) { i.OperatingSystem = "Docker Desktop"; i.Version = "27.3.1" }, nil, "http://127.0.0.1:9090"},
		{"remote engine", func(i *stack.EngineInfo) { i.Host = "tcp://10.9.8.7:2376" }, []string{"host.docker.internal:host-gateway"}, "http://10.9.8.7:9090"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng := fakeEngine()
			tt.info(&eng.EngineInfo)
			res := mustUp(t, eng, t.TempDir(), testConfig())
			spec, _ := eng.Spec("llm-prometheus")
			if !slices.Equal(spec.ExtraHosts, tt.want) {
				t.Errorf("extra hosts %v, want %v", spec.ExtraHosts, tt.want)
			}
			if res.PrometheusURL != tt.wantURL {
				t.Errorf("url %s", res.PrometheusURL)
			}
		})
	}
}

func TestDownByLabelOnly(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	mustUp(t, eng, dir, testConfig())
	mustUp(t, eng, t.TempDir(), testConfig(func(c *stack.Config) {
		c.Name = "other"
		c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = 19090, 13000, 19093
	}))
	// Look-alikes that are not ours.
	eng.Add(stack.KindContainer, "llm-prometheus-old", nil)
	eng.Add(stack.KindVolume, "llm-grafana-data-backup", map[string]string{"com.example": "x"})
	eng.Calls()

	res, err := stack.Down(context.Background(), eng, stack.DownOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var removed []string
	for _, o := range res.Removed {
		removed = append(removed, string(o.Kind)+" "+o.Name)
	}
	if want := []string{"container llm-alertmanager", "container llm-grafana", "container llm-prometheus", "network monitoring"}; !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	if got := eng.Names(stack.KindVolume); !slices.Equal(got, []string{"llm-alertmanager-data", "llm-grafana-data", "llm-grafana-data-backup", "llm-prometheus-data",
		"other-llm-alertmanager-data", "other-llm-grafana-data", "other-llm-prometheus-data"}) {
		t.Errorf("volumes: %v", got)
	}
	res, err = stack.Down(context.Background(), eng, stack.DownOptions{Volumes: true})
	if err != nil || len(res.Removed) != 3 {
		t.Fatalf("down --volumes: %+v %v", res, err)
	}
	if got := eng.Names(stack.KindVolume); !slices.Equal(got, []string{"llm-grafana-data-backup", "other-llm-alertmanager-data", "other-llm-grafana-data", "other-llm-prometheus-data"}) {
		t.Errorf("volumes: %v", got)
	}
	if got := eng.Names(stack.KindContainer); !slices.Equal(got, []string{"llm-prometheus-old", "other-llm-alertmanager", "other-llm-grafana", "other-llm-prometheus"}) {
		t.Errorf("containers: %v", got)
	}
	// Twice is fine.
	res, err = stack.Down(context.Background(), eng, stack.DownOptions{Volumes: true})
	if err != nil || len(res.Removed) != 0 {
		t.Fatalf("second down: %+v %v", res, err)
	}
}

func TestDownNetworkWithForeignContainer(t *testing.T) {
	eng := fakeEngine()
	mustUp(t, eng, t.TempDir(), testConfig())
	eng.Add(stack.KindContainer, "someone-else", nil)
	eng.Attach("someone-else", "monitoring")
	res, err := stack.Down(context.Background(), eng, stack.DownOptions{})
	if err == nil || !strings.Contains(err.Error(), "network monitoring still has containers attached that llmmon did not create") {
		t.Fatalf("err = %v", err)
	}
	if len(res.Removed) != 3 {
		t.Errorf("containers not removed before the network error: %+v", res.Removed)
	}
	if got := eng.Names(stack.KindContainer); !slices.Equal(got, []string{"someone-else"}) {
		t.Errorf("containers %v", got)
	}
}

func TestStatusWithNothingUp(t *testing.T) {
	r, err := stack.Status(context.Background(), fakeEngine(), stack.StatusOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if r.Up || len(r.Components) != 3 || r.Components[0].State != "missing" || r.Components[1].State != "missing" || r.Components[2].State != "missing" {
		t.Errorf("report: %+v", r)
	}
	if _, err := stack.Status(context.Background(), fakeEngine(), stack.StatusOptions{Dir: t.TempDir(), ShowPassword: true}); err == nil {
		t.Error("--show-password without a stored password must fail")
	}
}

// Readiness against a stand-in for Prometheus' API and the Grafana test
// double: progress, the datasource check, the dashboard import, a wrong
// stored password and a crash.
func TestUpWaitsForReadiness(t *testing.T) {
	var promCalls atomic.Int32
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			if promCalls.Add(1) < 3 {
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "Prometheus Server is Ready.")
		case "/api/v1/targets":
			fmt.Fprint(w, `{"status":"success","data":{"activeTargets":[{"labels":{"job":"prometheus"},"scrapeUrl":"http://localhost:9090/metrics","health":"up","lastError":""}]}}`)
		case "/api/v1/query": // Grafana's datasource health check
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer prom.Close()
	// Alertmanager's stand-in: ready on the second ask; its status API is
	// what Grafana's datasource check reads.
	var amCalls atomic.Int32
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			if amCalls.Add(1) < 2 {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprint(w, "OK")
		case "/api/v2/status":
			fmt.Fprint(w, `{"cluster":{"status":"disabled"},"config":{"original":""},"uptime":"2026-12-01T10:00:00Z","versionInfo":{"version":"0.25.0"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer am.Close()
	// Grafana, provisioned with the stack's datasources, pointing at the
	// stand-ins, and started with the password the first up stored.
	double, graf := provisionedGrafana(t, "known-pw", prom.URL, am.URL)
	cfg := testConfig(func(c *stack.Config) {
		c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = serverPort(prom), serverPort(graf), serverPort(am)
	})

	eng, dir := fakeEngine(), t.TempDir()
	storePassword := func(pw string) { os.WriteFile(filepath.Join(dir, stack.AdminPasswordFile), []byte(pw+"\n"), 0o600) }
	storePassword("known-pw")
	res, out, err := up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second })
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	waiting := stack.Waiting{Timeout: 20 * time.Second, Probes: []stack.ProbeInfo{{Component: "prometheus", Endpoint: "/-/ready"},
		{Component: "alertmanager", Endpoint: "/-/ready"}, {Component: "grafana", Endpoint: "/api/health"}}}
	for _, want := range []stack.Event{waiting, stack.Ready{Component: "prometheus", URL: prom.URL}, stack.Ready{Component: "alertmanager", URL: am.URL},
		stack.DatasourceHealthy{UID: "llmmon-prometheus", URL: "http://prometheus:9090"},
		stack.DatasourceHealthy{UID: "llmmon-alertmanager", URL: "http://alertmanager:9093"}} {
		if !out.has(want) {
			t.Errorf("no event %+v:\n%s", want, out)
		}
	}
	// The first up imports the dashboard (no version recorded yet) and
	// records the version it wrote.
	if res.Dashboard == nil || res.Dashboard.Action != grafana.ActionCreated || res.Dashboard.TrackedVersion < 1 {
		t.Fatalf("dashboard: %+v", res.Dashboard)
	}
	if _, ok := double.Dashboard(dashboards.UID); !ok {
		t.Error("the dashboard is not in Grafana")
	}
	if st, _ := stack.LoadState(dir); st.DashboardVersion != res.Dashboard.TrackedVersion {
		t.Errorf("dashboard version not recorded: %d, want %d", st.DashboardVersion, res.Dashboard.TrackedVersion)
	}
	// Configured jobs Prometheus does not list yet show as unknown.
	jobs := map[string]string{}
	for _, tg := range res.Targets {
		jobs[tg.Job] = tg.Health
	}
	if jobs["prometheus"] != "up" || jobs["llm-server"] != "unknown" {
		t.Errorf("targets: %+v", res.Targets)
	}
	// The next up finds the version it recorded: unchanged, not "edited".
	res, out, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second })
	if err != nil || res.Dashboard == nil || res.Dashboard.Action != grafana.ActionUnchanged {
		t.Fatalf("second up: %v %+v\n%s", err, res.Dashboard, out)
	}
	// --no-dashboard leaves it alone.
	res, _, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second; o.Dashboard.Skip = true })
	if err != nil || res.Dashboard != nil {
		t.Fatalf("skipped import: %v %+v", err, res.Dashboard)
	}

	// The volume keeps another password than the one stored now.
	storePassword("not-what-grafana-has")
	_, _, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second })
	if !errors.Is(err, stack.ErrAdminPassword) || !strings.Contains(err.Error(), "reset-admin-password") || !strings.Contains(err.Error(), "llm-grafana-data") {
		t.Fatalf("err = %v", err)
	}

	// A container that exits is reported at once, with its last log lines.
	storePassword("known-pw")
	graf.Close()
	eng.Set("llm-grafana", func(s *stack.ContainerState) { s.Status = "exited"; s.ExitCode = 1 })
	eng.LogLines["llm-grafana"] = "logger=settings msg=starting\nError: ✗ Datasource provisioning error: datasource.yaml config is invalid"
	eng.Set("llm-grafana", func(s *stack.ContainerState) { s.Status = "restarting"; s.RestartCount = 3 })
	start := time.Now()
	_, _, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = time.Minute })
	if err == nil || !strings.Contains(err.Error(), "container llm-grafana keeps restarting") || !strings.Contains(err.Error(), "Datasource provisioning error") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("crash noticed only after %s", time.Since(start))
	}
}

// An up that fails half-way has already recorded the stack, so a plain
// `down --dir` (no --name) finds and removes what it created.
func TestFailedUpIsRecordedForDown(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	eng.StartErr["half-llm-grafana"] = errors.New("OCI runtime create failed")
	_, _, err := up(t, eng, dir, testConfig(func(c *stack.Config) { c.Name = "half" }))
	if err == nil || !strings.Contains(err.Error(), "OCI runtime create failed") {
		t.Fatalf("err = %v", err)
	}
	name, err := stack.ResolveName(dir, "", false)
	if err != nil || name != "half" {
		t.Fatalf("recorded name %q, %v", name, err)
	}
	res, err := stack.Down(context.Background(), eng, stack.DownOptions{Name: name, Volumes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 6 { // prometheus, alertmanager, network, three volumes; grafana was never left behind
		t.Errorf("removed %+v", res.Removed)
	}
	for _, k := range []stack.Kind{stack.KindContainer, stack.KindNetwork, stack.KindVolume} {
		if got := eng.Names(k); len(got) != 0 {
			t.Errorf("%s left: %v", k, got)
		}
	}
}

// snapshot is a folder tree as it is on disk: every entry's mode, and
// each file's content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	tree := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(b)
		}
		tree[p] = entry
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return tree
}

// A failed up leaves --dir exactly as it was: its tree, every file's
// content and every mode; a --dir that did not exist is not created.
func TestFailedUpLeavesDirUnchanged(t *testing.T) {
	recorded := testConfig(func(c *stack.Config) { c.Name = "keep"; c.Prometheus.Port, c.Grafana.Port = 19090, 13000 })
	changed := func(mod func(*stack.Config)) stack.Config {
		c := recorded
		c.ScrapeInterval = stack.Duration(5 * time.Second) // would re-render prometheus.yml
		c.Targets = []stack.Target{{Name: "vllm", Address: "gpu:8001"}}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	tests := []struct {
		name  string
		cfg   stack.Config
		setup func(eng *enginetest.Fake)
		opt   func(*stack.UpOptions)
		want  string
	}{
		{"missing image", changed(nil), func(eng *enginetest.Fake) { delete(eng.Images, grafImage) },
			func(o *stack.UpOptions) { o.Pull = stack.PullNever }, "is not on this Docker engine"},
		{"failed pull", changed(nil), func(eng *enginetest.Fake) { delete(eng.Images, promImage) }, nil, "pull image " + promImage},
		{"port in use", changed(func(c *stack.Config) { c.Grafana.Port = 13001 }), nil, func(o *stack.UpOptions) {
			o.CheckPort = func(string) error { return errors.New("address already in use") }
		}, "is in use"},
		{"foreign object", changed(nil), func(eng *enginetest.Fake) { eng.Add(stack.KindVolume, "keep-llm-grafana-data", nil) }, nil,
			"was not created by llmmon"},
		{"engine unreachable", changed(nil), func(eng *enginetest.Fake) { eng.Unreachable = true }, nil, "cannot reach the Docker daemon"},
		{"invalid settings", changed(func(c *stack.Config) { c.Grafana.Port = 0 }), nil, nil, "invalid port 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eng, dir := fakeEngine(), t.TempDir()
			mustUp(t, eng, dir, recorded)
			os.WriteFile(filepath.Join(dir, "grafana", "dashboards", "mine.json"), []byte(`{"title":"mine"}`), 0o600)
			before := snapshot(t, dir)
			if tt.setup != nil {
				tt.setup(eng)
			}
			eng.Calls()
			mods := []func(*stack.UpOptions){}
			if tt.opt != nil {
				mods = append(mods, tt.opt)
			}
			_, _, err := up(t, eng, dir, tt.cfg, mods...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if after := snapshot(t, dir); !maps.Equal(before, after) {
				for p, b := range before {
					if after[p] != b {
						t.Errorf("%s changed:\n%.200q\n→ %.200q", p, b, after[p])
					}
				}
				for p := range after {
					if _, ok := before[p]; !ok {
						t.Errorf("%s was created", p)
					}
				}
			}
			for _, c := range eng.Calls() {
				if !strings.HasPrefix(c, "pull ") {
					t.Errorf("engine changed: %q", c)
				}
			}
		})
	}
	t.Run("no dir yet", func(t *testing.T) {
		eng := fakeEngine()
		delete(eng.Images, grafImage)
		dir := filepath.Join(t.TempDir(), "new")
		_, _, err := up(t, eng, dir, testConfig(), func(o *stack.UpOptions) { o.Pull = stack.PullNever })
		if err == nil {
			t.Fatal("up succeeded without the image")
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("--dir was created: %v", err)
		}
	})
}

// `up --dir D --name N` with no other flag keeps what the last up of N
// recorded in D: images, ports, targets, intervals. Nothing is recreated.
func TestUpKeepsRecordedSettings(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	eng.Images["my/prometheus:2"], eng.Images["my/grafana:2"] = "sha256:p2", "sha256:g2"
	custom := testConfig(func(c *stack.Config) {
		c.Name = "n1"
		c.Prometheus.Component = stack.Component{Image: "my/prometheus:2", Port: 19090}
		c.Grafana = stack.Component{Image: "my/grafana:2", Port: 13000}
		c.Bind = "0.0.0.0"
		c.ScrapeInterval = stack.Duration(5 * time.Second)
		c.LLMServer.Address = "host.docker.internal:8100"
		c.Targets = []stack.Target{{Name: "vllm", Address: "gpu:8001", Path: "/m"}}
	})
	first := mustUp(t, eng, dir, custom)
	eng.Calls()
	promYML, _ := os.ReadFile(filepath.Join(dir, "prometheus", "prometheus.yml"))

	ev := &events{}
	res, err := stack.Up(context.Background(), eng, stack.UpOptions{Dir: dir, CheckPort: freePorts,
		Settings: stack.Overrides{Flags: stack.Config{Name: "n1"}, Set: []string{"name"}},
		Events:   func(e stack.Event) { ev.list = append(ev.list, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Config, custom) {
		t.Errorf("settings moved:\n%+v\nwant\n%+v", res.Config, custom)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("up changed the stack: %q", calls)
	}
	if res.ContainerIDs["prometheus"] != first.ContainerIDs["prometheus"] || res.PrometheusURL != "http://127.0.0.1:19090" {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "prometheus", "prometheus.yml")); !bytes.Equal(b, promYML) {
		t.Errorf("prometheus.yml re-rendered:\n%s", b)
	}
	if st, _ := stack.LoadState(dir); !reflect.DeepEqual(st.Config, custom) {
		t.Errorf("recorded %+v", st.Config)
	}
	// A flag changes only its own setting.
	res, _, err = up(t, eng, dir, stack.Config{}, func(o *stack.UpOptions) {
		o.Settings = stack.Overrides{Flags: stack.Config{Grafana: stack.Component{Port: 13001}}, Set: []string{"grafana.port"}}
	})
	if err != nil || res.Config.Grafana.Port != 13001 || res.Config.Grafana.Image != "my/grafana:2" || res.Config.Name != "n1" || len(res.Config.Targets) != 1 {
		t.Errorf("one flag: %+v %v", res.Config, err)
	}
	if got, want := eng.Calls(), []string{"remove container n1-llm-grafana", "create container n1-llm-grafana", "start n1-llm-grafana"}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// A password refused by a Grafana whose volume this up created is not an
// old volume's: the message says the password did not reach Grafana, and
// does not send the user to delete the volume.
func TestUpFreshVolumeRefusedPasswordBlamesTheImage(t *testing.T) {
	double, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "set-by-the-image"})
	if err != nil {
		t.Fatal(err)
	}
	graf := httptest.NewServer(double.Handler())
	defer graf.Close()
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "Prometheus Server is Ready.") }))
	defer prom.Close()
	am := alertmanagerStandIn(t)
	cfg := testConfig(func(c *stack.Config) {
		c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = serverPort(prom), serverPort(graf), serverPort(am)
	})
	eng, dir := fakeEngine(), t.TempDir()
	_, _, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second })
	if !errors.Is(err, stack.ErrAdminPassword) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"up created the volume llm-grafana-data just now", "ignores GF_SECURITY_ADMIN_PASSWORD__FILE", "docker logs llm-grafana", grafImage} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "docker volume rm") {
		t.Errorf("sends the user to delete a volume up just created:\n%v", err)
	}
	// The next up finds the volume: then an older database is possible.
	_, _, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second })
	if !errors.Is(err, stack.ErrAdminPassword) || !strings.Contains(err.Error(), "was set up with another password") {
		t.Fatalf("second up: %v", err)
	}
}

// A receiver's secret (a Slack URL) reaches Alertmanager's container as a
// file only it may read, and nowhere else: not --dir, not the state, not
// the spec's environment, labels or command, not up's events. Each up
// copies it in again, so a new URL applies without recreating anything.
func TestUpReceiverSecrets(t *testing.T) {
	secretDir := t.TempDir()
	urlFile := filepath.Join(secretDir, "slack-url")
	const secret = "https://hooks.slack.com/services/T000/B000/very-secret-token"
	os.WriteFile(urlFile, []byte(secret+"\n"), 0o600)
	cfg := testConfig(func(c *stack.Config) {
		c.Alerting.Receivers = []stack.Receiver{{Name: "team", Slack: &stack.SlackReceiver{APIURLFile: urlFile, Channel: "#llm"}}}
	})
	eng, dir := fakeEngine(), t.TempDir()
	res, out, err := up(t, eng, dir, cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	const inside = "/etc/alertmanager-secrets/team-slack-api-url"
	if got, _ := eng.File("llm-alertmanager", inside); string(got) != secret+"\n" {
		t.Errorf("secret in the container: %q", got)
	}
	spec, _ := eng.Spec("llm-alertmanager")
	for _, f := range spec.Files {
		if f.Path == inside && (f.Mode != 0o400 || f.UID != 65534 || !f.Secret) {
			t.Errorf("secret file: mode %v uid %d secret %v", f.Mode, f.UID, f.Secret)
		}
	}
	for _, d := range spec.Dirs {
		if d.Path == "/etc/alertmanager-secrets" && d.Mode != 0o700 {
			t.Errorf("secrets folder mode %v", d.Mode)
		}
	}
	conf, _ := eng.File("llm-alertmanager", "/etc/alertmanager/alertmanager.yml")
	if !strings.Contains(string(conf), `api_url_file: "`+inside+`"`) {
		t.Errorf("alertmanager.yml does not name the file:\n%s", conf)
	}
	leak := func(where, s string) {
		if strings.Contains(s, "very-secret-token") {
			t.Errorf("the secret is in %s", where)
		}
	}
	leak("the spec's env, labels or command", fmt.Sprint(spec.Env, spec.Labels, spec.Cmd))
	leak("up's events", out.String())
	leak("up's result", fmt.Sprintf("%+v", res))
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			leak(p, string(b))
		}
		return nil
	})

	// A new URL: copied in by the next up, nothing recreated.
	os.WriteFile(urlFile, []byte("https://hooks.slack.com/services/T000/B000/rotated\n"), 0o600)
	eng.Calls()
	res2, _, err := up(t, eng, dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := eng.Calls(); !slices.Equal(got, []string{"copy files into llm-alertmanager"}) {
		t.Errorf("calls %q", got)
	}
	if res2.ContainerIDs["alertmanager"] != res.ContainerIDs["alertmanager"] {
		t.Error("alertmanager recreated for a new secret")
	}
	if got, _ := eng.File("llm-alertmanager", inside); !strings.Contains(string(got), "rotated") {
		t.Errorf("rotated secret not delivered: %q", got)
	}

	// A secret others may read is named; a missing one stops up before
	// anything is written or created.
	os.Chmod(urlFile, 0o644)
	_, out, err = up(t, eng, dir, cfg)
	if err != nil || !out.has(stack.Notice{Text: "the secret file " + urlFile + " (alerting.receivers[0].slack.api_url_file) can be read by other users (mode 0644): chmod 600 " + urlFile}) {
		t.Errorf("no notice for a world-readable secret: %v\n%s", err, out)
	}
	os.Remove(urlFile)
	before := snapshot(t, dir)
	eng.Calls()
	_, _, err = up(t, eng, dir, cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot read the secret file "+urlFile+" of alerting.receivers[0].slack.api_url_file") {
		t.Fatalf("err = %v", err)
	}
	if calls := eng.Calls(); len(calls) != 0 || !maps.Equal(before, snapshot(t, dir)) {
		t.Errorf("a missing secret changed things: %q", calls)
	}
}
