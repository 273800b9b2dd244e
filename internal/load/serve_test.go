package load

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver"
)

// These tests load the real `llmmon serve` (in-process, its simulated
// engine) and check the generator's measurements and counts against what
// the server was configured to do and what it says it did.

// startServe runs llmmon serve's handler with a deterministic engine.
func startServe(t *testing.T, edit func(*llmserver.Options)) (url string) {
	t.Helper()
	o := llmserver.DefaultOptions()
	o.Sim.Jitter = 0
	o.Sim.BatchSlowdown = 0
	o.Sim.Seed = 1
	if edit != nil {
		edit(&o)
	}
	s, err := llmserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); s.Close() })
	return srv.URL
}

// serverRequests scrapes llm_requests_total from serve's /metrics, by
// "endpoint/status".
func serverRequests(t *testing.T, base string) map[string]int {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	fam := fams[llmmetrics.Requests]
	if fam == nil {
		t.Fatalf("no %s on /metrics", llmmetrics.Requests)
	}
	got := map[string]int{}
	for _, m := range fam.GetMetric() {
		var ep, st string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "endpoint":
				ep = l.GetValue()
			case "status":
				st = l.GetValue()
			}
		}
		got[ep+"/"+st] = int(m.GetCounter().GetValue())
	}
	return got
}

// nearOneOf returns which of the expected values x is closest to.
func nearOneOf(x float64, a, b time.Duration) time.Duration {
	if math.Abs(x-a.Seconds()) < math.Abs(x-b.Seconds()) {
		return a
	}
	return b
}

// The measured TTFT and ITL come out at what serve was configured with,
// for every endpoint and both answer shapes; counts match the server's.
func TestServeMeasuredLatencyMatchesConfigured(t *testing.T) {
	const ttft, itl, tokens = 120 * time.Millisecond, 25 * time.Millisecond, 9
	base := startServe(t, func(o *llmserver.Options) { o.Sim.TTFT, o.Sim.ITL = ttft, itl })
	want := map[string]int{}
	for _, stream := range []bool{true, false} {
		for _, endpoint := range []string{EndpointChat, EndpointCompletions} {
			name := endpoint + map[bool]string{true: " streamed", false: " not streamed"}[stream]
			t.Run(name, func(t *testing.T) {
				o := quickOptions(base + "/v1")
				o.Endpoint, o.Stream, o.MaxTokens = endpoint, stream, tokens
				o.Concurrency, o.Requests = 1, 5 // alone in the engine: no batching effects
				r, err := Run(context.Background(), o)
				if err != nil {
					t.Fatal(err)
				}
				if r.Requests.Succeeded != 5 || r.Requests.Failed != 0 || r.Model != "llmmon-sim" {
					t.Fatalf("requests %+v errors %+v model %q", r.Requests, r.Errors, r.Model)
				}
				if r.TTFT != nil {
					t.Logf("TTFT p50 %.1fms ITL p50 %.1fms p95 %.1fms", r.TTFT.P50*1000, r.ITL.P50*1000, r.ITL.P95*1000)
				}
				t.Logf("E2E p50 %.1fms", r.E2E.P50*1000)
				if r.OutputTokens != 5*tokens || r.InputTokens == 0 {
					t.Errorf("tokens out %d in %d, want %d out (from usage)", r.OutputTokens, r.InputTokens, 5*tokens)
				}
				// serve's engine emits the first token after the prefill step
				// (--ttft) plus one decode step (--itl); a prefill step that
				// itself yields the first token (as vLLM's) would take --ttft.
				// Either is right within a few ms; nothing in between is.
				e2e := nearOneOf(r.E2E.P50, ttft+itl*(tokens-1), ttft+itl*tokens)
				inRange(t, "E2E p50", r.E2E.P50, e2e.Seconds()-0.002, e2e.Seconds()+0.040)
				if stream {
					first := nearOneOf(r.TTFT.P50, ttft, ttft+itl)
					inRange(t, "TTFT p50", r.TTFT.P50, first.Seconds()-0.002, first.Seconds()+0.030)
					inRange(t, "TTFT p99", r.TTFT.P99, first.Seconds()-0.002, first.Seconds()+0.100)
					inRange(t, "ITL p50", r.ITL.P50, itl.Seconds()-0.002, itl.Seconds()+0.012)
					inRange(t, "ITL p95", r.ITL.P95, itl.Seconds()-0.002, itl.Seconds()+0.030)
					if r.ITL.Count != 5*(tokens-1) {
						t.Errorf("ITL samples = %d, want %d", r.ITL.Count, 5*(tokens-1))
					}
				}
				ep := "nonstream"
				if stream {
					ep = "stream"
				}
				want[ep+"/success"] += 5
				got := serverRequests(t, base)
				for k, v := range want {
					if got[k] != v {
						t.Errorf("llm_requests_total{%s} = %d, want %d (all: %v)", k, got[k], v, got)
					}
				}
			})
		}
	}
}

