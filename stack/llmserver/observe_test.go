package llmserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// TestGenAIMetricsPerModel serves two simulated models, one failing half
// its requests, and checks the GenAI series of each against what the
// clients received, and against the llm_* totals.
func TestGenAIMetricsPerModel(t *testing.T) {
	srv, hs := startServer(t, func(o *Options) {
		o.Model = "alpha,beta"
		o.Sim.ModelFailRate = map[string]float64{"beta": 0.5}
		o.Sim.Seed = 3
	})
	type seen struct{ ok, failed, prompt, output int }
	got := map[string]*seen{"alpha": {}, "beta": {}}
	for i := range 40 {
		model := []string{"alpha", "beta"}[i%2]
		stream := i%4 < 2
		path, body := "/v1/completions", fmt.Sprintf(`{"model":%q,"prompt":"count %d","max_tokens":5,"stream":%t`, model, i, stream)
		if i%3 == 0 {
			path, body = "/v1/chat/completions", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"n %d"}],"max_tokens":5,"stream":%t`, model, i, stream)
		}
		if stream {
			body += `,"stream_options":{"include_usage":true}`
		}
		resp := post(t, context.Background(), hs.URL+path, body+"}")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		s := got[model]
		if resp.StatusCode != 200 {
			s.failed++
			continue
		}
		var u struct {
			Usage *struct {
				PromptTokens     int `json:"prompt_tokens"`
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		for _, line := range strings.Split(string(b), "\n") {
			line = strings.TrimPrefix(line, "data: ")
			if json.Unmarshal([]byte(line), &u) == nil && u.Usage != nil {
				s.prompt += u.Usage.PromptTokens
				s.output += u.Usage.CompletionTokens
				u.Usage = nil
			}
		}
		s.ok++
	}
	if got["beta"].failed == 0 || got["alpha"].failed != 0 {
		t.Fatalf("failures: alpha %d, beta %d; want only beta's", got["alpha"].failed, got["beta"].failed)
	}
	reg := srv.Registry()
	sum := func(name string, labels ...string) float64 { return testenv.Sum(t, reg, name, labels...) }
	histSum := func(name string, labels ...string) float64 {
		return testenv.Series(t, reg, name, labels...).GetHistogram().GetSampleSum()
	}
	eventually(t, "every request counted", func() error {
		if n := sum(llmmetrics.GenAIRequestDuration); n != 40 {
			return fmt.Errorf("%v of 40", n)
		}
		return nil
	})
	for model, s := range got {
		m := []string{llmmetrics.LabelRequestModel, model}
		if n := sum(llmmetrics.GenAIRequestDuration, append(m, llmmetrics.LabelErrorType, "")...); n != float64(s.ok) {
			t.Errorf("%s: %v successes counted, clients saw %d", model, n, s.ok)
		}
		if n := sum(llmmetrics.GenAIRequestDuration, m...); n != float64(s.ok+s.failed) {
			t.Errorf("%s: %v requests counted, sent %d", model, n, s.ok+s.failed)
		}
		for _, lv := range [][]string{
			{llmmetrics.LabelResponseModel, model}, {llmmetrics.LabelProvider, llmmetrics.ProviderSimulated},
		} {
			if n := sum(llmmetrics.GenAIRequestDuration, append(m, lv...)...); n != float64(s.ok+s.failed) {
				t.Errorf("%s: %v requests with %s=%q", model, n, lv[0], lv[1])
			}
		}
		in, out := 0.0, 0.0
		for _, op := range operations {
			l := append(m, llmmetrics.LabelOperation, op)
			in += histSum(llmmetrics.GenAITokenUsage, append(l, llmmetrics.LabelTokenType, "input")...)
			out += histSum(llmmetrics.GenAITokenUsage, append(l, llmmetrics.LabelTokenType, "output")...)
			if v := testenv.Value(testenv.Series(t, reg, llmmetrics.ModelActive, l...)); v != 0 {
				t.Errorf("%s %s: %v in flight after the traffic", model, op, v)
			}
		}
		if in != float64(s.prompt) || out != float64(s.output) {
			t.Errorf("%s tokens: counted %v in / %v out, usage said %d / %d", model, in, out, s.prompt, s.output)
		}
		// Successful streams have a TTFT, and 5 tokens a TPOT.
		if ttft, tpot := sum(llmmetrics.GenAITTFT, m...), sum(llmmetrics.GenAITPOT, m...); ttft == 0 || ttft != tpot || ttft >= float64(s.ok) {
			t.Errorf("%s: %v TTFT and %v TPOT observations for %d successes (streams only)", model, ttft, tpot, s.ok)
		}
	}
	if e := sum(llmmetrics.GenAIRequestDuration, llmmetrics.LabelErrorType, ""); e != sum(llmmetrics.Requests, llmmetrics.LabelStatus, "success") {
		t.Errorf("GenAI successes %v, llm_requests_total successes %v", e, sum(llmmetrics.Requests, llmmetrics.LabelStatus, "success"))
	}
	// A request without a model is refused when several are served.
	resp := post(t, context.Background(), hs.URL+"/v1/completions", `{"prompt":"x"}`)
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("no model with two served: status %d, want 400", resp.StatusCode)
	}
}

// seriesCount counts the series of every family the server defines.
func seriesCount(t *testing.T, srv *Server) int {
	t.Helper()
	mfs, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		for _, p := range []string{"llm_", "gen_ai_", "http_", "vllm:"} {
			if strings.HasPrefix(mf.GetName(), p) {
				n += len(mf.GetMetric())
			}
		}
	}
	return n
}

// sendJunk sends n requests with random model names, random paths and
// random methods, concurrently, straight into h.
func sendJunk(h http.Handler, n int) {
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "BREW"}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			for i := w; i < n; i += 8 {
				name := fmt.Sprintf("m-%x", rng.Uint64())
				var req *http.Request
				switch i % 4 {
				case 0:
					req = httptest.NewRequest("POST", "/v1/completions", strings.NewReader(fmt.Sprintf(`{"model":%q,"prompt":"x","stream":%t}`, name, i%8 == 0)))
				case 1:
					req = httptest.NewRequest("POST", "/v1/chat/completions", strings.NewReader(fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"x"}]}`, name)))
				case 2:
					req = httptest.NewRequest(methods[rng.IntN(len(methods))], "/v1/"+name, strings.NewReader("{}"))
				default:
					m := methods[rng.IntN(len(methods))]
					if rng.IntN(2) == 0 {
						m = strings.ToUpper(name[2:8])
					}
					req = httptest.NewRequest(m, "/"+name+"/v1/models/"+name, nil)
				}
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code < 400 {
					panic(fmt.Sprintf("junk answered %d: %s", w.Code, w.Body))
				}
			}
		}()
	}
	wg.Wait()
}

