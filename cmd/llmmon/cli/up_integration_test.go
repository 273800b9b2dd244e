package cli

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// hostLLM is a stand-in LLM server on the host, on 0.0.0.0 so Prometheus
// in Docker reaches it through host.docker.internal.
type hostLLM struct {
	port  int
	phase atomic.Value // exported as llmmon_itest_phase{phase=...}
}

func startHostLLM(t *testing.T) *hostLLM {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hostLLM{port: l.Addr().(*net.TCPAddr).Port}
	h.phase.Store("before")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "# TYPE llm_requests_total counter\nllm_requests_total{endpoint=\"nonstream\",status=\"success\"} 42\n"+
			"# TYPE llmmon_itest_phase gauge\nllmmon_itest_phase{phase=%q} 1\n", h.phase.Load())
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return h
}

func randomName(t *testing.T, prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}

// removeStack deletes whatever carries the stack's label, even if the
// test failed half-way, and whatever the test created by name.
func removeStack(t *testing.T, name string, extra ...string) {
	t.Cleanup(func() {
		filter := "label=" + stack.LabelStack + "=" + name
		if ids, _ := testenv.DockerErr("ps", "-aq", "--filter", filter); ids != "" {
			testenv.DockerErr(append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...)
		}
		if ids, _ := testenv.DockerErr("network", "ls", "-q", "--filter", filter); ids != "" {
			testenv.DockerErr(append([]string{"network", "rm"}, strings.Fields(ids)...)...)
		}
		if ids, _ := testenv.DockerErr("volume", "ls", "-q", "--filter", filter); ids != "" {
			testenv.DockerErr(append([]string{"volume", "rm", "-f"}, strings.Fields(ids)...)...)
		}
		for _, e := range extra {
			kind, obj, _ := strings.Cut(e, ":")
			if kind == "container" {
				testenv.DockerErr("rm", "-f", "-v", obj)
			} else {
				testenv.DockerErr(kind, "rm", obj)
			}
		}
	})
}

func containerID(t *testing.T, name string) string {
	return testenv.Docker(t, "inspect", "-f", "{{.Id}}", name)
}

func exists(kind, name string) bool {
	_, err := testenv.DockerErr(kind, "inspect", name)
	return err == nil
}

