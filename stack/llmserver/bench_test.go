package llmserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// BenchmarkHandler measures the whole handler (decode, simulated engine
// with no delay, encode) with its instrumentation (instrumented: the llm_*,
// GenAI and HTTP metrics, and an access log line per request in JSON
// through llmmon serve's buffered writer into /dev/null) and with every
// metric replaced by one that records nothing and no logger (bare); make
// bench prints both, and the difference is the instrumentation's cost.
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
				if instrumented {
					o.Logger = benchLogger(b)
				}
				srv, err := New(o)
				if err != nil {
					b.Fatal(err)
				}
				defer srv.Close()
				if !instrumented {
					srv.metrics, srv.genai, srv.http = discardMetrics(), discardGenAI(), &httpMetrics{none: true}
				}
				h := srv.Handler()
				body := []byte(mode.body)
				b.ReportAllocs()
				b.ResetTimer()
				defer reportCPU(b)()
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

// benchLogger is llmmon serve's access logger (JSON, Info) writing through
// its LogWriter to /dev/null: the formatting and the writes are real.
func benchLogger(b *testing.B) *slog.Logger {
	f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	lw := NewLogWriter(f, 100*time.Millisecond)
	b.Cleanup(func() { lw.Close(); f.Close() })
	l, err := NewLogger(lw, LogJSON, slog.LevelInfo)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// reportCPU reports the process's CPU time per operation (cpu-ns/op)
// from now until the returned function runs. On a machine shared with
// other work, wall time per operation swings with the neighbours' load;
// CPU time, and the ratio of two benchmarks' CPU times, much less.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// headerWriter is a ResponseWriter that only keeps headers.
type headerWriter struct{ h http.Header }

func (w *headerWriter) Header() http.Header         { return w.h }
func (w *headerWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerWriter) WriteHeader(int)             {}

// BenchmarkInstrumentationPerRequest is all the server's instrumentation
// for one request, as the handler does it. Divided by BenchmarkHandler's
// ns/op for the same endpoint it is the instrumentation's share of a
// request (goal: at most 5%), without the noise of comparing two
// whole-handler runs:
//   - every request: its exchange and request id (the X-Request-Id
//     header), the HTTP metric, and its access log line (JSON, through the
//     buffered writer, into /dev/null);
//   - nonstream: the llm_* and per-model in-flight gauges up and down, the
//     completion's tokens and prompt tokens, the request count, duration
//     and size, and the GenAI duration and token usage;
//   - stream: the same for bench-serve.sh's streamed request, which a
//     zero-delay engine answers in one write: its tokens counted and its
//     clock read once, and TTFT and TPOT in both families;
//   - stream-16: the same with each of the 16 tokens flushed alone, the
//     most a 16-token stream does (a request 16 writes cost, for the record).
//
// The nolog variants leave the access log out: the difference is its cost.
func BenchmarkInstrumentationPerRequest(b *testing.B) {
	for _, v := range []struct {
		name        string
		stream, log bool
		flushes     int
	}{{"nonstream", false, true, 0}, {"stream", true, true, 1}, {"stream-16", true, true, 16},
		{"nonstream-nolog", false, false, 0}, {"stream-nolog", true, false, 1}} {
		o := fastOptions()
		if v.log {
			o.Logger = benchLogger(b)
		}
		srv, err := New(o)
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		m := srv.metrics
		req := httptest.NewRequest(http.MethodPost, "/v1/completions", nil)
		stream, flushes := v.stream, v.flushes
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			b.RunParallel(func(pb *testing.PB) {
				w := &headerWriter{h: http.Header{}}
				for pb.Next() {
					x := newExchange(w, req)
					x.route, x.completion, x.op, x.stream = routeCompletions, true, opTextCompletion, stream
					x.requested = "llmmon-sim"
					x.series = srv.genai.lookup("llmmon-sim", "llmmon-sim", srv.provider)
					ep := endpointNonStreamIdx
					if stream {
						ep = endpointStreamIdx
					}
					active := x.series.active[x.op]
					m.active[ep].Inc()
					active.Inc()
					if stream {
						for range flushes { // as the stream handler after each write
							x.end = time.Now() // its clock read, for TTFT and TPOT
							m.tokens[ep].Add(16 / flushes)
						}
						x.first = x.start
						m.ttft.Observe(0.01)
						x.tpot, x.timed = 0.002, true
						m.tpot.Observe(x.tpot)
					} else {
						m.tokens[ep].Add(16)
					}
					m.promptTokens[ep].Add(7)
					x.prompt, x.output = 7, 16
					m.active[ep].Dec()
					active.Dec()
					x.status = http.StatusOK
					srv.recordCompletion(x, 96)
					srv.finish(x, req)
				}
			})
		})
	}
}

// discardMetrics are serverMetrics that record nothing: the bare
// handler's baseline.
func discardMetrics() *serverMetrics {
	m := &serverMetrics{ttft: discard{}, tpot: discard{}}
	for i := range endpoints {
		for j := range statuses {
			m.requests[i][j] = discard{}
		}
		m.duration[i], m.tokens[i], m.size[i], m.active[i], m.promptTokens[i] = discard{}, discard{}, discard{}, discard{}, discard{}
	}
	return m
}

// BenchmarkOpenStreamStacks holds 200 streams open at once, each past its
// first token (so net/http has written its headers, the deepest call of a
// stream), and reports the goroutine stack memory each open stream keeps
// (stack-B/stream: net/http's connection goroutine, which runs the handler,
// and its background reader). With 1,000 streams this is a third of serve's
// RSS; a handler goroutine that outgrows 8 KB doubles it to 16 KB for the
// whole stream. The clients are raw connections read in turn, with no
// goroutines of their own, so only the server's stacks are counted.
func BenchmarkOpenStreamStacks(b *testing.B) {
	const streams = 200
	o := fastOptions()
	o.Sim.ITL = 20 * time.Millisecond
	o.Sim.MaxNumSeqs, o.Sim.MaxQueue, o.Sim.KVBlocks = streams, streams, 100000
	srv, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	body := `{"prompt":"Say something about monitoring.","max_tokens":4000,"stream":true}`
	raw := "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
	stacks := func() float64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
		metrics.Read(s)
		return float64(s[0].Value.Uint64())
	}
	var perStream float64
	for range b.N {
		before := stacks()
		conns := make([]net.Conn, 0, streams)
		for range streams {
			c, err := net.Dial("tcp", ts.Listener.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := io.WriteString(c, raw); err != nil {
				b.Fatal(err)
			}
		}
		for _, c := range conns { // past the headers and the first token
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					b.Fatal(err)
				}
				if strings.HasPrefix(line, "data: ") {
					break
				}
			}
		}
		perStream = (stacks() - before) / streams
		for _, c := range conns {
			c.Close()
		}
		testenv.Eventually(b, 30*time.Second, "the closed streams to end", func() error {
			if st := srv.backend.(*sim.Fleet).Stats(); st.Running+st.Waiting > 0 {
				return fmt.Errorf("%d streams still running, %d waiting", st.Running, st.Waiting)
			}
			return nil
		})
	}
	b.ReportMetric(perStream, "stack-B/stream")
}
