package sim

import (
	"github.com/prometheus/client_golang/prometheus"
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

// engineMetrics are the vllm:* series, labelled model_name and engine like vLLM v1.
type engineMetrics struct {
	running, waiting, kvUsage      prometheus.Gauge
	promptTokens, generationTokens prometheus.Counter
	preemptions                    prometheus.Counter
	success                        map[string]prometheus.Counter
	ttft, itl                      prometheus.Observer
	e2e, queue, inference, prefill prometheus.Observer
	decode                         prometheus.Observer
	reqPromptTokens, reqGenTokens  prometheus.Observer
	reqMaxTokens                   prometheus.Observer
}

func newEngineMetrics(reg prometheus.Registerer, model string, maxModelLen int) *engineMetrics {
	labels := []string{"model_name", "engine"}
	lv := []string{model, "0"}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		reg.MustRegister(g)
		return g.WithLabelValues(lv...)
	}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c.WithLabelValues(lv...)
	}
	hist := func(name, help string, buckets []float64) prometheus.Observer {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(h)
		return h.WithLabelValues(lv...)
	}
	m := &engineMetrics{
		running:          gauge("vllm:num_requests_running", "Number of requests in model execution batches (simulated engine)."),
		waiting:          gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed (simulated engine)."),
		kvUsage:          gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage (simulated engine)."),
		promptTokens:     counter("vllm:prompt_tokens_total", "Number of prefill tokens processed."),
		generationTokens: counter("vllm:generation_tokens_total", "Number of generation tokens processed."),
		preemptions:      counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine."),
		ttft:             hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", ttftBuckets),
		itl:              hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", itlBuckets),
		e2e:              hist("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", requestLatencyBuckets),
		queue:            hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", requestLatencyBuckets),
		inference:        hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", requestLatencyBuckets),
		prefill:          hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", requestLatencyBuckets),
		decode:           hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", requestLatencyBuckets),
		reqPromptTokens:  hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", build125Buckets(maxModelLen)),
		reqGenTokens:     hist("vllm:request_generation_tokens", "Number of generation tokens processed.", build125Buckets(maxModelLen)),
		reqMaxTokens:     hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", build125Buckets(maxModelLen)),
	}
	sv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vllm:request_success_total",
		Help: "Count of successfully processed requests."}, append(labels, "finished_reason"))
	reg.MustRegister(sv)
	m.success = make(map[string]prometheus.Counter, len(finishReasons))
	for _, r := range finishReasons {
		m.success[r] = sv.WithLabelValues(model, "0", r)
	}
	return m
}
