package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

func assertResult(t *testing.T, got Result, status Status, want ...string) {
	t.Helper()
	if got.Status != status {
		t.Fatalf("%s › %s = %+v, want %s", got.Group, got.Check, got, status)
	}
	all := strings.Join(append([]string{got.Message, got.Cause, got.Fix}, got.Details...), "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("%s › %s lacks %q:\n%s", got.Group, got.Check, w, all)
		}
	}
}

const seedExposition = `# TYPE llm_requests_total counter
llm_requests_total{endpoint="chat",status="success"} %d
llm_requests_total{endpoint="chat",status="error"} 0
# TYPE llm_request_duration_seconds histogram
llm_request_duration_seconds_bucket{le="+Inf"} 0
llm_request_duration_seconds_sum 0
llm_request_duration_seconds_count 0
# TYPE llm_tokens_generated_total counter
llm_tokens_generated_total 0
# TYPE llm_request_size_bytes histogram
llm_request_size_bytes_bucket{le="+Inf"} 0
llm_request_size_bytes_sum 0
llm_request_size_bytes_count 0
# TYPE llm_active_requests gauge
llm_active_requests 0
`

// The LLM server's /metrics, as this machine sees it, for each kind of
// server that may answer on the port.
func TestLLMServerChecks(t *testing.T) {
	cases := []struct {
		name          string
		contentType   string
		status        int
		body          string
		metrics, reqs Status
		want          []string
	}{
		{"seed server with traffic", "text/plain; version=0.0.4", 200, fmt.Sprintf(seedExposition, 7), StatusOK, StatusOK, []string{"serves the LLM metrics the dashboard's Overview row is built on: llm_requests_total, llm_request_duration_seconds, llm_tokens_generated_total, llm_request_size_bytes, llm_active_requests", "7 requests served (error 0, success 7)"}},
		{"no requests yet", "text/plain; version=0.0.4", 200, fmt.Sprintf(seedExposition, 0), StatusOK, StatusWarn,
			[]string{"no requests yet; metrics appear after requests", "llmmon load --url http://127.0.0.1:"}},
		{"some seed metrics missing", "text/plain", 200, "# TYPE llm_requests_total counter\nllm_requests_total 3\n", StatusWarn, StatusOK,
			[]string{"lacks 4 of the LLM metrics the dashboard's Overview row is built on", "llm_active_requests"}},
		{"vllm's own metrics", "text/plain", 200, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0\n", StatusOK, StatusSkip,
			[]string{"serves vLLM metrics"}},
		{"another exporter", "text/plain", 200, "# TYPE node_load1 gauge\nnode_load1 0.5\n", StatusFail, StatusSkip,
			[]string{"none of them the LLM metrics the dashboard's Overview row is built on", "wrong port", "--llm-target host.docker.internal:PORT"}},
		{"html page", "text/html; charset=utf-8", 200, "<html><body>hi</body></html>", StatusFail, StatusSkip,
			[]string{"answers text/html, not Prometheus metrics", "wrong port"}},
		{"plain text", "text/plain", 200, "hello world\n", StatusFail, StatusSkip, []string{"is not a Prometheus exposition", "wrong port"}},
		{"404", "text/plain", 404, "404 page not found", StatusFail, StatusSkip, []string{"HTTP 404", "wrong metrics path"}},
		{"401", "application/json", 401, `{"error":"unauthorized"}`, StatusFail, StatusSkip, []string{"HTTP 401", "--api-key"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.contentType)
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			_, _, o := fakeStack(t, "m1")
			o.MetricsURL = srv.URL + "/metrics"
			o.LoadURL = ""
			r := runChecks(t, withClosedStack(t, o))
			assertResult(t, r.get("LLM server", "/metrics"), c.metrics)
			assertResult(t, r.get("LLM server", "requests"), c.reqs)
			all := r.get("LLM server", "/metrics")
			req := r.get("LLM server", "requests")
			text := strings.Join([]string{all.Message, all.Cause, all.Fix, req.Message, req.Cause, req.Fix}, "\n")
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("lacks %q:\n%s", w, text)
				}
			}
		})
	}
}

// withClosedStack points Prometheus and Grafana at closed ports and
// keeps o's MetricsURL.
func withClosedStack(t *testing.T, o Options) Options {
	t.Helper()
	m := o.MetricsURL
	closedURL := func() string {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		return u
	}
	o.PrometheusURL, o.GrafanaURL, o.MetricsURL, o.AlertmanagerURL = closedURL(), closedURL(), m, closedURL()
	return o
}