// One stack, shared by the steps in order: up, up again, a changed
// setting, down and up with the data kept, a wrong stored password,
// down --volumes beside look-alikes.
func TestUpOnRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	llm := startHostLLM(t)
	name := randomName(t, "itest")
	foreignCtr, foreignVol := name+"-llm-prometheus-old", name+"-llm-grafana-data-backup"
	removeStack(t, name, "container:"+foreignCtr, "volume:"+foreignVol)
	dir := t.TempDir()
	promPort, grafPort, amPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	names := stack.NamesFor(name)
	args := func(extra ...string) []string {
		return append([]string{"up", "--dir", dir, "--name", name,
			"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage,
			"--alertmanager-image", testenv.AlertmanagerImage, "--pull", "never",
			"--prometheus-port", strconv.Itoa(promPort), "--grafana-port", strconv.Itoa(grafPort), "--alertmanager-port", strconv.Itoa(amPort),
			"--llm-target", "host.docker.internal:" + strconv.Itoa(llm.port), "--wait", "90s"}, extra...)
	}
	mustRun := func(t *testing.T, a ...string) string {
		t.Helper()
		out, errOut, err := run(t, a...)
		if err != nil {
			logs, _ := testenv.DockerErr("logs", "--tail", "30", names.Grafana)
			t.Fatalf("llmmon %s: %v\n%s%s\ngrafana logs:\n%s", a[0], err, out, errOut, logs)
		}
		return out
	}
	prom := prometheus.NewClient(fmt.Sprintf("http://127.0.0.1:%d", promPort))
	promP := &testenv.Prometheus{URL: prom.BaseURL, Client: prom}
	password := func() string {
		b, err := os.ReadFile(filepath.Join(dir, stack.AdminPasswordFile))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}

	var promID, grafID, amID string
	t.Run("up", func(t *testing.T) {
		out := mustRun(t, args("--scrape-interval", "1s")...)
		for _, want := range []string{"created   container " + names.Prometheus, "created   container " + names.Alertmanager,
			"datasource llmmon-prometheus healthy", "datasource llmmon-alertmanager healthy", "is ready", "Scrape targets:"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if err := prom.Ready(t.Context()); err != nil {
			t.Fatal(err)
		}
		// The host server is scraped through host.docker.internal.
		got := promP.WaitForSamples(t, 60*time.Second, `llm_requests_total{job="llm-server"}`)
		if got[0].Value != 42 || got[0].Metric["instance"] != "host.docker.internal:"+strconv.Itoa(llm.port) {
			t.Errorf("sample %+v", got[0])
		}
		// Grafana → Prometheus over the stack network, asked through Grafana.
		g := grafana.NewClient(fmt.Sprintf("http://127.0.0.1:%d", grafPort), grafana.Auth{User: "admin", Password: password()})
		if err := g.DatasourceHealth(t.Context(), stack.DatasourceUID); err != nil {
			t.Errorf("datasource health: %v", err)
		}
		// Published on 127.0.0.1 only; the password never in the environment.
		if b := testenv.Docker(t, "port", names.Grafana, "3000/tcp"); b != fmt.Sprintf("127.0.0.1:%d", grafPort) {
			t.Errorf("grafana published on %q", b)
		}
		if env := testenv.Docker(t, "inspect", "-f", "{{json .Config.Env}}", names.Grafana); strings.Contains(env, password()) {
			t.Error("admin password visible in docker inspect")
		}
		if u := testenv.Docker(t, "inspect", "-f", "{{.Config.User}}", names.Prometheus); u != "65534:65534" {
			t.Errorf("prometheus user %q", u)
		}
		// The rendered files were copied in, owned by the container user.
		raw := testenv.Docker(t, "cp", names.Prometheus+":/etc/prometheus/prometheus.yml", "-")
		hdr, err := tar.NewReader(strings.NewReader(raw)).Next()
		if err != nil || hdr.Uid != 65534 {
			t.Errorf("prometheus.yml in the container: %+v %v", hdr, err)
		}
		out = mustRun(t, "status", "--dir", dir)
		for _, want := range []string{names.Prometheus + " running", names.Alertmanager + " running", "datasource   llmmon-prometheus: ok", "llm-server",
			"prometheus →  alertmanager: ok"} {
			if !strings.Contains(out, want) {
				t.Errorf("status lacks %q:\n%s", want, out)
			}
		}
		// From any folder, --name finds the stack's folder by its label.
		out = mustRun(t, "status", "--dir", t.TempDir(), "--name", name)
		if !strings.Contains(out, "its containers say up ran in "+dir) || !strings.Contains(out, "datasource   llmmon-prometheus: ok") {
			t.Errorf("status --name from another folder:\n%s", out)
		}
		// Prometheus sends alerts to the stack's Alertmanager, which runs as nobody.
		if active, _, err := prom.Alertmanagers(t.Context()); err != nil || len(active) != 1 || !strings.Contains(active[0], "//alertmanager:9093/") {
			t.Errorf("prometheus' alertmanagers: %v %v", active, err)
		}
		if u := testenv.Docker(t, "inspect", "-f", "{{.Config.User}}", names.Alertmanager); u != "65534:65534" {
			t.Errorf("alertmanager user %q", u)
		}
		if b := testenv.Docker(t, "port", names.Alertmanager, "9093/tcp"); b != fmt.Sprintf("127.0.0.1:%d", amPort) {
			t.Errorf("alertmanager published on %q", b)
		}
		promID, grafID, amID = containerID(t, names.Prometheus), containerID(t, names.Grafana), containerID(t, names.Alertmanager)
	})
	if t.Failed() {
		return
	}

	t.Run("second up keeps the containers", func(t *testing.T) {
		out := mustRun(t, args("--scrape-interval", "1s")...)
		if !strings.Contains(out, "is up to date and ready") || strings.Contains(out, "created") {
			t.Errorf("second up output:\n%s", out)
		}
		if containerID(t, names.Prometheus) != promID || containerID(t, names.Grafana) != grafID || containerID(t, names.Alertmanager) != amID {
			t.Error("second up recreated a container")
		}
	})

	t.Run("changed scrape interval reloads prometheus in place", func(t *testing.T) {
		started := testenv.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", names.Prometheus)
		out := mustRun(t, args("--scrape-interval", "2s")...)
		newProm, newGraf := containerID(t, names.Prometheus), containerID(t, names.Grafana)
		if newProm != promID || testenv.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", names.Prometheus) != started {
			t.Errorf("prometheus recreated or restarted:\n%s", out)
		}
		if newGraf != grafID {
			t.Errorf("grafana recreated:\n%s", out)
		}
		testenv.Eventually(t, 20*time.Second, "prometheus reloads the 2s interval", func() error {
			var cfg struct {
				YAML string `json:"yaml"`
			}
			if err := prom.Get(t.Context(), "/api/v1/status/config", &cfg); err != nil {
				return err
			}
			if !strings.Contains(cfg.YAML, "scrape_interval: 2s") {
				return fmt.Errorf("loaded config:\n%s", cfg.YAML)
			}
			return nil
		})
		raw := testenv.Docker(t, "cp", names.Grafana+":/etc/grafana/provisioning/datasources/prometheus.yml", "-")
		if !strings.Contains(raw, `timeInterval: "2s"`) {
			t.Errorf("grafana's datasource not updated:\n%s", raw)
		}
	})

	t.Run("up with only --dir and --name keeps the recorded stack", func(t *testing.T) {
		out := mustRun(t, "up", "--dir", dir, "--name", name, "--wait", "90s")
		if !strings.Contains(out, "is up to date and ready") || strings.Contains(out, "created") {
			t.Errorf("output:\n%s", out)
		}
		if containerID(t, names.Prometheus) != promID || containerID(t, names.Grafana) != grafID {
			t.Error("the recorded stack was recreated")
		}
		if b := testenv.Docker(t, "port", names.Prometheus, "9090/tcp"); b != fmt.Sprintf("127.0.0.1:%d", promPort) {
			t.Errorf("prometheus published on %q", b)
		}
		st, err := stack.LoadState(dir)
		if err != nil || st.Config.Prometheus.Image != testenv.PrometheusImage || st.Config.ScrapeInterval.String() != "2s" ||
			st.Config.LLMServer.Address != "host.docker.internal:"+strconv.Itoa(llm.port) {
			t.Errorf("recorded settings moved: %+v %v", st.Config, err)
		}
	})

	t.Run("down then up keeps the samples", func(t *testing.T) {
		promP.WaitForSamples(t, 60*time.Second, `llmmon_itest_phase{phase="before"}`)
		out := mustRun(t, "down", "--dir", dir)
		if !strings.Contains(out, "removed container "+names.Prometheus) || exists("container", names.Prometheus) || !exists("volume", names.PrometheusData) {
			t.Fatalf("down:\n%s", out)
		}
		llm.phase.Store("after") // the new Prometheus never scrapes "before"
		mustRun(t, args("--scrape-interval", "2s")...)
		got, err := promP.Query(t.Context(), `max_over_time(llmmon_itest_phase{phase="before"}[1h])`)
		if err != nil || len(got) != 1 {
			t.Errorf("samples from before down: %v %v", got, err)
		}
	})

	t.Run("a stored password grafana no longer takes", func(t *testing.T) {
		good := password()
		mustRun(t, "down", "--dir", dir)
		os.WriteFile(filepath.Join(dir, stack.AdminPasswordFile), []byte("not-what-the-volume-has\n"), 0o600)
		_, _, err := run(t, args("--scrape-interval", "2s")...)
		if err == nil || !strings.Contains(err.Error(), "grafana rejected the stored admin password") || !strings.Contains(err.Error(), "reset-admin-password") {
			t.Errorf("err = %v", err)
		}
		os.WriteFile(filepath.Join(dir, stack.AdminPasswordFile), []byte(good+"\n"), 0o600)
		mustRun(t, args("--scrape-interval", "2s")...)
	})

	t.Run("down --volumes spares look-alikes", func(t *testing.T) {
		testenv.Docker(t, "volume", "create", foreignVol)
		testenv.Docker(t, "create", "--name", foreignCtr, "--label", testenv.TestLabel+"=1", testenv.PrometheusImage)
		out := mustRun(t, "down", "--dir", dir, "--volumes")
		for _, want := range []string{"removed volume " + names.PrometheusData, "removed volume " + names.GrafanaData, "removed volume " + names.AlertmanagerData,
			"removed network " + names.Network} {
			if !strings.Contains(out, want) {
				t.Errorf("down output lacks %q:\n%s", want, out)
			}
		}
		for _, gone := range [][2]string{{"volume", names.PrometheusData}, {"volume", names.GrafanaData}, {"volume", names.AlertmanagerData},
			{"container", names.Grafana}, {"container", names.Alertmanager}, {"network", names.Network}} {
			if exists(gone[0], gone[1]) {
				t.Errorf("%s %s survived down --volumes", gone[0], gone[1])
			}
		}
		if !exists("volume", foreignVol) || !exists("container", foreignCtr) {
			t.Error("down removed an object that is not llmmon's")
		}
		out = mustRun(t, "down", "--dir", dir, "--volumes")
		if !strings.Contains(out, "nothing to remove") {
			t.Errorf("second down:\n%s", out)
		}
		_, errOut, err := run(t, "status", "--dir", dir)
		if err == nil || !strings.Contains(errOut, "nothing is up") {
			t.Errorf("status after down: %v %s", err, errOut)
		}
	})
}

