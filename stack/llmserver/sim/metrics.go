package sim

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/internal/intmetric"
	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// Bucket boundaries copied from vLLM v1 (vllm/v1/metrics/loggers.py), so a
// dashboard built for vLLM reads these series unchanged.
var (
	ttftBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
		0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	itlBuckets = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
		1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	requestLatencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
		40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
)

// TTFTBuckets are vLLM's time-to-first-token boundaries; llmmon serve's
// llm_time_to_first_token_seconds uses them too.
func TTFTBuckets() []float64 { return append([]float64(nil), ttftBuckets...) }

// ITLBuckets are vLLM's inter-token latency boundaries.
func ITLBuckets() []float64 { return append([]float64(nil), itlBuckets...) }

// build125Buckets is vLLM's build_1_2_5_buckets: 1, 2, 5, 10, 20, 50, ... up
// to maxValue.
func build125Buckets(maxValue int) []float64 {
	var b []float64
	for base := 1; ; base *= 10 {
		for _, m := range []int{1, 2, 5} {
			v := base * m
			if v > maxValue {
				return b
			}
			b = append(b, float64(v))
		}
	}
}

// Finish reasons as vLLM labels vllm:request_success_total.
var finishReasons = []string{"stop", "length", "abort"}

// engineMetrics are one model's vllm:* series, labelled model_name and
// engine like vLLM v1.
type engineMetrics struct {
	running, waiting, kvUsage      prometheus.Gauge
	promptTokens, generationTokens *intmetric.Counter
	preemptions                    *intmetric.Counter
	prefixQueries, prefixHits      *intmetric.Counter
	success                        map[string]*intmetric.Counter
	ttft, itl                      prometheus.Observer
	e2e, queue, inference, prefill prometheus.Observer
	decode                         prometheus.Observer
	reqPromptTokens, reqGenTokens  prometheus.Observer
	reqMaxTokens                   prometheus.Observer
}

// metricVecs are the vllm:* families, registered once per registry; each
// model served gets its own series of them.
type metricVecs struct {
	gauges     map[string]*prometheus.GaugeVec
	counters   map[string]*intmetric.CounterVec
	histograms map[string]*intmetric.HistogramVec
	success    *intmetric.CounterVec
}

func newMetricVecs(reg prometheus.Registerer, maxModelLen int) *metricVecs {
	labels := []string{"model_name", "engine"}
	v := &metricVecs{gauges: map[string]*prometheus.GaugeVec{}, counters: map[string]*intmetric.CounterVec{},
		histograms: map[string]*intmetric.HistogramVec{}}
	gauge := func(name, help string) {
		v.gauges[name] = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v.gauges[name])
	}
	counter := func(name, help string) {
		v.counters[name] = intmetric.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		reg.MustRegister(v.counters[name])
	}
	// Every token moves a counter and a histogram: they count in
	// integers, per core (intmetric).
	hist := func(name, help string, buckets []float64, quantum float64) {
		v.histograms[name] = intmetric.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels, quantum)
		reg.MustRegister(v.histograms[name])
	}
	gauge("vllm:num_requests_running", "Number of requests in model execution batches (simulated engine).")
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed (simulated engine).")
	gauge(llmmetrics.VLLMKVCacheUsage, "KV-cache usage. 1 means 100 percent usage (simulated engine).")
	counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	counter("vllm:generation_tokens_total", "Number of generation tokens processed.")
	counter(llmmetrics.VLLMPreemptions, "Cumulative number of preemption from the engine.")
	counter(llmmetrics.VLLMPrefixCacheQueries, "Prefix cache queries, in terms of number of queried tokens.")
	counter(llmmetrics.VLLMPrefixCacheHits, "Prefix cache hits, in terms of number of cached tokens.")
	hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets, intmetric.Nanosecond)
	hist(llmmetrics.VLLMInterTokenLatency, "Histogram of inter-token latency in seconds.", itlBuckets, intmetric.Nanosecond)
	hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", requestLatencyBuckets, intmetric.Nanosecond)
	hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", requestLatencyBuckets, intmetric.Nanosecond)
	hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", requestLatencyBuckets, intmetric.Nanosecond)
	hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", requestLatencyBuckets, intmetric.Nanosecond)
	hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", requestLatencyBuckets, intmetric.Nanosecond)
	hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", build125Buckets(maxModelLen), intmetric.Unit)
	hist("vllm:request_generation_tokens", "Number of generation tokens processed.", build125Buckets(maxModelLen), intmetric.Unit)
	hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", build125Buckets(maxModelLen), intmetric.Unit)
	v.success = intmetric.NewCounterVec(prometheus.CounterOpts{Name: "vllm:request_success_total",
		Help: "Count of successfully processed requests."}, append(labels, "finished_reason"))
	reg.MustRegister(v.success)
	return v
}

// engine returns model's series, all at 0.
func (v *metricVecs) engine(model string) *engineMetrics {
	g := func(name string) prometheus.Gauge { return v.gauges[name].WithLabelValues(model, "0") }
	c := func(name string) *intmetric.Counter { return v.counters[name].WithLabelValues(model, "0") }
	h := func(name string) prometheus.Observer { return v.histograms[name].WithLabelValues(model, "0") }
	m := &engineMetrics{
		running:          g("vllm:num_requests_running"),
		waiting:          g("vllm:num_requests_waiting"),
		kvUsage:          g(llmmetrics.VLLMKVCacheUsage),
		promptTokens:     c("vllm:prompt_tokens_total"),
		generationTokens: c("vllm:generation_tokens_total"),
		preemptions:      c(llmmetrics.VLLMPreemptions),
		prefixQueries:    c(llmmetrics.VLLMPrefixCacheQueries),
		prefixHits:       c(llmmetrics.VLLMPrefixCacheHits),
		ttft:             h("vllm:time_to_first_token_seconds"),
		itl:              h(llmmetrics.VLLMInterTokenLatency),
		e2e:              h("vllm:e2e_request_latency_seconds"),
		queue:            h("vllm:request_queue_time_seconds"),
		inference:        h("vllm:request_inference_time_seconds"),
		prefill:          h("vllm:request_prefill_time_seconds"),
		decode:           h("vllm:request_decode_time_seconds"),
		reqPromptTokens:  h("vllm:request_prompt_tokens"),
		reqGenTokens:     h("vllm:request_generation_tokens"),
		reqMaxTokens:     h("vllm:request_params_max_tokens"),
	}
	m.success = make(map[string]*intmetric.Counter, len(finishReasons))
	for _, r := range finishReasons {
		m.success[r] = v.success.WithLabelValues(model, "0", r)
	}
	return m
}
