package load

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
)

// fakeServer is a minimal OpenAI-compatible server with exact pacing, so the
// generator's measurements can be checked against known delays.
type fakeServer struct {
	ttft, itl time.Duration
	tokens    int  // tokens per answer (max_tokens when 0)
	noUsage   bool // never send usage
	failEvery int  // every Nth completion request answers 500
	midError  bool // stream an error chunk after the first token
	notSSE    bool // answer a streamed request with plain JSON
	apiKey    string
	tls       bool // serve https; start sets client to one that trusts it
	client    *http.Client

	requests, ok, failed atomic.Int64
	mu                   sync.Mutex
	bodies               []map[string]any
}

func (f *fakeServer) start(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		if !f.authorized(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"object":"list","data":[{"id":"fake-model","object":"model"},{"id":"other"}]}`)
	})
	mux.HandleFunc("POST /v1/completions", f.complete)
	mux.HandleFunc("POST /v1/chat/completions", f.complete)
	var srv *httptest.Server
	if f.tls {
		srv = httptest.NewTLSServer(mux)
		f.client = srv.Client()
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

// options for a quick run against f, over net/http when f serves https.
func (f *fakeServer) options(t *testing.T) Options {
	o := quickOptions(f.start(t))
	if f.client != nil {
		o.Transport = f.client.Transport
	}
	return o
}

func (f *fakeServer) authorized(w http.ResponseWriter, r *http.Request) bool {
	if f.apiKey != "" && r.Header.Get("Authorization") != "Bearer "+f.apiKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"message":"invalid api key","type":"invalid_request_error"}}`)
		return false
	}
	return true
}

func (f *fakeServer) complete(w http.ResponseWriter, r *http.Request) {
	if !f.authorized(w, r) {
		return
	}
	n := f.requests.Add(1)
	var req map[string]any
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.bodies = append(f.bodies, req)
	f.mu.Unlock()
	if f.failEvery > 0 && n%int64(f.failEvery) == 0 {
		f.failed.Add(1)
		http.Error(w, `{"error":{"message":"injected failure"}}`, http.StatusInternalServerError)
		return
	}
	chat := strings.HasSuffix(r.URL.Path, "/chat/completions")
	tokens := f.tokens
	if tokens == 0 {
		tokens = int(req["max_tokens"].(float64))
	}
	stream, _ := req["stream"].(bool)
	usage := fmt.Sprintf(`{"prompt_tokens":5,"completion_tokens":%d,"total_tokens":%d}`, tokens, tokens+5)
	if !stream || f.notSSE {
		time.Sleep(f.ttft + time.Duration(tokens-1)*f.itl)
		text := strings.TrimSpace(strings.Repeat("word ", tokens))
		w.Header().Set("Content-Type", "application/json")
		u := ""
		if !f.noUsage {
			u = `,"usage":` + usage
		}
		if chat {
			fmt.Fprintf(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":%q}}]%s}`, text, u)
		} else {
			fmt.Fprintf(w, `{"object":"text_completion","choices":[{"index":0,"text":%q}]%s}`, text, u)
		}
		f.ok.Add(1)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	if chat {
		fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n")
		fl.Flush()
	}
	time.Sleep(f.ttft)
	for i := range tokens {
		if i > 0 {
			time.Sleep(f.itl)
		}
		if chat {
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"finish_reason\":null}]}\n\n")
		} else {
			fmt.Fprint(w, "data: {\"choices\": [{\"index\": 0, \"text\": \" word\"}]}\n\n")
		}
		fl.Flush()
		if f.midError {
			fmt.Fprint(w, "data: {\"error\":{\"message\":\"engine died\",\"code\":500}}\n\n")
			f.failed.Add(1)
			return
		}
	}
	if opts, _ := req["stream_options"].(map[string]any); opts["include_usage"] == true && !f.noUsage {
		fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":%s}\n\n", usage)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	f.ok.Add(1)
}

func quickOptions(url string) Options {
	o := DefaultOptions()
	o.URL = url
	o.MaxTokens = 8
	o.PromptTokens = Range{Min: 4, Max: 4}
	o.Requests = 20
	o.Concurrency = 4
	o.Timeout = 30 * time.Second
	return o
}

// The measured TTFT and ITL are those the server was paced at: never less,
// and not much more (loopback and scheduling only).
func TestRunStreamedMeasuresServerPacing(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		tls      bool
	}{{EndpointChat, false}, {EndpointCompletions, false}, {EndpointChat, true}, {EndpointCompletions, true}} {
		endpoint := tc.endpoint
		t.Run(fmt.Sprintf("%s tls=%v", endpoint, tc.tls), func(t *testing.T) {
			f := &fakeServer{ttft: 60 * time.Millisecond, itl: 15 * time.Millisecond, tls: tc.tls}
			o := f.options(t)
			o.Endpoint = endpoint
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests.Sent != 20 || r.Requests.Succeeded != 20 || f.requests.Load() != 20 {
				t.Fatalf("requests %+v, server saw %d", r.Requests, f.requests.Load())
			}
			if r.Model != "fake-model" || r.OutputTokens != 20*8 || r.InputTokens != 20*5 {
				t.Errorf("model %q, tokens out %d in %d", r.Model, r.OutputTokens, r.InputTokens)
			}
			inRange(t, "TTFT p50", r.TTFT.P50, 0.060, 0.060+0.045)
			inRange(t, "TTFT p99", r.TTFT.P99, 0.060, 0.060+0.150)
			inRange(t, "ITL p50", r.ITL.P50, 0.015, 0.015+0.015)
			inRange(t, "E2E p50", r.E2E.P50, 0.060+7*0.015, 0.060+7*0.015+0.120)
			if r.ITL.Count != 20*7 || r.TTFT.Count != 20 || r.E2E.Count != 20 {
				t.Errorf("sample counts: ttft %d itl %d e2e %d", r.TTFT.Count, r.ITL.Count, r.E2E.Count)
			}
			// The request the server got is OpenAI-shaped.
			body := f.bodies[0]
			if body["model"] != "fake-model" || body["max_tokens"] != 8.0 || body["stream"] != true {
				t.Errorf("request body %v", body)
			}
			var prompt string
			if endpoint == EndpointChat {
				prompt = body["messages"].([]any)[0].(map[string]any)["content"].(string)
			} else {
				prompt = body["prompt"].(string)
			}
			if n := len(strings.Fields(prompt)); n != 4 {
				t.Errorf("prompt has %d words, want 4: %q", n, prompt)
			}
		})
	}
}

