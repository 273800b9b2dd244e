package proxy_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// TestGatewayMetricsPassPromtool: in gateway mode /metrics holds the llm_*,
// GenAI and HTTP series (no vllm:*), and the real promtool finds nothing
// in them.
func TestGatewayMetricsPassPromtool(t *testing.T) {
	_, uhs := startSim(t, nil)
	_, ghs := startGateway(t, upstreamTo(uhs.URL))
	// Listing the models reads the upstream's catalog now, rather than in
	// the background: the provider and model labels are known from the
	// first request on.
	resp, err := http.Get(ghs.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, body := range []string{
		`{"model":"llmmon-sim","prompt":"hi","max_tokens":3}`,
		`{"model":"llmmon-sim","prompt":"hi","max_tokens":3,"stream":true}`,
		`{"model":"nope","prompt":"hi"}`,
	} {
		resp := post(t, context.Background(), ghs.URL+"/v1/completions", body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err = http.Get(ghs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(exposition), "vllm:") {
		t.Error("the gateway exposes vllm:* series; they belong to the engine")
	}
	for _, m := range []string{"llm_requests_total", "llm_time_to_first_token_seconds_bucket", "llm_prompt_tokens_total",
		llmmetrics.ModelActive, llmmetrics.HTTPRequestDuration, llmmetrics.GenAITokenUsage,
		// the engine kind from the upstream's model list, and the model
		llmmetrics.GenAIRequestDuration + `_count{error_type="",gen_ai_operation_name="text_completion",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim"} 2`,
		llmmetrics.GenAITTFT + `_count{gen_ai_operation_name="text_completion",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim"} 1`,
		llmmetrics.GenAITPOT + "_bucket"} {
		if !strings.Contains(string(exposition), m) {
			t.Errorf("no %s", m)
		}
	}
	if strings.Contains(string(exposition), `"nope"`) {
		t.Error("a model the upstream does not serve has series")
	}
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(string(exposition))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