// Each bad start fails before creating or writing anything: a taken port,
// a missing image with --pull never, a foreign object with one of the names.
func TestUpRefusesBeforeCreatingAnything(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-bad")
	removeStack(t, name, "network:"+name+"-monitoring")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	dirs := map[string]bool{} // every --dir a failed up was given: all stay empty
	base := func(extra ...string) []string {
		dir := t.TempDir()
		dirs[dir] = true
		return append([]string{"up", "--dir", dir, "--name", name, "--pull", "never", "--wait", "30s", "--alertmanager-port", strconv.Itoa(testenv.FreePort(t)),
			"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage, "--alertmanager-image", testenv.AlertmanagerImage}, extra...)
	}
	nothingLeft := func(t *testing.T) {
		t.Helper()
		for dir := range dirs {
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed up wrote into %s: %v", dir, entries)
			}
		}
		filter := "label=" + stack.LabelStack + "=" + name
		for _, ls := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
			if got := testenv.Docker(t, append(ls, "--filter", filter)...); got != "" {
				t.Errorf("left behind (%s): %s", ls[0], got)
			}
		}
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"port in use", base("--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(taken)),
			fmt.Sprintf("port %d on 127.0.0.1 is in use (by another program or container): stop it, or pass --grafana-port", taken)},
		{"missing image", base("--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)),
			"--prometheus-image", "llmmon-test/not-here:never"),
			"--pull never was given, and this image is not on this Docker engine:\n  llmmon-test/not-here:never  (--prometheus-image)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			}
			nothingLeft(t)
		})
	}
	t.Run("foreign network with our name", func(t *testing.T) {
		testenv.Docker(t, "network", "create", name+"-monitoring")
		_, _, err := run(t, base("--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)))...)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("a network named %q already exists and was not created by llmmon", name+"-monitoring")) {
			t.Fatalf("err = %v", err)
		}
		nothingLeft(t)
		if !exists("network", name+"-monitoring") {
			t.Error("the foreign network was removed")
		}
	})
}

func TestUnreachableDaemon(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	_, _, err := run(t, "up", "--dir", t.TempDir(), "--name", "unreachable", "--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)))
	want := "cannot reach the Docker daemon at unix:///nonexistent/docker.sock: is it running? (see llmmon doctor)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	_, _, err = run(t, "status", "--dir", t.TempDir())
	if err == nil || err.Error() != want {
		t.Fatalf("status: %v", err)
	}
}
