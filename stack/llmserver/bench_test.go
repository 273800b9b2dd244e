package llmserver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHandler measures the whole handler (decode, simulated engine
// with no delay, encode) with the gateway's llm_* instrumentation and
// without it; make bench prints both, and the difference is its cost.
func BenchmarkHandler(b *testing.B) {
	for _, mode := range []struct {
		name string
		body string
	}{
		{"nonstream", `{"model":"llmmon-sim","prompt":"Say something about monitoring.","max_tokens":16,"stream":false}`},
		{"stream", `{"model":"llmmon-sim","prompt":"Say something about monitoring.","max_tokens":16,"stream":true}`},
	} {
		for _, instrumented := range []bool{true, false} {
			name := mode.name + "/instrumented"
			if !instrumented {
				name = mode.name + "/bare"
			}
			b.Run(name, func(b *testing.B) {
				o := fastOptions()
				srv, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				if !instrumented {
					srv.metrics = nil
				}
				h := srv.Handler()
				body := []byte(mode.body)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						req := httptest.NewRequest(http.MethodPost, "/v1/completions", bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != 200 {
							b.Fatalf("status %d: %s", w.Code, w.Body)
						}
					}
				})
			})
		}
	}
}

// BenchmarkInstrumentationPerRequest is the gateway's metric work for one
// streamed request of 16 tokens flushed one by one (the most it does):
// active gauge up and down, 16 token counts, TTFT, TPOT, prompt tokens, and
// the request count, duration and size. Divided by BenchmarkHandler's
// ns/op it is the instrumentation's share of a request, without the noise
// of comparing two whole-handler runs on a shared machine.
func BenchmarkInstrumentationPerRequest(b *testing.B) {
	srv, err := New(fastOptions())
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	m := srv.metrics
	start := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ep := endpointStreamIdx
			m.active[ep].Inc()
			for range 16 {
				m.tokens[ep].Add(1)
			}
			m.ttft.Observe(0.01)
			m.promptTokens[ep].Add(7)
			m.tpot.Observe(0.002)
			m.active[ep].Dec()
			m.record(ep, statusSuccessIdx, start, 96)
		}
	})
}
