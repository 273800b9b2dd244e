package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

type apiError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// decodeError checks a body is an OpenAI-style error and returns it.
func decodeError(t *testing.T, b []byte) apiError {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" || e.Error.Type == "" {
		t.Fatalf("not an OpenAI error body: %s", b)
	}
	return e
}

func code(e apiError) string {
	if e.Error.Code == nil {
		return ""
	}
	return *e.Error.Code
}

// expectCounted waits for the gateway to count one error on ep.
func expectCounted(t *testing.T, gw *llmserver.Server, ep string, errors, successes float64) {
	t.Helper()
	eventually(t, "the error counted", func() error {
		e := metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", "error")
		s := metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", "success")
		if e != errors || s != successes {
			return fmt.Errorf("%s: %v errors, %v successes; want %v and %v", ep, e, s, errors, successes)
		}
		if a := metric(t, gw, llmmetrics.Active, "endpoint", ep); a != 0 {
			return fmt.Errorf("active %s = %v", ep, a)
		}
		return nil
	})
}

// closedPort is a port nothing listens on, and nothing will while the test runs.
func closedPort(t *testing.T) string {
	t.Helper()
	return "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
}

func TestUpstreamRefusedIs502(t *testing.T) {
	upstream := closedPort(t)
	gw, ghs, log := startGatewayLogged(t, upstreamTo(upstream))
	for i, stream := range []bool{false, true} {
		resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions",
			fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":%t}`, stream))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e := decodeError(t, b)
		if resp.StatusCode != 502 || code(e) != "upstream_unreachable" || !strings.Contains(e.Error.Message, "cannot be reached") {
			t.Fatalf("stream=%t: %d %s", stream, resp.StatusCode, b)
		}
		hidesUpstream(t, log, resp, e.Error.Message, strings.TrimPrefix(upstream, "http://"), "refused", "--upstream")
		ep := "nonstream"
		if stream {
			ep = "stream"
		}
		expectCounted(t, gw, ep, 1, 0)
		_ = i
	}
	// /v1/models too.
	resp, err := http.Get(ghs.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("models: %d %s", resp.StatusCode, b)
	}
	decodeError(t, b)
}

func TestUpstreamFirstByteTimeoutIs504(t *testing.T) {
	aborted := make(chan struct{}, 2)
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			aborted <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	})
	cfg := upstreamTo(up.URL)
	cfg.Timeout = 200 * time.Millisecond
	gw, ghs, log := startGatewayLogged(t, cfg)
	for _, stream := range []bool{false, true} {
		resp := post(t, context.Background(), ghs.URL+"/v1/completions", fmt.Sprintf(`{"model":"m","prompt":"hi","stream":%t}`, stream))
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		e := decodeError(t, b)
		if resp.StatusCode != 504 || code(e) != "upstream_timeout" || !strings.Contains(e.Error.Message, "did not answer in time") {
			t.Fatalf("stream=%t: %d %s", stream, resp.StatusCode, b)
		}
		hidesUpstream(t, log, resp, e.Error.Message, strings.TrimPrefix(up.URL, "http://"), "--upstream-timeout")
		select {
		case <-aborted: // the upstream request was cancelled, not left running
		case <-time.After(5 * time.Second):
			t.Fatal("the upstream request was not cancelled after the timeout")
		}
	}
	expectCounted(t, gw, "nonstream", 1, 0)
	expectCounted(t, gw, "stream", 1, 0)
}

