// Package llmmetrics names the llm_* metrics: the seed's five, which its
// FastAPI server exposes, the dashboard's LLM panels and alert rules read,
// and llmmon serve exports in both its modes; and the three that llmmon
// serve adds. The server, doctor's checks and engine detection spell them
// from here. It imports nothing, so anything may import it.
package llmmetrics

// The seed's five metrics.
const (
	Requests    = "llm_requests_total"           // counter: LabelEndpoint, LabelStatus
	Duration    = "llm_request_duration_seconds" // histogram: LabelEndpoint
	Tokens      = "llm_tokens_generated_total"   // counter: LabelEndpoint
	RequestSize = "llm_request_size_bytes"       // histogram: LabelEndpoint
	Active      = "llm_active_requests"          // gauge: LabelEndpoint
)

// What llmmon serve adds: token timing as the client sees it, and prompt
// tokens.
const (
	TTFT         = "llm_time_to_first_token_seconds"   // histogram: LabelEndpoint (streams)
	TPOT         = "llm_time_per_output_token_seconds" // histogram: LabelEndpoint (streams)
	PromptTokens = "llm_prompt_tokens_total"           // counter: LabelEndpoint
)

// Labels and their values.
const (
	LabelEndpoint     = "endpoint"
	EndpointStream    = "stream"
	EndpointNonStream = "nonstream"

	LabelStatus   = "status"
	StatusSuccess = "success"
	StatusError   = "error"
)

// Seed lists the seed's five metrics, in the seed's order.
func Seed() []string { return []string{Requests, Duration, Tokens, RequestSize, Active} }

// TTFTBuckets are the bucket boundaries of llm_time_to_first_token_seconds,
// copied from vLLM v1's vllm:time_to_first_token_seconds, so one PromQL
// bucket selector reads both. The TTFT objective must be one of them.
var TTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
	0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