func inRange(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	if got < lo || got > hi {
		t.Errorf("%s = %.1fms, want %.1f..%.1fms", what, got*1000, lo*1000, hi*1000)
	}
}

func TestRunNotStreamed(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		noUsage  bool
		tls      bool
	}{{EndpointChat, false, false}, {EndpointCompletions, false, false}, {EndpointChat, true, false},
		{EndpointCompletions, true, false}, {EndpointChat, false, true}, {EndpointCompletions, true, true}} {
		t.Run(fmt.Sprintf("%s usage=%v tls=%v", tt.endpoint, !tt.noUsage, tt.tls), func(t *testing.T) {
			f := &fakeServer{ttft: 20 * time.Millisecond, itl: 5 * time.Millisecond, noUsage: tt.noUsage, tls: tt.tls}
			o := f.options(t)
			o.Endpoint, o.Stream, o.Requests = tt.endpoint, false, 8
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests.Succeeded != 8 || r.TTFT != nil || r.ITL != nil || r.E2E.Count != 8 {
				t.Fatalf("requests %+v ttft %v itl %v e2e %+v", r.Requests, r.TTFT, r.ITL, r.E2E)
			}
			// "word word ..." is 8 tokens by usage, and by cl100k without it.
			if r.OutputTokens != 8*8 {
				t.Errorf("output tokens = %d, want 64", r.OutputTokens)
			}
			inRange(t, "E2E p50", r.E2E.P50, 0.020+7*0.005, 0.020+7*0.005+0.060)
			if f.bodies[0]["stream"] != false {
				t.Errorf("stream not false: %v", f.bodies[0])
			}
		})
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	f := &fakeServer{failEvery: 4, tokens: 3}
	o := quickOptions(f.start(t))
	o.Requests = 40
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Succeeded != int(f.ok.Load()) || r.Requests.Failed != int(f.failed.Load()) || r.Requests.Failed != 10 {
		t.Fatalf("report %+v, server ok %d failed %d", r.Requests, f.ok.Load(), f.failed.Load())
	}
	if len(r.Errors) != 1 || r.Errors[0].Status != "500" || r.Errors[0].Count != 10 || !strings.Contains(r.Errors[0].Example, "injected failure") {
		t.Fatalf("errors = %+v", r.Errors)
	}
	if r.ErrorRatio != 0.25 {
		t.Errorf("error ratio = %v", r.ErrorRatio)
	}
}

func TestRunStreamFailures(t *testing.T) {
	for _, tt := range []struct {
		name   string
		f      *fakeServer
		status string
	}{
		{"error chunk mid-stream", &fakeServer{tokens: 4, midError: true}, "stream_error"},
		{"JSON instead of a stream", &fakeServer{tokens: 4, notSSE: true}, "bad_response"},
		{"error chunk mid-stream over net/http", &fakeServer{tokens: 4, midError: true, tls: true}, "stream_error"},
		{"JSON instead of a stream over net/http", &fakeServer{tokens: 4, notSSE: true, tls: true}, "bad_response"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.f.options(t)
			o.Requests = 5
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests.Failed != 5 || len(r.Errors) != 1 || r.Errors[0].Status != tt.status || r.ErrorRatio != 1 {
				t.Fatalf("requests %+v errors %+v", r.Requests, r.Errors)
			}
		})
	}
}