func TestUpstreamErrorStatusPassedThrough(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		ct, body    string
		wantType    string
		wantCode    string
		wantMessage string
	}{
		{"vllm-flat", 400, "application/json",
			`{"object":"error","message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.","type":"BadRequestError","param":null,"code":400}`,
			"BadRequestError", "400", "maximum context length is 4096"},
		{"openai-nested", 404, "application/json",
			`{"error":{"message":"The model ` + "`nope`" + ` does not exist.","type":"NotFoundError","param":"model","code":"model_not_found"}}`,
			"NotFoundError", "model_not_found", "does not exist"},
		{"tgi", 422, "application/json", `{"error":"Input validation error: ` + "`inputs`" + ` tokens + ` + "`max_new_tokens`" + ` must be <= 4096","error_type":"validation"}`,
			"invalid_request_error", "validation", "Input validation error"},
		{"ollama", 404, "application/json", `{"error":{"message":"model \"llama9\" not found, try pulling it first","type":"api_error","param":null,"code":null}}`,
			"api_error", "", "try pulling it first"},
		{"overloaded", 429, "application/json", `{"error":{"message":"Too many requests","type":"rate_limit_error","param":null,"code":null}}`,
			"rate_limit_error", "", "Too many requests"},
		{"plain-text-proxy", 503, "text/plain", "upstream connect error or disconnect/reset before headers",
			"server_error", "", "HTTP 503: upstream connect error"},
		{"fastapi", 500, "application/json", `{"detail":"Internal Server Error"}`, "server_error", "", "Internal Server Error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ct)
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			gw, ghs := startGateway(t, upstreamTo(up.URL))
			resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions",
				`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			e := decodeError(t, b)
			if resp.StatusCode != tc.status || e.Error.Type != tc.wantType || code(e) != tc.wantCode ||
				!strings.Contains(e.Error.Message, tc.wantMessage) {
				t.Fatalf("got %d %s", resp.StatusCode, b)
			}
			expectCounted(t, gw, "stream", 1, 0)
		})
	}
}

func TestUpstreamRedirectIs502(t *testing.T) {
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound)
	})
	gw, ghs := startGateway(t, upstreamTo(up.URL))
	resp := post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"m","prompt":"hi"}`)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if e := decodeError(t, b); resp.StatusCode != 502 || code(e) != "upstream_redirect" {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	expectCounted(t, gw, "nonstream", 1, 0)
}

const twoChunks = `data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"one"},"finish_reason":null}]}` + "\n\n" +
	`data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":" two"},"finish_reason":null}]}` + "\n\n"

// TestBrokenStreamEndsWithErrorEvent: an upstream that dies mid-stream
// (connection cut, or a clean close before the end) leaves the client a
// stream that ends with an error event and [DONE].
func TestBrokenStreamEndsWithErrorEvent(t *testing.T) {
	for _, how := range []string{"connection-reset", "closed-early"} {
		t.Run(how, func(t *testing.T) {
			up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(200)
				io.WriteString(w, twoChunks)
				w.(http.Flusher).Flush()
				if how == "connection-reset" {
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						if tc, ok := conn.(*net.TCPConn); ok {
							tc.SetLinger(0) // RST, not FIN
						}
						conn.Close()
					}
				}
			})
			gw, ghs := startGateway(t, upstreamTo(up.URL))
			resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions",
				`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
			evs := readSSE(t, resp.Body, nil)
			resp.Body.Close()
			s := summarize(t, evs)
			if resp.StatusCode != 200 || s.Content != "one two" || len(s.Errors) != 1 || !s.Done {
				t.Fatalf("status %d, summary %+v", resp.StatusCode, s)
			}
			var e apiError
			json.Unmarshal([]byte(`{"error":`+s.Errors[0]+`}`), &e)
			if code(e) != "upstream_broken" || e.Error.Type != "server_error" {
				t.Fatalf("error event %s", s.Errors[0])
			}
			expectCounted(t, gw, "stream", 1, 0)
			if n := metric(t, gw, llmmetrics.Tokens, "endpoint", "stream"); n != 2 {
				t.Errorf("tokens counted %v, want the 2 sent", n)
			}
		})
	}
}

// TestUpstreamErrorEventPassedThrough: an engine that reports a failure
// inside its stream (vLLM does) is passed through as is, and counted.
func TestUpstreamErrorEventPassedThrough(t *testing.T) {
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, twoChunks+
			`data: {"error":{"object":"error","message":"engine died","type":"InternalServerError","param":null,"code":500}}`+"\n\n"+
			"data: [DONE]\n\n")
	})
	gw, ghs := startGateway(t, upstreamTo(up.URL))
	resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions",
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	s := summarize(t, readSSE(t, resp.Body, nil))
	resp.Body.Close()
	if len(s.Errors) != 1 || !strings.Contains(s.Errors[0], "engine died") || !s.Done {
		t.Fatalf("summary %+v", s)
	}
	expectCounted(t, gw, "stream", 1, 0)
}

// TestNonStreamDisconnectCancelsUpstream: a client that gives up on a
// non-streamed answer cancels the upstream request at once.
func TestNonStreamDisconnectCancelsUpstream(t *testing.T) {
	started, aborted := make(chan struct{}), make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			close(aborted)
		case <-time.After(20 * time.Second):
		}
	})
	gw, ghs := startGateway(t, upstreamTo(up.URL))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ghs.URL+"/v1/completions", strings.NewReader(`{"model":"m","prompt":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request finished; it should have been cancelled")
	}
	select {
	case <-aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream never saw the cancellation")
	}
	expectCounted(t, gw, "nonstream", 1, 0)
}

func TestBadBodyRejectedAtGateway(t *testing.T) {
	hits := 0
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) { hits++ })
	gw, ghs := startGateway(t, upstreamTo(up.URL))
	for _, body := range []string{`{"model":`, `[1,2]`, `{"model":5,"prompt":"x"}`, `{"stream":"yes"}`} {
		resp := post(t, context.Background(), ghs.URL+"/v1/completions", body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", body, resp.StatusCode, b)
		}
		decodeError(t, b)
	}
	expectCounted(t, gw, "nonstream", 4, 0)
	if hits != 0 {
		t.Errorf("the upstream got %d bad requests", hits)
	}
}

func TestGatewayAPIKeyAndUpstreamKey(t *testing.T) {
	auth := make(chan string, 4)
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		auth <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"text_completion","model":"m","choices":[{"index":0,"text":"ok","finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	})
	cfg := upstreamTo(up.URL)
	cfg.APIKey = "engine-key"
	_, ghs := startGateway(t, cfg)
	req, _ := http.NewRequest(http.MethodPost, ghs.URL+"/v1/completions", strings.NewReader(`{"model":"m","prompt":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer client-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-auth; got != "Bearer engine-key" {
		t.Errorf("upstream saw Authorization %q", got)
	}

	cfg = upstreamTo(up.URL)
	cfg.ForwardClientAuth = true
	_, ghs = startGateway(t, cfg)
	req, _ = http.NewRequest(http.MethodPost, ghs.URL+"/v1/completions", strings.NewReader(`{"model":"m","prompt":"hi"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer client-key")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-auth; got != "Bearer client-key" {
		t.Errorf("upstream saw Authorization %q", got)
	}
	_ = proxy.DefaultTimeout
}
