package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// startServeReplica runs `llmmon serve` on the host, on 0.0.0.0 so
// Prometheus in Docker reaches it, until the test ends; one completion
// gives it llm_requests_total.
func startServeReplica(t *testing.T) int {
	t.Helper()
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out bytes.Buffer
	go func() {
		done <- Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &out},
			[]string{"serve", "--host", "0.0.0.0", "--port", strconv.Itoa(port), "--itl", "1ms"})
	}()
	t.Cleanup(func() { cancel(); <-done })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.Eventually(t, 15*time.Second, "serve on port "+strconv.Itoa(port), func() error {
		resp, err := http.Post(url+"/v1/completions", "application/json",
			strings.NewReader(`{"model":"llmmon-sim","prompt":"hi","max_tokens":3}`))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("completion: HTTP %d", resp.StatusCode)
		}
		return nil
	})
	return port
}

// startReceiver runs a second real Prometheus in Docker that accepts
// remote_write, published on the host for the stack's Prometheus.
func startReceiver(t *testing.T, name string) *testenv.Prometheus {
	t.Helper()
	port := testenv.FreePort(t)
	testenv.Docker(t, "create", "--name", name, "--label", stack.LabelStack+"="+name, "-p", fmt.Sprintf("0.0.0.0:%d:9090", port),
		testenv.PrometheusImage, "--config.file=/etc/receiver.yml", "--storage.tsdb.path=/prometheus",
		"--web.enable-remote-write-receiver", "--web.listen-address=:9090")
	cfg := filepath.Join(t.TempDir(), "receiver.yml")
	if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Docker(t, "cp", cfg, name+":/etc/receiver.yml")
	testenv.Docker(t, "start", name)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := &testenv.Prometheus{URL: url, Client: prometheus.NewClient(url)}
	testenv.Eventually(t, 30*time.Second, "receiver ready", func() error { return p.Client.Ready(context.Background()) })
	return p
}

