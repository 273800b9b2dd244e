package doctor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

// TestEngineCheck: doctor says what the LLM server's port serves and which
// dashboard rows apply.
func TestEngineCheck(t *testing.T) {
	cases := []struct {
		name   string
		body   string
		status Status
		want   []string
	}{
		{"vLLM", "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running 0\n", StatusOK,
			[]string{"target llm-server=host.docker.internal:8000/metrics looks like vLLM: Engine (vLLM) row applies"}},
		{"llama.cpp", "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 1\n", StatusOK,
			[]string{"looks like llama.cpp: llama.cpp row applies"}},
		{"TGI", "# TYPE tgi_queue_size gauge\ntgi_queue_size 0\n", StatusOK, []string{"looks like TGI: TGI row applies"}},
		{"SGLang", "# TYPE sglang:num_running_reqs gauge\nsglang:num_running_reqs 0\n", StatusOK, []string{"looks like SGLang: SGLang row applies"}},
		{"llmmon gateway", fmt.Sprintf(seedExposition, 1), StatusOK,
			[]string{"looks like llmmon gateway: Overview, Gateway latency, Replicas rows apply"}},
		{"unknown exporter", "# TYPE node_load1 gauge\nnode_load1 0.5\n", StatusWarn,
			[]string{"no dashboard row applies", "llmmon serve --upstream URL"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/plain; version=0.0.4")
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			_, _, o := fakeStack(t, "e1")
			o.MetricsURL = srv.URL + "/metrics"
			r := runChecks(t, withClosedStack(t, o))
			assertResult(t, r.get("LLM server", "engine"), c.status, c.want...)
		})
	}
}

// TestEngineTargetCheck: each extra --target is recognised from what
// Prometheus stored for its job.
func TestEngineTargetCheck(t *testing.T) {
	names := map[string][]string{
		"vllm":   {"up", "vllm:num_requests_running", "vllm:kv_cache_usage_perc"},
		"ollama": {"up", "scrape_duration_seconds"},
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/label/__name__/values" {
			http.NotFound(w, r)
			return
		}
		job := map[string]string{`{job="vllm"}`: "vllm", `{job="ollama"}`: "ollama"}[r.URL.Query().Get("match[]")]
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": append([]string{}, names[job]...)})
	}))
	defer prom.Close()
	_, _, o := fakeStack(t, "e2")
	o.Config.Targets = []stack.Target{{Name: "vllm", Address: "host.docker.internal:8001"}, {Name: "ollama", Address: "host.docker.internal:11434"}, {Name: "new", Address: "x:1"}}
	o = withClosedStack(t, o)
	o.PrometheusURL = prom.URL
	r := runChecks(t, o)
	assertResult(t, r.get("LLM server", "engine vllm"), StatusOK, "target vllm=host.docker.internal:8001/metrics looks like vLLM: Engine (vLLM) row applies")
	assertResult(t, r.get("LLM server", "engine ollama"), StatusWarn, "no dashboard row applies")
	assertResult(t, r.get("LLM server", "engine new"), StatusSkip, "no samples of job new yet")
}