// The open loop keeps its arrival rate when every answer is slow: a closed
// loop with the same in-flight count would fall far behind.
func TestRateModeAchievesRateAgainstSlowServer(t *testing.T) {
	f := &fakeServer{ttft: 100 * time.Millisecond, itl: 20 * time.Millisecond, tokens: 6}
	o := quickOptions(f.start(t))
	o.Rate, o.Requests, o.Duration, o.Seed = 40, 0, 3*time.Second, 7
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Mode != "rate" || r.Requests.Dropped != 0 || r.Requests.Failed != 0 {
		t.Fatalf("report %+v", r.Requests)
	}
	sent := float64(r.Requests.Sent) / 3
	if sent < 40*0.8 || sent > 40*1.2 {
		t.Errorf("sent %.1f req/s, want about 40 (%d in 3s)", sent, r.Requests.Sent)
	}
	if int64(r.Requests.Sent) != f.requests.Load() {
		t.Errorf("report sent %d, server saw %d", r.Requests.Sent, f.requests.Load())
	}
	if r.SendRate < 40*0.8 || r.SendRate > 40*1.2 {
		t.Errorf("send rate %.1f/s, want about 40", r.SendRate)
	}
}

func TestRateModeDropsOverMaxInFlight(t *testing.T) {
	f := &fakeServer{ttft: 300 * time.Millisecond, tokens: 1}
	o := quickOptions(f.start(t))
	o.Rate, o.MaxInFlight, o.Requests = 200, 2, 60
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Dropped == 0 || r.Requests.Sent+r.Requests.Dropped != 60 || int64(r.Requests.Sent) != f.requests.Load() {
		t.Fatalf("requests %+v, server saw %d", r.Requests, f.requests.Load())
	}
}

func TestCancelStopsEarlyAndReports(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) { testCancel(t, tls) })
	}
}

func testCancel(t *testing.T, tls bool) {
	f := &fakeServer{itl: 100 * time.Millisecond, tokens: 3, tls: tls}
	o := f.options(t)
	o.Requests, o.Duration, o.Concurrency = 0, time.Hour, 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o.ProgressEvery = 50 * time.Millisecond
	var progress atomic.Int64
	o.Progress = func(p Progress) {
		progress.Add(1)
		if p.Done >= 4 {
			cancel() // like Ctrl-C: two requests are in flight
		}
	}
	start := time.Now()
	r, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 20*time.Second {
		t.Fatal("cancel did not stop the run")
	}
	// Only requests in flight at the cancel are cancelled; none start after.
	if !r.Interrupted || r.Requests.Succeeded < 4 || r.Requests.Cancelled < 1 || r.Requests.Cancelled > 2 || progress.Load() == 0 {
		t.Fatalf("interrupted %v, requests %+v, progress calls %d", r.Interrupted, r.Requests, progress.Load())
	}
	if r.Requests.Failed != 0 || r.E2E.Count != r.Requests.Succeeded {
		t.Errorf("cancelled requests counted as errors or samples: %+v %+v", r.Requests, r.Errors)
	}
	if int64(r.Requests.Sent) != f.requests.Load() {
		t.Errorf("report sent %d, server saw %d", r.Requests.Sent, f.requests.Load())
	}
}