// TestCardinalityBounded: 10,000 requests with made-up model names, paths
// and methods add no series, to the simulated engine or to a gateway in
// front of it that exposes whatever the engine lists.
func TestCardinalityBounded(t *testing.T) {
	upstream, uhs := startServer(t, nil)
	gw, err := newGatewayForTest(uhs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	for _, tc := range []struct {
		name string
		srv  *Server
	}{{"serve", upstream}, {"gateway", gw}} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.srv.Handler()
			// The gateway's model list, read now rather than in the
			// background during the test (it names the engine kind, a
			// label: one more series per model, once).
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/v1/models", nil))
			if w.Code != 200 {
				t.Fatalf("GET /v1/models: %d %s", w.Code, w.Body)
			}
			// One of each kind of answer first: a bounded set of series.
			sendJunk(h, 64)
			before := seriesCount(t, tc.srv)
			sendJunk(h, 10000)
			if after := seriesCount(t, tc.srv); after != before {
				t.Errorf("%d series before 10,000 junk requests, %d after", before, after)
			}
			mfs, _ := tc.srv.Registry().Gather()
			for _, mf := range mfs {
				for _, m := range mf.GetMetric() {
					for _, l := range m.GetLabel() {
						if strings.Contains(l.GetValue(), "m-") {
							t.Fatalf("%s has a label from a request: %s=%q", mf.GetName(), l.GetName(), l.GetValue())
						}
					}
				}
			}
			if n := testenv.Sum(t, tc.srv.Registry(), llmmetrics.HTTPRequestDuration, llmmetrics.LabelHTTPRoute, "other"); n < 5000 {
				t.Errorf("only %v requests counted under route other", n)
			}
		})
	}
}

