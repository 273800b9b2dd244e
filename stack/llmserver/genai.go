package llmserver

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/internal/intmetric"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// The OpenTelemetry semantic-convention metrics llmmon serve exports next
// to the llm_* ones: GenAI server metrics per operation and model
// (genAIMetrics), and the HTTP server duration of every request whatever
// its path (httpMetrics). Names and labels are in package llmmetrics.

// Indexes of gen_ai_operation_name values: /v1/completions and
// /v1/chat/completions.
const (
	opTextCompletion = 0
	opChat           = 1
)

var operations = [2]string{llmmetrics.OperationTextCompl, llmmetrics.OperationChat}

// Bucket boundaries the semantic conventions recommend (ExplicitBucketBoundaries).
var (
	genAIDurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	genAITPOTBuckets     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
	genAITokenBuckets    = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
	httpDurationBuckets  = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
)

// maxModelSeries bounds the (model, response model, provider) label sets
// kept. Models only come from what serve exposes, so this is a second
// fence: beyond it, requests are recorded with no model.
const maxModelSeries = 1024

// seriesKey is one model's label values.
type seriesKey struct{ model, response, provider string }

// modelSeries are one model's GenAI series for successful requests, per
// operation, and its in-flight gauge.
type modelSeries struct {
	key                                 seriesKey
	duration, ttft, tpot, input, output [2]prometheus.Observer
	active                              [2]upDown
}

// genAIMetrics are gen_ai_server_request_duration_seconds,
// gen_ai_server_time_to_first_token_seconds,
// gen_ai_server_time_per_output_token_seconds, gen_ai_client_token_usage
// and llm_model_active_requests.
type genAIMetrics struct {
	duration, ttft, tpot, tokens *intmetric.HistogramVec
	active                       *intmetric.GaugeVec

	// series is read on every request and written once per label set:
	// an immutable map, replaced whole under mu (a read lock's shared
	// counter would bounce between cores on every request).
	mu     sync.Mutex
	series atomic.Pointer[map[seriesKey]*modelSeries]
	// none is what a bare benchmark records into: nothing.
	none *modelSeries
}

func newGenAIMetrics(reg prometheus.Registerer) *genAIMetrics {
	base := []string{llmmetrics.LabelOperation, llmmetrics.LabelProvider, llmmetrics.LabelRequestModel, llmmetrics.LabelResponseModel}
	g := &genAIMetrics{
		duration: intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.GenAIRequestDuration,
			Help:    "GenAI server request duration (gen_ai.server.request.duration): arrival to the answer's last byte, in seconds; failed requests carry error_type.",
			Buckets: genAIDurationBuckets}, append(slices.Clone(base), llmmetrics.LabelErrorType), intmetric.Nanosecond),
		ttft: intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.GenAITTFT,
			Help:    "Time to first token of successful streamed responses (gen_ai.server.time_to_first_token), as the client receives it, in seconds.",
			Buckets: llmmetrics.GenAITTFTBuckets}, base, intmetric.Nanosecond),
		tpot: intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.GenAITPOT,
			Help:    "Time per output token after the first, of successful streamed responses (gen_ai.server.time_per_output_token), in seconds.",
			Buckets: genAITPOTBuckets}, base, intmetric.Nanosecond),
		tokens: intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.GenAITokenUsage,
			Help:    "Input and output tokens per request (gen_ai.client.token.usage, unit {token}).",
			Buckets: genAITokenBuckets}, append(slices.Clone(base), llmmetrics.LabelTokenType), intmetric.Unit),
		active: intmetric.NewGaugeVec(prometheus.GaugeOpts{Name: llmmetrics.ModelActive,
			Help: "Completion requests in flight, per operation and model."},
			[]string{llmmetrics.LabelOperation, llmmetrics.LabelRequestModel}),
	}
	g.series.Store(&map[seriesKey]*modelSeries{})
	reg.MustRegister(g.duration, g.ttft, g.tpot, g.tokens, g.active)
	return g
}

// discardGenAI records nothing: the bare handler's baseline.
func discardGenAI() *genAIMetrics {
	ms := &modelSeries{}
	for op := range operations {
		ms.duration[op], ms.ttft[op], ms.tpot[op], ms.input[op], ms.output[op], ms.active[op] =
			discard{}, discard{}, discard{}, discard{}, discard{}, discard{}
	}
	return &genAIMetrics{none: ms}
}

