package stack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// up says what each scraped target looks like, from the metric names
// Prometheus stored for its job.
func TestDetectEngines(t *testing.T) {
	names := map[string][]string{
		`{job="llm-server"}`: {"up", "llm_requests_total", "llm_active_requests"},
		`{job="vllm"}`:       {"up", "vllm:num_requests_running"},
		`{job="empty"}`:      {},
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": names[r.URL.Query().Get("match[]")]})
	}))
	defer prom.Close()
	got := detectEngines(context.Background(), prometheus.NewClient(prom.URL), []prometheus.Target{
		{Job: "prometheus", Health: "up"},
		{Job: "llm-server", Health: "up"},
		{Job: "vllm", Health: "up"},
		{Job: "empty", Health: "up"},
		{Job: "later", Health: "unknown"},
		{Job: "ollama", Health: "down", LastError: "server returned HTTP status 404 Not Found"},
		{Job: "refused", Health: "down", LastError: "connection refused"},
	})
	var lines []string
	for _, e := range got {
		lines = append(lines, e.Detection.Describe(e.Job))
	}
	want := []string{
		"target llm-server looks like llmmon gateway: Overview, Gateway latency, Replicas rows apply",
		"target vllm looks like vLLM: Engine (vLLM) row applies",
		"target ollama has no engine or llm_* metrics (Ollama serves none): no dashboard row applies; put `llmmon serve --upstream URL` in front of it for the Overview, Models, Gateway latency and Replicas rows",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("got\n%q\nwant\n%q", lines, want)
	}
	if got := detectEngines(context.Background(), prometheus.NewClient(prom.URL), []prometheus.Target{{Job: "later", Health: "unknown"}}); len(got) != 0 {
		t.Errorf("targets not scraped yet: %+v", got)
	}
}
