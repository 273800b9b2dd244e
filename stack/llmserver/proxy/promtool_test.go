package proxy_test

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
)

// TestGatewayMetricsPassPromtool: in gateway mode /metrics holds only the
// llm_* series (no vllm:*), and the real promtool finds nothing in them.
func TestGatewayMetricsPassPromtool(t *testing.T) {
	_, uhs := startSim(t, nil)
	_, ghs := startGateway(t, upstreamTo(uhs.URL))
	for _, body := range []string{
		`{"model":"llmmon-sim","prompt":"hi","max_tokens":3}`,
		`{"model":"llmmon-sim","prompt":"hi","max_tokens":3,"stream":true}`,
		`{"model":"nope","prompt":"hi"}`,
	} {
		resp := post(t, context.Background(), ghs.URL+"/v1/completions", body)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get(ghs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(exposition), "vllm:") {
		t.Error("the gateway exposes vllm:* series; they belong to the engine")
	}
	for _, m := range []string{"llm_requests_total", "llm_time_to_first_token_seconds_bucket", "llm_prompt_tokens_total"} {
		if !strings.Contains(string(exposition), m) {
			t.Errorf("no %s", m)
		}
	}
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(string(exposition))
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
