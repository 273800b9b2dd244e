package llmserver

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/internal/intmetric"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// Indexes of the label values in serverMetrics' arrays.
const (
	endpointNonStreamIdx = 0
	endpointStreamIdx    = 1
	statusSuccessIdx     = 0
	statusErrorIdx       = 1
)

var (
	endpoints = [2]string{llmmetrics.EndpointNonStream, llmmetrics.EndpointStream}
	statuses  = [2]string{llmmetrics.StatusSuccess, llmmetrics.StatusError}

	// The seed's Python prometheus_client default buckets, extended for
	// long generations.
	durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75,
		1, 2.5, 5, 7.5, 10, 20, 30, 60, 120, 300}
	// The seed's byte buckets.
	sizeBuckets = []float64{64, 256, 1024, 4096, 16384, 65536, 262144, 1048576}
)

// serverMetrics are the llm_* series llmmon serve exports, the same in
// both its modes (simulated engine and gateway): the seed's five, TTFT,
// TPOT and prompt tokens. Every label combination exists from the start, so
// dashboards show 0 rather than "no data" before traffic. The per-model
// GenAI series and the HTTP series are in genAIMetrics and httpMetrics.
type serverMetrics struct {
	requests     [2][2]counter // [endpoint][status]
	duration     [2]prometheus.Observer
	tokens       [2]counter
	size         [2]prometheus.Observer
	active       [2]upDown
	promptTokens [2]counter
	ttft, tpot   prometheus.Observer // streams only: only they show token timing
}

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	ep := []string{llmmetrics.LabelEndpoint}
	requests := intmetric.NewCounterVec(prometheus.CounterOpts{Name: llmmetrics.Requests,
		Help: "LLM completion requests by endpoint (stream, nonstream) and status (success, error)."},
		[]string{llmmetrics.LabelEndpoint, llmmetrics.LabelStatus})
	// Every request moves these: they count in integers, per core
	// (intmetric).
	duration := intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.Duration,
		Help: "End-to-end request time in seconds.", Buckets: durationBuckets}, ep, intmetric.Nanosecond)
	tokens := intmetric.NewCounterVec(prometheus.CounterOpts{Name: llmmetrics.Tokens,
		Help: "Completion tokens sent to clients."}, ep)
	size := intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.RequestSize,
		Help: "Request body size in bytes.", Buckets: sizeBuckets}, ep, intmetric.Unit)
	active := intmetric.NewGaugeVec(prometheus.GaugeOpts{Name: llmmetrics.Active,
		Help: "Requests in flight."}, ep)
	prompt := intmetric.NewCounterVec(prometheus.CounterOpts{Name: llmmetrics.PromptTokens,
		Help: "Prompt tokens of requests the backend processed."}, ep)
	ttft := intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.TTFT,
		Help: "Time from request arrival to the first streamed token, in seconds. Deprecated: use " +
			llmmetrics.GenAITTFT + ", per model; removed in the next release.", Buckets: sim.TTFTBuckets()}, ep, intmetric.Nanosecond)
	tpot := intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: llmmetrics.TPOT,
		Help: "Mean time between streamed tokens after the first, per request, in seconds. Deprecated: use " +
			llmmetrics.GenAITPOT + ", per model; removed in the next release.", Buckets: sim.ITLBuckets()}, ep, intmetric.Nanosecond)
	reg.MustRegister(requests, duration, tokens, size, active, prompt, ttft, tpot)

	m := &serverMetrics{
		ttft: ttft.WithLabelValues(llmmetrics.EndpointStream),
		tpot: tpot.WithLabelValues(llmmetrics.EndpointStream),
	}
	for i, e := range endpoints {
		for j, s := range statuses {
			m.requests[i][j] = requests.WithLabelValues(e, s)
		}
		m.duration[i] = duration.WithLabelValues(e)
		m.tokens[i] = tokens.WithLabelValues(e)
		m.size[i] = size.WithLabelValues(e)
		m.active[i] = active.WithLabelValues(e)
		m.promptTokens[i] = prompt.WithLabelValues(e)
	}
	return m
}

// upDown is an in-flight gauge.
type upDown interface {
	Inc()
	Dec()
}

// counter counts whole things: requests, tokens.
type counter interface {
	Inc()
	Add(int)
}

// discard is a counter, gauge and observer that records nothing, for the
// instrumentation benchmark's bare handler.
type discard struct{}

func (discard) Inc()            {}
func (discard) Dec()            {}
func (discard) Add(int)         {}
func (discard) Observe(float64) {}