// fakePrometheus answers the API calls doctor makes, as Prometheus 2.42 does.
type fakePrometheus struct {
	reloadOK bool
	jobs     []string
	targets  []map[string]any
}

func (f fakePrometheus) handler() http.Handler {
	ok := func(w http.ResponseWriter, data any) {
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprint(w, "Prometheus Server is Ready.\n")
		case "/api/v1/status/runtimeinfo":
			ok(w, map[string]any{"reloadConfigSuccess": f.reloadOK, "lastConfigTime": time.Now().Add(-time.Minute)})
		case "/api/v1/status/config":
			var b strings.Builder
			b.WriteString("global:\n  scrape_interval: 15s\nscrape_configs:\n")
			for _, j := range f.jobs {
				fmt.Fprintf(&b, "- job_name: %s\n  metrics_path: /metrics\n", j)
			}
			ok(w, map[string]any{"yaml": b.String()})
		case "/api/v1/targets":
			ok(w, map[string]any{"activeTargets": f.targets, "droppedTargets": []any{}})
		default:
			http.NotFound(w, r)
		}
	})
}

func target(job, health, lastError string) map[string]any {
	url := "http://host.docker.internal:8000/metrics"
	if job == "prometheus" {
		url = "http://localhost:9090/metrics"
	}
	return map[string]any{"labels": map[string]string{"job": job}, "scrapePool": job, "scrapeUrl": url,
		"health": health, "lastError": lastError, "lastScrape": time.Now().Add(-time.Second)}
}

func TestPrometheusChecks(t *testing.T) {
	both := []string{"prometheus", "alertmanager", "llm-server"}
	cases := []struct {
		name   string
		prom   fakePrometheus
		check  string
		status Status
		want   []string
	}{
		{"all up", fakePrometheus{true, both, []map[string]any{target("prometheus", "up", ""), target("llm-server", "up", "")}},
			"target llm-server", StatusOK, []string{"up: http://host.docker.internal:8000/metrics"}},
		{"config loaded", fakePrometheus{true, both, nil}, "config loaded", StatusOK, []string{"3 scrape jobs"}},
		{"reload failed", fakePrometheus{false, both, nil}, "config loaded", StatusFail,
			[]string{"last config reload failed", "promtool check config", "prometheus/prometheus.yml"}},
		{"config from other settings", fakePrometheus{true, []string{"prometheus", "alertmanager"}, nil}, "config loaded", StatusFail,
			[]string{"runs a config without job llm-server", "llmmon up --dir"}},
		{"job configured, no target yet", fakePrometheus{true, both, nil}, "target llm-server", StatusWarn,
			[]string{"has no target yet", "wait a few seconds"}},
		{"job unknown to prometheus", fakePrometheus{true, []string{"prometheus"}, nil}, "target llm-server", StatusFail,
			[]string{"no target for job llm-server"}},
		{"not scraped yet", fakePrometheus{true, both, []map[string]any{target("llm-server", "unknown", "")}},
			"target llm-server", StatusWarn, []string{"not scraped yet"}},
		{"no such host", fakePrometheus{true, both, []map[string]any{target("llm-server", "down",
			`Get "http://host.docker.internal:8000/metrics": dial tcp: lookup host.docker.internal on 127.0.0.11:53: no such host`)}},
			"target llm-server", StatusFail, []string{"host-gateway", "--name p1` adds it", "extra_hosts"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(c.prom.handler())
			defer srv.Close()
			_, _, o := fakeStack(t, "p1")
			o = withClosedStack(t, o)
			o.PrometheusURL = srv.URL
			r := runChecks(t, o)
			assertResult(t, r.get("Prometheus", "ready"), StatusOK)
			assertResult(t, r.get("Prometheus", c.check), c.status, c.want...)
		})
	}
}

