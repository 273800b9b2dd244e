package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

func TestPrintEngines(t *testing.T) {
	names := map[string][]string{
		`{job="llm-server"}`: {"up", "llm_requests_total", "llm_active_requests"},
		`{job="vllm"}`:       {"up", "vllm:num_requests_running"},
	}
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": names[r.URL.Query().Get("match[]")]})
	}))
	defer prom.Close()
	res := &stack.UpResult{PrometheusURL: prom.URL, Targets: []prometheus.Target{
		{Job: "prometheus", Health: "up"},
		{Job: "llm-server", Health: "up"},
		{Job: "vllm", Health: "up"},
		{Job: "later", Health: "unknown"},
		{Job: "ollama", Health: "down", LastError: "server returned HTTP status 404 Not Found"},
		{Job: "refused", Health: "down", LastError: "connection refused"},
	}}
	var out bytes.Buffer
	printEngines(context.Background(), &out, res)
	want := "\nDashboard rows:\n" +
		"  target llm-server looks like llmmon gateway: Overview, Gateway latency rows apply\n" +
		"  target vllm looks like vLLM: Engine (vLLM) row applies\n" +
		"  target ollama has no engine or llm_* metrics (Ollama serves none): no dashboard row applies; put `llmmon serve --upstream URL` in front of it for the Overview and Gateway latency rows\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	res.Targets = []prometheus.Target{{Job: "later", Health: "unknown"}}
	printEngines(context.Background(), &out, res)
	if strings.TrimSpace(out.String()) != "" {
		t.Errorf("printed %q for targets not scraped yet", out.String())
	}
}
