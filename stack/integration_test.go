package stack

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// exposition is a tiny stand-in LLM server: one of the seed's metrics.
func exposition(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/metrics" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprint(w, "# HELP llm_requests_total Total LLM requests.\n# TYPE llm_requests_total counter\n"+
		`llm_requests_total{endpoint="nonstream",status="success"} 42`+"\n")
}

func renderInto(t *testing.T, cfg Config) string {
	t.Helper()
	dir := t.TempDir()
	r, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A real Prometheus process (Debian's binary) on a rendered config scrapes
// the LLM job and the sample is queryable through the HTTP API.
func TestRealPrometheusScrapesRenderedConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a prometheus process")
	}
	srv := httptest.NewServer(http.HandlerFunc(exposition))
	defer srv.Close()

	cfg := Default()
	cfg.ScrapeInterval = Duration(time.Second)
	cfg.LLMServer.Address = strings.TrimPrefix(srv.URL, "http://")
	dir := renderInto(t, cfg)

	p := testenv.StartPrometheus(t, filepath.Join(dir, prometheus.ConfigFile))
	got := p.WaitForSamples(t, 60*time.Second, `llm_requests_total{job="llm-server"}`)
	if got[0].Value != 42 || got[0].Metric["status"] != "success" {
		t.Fatalf("unexpected sample %+v", got[0])
	}
	targets, err := p.Client.Targets(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]string{}
	for _, tg := range targets {
		jobs[tg.Job] = tg.Health
	}
	if jobs["llm-server"] != "up" {
		t.Errorf("llm-server target health = %q, want up (targets %+v)", jobs["llm-server"], targets)
	}
	if _, ok := jobs["prometheus"]; !ok {
		t.Errorf("self-scrape job missing from %+v", targets)
	}
}

// The seed's key troubleshooting point, proven on the real engine:
// Prometheus in Docker reaches a server on the host through host-gateway.
func TestDockerPrometheusScrapesHostThroughHostGateway(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage)

	// 0.0.0.0, not 127.0.0.1: the container arrives from the docker bridge.
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(exposition)}
	go srv.Serve(l)
	defer srv.Close()
	hostPort := l.Addr().(*net.TCPAddr).Port

	cfg := Default()
	cfg.ScrapeInterval = Duration(time.Second)
	cfg.LLMServer.Address = "host.docker.internal:" + strconv.Itoa(hostPort)
	dir := renderInto(t, cfg)

	name := fmt.Sprintf("llmmon-test-hostgw-%d", time.Now().UnixNano())
	promPort := testenv.FreePort(t)
	testenv.Docker(t, "create", "--name", name,
		"--label", testenv.TestLabel+"=1",
		"--add-host", "host.docker.internal:host-gateway",
		"-p", fmt.Sprintf("127.0.0.1:%d:%d", promPort, prometheus.Port),
		testenv.PrometheusImage)
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := testenv.DockerErr("logs", name)
			t.Logf("container logs:\n%s", logs)
		}
		testenv.DockerErr("rm", "-f", "-v", name)
	})
	// Copied through the API, as up does, so a remote DOCKER_HOST works too.
	testenv.Docker(t, "cp", filepath.Join(dir, "prometheus")+"/.", name+":/etc/prometheus/")
	testenv.Docker(t, "start", name)

	c := prometheus.NewClient(fmt.Sprintf("http://127.0.0.1:%d", promPort))
	testenv.Eventually(t, 60*time.Second, "prometheus in docker ready", func() error { return c.Ready(t.Context()) })
	p := &testenv.Prometheus{URL: c.BaseURL, Client: c}
	got := p.WaitForSamples(t, 60*time.Second, `llm_requests_total{job="llm-server"}`)
	if got[0].Value != 42 {
		t.Fatalf("unexpected sample %+v", got[0])
	}
	if inst := got[0].Metric["instance"]; inst != cfg.LLMServer.Address {
		t.Fatalf("scraped instance %q, want %q", inst, cfg.LLMServer.Address)
	}
}