// With faults injected, every failure the server counts is one the report
// counts, by status.
func TestServeErrorCountsMatch(t *testing.T) {
	base := startServe(t, func(o *llmserver.Options) {
		o.Sim.TTFT, o.Sim.ITL, o.Sim.FailRate = time.Millisecond, time.Millisecond, 0.3
	})
	o := quickOptions(base + "/v1")
	o.Requests, o.Concurrency, o.MaxTokens = 60, 6, 4
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	got := serverRequests(t, base)
	if r.Requests.Failed == 0 || got["stream/error"] != r.Requests.Failed || got["stream/success"] != r.Requests.Succeeded ||
		r.Requests.Sent != 60 || got["nonstream/success"]+got["nonstream/error"] != 0 {
		t.Fatalf("report %+v, server %v", r.Requests, got)
	}
	n := 0
	for _, e := range r.Errors {
		if e.Status != "500" && e.Status != "503" && e.Status != "429" {
			t.Errorf("unexpected error status %+v", e)
		}
		if !strings.Contains(e.Example, "--fail-rate") || strings.Contains(e.Example, `{"error"`) {
			t.Errorf("example is not the server's error message: %+v", e)
		}
		n += e.Count
	}
	if n != r.Requests.Failed {
		t.Errorf("errors by status sum to %d, failed %d", n, r.Requests.Failed)
	}
}

// Rate mode holds R arrivals per second against serve over a few seconds,
// and every arrival reaches the server; those still in flight at the end
// of the duration are cancelled, none fails.
func TestServeRateMode(t *testing.T) {
	base := startServe(t, func(o *llmserver.Options) { o.Sim.ITL = 10 * time.Millisecond })
	o := quickOptions(base + "/v1")
	// 300 expected arrivals: a Poisson count's spread is ±6% (one sigma).
	o.Rate, o.Requests, o.Duration, o.Seed, o.MaxTokens = 100, 0, 3*time.Second, 1, 16
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	rate := float64(r.Requests.Sent) / 3
	if rate < 100*0.85 || rate > 100*1.15 || r.SendRate < 100*0.85 || r.SendRate > 100*1.15 {
		t.Errorf("sent %.1f req/s (report: %.1f/s), want about 100 (%d in 3s)", rate, r.SendRate, r.Requests.Sent)
	}
	// Each answer takes ~170ms, so ~17 are in flight: a closed loop of 4
	// (the default) could not reach the rate.
	if r.E2E.P50 < 0.15 {
		t.Errorf("answers too fast to show the open loop: %+v", r.E2E)
	}
	got := serverRequests(t, base)
	// A stream the server finished just as the duration ended may have
	// been abandoned before its end was read: cancelled here, a success
	// there.
	if ok := got["stream/success"]; ok < r.Requests.Succeeded || ok > r.Requests.Succeeded+r.Requests.Cancelled ||
		r.Requests.Failed != 0 || r.Requests.Dropped != 0 {
		t.Errorf("report %+v, server %v", r.Requests, got)
	}
}

func TestServeErrorPaths(t *testing.T) {
	base := startServe(t, func(o *llmserver.Options) { o.APIKey = "sk-test" })
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"no API key", func(o *Options) {}, "answered 401 Unauthorized: the server wants an API key; pass --api-key"},
		{"wrong API key", func(o *Options) { o.APIKey = "sk-nope" }, "the server refused the API key; check --api-key"},
		{"URL without /v1", func(o *Options) { o.URL, o.APIKey = base, "sk-test" }, "/models answered 404: not an OpenAI-compatible API; --url must be the API base: did you mean --url " + base + "/v1?"},
		{"metrics URL", func(o *Options) { o.URL, o.APIKey = base+"/metrics", "sk-test" }, "not an OpenAI-compatible API"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := quickOptions(base + "/v1")
			tt.edit(&o)
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want one line with %q", err, tt.want)
			}
		})
	}
	// An unknown --model is refused by the server on every request: the
	// run reports them by status rather than failing.
	o := quickOptions(base + "/v1")
	o.APIKey, o.Model, o.Requests = "sk-test", "no-such-model", 3
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Failed != 3 || len(r.Errors) != 1 || r.Errors[0].Status != "404" || r.ErrorRatio != 1 {
		t.Fatalf("requests %+v errors %+v", r.Requests, r.Errors)
	}
}