// lookup returns the series of one label set, creating them (all at 0)
// the first time.
func (g *genAIMetrics) lookup(model, response, provider string) *modelSeries {
	if g.none != nil {
		return g.none
	}
	k := seriesKey{model, response, provider}
	if ms := (*g.series.Load())[k]; ms != nil {
		return ms
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	old := *g.series.Load()
	if ms := old[k]; ms != nil {
		return ms
	}
	if len(old) >= maxModelSeries && model != "" {
		k = seriesKey{provider: provider}
		if ms := old[k]; ms != nil {
			return ms
		}
	}
	ms := &modelSeries{key: k}
	for op, name := range operations {
		lv := []string{name, k.provider, k.model, k.response}
		ms.duration[op] = g.duration.WithLabelValues(append(lv, "")...)
		ms.ttft[op] = g.ttft.WithLabelValues(lv...)
		ms.tpot[op] = g.tpot.WithLabelValues(lv...)
		ms.input[op] = g.tokens.WithLabelValues(append(lv, llmmetrics.TokenTypeInput)...)
		ms.output[op] = g.tokens.WithLabelValues(append(lv, llmmetrics.TokenTypeOutput)...)
		ms.active[op] = g.active.WithLabelValues(name, k.model)
	}
	next := make(map[seriesKey]*modelSeries, len(old)+1)
	maps.Copy(next, old)
	next[k] = ms
	g.series.Store(&next)
	return ms
}

// failed observes a failed request's duration under its error type.
func (g *genAIMetrics) failed(ms *modelSeries, op int, errType string, seconds float64) {
	if g.none != nil {
		return
	}
	k := ms.key
	g.duration.WithLabelValues(operations[op], k.provider, k.model, k.response, errType).Observe(seconds)
}

// errorType names a failure for the error_type label and the access log,
// from a closed set: the OpenAI-style codes llmmon answers with, else the
// HTTP status.
func errorType(e *backend.Error) string {
	if e.Code != "" && slices.Contains(llmmetrics.ErrorCodes, e.Code) {
		return e.Code
	}
	return statusErrorType(e.Status)
}

func statusErrorType(status int) string {
	if status < 100 || status > 599 || http.StatusText(status) == "" {
		return llmmetrics.ErrorOther
	}
	return strconv.Itoa(status)
}

// Routes, as http_route: templates, never raw paths.
const (
	routeCompletions = iota
	routeChat
	routeModels
	routeModel
	routeHealth
	routeMetrics
	routeOther
)

var routeNames = [...]string{"/v1/completions", "/v1/chat/completions", "/v1/models", "/v1/models/{model}",
	"/health", "/metrics", llmmetrics.RouteOther}

// httpMethods are the methods OpenTelemetry knows (RFC 9110 and PATCH);
// any other is _OTHER.
var httpMethods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", llmmetrics.MethodOther}

func methodIndex(m string) int {
	for i, k := range httpMethods[:len(httpMethods)-1] {
		if m == k {
			return i
		}
	}
	return len(httpMethods) - 1
}

// httpMetrics is http_server_request_duration_seconds: every request, by
// method, route template and status.
type httpMetrics struct {
	vec  *intmetric.HistogramVec
	mu   sync.Mutex
	byID atomic.Pointer[map[uint32]prometheus.Observer] // immutable, as genAIMetrics.series
	none bool
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	h := &httpMetrics{
		vec: intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.HTTPRequestDuration,
			Help:    "Duration of HTTP server requests (http.server.request.duration), in seconds; every path the server does not serve has the route \"other\".",
			Buckets: httpDurationBuckets},
			[]string{llmmetrics.LabelHTTPMethod, llmmetrics.LabelHTTPRoute, llmmetrics.LabelHTTPStatus,
				llmmetrics.LabelURLScheme, llmmetrics.LabelErrorType}, intmetric.Nanosecond),
	}
	h.byID.Store(&map[uint32]prometheus.Observer{})
	reg.MustRegister(h.vec)
	// The answers every route gives when all is well exist from the start.
	for route, method := range map[int]string{routeCompletions: "POST", routeChat: "POST", routeModels: "GET",
		routeModel: "GET", routeHealth: "GET", routeMetrics: "GET"} {
		h.observer(route, methodIndex(method), http.StatusOK)
	}
	return h
}

// observer returns the series of one method, route and status.
func (h *httpMetrics) observer(route, method, status int) prometheus.Observer {
	if h.none {
		return discard{}
	}
	if status < 100 || status > 999 {
		status = 0
	}
	id := uint32(route)<<16 | uint32(method)<<10 | uint32(status)
	if o := (*h.byID.Load())[id]; o != nil {
		return o
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.byID.Load()
	if o := old[id]; o != nil {
		return o
	}
	errType := ""
	if status >= 500 || status == 0 {
		errType = statusErrorType(status)
	}
	o := h.vec.WithLabelValues(httpMethods[method], routeNames[route], strconv.Itoa(status), "http", errType)
	next := make(map[uint32]prometheus.Observer, len(old)+1)
	maps.Copy(next, old)
	next[id] = o
	h.byID.Store(&next)
	return o
}