// Grafana's side against the in-process Grafana test double, provisioned
// from what render writes.
func TestGrafanaChecksAgainstDouble(t *testing.T) {
	const password = "s3cret-pw"
	setup := func(t *testing.T, provision bool) (Options, *grafana.Client) {
		_, _, o := fakeStack(t, "g1")
		r, err := stack.Render(o.Config)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stack.WriteFiles(o.Dir, r.All()); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(o.Dir, stack.AdminPasswordFile), []byte(password+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := grafanadouble.Config{AdminUser: "admin", AdminPassword: password}
		if provision {
			cfg.ProvisioningDir = filepath.Join(o.Dir, "grafana", "provisioning")
		}
		_, url := grafanadouble.StartTest(t, cfg)
		o = withClosedStack(t, o)
		o.GrafanaURL = url
		return o, grafana.NewClient(url, grafana.Auth{User: "admin", Password: password})
	}
	importDashboard := func(t *testing.T, c *grafana.Client, body []byte) {
		t.Helper()
		if _, err := c.ImportDashboard(context.Background(), grafana.ImportOptions{DatasourceUID: stack.DatasourceUID, Dashboard: body, Force: true}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("healthy", func(t *testing.T) {
		o, c := setup(t, true)
		importDashboard(t, c, dashboards.JSON())
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "health"), StatusOK, "healthy")
		assertResult(t, r.get("Grafana", "admin password"), StatusOK, "signs in")
		assertResult(t, r.get("Grafana", "datasource"), StatusOK, "uid llmmon-prometheus", "http://prometheus:9090")
		assertResult(t, r.get("Grafana", "dashboard"), StatusOK, "uid "+dashboards.UID, "(llmmon-prometheus)")
	})
	t.Run("no dashboard", func(t *testing.T) {
		o, _ := setup(t, true)
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "dashboard"), StatusFail, "no dashboard with uid "+dashboards.UID, "llmmon import --dir "+o.Dir)
	})
	t.Run("dashboard references a missing datasource", func(t *testing.T) {
		o, c := setup(t, true)
		var d map[string]any
		json.Unmarshal(dashboards.JSON(), &d)
		panels := d["panels"].([]any)
		panels[0].(map[string]any)["datasource"] = map[string]any{"type": "prometheus", "uid": "deleted-prometheus"}
		body, _ := json.Marshal(d)
		importDashboard(t, c, body)
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "dashboard"), StatusFail, "references datasource deleted-prometheus, which does not exist", "llmmon import")
	})
	t.Run("datasource not provisioned", func(t *testing.T) {
		o, _ := setup(t, false)
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "datasource"), StatusFail, "no datasource with uid llmmon-prometheus", "llmmon up --dir")
		assertResult(t, r.get("Network", "grafana → prometheus"), StatusSkip)
	})
	t.Run("wrong stored password", func(t *testing.T) {
		o, _ := setup(t, true)
		os.WriteFile(filepath.Join(o.Dir, stack.AdminPasswordFile), []byte("other\n"), 0o600)
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "admin password"), StatusFail, "GF_SECURITY_ADMIN_PASSWORD applies only when Grafana first creates its database",
			"docker exec g1-llm-grafana grafana cli admin reset-admin-password", "llmmon down --volumes")
		assertResult(t, r.get("Grafana", "dashboard"), StatusSkip)
	})
	t.Run("password file deleted", func(t *testing.T) {
		o, _ := setup(t, true)
		os.Remove(filepath.Join(o.Dir, stack.AdminPasswordFile))
		r := runChecks(t, o)
		assertResult(t, r.get("Grafana", "admin password"), StatusFail, "grafana-admin-password is missing", "reset-admin-password NEWPASS")
	})
}