func TestPreflightErrors(t *testing.T) {
	closed := fmt.Sprintf("http://127.0.0.1:%d/v1", testenv.FreePort(t))
	keyed := (&fakeServer{apiKey: "sk-right"}).start(t)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>It works!</body></html>")
	}))
	t.Cleanup(html.Close)
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[]}`)
	}))
	t.Cleanup(empty.Close)
	notFound := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(notFound.Close)

	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"unreachable", func(o *Options) { o.URL = closed }, "cannot reach " + closed + ": connection refused; start the server or pass --url"},
		{"no key", func(o *Options) { o.URL = keyed }, "answered 401 Unauthorized: the server wants an API key; pass --api-key"},
		{"wrong key", func(o *Options) { o.URL, o.APIKey = keyed, "sk-wrong" }, "the server refused the API key; check --api-key"},
		{"html", func(o *Options) { o.URL = html.URL + "/v1" }, `is not an OpenAI-compatible API: it answered text/html "<html><body>It works!</body></html>" instead of a model list`},
		{"not found", func(o *Options) { o.URL = notFound.URL }, "/models answered 404: not an OpenAI-compatible API; --url must be the API base"},
		{"no models", func(o *Options) { o.URL = empty.URL + "/v1" }, "lists no models; pass --model"},
		{"bad url", func(o *Options) { o.URL = "localhost:8000" }, `invalid --url "localhost:8000"`},
		{"bad endpoint", func(o *Options) { o.Endpoint = "embeddings" }, `invalid --endpoint "embeddings": want chat or completions`},
		{"no stop", func(o *Options) { o.Requests = 0 }, "no stopping point"},
		{"bad rate", func(o *Options) { o.Rate = -1 }, "invalid --rate -1"},
		{"api key with a line break", func(o *Options) { o.APIKey = "sk\r\nX-Evil: 1" }, "invalid --api-key: it contains a line break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := quickOptions("http://127.0.0.1:1/v1")
			tt.edit(&o)
			_, err := Run(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
	// With the right key the same server is loaded, and --model needs no list.
	o := quickOptions(keyed)
	o.APIKey, o.Requests = "sk-right", 2
	if r, err := Run(context.Background(), o); err != nil || r.Requests.Succeeded != 2 {
		t.Fatalf("right key: %v %+v", err, r)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{"128": {128, 128}, "64-256": {64, 256}, " 1 - 2 ": {1, 2}} {
		if got, err := ParseRange(in); err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0", "-5", "256-64", "a-b", "1-", "10-x"} {
		if _, err := ParseRange(in); err == nil {
			t.Errorf("ParseRange(%q) accepted", in)
		}
	}
}

func TestPromptLengthRange(t *testing.T) {
	f := &fakeServer{tokens: 1}
	o := quickOptions(f.start(t))
	o.PromptTokens, o.Endpoint, o.Requests = Range{Min: 3, Max: 6}, EndpointCompletions, 60
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, b := range f.bodies {
		n := len(strings.Fields(b["prompt"].(string)))
		if n < 3 || n > 6 {
			t.Fatalf("prompt of %d words outside 3-6", n)
		}
		seen[n] = true
	}
	if len(seen) < 3 {
		t.Errorf("prompt lengths not spread over the range: %v", seen)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/report.schema")

// The JSON report is a contract for scripts: every field, its type and
// nothing else, checked against testdata/report.schema.
func TestReportJSONSchema(t *testing.T) {
	f := &fakeServer{failEvery: 5, tokens: 3}
	o := quickOptions(f.start(t))
	o.Requests = 10
	o.SLOTTFT, o.SLOTPOT = time.Second, time.Second // goodput is an object
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var lines []string
	schemaOf("", v, &lines)
	slices.Sort(lines)
	lines = slices.Compact(lines)
	got := strings.Join(lines, "\n") + "\n"
	golden := filepath.Join("testdata", "report.schema")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestReportJSONSchema -update)", err)
	}
	if got != string(want) {
		t.Errorf("JSON report schema changed; if intended, run with -update and note it in README\ngot:\n%s\nwant:\n%s", got, want)
	}
	// Values agree with each other.
	q := r.Requests
	if q.Sent != q.Succeeded+q.Failed+q.Cancelled || q.Failed != 2 || r.Errors[0].Count != 2 || r.E2E.Count != q.Succeeded {
		t.Errorf("inconsistent report: %+v %+v", q, r.Errors)
	}
	if !(r.TTFT.P50 <= r.TTFT.P90 && r.TTFT.P90 <= r.TTFT.P95 && r.TTFT.P95 <= r.TTFT.P99 && r.TTFT.P99 <= r.TTFT.Max) {
		t.Errorf("percentiles out of order: %+v", r.TTFT)
	}
}

// schemaOf lists "path type" for every value in v.
func schemaOf(path string, v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		if path == "" {
			*out = append(*out, "$ object")
		} else {
			*out = append(*out, path+" object")
		}
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			schemaOf(p, e, out)
		}
	case []any:
		*out = append(*out, path+" array")
		for _, e := range x {
			schemaOf(path+"[]", e, out)
		}
	case string:
		*out = append(*out, path+" string")
	case float64:
		*out = append(*out, path+" number")
	case bool:
		*out = append(*out, path+" bool")
	case nil:
		*out = append(*out, path+" null")
	}
}

func TestFixedPrompt(t *testing.T) {
	f := &fakeServer{tokens: 1}
	o := f.options(t)
	o.Prompt, o.Endpoint, o.Requests = "Say \"something\" about monitoring.\n", EndpointCompletions, 3
	if _, err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, b := range f.bodies {
		if b["prompt"] != o.Prompt {
			t.Fatalf("prompt = %q, want %q", b["prompt"], o.Prompt)
		}
	}
}