// A fleet with real parts: several `llmmon serve` replicas in one job,
// each with its data; target add and rm change what the real Prometheus
// scrapes without restarting it or losing samples; remote_write ships
// the samples, with the external labels, into a second real Prometheus.
func TestFleetOnRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-fleet")
	recvName := name + "-receiver"
	removeStack(t, name, "container:"+recvName)
	recv := startReceiver(t, recvName)
	_, recvPort, _ := strings.Cut(strings.TrimPrefix(recv.URL, "http://"), ":")

	r1, r2, r3 := startServeReplica(t), startServeReplica(t), startServeReplica(t)
	addr := func(p int) string { return "host.docker.internal:" + strconv.Itoa(p) }
	dir := t.TempDir()
	promPort, grafPort := testenv.FreePort(t), testenv.FreePort(t)
	names := stack.NamesFor(name)
	out, errOut, err := run(t, "up", "--dir", dir, "--name", name,
		"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage, "--pull", "never",
		"--alertmanager-image", testenv.AlertmanagerImage, "--alertmanager-port", strconv.Itoa(testenv.FreePort(t)),
		"--prometheus-port", strconv.Itoa(promPort), "--grafana-port", strconv.Itoa(grafPort),
		"--llm-target", addr(r1)+","+addr(r2), "--scrape-interval", "1s", "--wait", "90s",
		"--remote-write", "http://host.docker.internal:"+recvPort+"/api/v1/write",
		"--external-label", "cluster=itest", "--external-label", "replica="+name,
		"--retention", "2d", "--retention-size", "1GB")
	if err != nil {
		logs, _ := testenv.DockerErr("logs", "--tail", "30", names.Prometheus)
		t.Fatalf("up: %v\n%s%s\nprometheus logs:\n%s", err, out, errOut, logs)
	}
	prom := &testenv.Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", promPort)}
	prom.Client = prometheus.NewClient(prom.URL)
	inspect := func() (string, string) {
		return containerID(t, names.Prometheus), testenv.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", names.Prometheus)
	}
	cmdline := testenv.Docker(t, "inspect", "-f", "{{json .Args}}", names.Prometheus)
	for _, flag := range []string{"--storage.tsdb.retention.time=2d", "--storage.tsdb.retention.size=1GB"} {
		if !strings.Contains(cmdline, flag) {
			t.Errorf("prometheus runs with %s, lacking %s", cmdline, flag)
		}
	}

	// Each replica is its own instance of the one job, with its data.
	hasData := func(t *testing.T, p int) {
		t.Helper()
		prom.WaitForSamples(t, 30*time.Second, fmt.Sprintf(`llm_requests_total{job="llm-server",instance=%q}`, addr(p)))
	}
	t.Run("replicas in one job", func(t *testing.T) {
		hasData(t, r1)
		hasData(t, r2)
		if s, err := prom.Query(t.Context(), `count(count by (job) (up{job!~"prometheus|alertmanager"}))`); err != nil || len(s) != 1 || s[0].Value != 1 {
			t.Errorf("want one job for both replicas: %v %v", s, err)
		}
	})

	id0, started0 := inspect()
	earlier := func() float64 {
		s, err := prom.Query(t.Context(), fmt.Sprintf(`count_over_time(up{instance=%q}[1h])`, addr(r1)))
		if err != nil || len(s) != 1 {
			t.Fatalf("samples of %s: %v %v", addr(r1), s, err)
		}
		return s[0].Value
	}
	before := earlier()

	activeHealth := func(p int) string {
		ts, err := prom.Client.Targets(t.Context())
		if err != nil {
			return "error: " + err.Error()
		}
		for _, tg := range ts {
			if tg.Instance == addr(p) {
				return tg.Health
			}
		}
		return "absent"
	}
	t.Run("target add", func(t *testing.T) {
		out, errOut, err := run(t, "target", "add", "--dir", dir, "llm-server", addr(r3))
		if err != nil {
			t.Fatalf("target add: %v\n%s%s", err, out, errOut)
		}
		// Within the file_sd refresh interval (10s), plus a scrape.
		testenv.Eventually(t, 20*time.Second, "the new replica is scraped", func() error {
			if h := activeHealth(r3); h != "up" {
				return fmt.Errorf("health %s", h)
			}
			return nil
		})
		hasData(t, r3)
		if id, started := inspect(); id != id0 || started != started0 {
			t.Errorf("prometheus restarted: %s %s → %s %s", id0, started0, id, started)
		}
		if after := earlier(); after < before {
			t.Errorf("samples lost: %v before, %v after", before, after)
		}
	})

	t.Run("target ls", func(t *testing.T) {
		out, errOut, err := run(t, "target", "ls", "--dir", dir, "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, errOut)
		}
		var l stack.TargetList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(l.Jobs) != 1 || len(l.Jobs[0].Targets) != 3 || l.Jobs[0].Engine != "vLLM + llmmon gateway" {
			t.Fatalf("ls: %s", out)
		}
		for _, a := range l.Jobs[0].Targets {
			if a.Health != "up" {
				t.Errorf("%s is %s", a.ScrapeURL, a.Health)
			}
		}
	})

	t.Run("target rm", func(t *testing.T) {
		if out, errOut, err := run(t, "target", "rm", "--dir", dir, "llm-server", addr(r2)); err != nil {
			t.Fatalf("target rm: %v\n%s%s", err, out, errOut)
		}
		testenv.Eventually(t, 20*time.Second, "the removed replica leaves the active targets", func() error {
			if h := activeHealth(r2); h != "absent" {
				return fmt.Errorf("still %s", h)
			}
			return nil
		})
		if id, started := inspect(); id != id0 || started != started0 {
			t.Errorf("prometheus restarted: %s %s → %s %s", id0, started0, id, started)
		}
	})

	t.Run("up keeps the live targets", func(t *testing.T) {
		out, errOut, err := run(t, "up", "--dir", dir, "--pull", "never", "--wait", "60s")
		if err != nil {
			t.Fatalf("up: %v\n%s%s", err, out, errOut)
		}
		if id, started := inspect(); id != id0 || started != started0 {
			t.Errorf("up after target add/rm restarted prometheus: %s %s → %s %s\n%s", id0, started0, id, started, out)
		}
		if h := activeHealth(r3); h != "up" {
			t.Errorf("added replica after up: %s", h)
		}
		if h := activeHealth(r2); h != "absent" {
			t.Errorf("removed replica after up: %s", h)
		}
	})

	t.Run("remote_write with external labels", func(t *testing.T) {
		s := recv.WaitForSamples(t, 60*time.Second, fmt.Sprintf(`llm_requests_total{cluster="itest",replica=%q}`, name))
		instances := map[string]bool{}
		for _, x := range s {
			instances[x.Metric["instance"]] = true
		}
		if !instances[addr(r1)] {
			t.Errorf("receiver lacks %s: %v", addr(r1), s)
		}
	})
}