// syncBuffer is a log destination the test reads while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestAccessLogAndRequestID: one JSON line per request with the fields the
// README promises; X-Request-Id echoed when sane, generated otherwise.
func TestAccessLogAndRequestID(t *testing.T) {
	var buf syncBuffer
	logger, err := NewLogger(&buf, LogJSON, 0) // info
	if err != nil {
		t.Fatal(err)
	}
	_, hs := startServer(t, func(o *Options) { o.Logger = logger; o.Sim.ITL = 2 * time.Millisecond })
	send := func(method, path, id, body string) *http.Response {
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	r1 := send("POST", "/v1/chat/completions", "trace-abc-123", `{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`)
	r2 := send("POST", "/v1/completions", "bad id with spaces", `{"model":"nope","prompt":"x"}`)
	r3 := send("GET", "/wp-login.php", "", "")
	send("GET", "/metrics", "", "") // Debug: not logged at Info
	if got := r1.Header.Get("X-Request-Id"); got != "trace-abc-123" {
		t.Errorf("incoming X-Request-Id not echoed: %q", got)
	}
	for _, r := range []*http.Response{r2, r3} {
		if id := r.Header.Get("X-Request-Id"); len(id) != 32 || strings.Contains(id, " ") {
			t.Errorf("generated X-Request-Id %q, want 32 hex digits", id)
		}
	}
	var lines []map[string]any
	eventually(t, "three access log lines", func() error {
		lines = nil
		for _, l := range buf.lines() {
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				return fmt.Errorf("not JSON: %s", l)
			}
			lines = append(lines, m)
		}
		if len(lines) != 3 {
			return fmt.Errorf("%d lines: %v", len(lines), buf.lines())
		}
		return nil
	})
	ok, missing, junk := lines[0], lines[1], lines[2]
	for k, want := range map[string]any{"msg": "request", "level": "INFO", "request_id": "trace-abc-123", "route": "/v1/chat/completions",
		"model": "llmmon-sim", "stream": true, "status": 200.0, "error_type": "", "prompt_tokens": 8.0, "output_tokens": 4.0} {
		if ok[k] != want {
			t.Errorf("stream line %s = %v, want %v (%v)", k, ok[k], want, ok)
		}
	}
	for _, k := range []string{"time", "ttft", "duration"} {
		if _, has := ok[k]; !has {
			t.Errorf("stream line has no %s: %v", k, ok)
		}
	}
	// JSON durations are nanoseconds, as slog writes them.
	if ttft, d := ok["ttft"].(float64), ok["duration"].(float64); ttft > d || ttft < float64(2*time.Millisecond) {
		t.Errorf("ttft %v ns, duration %v ns", ttft, d)
	}
	if missing["status"] != 404.0 || missing["error_type"] != "model_not_found" || missing["model"] != "nope" ||
		missing["request_id"] != r2.Header.Get("X-Request-Id") {
		t.Errorf("unknown model line: %v", missing)
	}
	if junk["route"] != "other" || junk["path"] != "/wp-login.php" || junk["status"] != 404.0 {
		t.Errorf("unknown path line: %v", junk)
	}
	if _, has := junk["model"]; has {
		t.Errorf("a non-completion line has completion fields: %v", junk)
	}
}

func TestLoggerOptions(t *testing.T) {
	var buf syncBuffer
	l, err := NewLogger(&buf, LogText, 0)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("request", "route", "/health")
	if got := buf.lines(); len(got) != 1 || !strings.Contains(got[0], "msg=request route=/health") {
		t.Errorf("text line: %q", got)
	}
	if _, err := NewLogger(&buf, "xml", 0); err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Errorf("bad format: %v", err)
	}
	for in, ok := range map[string]bool{"debug": true, "INFO": true, "warn": true, "error": true, "loud": false} {
		if _, err := ParseLogLevel(in); (err == nil) != ok {
			t.Errorf("ParseLogLevel(%q) = %v", in, err)
		}
	}
	// A LogWriter hands lines on when it flushes, and on Close.
	var out syncBuffer
	lw := NewLogWriter(&out, time.Hour)
	fmt.Fprintln(lw, "one")
	if len(out.lines()) != 0 {
		t.Error("written through before a flush")
	}
	lw.Close()
	if got := out.lines(); len(got) != 1 || got[0] != "one" {
		t.Errorf("after Close: %q", got)
	}
	if _, err := lw.Write([]byte("late\n")); err == nil {
		t.Error("write after Close accepted")
	}
}

// newGatewayForTest is llmmon serve --upstream URL/v1, exposing whatever
// the upstream lists.
func newGatewayForTest(url string) (*Server, error) {
	p, err := proxy.New(proxy.Config{Upstreams: []proxy.Upstream{{URL: url + "/v1"}}, Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	o := fastOptions()
	o.Backend = p
	return New(o)
}
