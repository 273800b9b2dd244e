package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// startSim starts a second llmmon serve (the simulated engine) as the
// upstream, with no simulated delay unless mutate sets one.
func startSim(t testing.TB, mutate func(*llmserver.Options)) (*llmserver.Server, *httptest.Server) {
	t.Helper()
	o := llmserver.DefaultOptions()
	o.Host, o.Port = "127.0.0.1", 0
	o.Sim.PrefillOverhead, o.Sim.PrefillPerToken, o.Sim.ITL, o.Sim.Jitter = 0, 0, 0, 0
	if mutate != nil {
		mutate(&o)
	}
	srv, err := llmserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs
}

// startGateway starts llmmon serve in gateway mode in front of cfg's
// upstreams.
func startGateway(t testing.TB, cfg proxy.Config) (*llmserver.Server, *httptest.Server) {
	t.Helper()
	srv, hs, _ := startGatewayLogged(t, cfg)
	return srv, hs
}

// accessLog is a gateway's access log, read while the gateway runs.
type accessLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *accessLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// line waits (the log is flushed every 100 ms) for the line of the request
// with this id.
func (l *accessLog) line(t testing.TB, id string) string {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		l.mu.Lock()
		s := l.buf.String()
		l.mu.Unlock()
		for _, ln := range strings.Split(s, "\n") {
			if strings.Contains(ln, "request_id="+id) {
				return ln
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no access log line for request %s in:\n%s", id, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startGatewayLogged is startGateway with its access log.
func startGatewayLogged(t testing.TB, cfg proxy.Config) (*llmserver.Server, *httptest.Server, *accessLog) {
	t.Helper()
	p, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	log := &accessLog{}
	o := llmserver.DefaultOptions()
	o.Host, o.Port = "127.0.0.1", 0
	o.Backend = p
	if o.Logger, err = llmserver.NewLogger(log, "text", slog.LevelInfo); err != nil {
		t.Fatal(err)
	}
	srv, err := llmserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); srv.Close() })
	return srv, hs, log
}

// hidesUpstream checks a gateway error as its client sees it: a message
// without the upstream's address, with the request id to quote, and the
// details in the access log line of that request.
func hidesUpstream(t testing.TB, log *accessLog, resp *http.Response, message, upstream string, inLog ...string) {
	t.Helper()
	id := resp.Header.Get("X-Request-Id")
	if id == "" || strings.Contains(message, upstream) || !strings.Contains(message, "request id "+id) {
		t.Errorf("client message %q (request id %q): want no %s and the request id", message, id, upstream)
	}
	line := log.line(t, id)
	for _, want := range append([]string{upstream}, inLog...) {
		if !strings.Contains(line, want) {
			t.Errorf("access log line lacks %q:\n%s", want, line)
		}
	}
}

func upstreamTo(url string) proxy.Config {
	return proxy.Config{Upstreams: []proxy.Upstream{{URL: url + "/v1"}}, Timeout: 10 * time.Second}
}

// series finds one series of a metric in srv's registry; labels are
// name=value pairs.
func series(t *testing.T, srv *llmserver.Server, name string, labels ...string) *dto.Metric {
	t.Helper()
	return testenv.Series(t, srv.Registry(), name, labels...)
}

// metric is a counter's or gauge's value, or a histogram's sample count.
func metric(t *testing.T, srv *llmserver.Server, name string, labels ...string) float64 {
	t.Helper()
	return testenv.Value(series(t, srv, name, labels...))
}

func histogramMean(t *testing.T, srv *llmserver.Server, name string, labels ...string) float64 {
	t.Helper()
	h := series(t, srv, name, labels...).GetHistogram()
	if h.GetSampleCount() == 0 {
		t.Fatalf("%s%v: no samples", name, labels)
	}
	return h.GetSampleSum() / float64(h.GetSampleCount())
}

func post(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sseEvent is one event as the client received it.
type sseEvent struct {
	Data string
	At   time.Time
}

// chunk is the part of a stream chunk the tests look at.
type chunk struct {
	Model   string `json:"model"`
	Choices []struct {
		Text  *string `json:"text"`
		Delta struct {
			Content *string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error json.RawMessage `json:"error"`
}

func (c chunk) content() string {
	var b strings.Builder
	for _, ch := range c.Choices {
		if ch.Text != nil {
			b.WriteString(*ch.Text)
		}
		if ch.Delta.Content != nil {
			b.WriteString(*ch.Delta.Content)
		}
	}
	return b.String()
}

// readSSE reads a whole stream, stamping each event's arrival; onEvent,
// if set, is called as each arrives.
func readSSE(t *testing.T, r io.Reader, onEvent func(sseEvent)) []sseEvent {
	t.Helper()
	var out []sseEvent
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var data bytes.Buffer
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if data.Len() > 0 {
				ev := sseEvent{Data: data.String(), At: time.Now()}
				out = append(out, ev)
				if onEvent != nil {
					onEvent(ev)
				}
				data.Reset()
			}
			continue
		}
		if d, ok := strings.CutPrefix(line, "data:"); ok {
			data.WriteString(strings.TrimPrefix(d, " "))
		}
	}
	return out
}

// summary is what a client saw of a stream.
type summary struct {
	Content       string
	ContentEvents int
	Usage         *chunk
	Done          bool
	Errors        []string
	Models        map[string]bool
}

func summarize(t *testing.T, evs []sseEvent) summary {
	t.Helper()
	s := summary{Models: map[string]bool{}}
	for _, ev := range evs {
		if ev.Data == "[DONE]" {
			s.Done = true
			continue
		}
		var c chunk
		if err := json.Unmarshal([]byte(ev.Data), &c); err != nil {
			t.Fatalf("event is not JSON: %q", ev.Data)
		}
		if len(c.Error) > 0 {
			s.Errors = append(s.Errors, string(c.Error))
			continue
		}
		if c.Model != "" {
			s.Models[c.Model] = true
		}
		if txt := c.content(); txt != "" {
			s.Content += txt
			s.ContentEvents++
		}
		if c.Usage != nil {
			cc := c
			s.Usage = &cc
		}
	}
	return s
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, f)
}

// newFakeUpstream serves h as an engine's OpenAI API under /v1. Its
// GET /v1/models, which the gateway reads in the background, answers 404
// without reaching h, as from an engine that lists nothing.
func newFakeUpstream(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
			http.NotFound(w, r)
			return
		}
		// Read the body first, as engines do: only then does net/http
		// notice a client (the gateway) hanging up and cancel r.Context().
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		h(w, r)
	}))
	t.Cleanup(hs.Close)
	return hs
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
