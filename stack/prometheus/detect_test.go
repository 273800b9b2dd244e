package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Metric names as each engine documents them (a few of each).
var (
	vllmNames   = []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "vllm:time_to_first_token_seconds_bucket", "vllm:generation_tokens_total", "python_gc_objects_collected_total"}
	llamaNames  = []string{"llamacpp:prompt_tokens_total", "llamacpp:tokens_predicted_total", "llamacpp:requests_processing", "llamacpp:requests_deferred", "llamacpp:n_decode_total"}
	tgiNames    = []string{"tgi_request_count", "tgi_request_success", "tgi_queue_size", "tgi_batch_current_size", "tgi_request_duration_bucket"}
	sglangNames = []string{"sglang:num_running_reqs", "sglang:num_queue_reqs", "sglang:token_usage", "sglang:time_to_first_token_seconds_bucket"}
	seedNames   = []string{"llm_requests_total", "llm_request_duration_seconds_bucket", "llm_tokens_generated_total", "llm_request_size_bytes_bucket", "llm_active_requests"}
	dcgmNames   = []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"}
	genAINames  = []string{"gen_ai_server_request_duration_seconds_bucket", "gen_ai_client_token_usage_bucket"}
)

func TestDetectEngine(t *testing.T) {
	cases := []struct {
		name  string
		names []string
		kind  string
		rows  []string
	}{
		{"vLLM", vllmNames, "vLLM", []string{prometheus.RowVLLM}},
		{"llama.cpp", llamaNames, "llama.cpp", []string{prometheus.RowLlamaCpp}},
		{"TGI", tgiNames, "TGI", []string{prometheus.RowTGI}},
		{"SGLang", sglangNames, "SGLang", []string{prometheus.RowSGLang}},
		{"Ollama (no metrics)", nil, "no engine metrics (Ollama or unknown)", nil},
		{"unknown exporter", []string{"go_goroutines", "process_cpu_seconds_total", "up"}, "no engine metrics (Ollama or unknown)", nil},
		{"seed server", seedNames, "llmmon gateway", []string{prometheus.RowOverview, prometheus.RowGatewayLatency, prometheus.RowReplicas}},
		{"llmmon serve (simulated engine)", append(slices.Concat(seedNames, genAINames), vllmNames...), "vLLM + llmmon gateway",
			[]string{prometheus.RowOverview, prometheus.RowModels, prometheus.RowGatewayLatency, prometheus.RowReplicas, prometheus.RowVLLM}},
		{"dcgm-exporter", dcgmNames, "GPU exporter", []string{prometheus.RowGPU}},
		// Prometheus' stored names for the seed counter, as some exporters
		// write it without _total.
		{"untyped counter", []string{"llm_requests"}, "llmmon gateway", []string{prometheus.RowOverview, prometheus.RowGatewayLatency, prometheus.RowReplicas}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := prometheus.DetectEngine(tc.names)
			if d.Kind() != tc.kind || !slices.Equal(d.Rows(), tc.rows) {
				t.Errorf("kind %q rows %q; want %q %q", d.Kind(), d.Rows(), tc.kind, tc.rows)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	if got := prometheus.DetectEngine(vllmNames).Describe("vllm=gpu:8000"); got != "target vllm=gpu:8000 looks like vLLM: Engine (vLLM) row applies" {
		t.Errorf("%q", got)
	}
	got := prometheus.DetectEngine(nil).Describe("ollama=host:11434")
	if !strings.Contains(got, "no dashboard row applies") || !strings.Contains(got, "llmmon serve --upstream") {
		t.Errorf("%q", got)
	}
}

// TestRowsExistInDashboard keeps the row titles in step with the dashboard.
func TestRowsExistInDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "dashboards", "llm-server.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{prometheus.RowOverview, prometheus.RowModels, prometheus.RowGatewayLatency, prometheus.RowReplicas, prometheus.RowVLLM,
		prometheus.RowLlamaCpp, prometheus.RowTGI, prometheus.RowSGLang, prometheus.RowGPU} {
		if !strings.Contains(string(b), fmt.Sprintf(`"title": %q`, row)) && !strings.Contains(string(b), fmt.Sprintf(`"title":%q`, row)) {
			t.Errorf("the dashboard has no row %q", row)
		}
	}
}

// startServe runs llmmon serve in-process: the simulated engine, or with
// upstream set, the gateway in front of it.
func startServe(t *testing.T, upstream string) *httptest.Server {
	t.Helper()
	o := llmserver.DefaultOptions()
	o.Host, o.Port = "127.0.0.1", 0
	if upstream != "" {
		p, err := proxy.New(proxy.Config{Upstreams: []proxy.Upstream{{URL: upstream}}})
		if err != nil {
			t.Fatal(err)
		}
		o.Backend = p
	}
	srv, err := llmserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return hs
}

func TestDetectExpositionOfLlmmonServe(t *testing.T) {
	sim := startServe(t, "")
	gw := startServe(t, sim.URL)
	for _, tc := range []struct{ url, kind string }{
		{sim.URL, "vLLM + llmmon gateway"},
		{gw.URL, "llmmon gateway"},
	} {
		resp, err := http.Get(tc.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		d, err := prometheus.DetectExposition(resp.Body)
		resp.Body.Close()
		if err != nil || d.Kind() != tc.kind {
			t.Errorf("%s: %q %v, want %q", tc.url, d.Kind(), err, tc.kind)
		}
	}
}

// TestDetectJobFromRealPrometheus: a real Prometheus scrapes llmmon serve
// (simulated engine) and the gateway; each job is recognised from what
// Prometheus stored.
func TestDetectJobFromRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a real Prometheus")
	}
	sim := startServe(t, "")
	gw := startServe(t, sim.URL)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: engine
    static_configs: [{targets: [%q]}]
  - job_name: gateway
    static_configs: [{targets: [%q]}]
`, strings.TrimPrefix(sim.URL, "http://"), strings.TrimPrefix(gw.URL, "http://"))
	file := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartPrometheus(t, file)
	want := map[string]string{"engine": "vLLM + llmmon gateway", "gateway": "llmmon gateway"}
	testenv.Eventually(t, 30*time.Second, "both jobs recognised", func() error {
		for job, kind := range want {
			d, err := p.Client.DetectJob(context.Background(), job)
			if err != nil {
				return err
			}
			if d.Kind() != kind {
				return fmt.Errorf("job %s looks like %q, want %q", job, d.Kind(), kind)
			}
		}
		return nil
	})
	d, err := p.Client.DetectJob(context.Background(), "no-such-job")
	if err != nil || d.Metrics != 0 || d.Kind() != "no engine metrics (Ollama or unknown)" {
		t.Errorf("unknown job: %+v %v", d, err)
	}
}