// The rendered-config check rebuilds the spec hash up put on each
// container from the files in --dir: unchanged files pass, a re-render
// with other settings or a hand edit is reported with `llmmon up`.
func TestRenderedConfigMatchesWhatUpStarted(t *testing.T) {
	f := enginetest.New()
	o := Options{Dir: t.TempDir(), Engine: f}
	cfg := stack.Default()
	cfg.Name = "r1"
	f.Images[cfg.Prometheus.Image] = "sha256:prom"
	f.Images[cfg.Grafana.Image] = "sha256:graf"
	f.Images[cfg.Alertmanager.Image] = "sha256:am"
	if _, err := stack.Up(context.Background(), f, stack.UpOptions{Dir: o.Dir, Settings: stack.Given(cfg), Pull: stack.PullNever,
		CheckPort: func(string) error { return nil }}); err != nil {
		t.Fatal(err)
	}
	st, err := stack.LoadState(o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	o.Config, o.State = st.Config, &st
	o = withClosedStack(t, o)

	r := runChecks(t, o)
	assertResult(t, r.get("Rendered config", "prometheus files"), StatusOK, "r1-llm-prometheus runs the files in "+o.Dir)
	assertResult(t, r.get("Rendered config", "grafana files"), StatusOK, "r1-llm-grafana runs the files in "+o.Dir)
	assertResult(t, r.get("Rendered config", "alertmanager files"), StatusOK, "r1-llm-alertmanager runs the files in "+o.Dir)

	// `llmmon render --scrape-interval 5s` after up: the files change, the container does not.
	changed := cfg
	changed.ScrapeInterval = stack.Duration(5 * time.Second)
	rendered, err := stack.Render(changed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.WriteFiles(o.Dir, rendered.All()); err != nil {
		t.Fatal(err)
	}
	r = runChecks(t, o)
	assertResult(t, r.get("Rendered config", "prometheus files"), StatusWarn,
		"differ from what r1-llm-prometheus runs", "--name r1` applies them", "prometheus/prometheus.yml")
	assertResult(t, r.get("Rendered config", "grafana files"), StatusWarn, "differ from what r1-llm-grafana runs")
	assertResult(t, r.get("Rendered config", "alertmanager files"), StatusOK, "r1-llm-alertmanager runs the files in "+o.Dir)

	// A receiver added to the settings after up: alertmanager.yml and its
	// secret's path change; doctor sees it without reading the secret.
	withHook := cfg
	withHook.Alerting.Webhook = "http://host.docker.internal:9095/alerts"
	if rendered, err = stack.Render(withHook); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.WriteFiles(o.Dir, rendered.All()); err != nil {
		t.Fatal(err)
	}
	o.Config = withHook
	r = runChecks(t, o)
	assertResult(t, r.get("Rendered config", "alertmanager files"), StatusWarn, "differ from what r1-llm-alertmanager runs")
	o.Config = cfg

	// A deleted file.
	os.Remove(filepath.Join(o.Dir, "prometheus", "prometheus.yml"))
	r = runChecks(t, o)
	assertResult(t, r.get("Rendered config", "prometheus files"), StatusFail, "missing from", "renders them again")
}

func TestSuggestPortStaysInRangeAndSkipsTakenPorts(t *testing.T) {
	all := func(int) bool { return true }
	except := func(taken ...int) func(int) bool {
		return func(p int) bool { return !slices.Contains(taken, p) }
	}
	for _, c := range []struct {
		port int
		free func(int) bool
		want int
	}{
		{3000, all, 13000}, {55535, all, 65535}, {55536, all, 55535}, {65535, all, 65534},
		{3000, except(13000, 13001), 13002},
		{60000, except(59999), 59998},
		{3000, func(int) bool { return false }, 13000}, // nothing free nearby: the rule's port
	} {
		if got := suggestPort(c.port, c.free); got != c.want {
			t.Errorf("suggestPort(%d) = %d, want %d", c.port, got, c.want)
		}
	}
}

// The fix for a taken port names one that works: not one another program
// listens on, nor one another part of the stack is set to use.
func TestTakenPortFixSuggestsAFreePort(t *testing.T) {
	listen := func(port int) net.Listener {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	port := testenv.FreePort(t)
	listen(port) // another program on Grafana's port
	first, step := port+10000, 1
	if first+2 > 65535 {
		first, step = port-1, -1
	}
	if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(first))); err == nil {
		t.Cleanup(func() { l.Close() }) // another program on the rule's port
	}
	cfg := stack.Default()
	cfg.Grafana.Port = port
	cfg.Prometheus.Port = first + step // and Prometheus set to use the next
	r := runChecks(t, Options{Dir: t.TempDir(), Config: cfg, Engine: enginetest.New()})
	got := r.get("Ports", "grafana port")
	assertResult(t, got, StatusFail, fmt.Sprintf("%d is in use by another program", port))
	m := regexp.MustCompile(`--grafana-port (\d+)`).FindStringSubmatch(got.Fix)
	if m == nil {
		t.Fatalf("fix names no port: %s", got.Fix)
	}
	suggested, _ := strconv.Atoi(m[1])
	if (suggested-first)*step < 2 {
		t.Errorf("suggested %d: %d is taken and %d is Prometheus'", suggested, first, first+step)
	}
	listen(suggested) // free, so it binds
}
