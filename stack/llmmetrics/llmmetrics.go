// Package llmmetrics names the metrics llmmon serve exports and the
// dashboard and alert rules read: the seed's five llm_* metrics, which its
// FastAPI server exposes too; the llm_* series llmmon serve adds; the
// OpenTelemetry GenAI and HTTP semantic-convention metrics in their
// Prometheus form; and the vLLM names the dashboard reads, in both of
// vLLM's generations. The server, doctor's checks and engine detection
// spell them from here. It imports nothing, so anything may import it.
package llmmetrics

// The seed's five metrics. Their names, types and labels never change.
const (
	Requests    = "llm_requests_total"           // counter: LabelEndpoint, LabelStatus
	Duration    = "llm_request_duration_seconds" // histogram: LabelEndpoint
	Tokens      = "llm_tokens_generated_total"   // counter: LabelEndpoint
	RequestSize = "llm_request_size_bytes"       // histogram: LabelEndpoint
	Active      = "llm_active_requests"          // gauge: LabelEndpoint
)

// What llmmon serve adds: token timing as the client sees it, and prompt
// tokens. TTFT and TPOT are deprecated in favour of the GenAI metrics,
// which carry the model; they are still exported, unchanged, for one
// release, and removed in the next.
const (
	TTFT         = "llm_time_to_first_token_seconds"   // histogram: LabelEndpoint (streams); deprecated: GenAITTFT
	TPOT         = "llm_time_per_output_token_seconds" // histogram: LabelEndpoint (streams); deprecated: GenAITPOT
	PromptTokens = "llm_prompt_tokens_total"           // counter: LabelEndpoint
	// ModelActive is requests in flight per model: OpenTelemetry names no
	// per-model gauge, and llm_active_requests keeps its labels.
	ModelActive = "llm_model_active_requests" // gauge: LabelOperation, LabelRequestModel
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
// bucket selector reads both.
var TTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
	0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}

// GenAITTFTBuckets are the boundaries of GenAITTFT, the ones the semantic
// conventions recommend: TTFTBuckets up to 10 s. The TTFT objective reads
// all three histograms, so it must be one of these.
var GenAITTFTBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}

// OpenTelemetry GenAI semantic conventions (semconv "Semantic conventions
// for generative AI metrics"), named as OpenTelemetry's Prometheus
// exporters name them: dots become underscores and the unit becomes a
// suffix (s: _seconds); a unit in braces such as {token} is an annotation
// and adds no suffix.
const (
	// gen_ai.server.request.duration: every completion request, failed
	// ones with LabelErrorType.
	GenAIRequestDuration = "gen_ai_server_request_duration_seconds"
	// gen_ai.server.time_to_first_token: successful streams.
	GenAITTFT = "gen_ai_server_time_to_first_token_seconds"
	// gen_ai.server.time_per_output_token: successful streams of two or
	// more tokens.
	GenAITPOT = "gen_ai_server_time_per_output_token_seconds"
	// gen_ai.client.token.usage: input and output tokens per request.
	GenAITokenUsage = "gen_ai_client_token_usage"
)

// GenAI attributes as labels, and their values.
const (
	LabelOperation     = "gen_ai_operation_name"
	OperationChat      = "chat"
	OperationTextCompl = "text_completion"

	LabelProvider = "gen_ai_provider_name"
	// ProviderSimulated is the provider of llmmon serve's simulated engine.
	ProviderSimulated = "llmmon"

	LabelRequestModel  = "gen_ai_request_model"
	LabelResponseModel = "gen_ai_response_model"

	LabelTokenType  = "gen_ai_token_type"
	TokenTypeInput  = "input"
	TokenTypeOutput = "output"

	// LabelErrorType is error.type: empty on success.
	LabelErrorType = "error_type"
)

// Error types: the error_type label's values and the access log's
// error_type field. The set is closed, so a hostile client or upstream
// cannot add series: an error that is none of these is named by its HTTP
// status ("400", "502"), or ErrorOther.
const (
	ErrorCancelled    = "cancelled"    // the client went away before the answer ended
	ErrorStreamBroken = "stream_error" // an error event inside a stream the upstream began
	ErrorOther        = "_OTHER"       // OpenTelemetry's fallback value
	ErrorTimeout      = "request_timeout"
)

// ErrorCodes are the OpenAI-style error codes that are error types as
// they are; any other code is named by its status.
var ErrorCodes = []string{
	"context_length_exceeded", "model_not_found", "invalid_api_key", "method_not_allowed",
	"request_too_large", ErrorTimeout, "queue_full", "rate_limit_exceeded", "internal_error",
	"engine_overloaded", "shutting_down", "upstream_unreachable", "upstream_timeout",
	"upstream_redirect", "upstream_broken", "upstream_bad_response", "unknown_url",
}

// OpenTelemetry HTTP server semantic conventions, in Prometheus form.
const (
	// http.server.request.duration: every HTTP request, whatever its path.
	HTTPRequestDuration = "http_server_request_duration_seconds"

	LabelHTTPMethod = "http_request_method"
	LabelHTTPRoute  = "http_route"
	LabelHTTPStatus = "http_response_status_code"
	LabelURLScheme  = "url_scheme"
	// RouteOther is the route of every path the server does not serve.
	RouteOther = "other"
	// MethodOther is a method OpenTelemetry's list does not know.
	MethodOther = "_OTHER"
)

// vLLM's metrics that the dashboard and alert rules read by name, and the
// names older vLLM versions give them (vllm-project/vllm#27133, #29330):
// queries read the current name, or else the old one.
const (
	VLLMKVCacheUsage    = "vllm:kv_cache_usage_perc"
	VLLMKVCacheUsageOld = "vllm:gpu_cache_usage_perc"

	VLLMInterTokenLatency    = "vllm:inter_token_latency_seconds"
	VLLMInterTokenLatencyOld = "vllm:time_per_output_token_seconds"

	VLLMPrefixCacheQueries    = "vllm:prefix_cache_queries_total"
	VLLMPrefixCacheQueriesOld = "vllm:gpu_prefix_cache_queries_total"
	VLLMPrefixCacheHits       = "vllm:prefix_cache_hits_total"
	VLLMPrefixCacheHitsOld    = "vllm:gpu_prefix_cache_hits_total"
	// VLLMPrefixCacheHitRateV0 is vLLM v0's gauge (no counters).
	VLLMPrefixCacheHitRateV0 = "vllm:gpu_prefix_cache_hit_rate"

	VLLMPreemptions = "vllm:num_preemptions_total"
)
