package llmserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// fastOptions are defaults with no simulated delay, for tests.
func fastOptions() Options {
	o := DefaultOptions()
	o.Host = "127.0.0.1"
	o.Port = 0
	o.Sim.PrefillOverhead, o.Sim.PrefillPerToken, o.Sim.ITL, o.Sim.Jitter = 0, 0, 0, 0
	return o
}

func startServer(t *testing.T, mutate func(*Options)) (*Server, *httptest.Server) {
	t.Helper()
	o := fastOptions()
	if mutate != nil {
		mutate(&o)
	}
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
	})
	return srv, hs
}

func sdkClient(hs *httptest.Server, key string) openai.Client {
	if key == "" {
		key = "unused"
	}
	return openai.NewClient(option.WithBaseURL(hs.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// metricValue reads one series from the server's registry; labels are
// name=value pairs.
func metricValue(t *testing.T, srv *Server, name string, labels ...string) float64 {
	t.Helper()
	return testenv.Value(testenv.Series(t, srv.Registry(), name, labels...))
}

func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, f)
}

func TestOpenAISDK(t *testing.T) {
	srv, hs := startServer(t, nil)
	client := sdkClient(hs, "")
	ctx := context.Background()
	tokens := 0.0

	t.Run("chat", func(t *testing.T) {
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:               "llmmon-sim",
			Messages:            []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("Be brief."), openai.UserMessage("Hello!")},
			MaxCompletionTokens: openai.Int(12),
			Seed:                openai.Int(7),
			Temperature:         openai.Float(0.7),
		})
		if err != nil {
			t.Fatal(err)
		}
		c := res.Choices[0]
		if res.Object != "chat.completion" || res.Model != "llmmon-sim" || c.Message.Role != "assistant" ||
			c.Message.Content == "" || c.FinishReason != "length" || res.Usage.CompletionTokens != 12 ||
			res.Usage.PromptTokens == 0 || res.Usage.TotalTokens != res.Usage.PromptTokens+12 {
			t.Fatalf("unexpected response: %s", res.RawJSON())
		}
		tokens += 12
	})
	t.Run("chat stream", func(t *testing.T) {
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:         "llmmon-sim",
			Messages:      []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream please")},
			MaxTokens:     openai.Int(9),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		contentChunks := 0
		for stream.Next() {
			ch := stream.Current()
			acc.AddChunk(ch)
			if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				contentChunks++
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if acc.Usage.CompletionTokens != 9 || contentChunks != 9 || acc.Choices[0].Message.Content == "" ||
			acc.Choices[0].FinishReason != "length" {
			t.Fatalf("usage %+v, %d content chunks, choices %+v", acc.Usage, contentChunks, acc.Choices)
		}
		tokens += 9
	})
	t.Run("completion", func(t *testing.T) {
		res, err := client.Completions.New(ctx, openai.CompletionNewParams{
			Model:     "llmmon-sim",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens: openai.Int(5),
			Stop:      openai.CompletionNewParamsStopUnion{OfString: openai.String("zzz")},
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Object != "text_completion" || res.Choices[0].Text == "" || res.Usage.CompletionTokens != 5 ||
			res.Usage.PromptTokens != 4 || res.Choices[0].FinishReason != "length" {
			t.Fatalf("unexpected response: %s", res.RawJSON())
		}
		tokens += 5
	})
	t.Run("completion stream", func(t *testing.T) {
		stream := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
			Model:     "llmmon-sim",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once upon a time")},
			MaxTokens: openai.Int(6),
		})
		var text strings.Builder
		finish := ""
		for stream.Next() {
			c := stream.Current()
			text.WriteString(c.Choices[0].Text)
			if c.Choices[0].FinishReason != "" {
				finish = string(c.Choices[0].FinishReason)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if text.Len() == 0 || finish != "length" {
			t.Fatalf("text %q, finish %q", text.String(), finish)
		}
		tokens += 6
	})
	t.Run("models and errors", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil || len(page.Data) != 1 || page.Data[0].ID != "llmmon-sim" {
			t.Fatalf("models: %+v, %v", page, err)
		}
		if m, err := client.Models.Get(ctx, "llmmon-sim"); err != nil || m.ID != "llmmon-sim" {
			t.Fatalf("model: %+v, %v", m, err)
		}
		_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
			t.Fatalf("unknown model: %v", err)
		}
	})
	got := metricValue(t, srv, llmmetrics.Tokens, "endpoint", "stream") + metricValue(t, srv, llmmetrics.Tokens, "endpoint", "nonstream")
	if got != tokens {
		t.Errorf("%s = %v, want %v", llmmetrics.Tokens, got, tokens)
	}
}

type errorBody struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func TestBadInput(t *testing.T) {
	srv, hs := startServer(t, func(o *Options) {
		o.MaxBody = 1024
		o.APIKey = "sekret"
		o.Sim.MaxModelLen = 100
	})
	auth := "Bearer sekret"
	big := `{"prompt":"` + strings.Repeat("x", 2000) + `"}`
	for _, tc := range []struct {
		name, method, path, ctype, auth, body string
		status                                int
		typ, code, param                      string
		stream                                bool
	}{
		{"malformed JSON", "POST", "/v1/completions", "application/json", auth, `{"prompt":`, 400, "invalid_request_error", "", "", false},
		{"not an object", "POST", "/v1/completions", "application/json", auth, `[1,2]`, 400, "invalid_request_error", "", "", false},
		{"wrong content type", "POST", "/v1/completions", "text/plain", auth, `{"prompt":"hi"}`, 415, "invalid_request_error", "", "", false},
		{"body over --max-body", "POST", "/v1/completions", "application/json", auth, big, 413, "invalid_request_error", "request_too_large", "", false},
		{"missing prompt", "POST", "/v1/completions", "application/json", auth, `{"model":"llmmon-sim"}`, 400, "invalid_request_error", "", "prompt", false},
		{"empty prompt", "POST", "/v1/completions", "application/json", auth, `{"prompt":""}`, 400, "invalid_request_error", "", "prompt", false},
		{"missing messages", "POST", "/v1/chat/completions", "application/json", auth, `{"model":"llmmon-sim","stream":true}`, 400, "invalid_request_error", "", "messages", true},
		{"bad role", "POST", "/v1/chat/completions", "application/json", auth, `{"messages":[{"role":"robot","content":"x"}]}`, 400, "invalid_request_error", "", "messages[0].role", false},
		{"max_tokens 0", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","max_tokens":0}`, 400, "invalid_request_error", "", "max_tokens", false},
		{"max_tokens negative", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","max_tokens":-5,"stream":true}`, 400, "invalid_request_error", "", "max_tokens", true},
		{"max_tokens a string", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","max_tokens":"many"}`, 400, "invalid_request_error", "", "max_tokens", false},
		{"beyond model length", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","max_tokens":100}`, 400, "invalid_request_error", "context_length_exceeded", "max_tokens", false},
		{"max_completion_tokens 0", "POST", "/v1/chat/completions", "application/json", auth, `{"messages":[{"role":"user","content":"x"}],"max_completion_tokens":0}`, 400, "invalid_request_error", "", "max_completion_tokens", false},
		{"n=2", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","n":2}`, 400, "invalid_request_error", "", "n", false},
		{"temperature 3", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","temperature":3}`, 400, "invalid_request_error", "", "temperature", false},
		{"five stops", "POST", "/v1/completions", "application/json", auth, `{"prompt":"hi","stop":["a","b","c","d","e"]}`, 400, "invalid_request_error", "", "stop", false},
		{"token prompt", "POST", "/v1/completions", "application/json", auth, `{"prompt":[[1,2]]}`, 400, "invalid_request_error", "", "prompt", false},
		{"unknown model", "POST", "/v1/completions", "application/json", auth, `{"model":"gpt-4","prompt":"hi"}`, 404, "invalid_request_error", "model_not_found", "model", false},
		{"wrong method", "GET", "/v1/completions", "", auth, ``, 405, "invalid_request_error", "method_not_allowed", "", false},
		{"unknown path", "POST", "/v1/embeddings", "application/json", auth, `{}`, 404, "invalid_request_error", "unknown_url", "", false},
		{"bad API key", "POST", "/v1/completions", "application/json", "Bearer wrong", `{"prompt":"hi"}`, 401, "invalid_request_error", "invalid_api_key", "", false},
		{"no API key", "POST", "/v1/chat/completions", "application/json", "", `{"messages":[]}`, 401, "invalid_request_error", "invalid_api_key", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			known := tc.path == "/v1/completions" || tc.path == "/v1/chat/completions"
			errType := tc.code
			if errType == "" {
				errType = strconv.Itoa(tc.status)
			}
			route := tc.path
			if !known {
				route = "other"
			}
			reg := srv.Registry()
			genAIBefore := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration, llmmetrics.LabelErrorType, errType)
			genAITotal := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration)
			httpBefore := testenv.Sum(t, reg, llmmetrics.HTTPRequestDuration, llmmetrics.LabelHTTPRoute, route,
				llmmetrics.LabelHTTPMethod, tc.method, llmmetrics.LabelHTTPStatus, strconv.Itoa(tc.status))
			before := metricValue(t, srv, llmmetrics.Requests, "endpoint", ep(tc.stream), "status", "error")
			req, _ := http.NewRequest(tc.method, hs.URL+tc.path, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb errorBody
			if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil {
				t.Fatalf("status %d, body is not an OpenAI error: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || eb.Error.Type != tc.typ || eb.Error.Message == "" ||
				deref(eb.Error.Code) != tc.code || deref(eb.Error.Param) != tc.param {
				t.Errorf("got %d %+v (code %q param %q), want %d %s code %q param %q",
					resp.StatusCode, eb.Error, deref(eb.Error.Code), deref(eb.Error.Param), tc.status, tc.typ, tc.code, tc.param)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			// The client has its answer; the handler counts just after.
			eventually(t, "the request counted in the HTTP metric", func() error {
				if got := testenv.Sum(t, reg, llmmetrics.HTTPRequestDuration, llmmetrics.LabelHTTPRoute, route,
					llmmetrics.LabelHTTPMethod, tc.method, llmmetrics.LabelHTTPStatus, strconv.Itoa(tc.status)); got != httpBefore+1 {
					return fmt.Errorf("http_server_request_duration_seconds{http_route=%q} went %v → %v, want +1", route, httpBefore, got)
				}
				return nil
			})
			// Junk paths, wrong methods and missing keys are not API
			// requests (TestJunkCountsInNoLLMSeries): only the HTTP metric
			// counts them.
			api := known && tc.status != 405 && tc.status != 401
			after := metricValue(t, srv, llmmetrics.Requests, "endpoint", ep(tc.stream), "status", "error")
			genAIAfter := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration, llmmetrics.LabelErrorType, errType)
			switch {
			case !api && (after != before || testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration) != genAITotal):
				t.Errorf("a request that is no API request counted in llm_requests_total (%v → %v) or the GenAI metrics", before, after)
			case api && after != before+1:
				t.Errorf("llm_requests_total{endpoint=%q,status=\"error\"} went %v → %v, want +1", ep(tc.stream), before, after)
			case api && genAIAfter != genAIBefore+1:
				t.Errorf("gen_ai_server_request_duration_seconds{error_type=%q} went %v → %v, want +1", errType, genAIBefore, genAIAfter)
			}
		})
	}
	// Still serving, and nothing left in flight.
	req, _ := http.NewRequest("POST", hs.URL+"/v1/completions", strings.NewReader(`{"prompt":"hi","max_tokens":3}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("good request after bad ones: %v %v", resp, err)
	}
	resp.Body.Close()
	for _, e := range endpoints {
		if v := metricValue(t, srv, llmmetrics.Active, "endpoint", e); v != 0 {
			t.Errorf("llm_active_requests{endpoint=%q} = %v", e, v)
		}
	}
	// /metrics and /health need no key.
	for _, p := range []string{"/metrics", "/health"} {
		resp, err := http.Get(hs.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s without a key: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
}

func ep(stream bool) string {
	if stream {
		return llmmetrics.EndpointStream
	}
	return llmmetrics.EndpointNonStream
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// post sends a JSON body and returns the response.
func post(t *testing.T, ctx context.Context, url, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return nil
	}
	return resp
}

// readStream reads SSE token events of a completions stream. It stops
// after limit tokens (limit < 0: to the end) and reports whether [DONE] came.
func readStream(r io.Reader, limit int) (tokens int, done bool, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			return tokens, true, nil
		}
		var c struct {
			Choices []struct {
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			return tokens, false, err
		}
		if c.Error != nil {
			return tokens, false, errors.New(c.Error.Message)
		}
		if len(c.Choices) == 1 && c.Choices[0].FinishReason == nil {
			tokens++
			if tokens == limit {
				return tokens, false, nil
			}
		}
	}
	return tokens, false, sc.Err()
}

// The five seed metrics count exactly what clients saw, under concurrency,
// with successful, rejected and aborted requests mixed.
func TestMetricsExactUnderConcurrency(t *testing.T) {
	srv, hs := startServer(t, func(o *Options) {
		o.Sim.ITL = 50 * time.Millisecond // aborts land between tokens
		o.Sim.MaxNumSeqs = 8
	})
	url := hs.URL + "/v1/completions"
	const each = 8
	var mu sync.Mutex
	received := map[string]int{}
	add := func(ep string, n int) { mu.Lock(); received[ep] += n; mu.Unlock() }
	var wg sync.WaitGroup
	for i := range each {
		wg.Add(5)
		go func() { // non-streamed success
			defer wg.Done()
			resp := post(t, context.Background(), url, fmt.Sprintf(`{"prompt":"req %d","max_tokens":%d}`, i, 3+i))
			if resp == nil {
				return
			}
			defer resp.Body.Close()
			var body struct {
				Usage struct {
					CompletionTokens int `json:"completion_tokens"`
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 {
				t.Errorf("nonstream: %d %v", resp.StatusCode, err)
			}
			add(llmmetrics.EndpointNonStream, body.Usage.CompletionTokens)
		}()
		go func() { // streamed success
			defer wg.Done()
			resp := post(t, context.Background(), url, fmt.Sprintf(`{"prompt":"req %d","max_tokens":%d,"stream":true}`, i, 2+i))
			if resp == nil {
				return
			}
			defer resp.Body.Close()
			n, done, err := readStream(resp.Body, -1)
			if err != nil || !done || n != 2+i {
				t.Errorf("stream: %d tokens, done %v, %v", n, done, err)
			}
			add(llmmetrics.EndpointStream, n)
		}()
		go func() { // streamed, aborted by the client after 2 tokens
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp := post(t, ctx, url, `{"prompt":"abort me","max_tokens":200,"stream":true}`)
			if resp == nil {
				return
			}
			n, _, err := readStream(resp.Body, 2)
			if err != nil || n != 2 {
				t.Errorf("aborted stream read %d tokens: %v", n, err)
			}
			cancel()
			resp.Body.Close()
			add(llmmetrics.EndpointStream, n)
		}()
		go func() { // rejected, non-streamed
			defer wg.Done()
			if resp := post(t, context.Background(), url, `{"prompt":`); resp != nil {
				resp.Body.Close()
			}
		}()
		go func() { // rejected, streamed
			defer wg.Done()
			if resp := post(t, context.Background(), url, `{"prompt":"x","max_tokens":0,"stream":true}`); resp != nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	eventually(t, "all requests accounted for", func() error {
		for _, e := range endpoints {
			if v := metricValue(t, srv, llmmetrics.Active, "endpoint", e); v != 0 {
				return fmt.Errorf("llm_active_requests{endpoint=%q} = %v", e, v)
			}
		}
		if st := srv.backend.(*sim.Fleet).Stats(); st.Running != 0 || st.Waiting != 0 || st.UsedBlocks != 0 {
			return fmt.Errorf("engine still busy: %+v", st)
		}
		return nil
	})
	want := map[[2]string]float64{
		{llmmetrics.EndpointNonStream, llmmetrics.StatusSuccess}: each,
		{llmmetrics.EndpointNonStream, llmmetrics.StatusError}:   each,
		{llmmetrics.EndpointStream, llmmetrics.StatusSuccess}:    each,
		{llmmetrics.EndpointStream, llmmetrics.StatusError}:      2 * each,
	}
	for k, w := range want {
		if got := metricValue(t, srv, llmmetrics.Requests, "endpoint", k[0], "status", k[1]); got != w {
			t.Errorf("llm_requests_total{endpoint=%q,status=%q} = %v, want %v", k[0], k[1], got, w)
		}
	}
	for _, e := range endpoints {
		total := want[[2]string{e, llmmetrics.StatusSuccess}] + want[[2]string{e, llmmetrics.StatusError}]
		for _, h := range []string{llmmetrics.Duration, llmmetrics.RequestSize} {
			if got := metricValue(t, srv, h, "endpoint", e); got != total {
				t.Errorf("%s{endpoint=%q} count = %v, want %v", h, e, got, total)
			}
		}
		if got := metricValue(t, srv, llmmetrics.Tokens, "endpoint", e); got != float64(received[e]) {
			t.Errorf("llm_tokens_generated_total{endpoint=%q} = %v, clients received %d", e, got, received[e])
		}
	}
	if got := metricValue(t, srv, "vllm:request_success_total", "finished_reason", "abort"); got != each {
		t.Errorf("vllm:request_success_total{finished_reason=abort} = %v, want %d", got, each)
	}
}

func TestQueueFullIs429OverHTTP(t *testing.T) {
	srv, hs := startServer(t, func(o *Options) {
		o.Sim.MaxNumSeqs, o.Sim.MaxQueue = 1, 1
		o.Sim.ITL = 20 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	eng := srv.backend.(*sim.Fleet)
	var wg sync.WaitGroup
	for want := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The waiting request has no response yet when it is cancelled.
			req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/completions",
				strings.NewReader(`{"prompt":"hold","max_tokens":1000,"stream":true}`))
			req.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		eventually(t, "queued", func() error {
			if st := eng.Stats(); st.Running != 1 || st.Waiting != want {
				return fmt.Errorf("%+v", st)
			}
			return nil
		})
	}
	resp := post(t, context.Background(), hs.URL+"/v1/completions", `{"prompt":"one more","max_tokens":5}`)
	var eb errorBody
	json.NewDecoder(resp.Body).Decode(&eb)
	resp.Body.Close()
	if resp.StatusCode != 429 || deref(eb.Error.Code) != "queue_full" {
		t.Fatalf("got %d %+v, want 429 queue_full", resp.StatusCode, eb)
	}
	if got := metricValue(t, srv, llmmetrics.Requests, "endpoint", "nonstream", "status", "error"); got != 1 {
		t.Errorf("429 not counted as an error: %v", got)
	}
	// The server stays responsive while the engine is saturated.
	if r, err := http.Get(hs.URL + "/health"); err != nil || r.StatusCode != 200 {
		t.Fatalf("/health while saturated: %v %v", r, err)
	}
	if v := metricValue(t, srv, "vllm:num_requests_waiting"); v != 1 {
		t.Errorf("vllm:num_requests_waiting = %v", v)
	}
	if v := metricValue(t, srv, "vllm:kv_cache_usage_perc"); v <= 0 {
		t.Errorf("vllm:kv_cache_usage_perc = %v while running", v)
	}
	cancel()
	wg.Wait()
	eventually(t, "KV usage back to 0", func() error {
		if v := metricValue(t, srv, "vllm:kv_cache_usage_perc"); v != 0 {
			return fmt.Errorf("kv = %v", v)
		}
		return nil
	})
}

// A client that leaves mid-stream frees its slot and KV blocks within a
// decode step, is counted as an error, and leaks no goroutine.
func TestClientDisconnect(t *testing.T) {
	srv, hs := startServer(t, func(o *Options) { o.Sim.ITL = 50 * time.Millisecond })
	eng := srv.backend.(*sim.Fleet)
	warm := post(t, context.Background(), hs.URL+"/v1/completions", `{"prompt":"warm","max_tokens":1}`)
	io.Copy(io.Discard, warm.Body)
	warm.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	baseline := runtime.NumGoroutine()

	ctx, cancel := context.WithCancel(context.Background())
	resp := post(t, ctx, hs.URL+"/v1/chat/completions",
		`{"messages":[{"role":"user","content":"talk forever"}],"max_tokens":2000,"stream":true}`)
	sc := bufio.NewScanner(resp.Body)
	for n := 0; n < 4 && sc.Scan(); {
		if strings.HasPrefix(sc.Text(), "data: ") {
			n++
		}
	}
	if st := eng.Stats(); st.Running != 1 || st.UsedBlocks == 0 {
		t.Fatalf("while streaming: %+v", st)
	}
	cancel()
	resp.Body.Close()
	eventually(t, "slot, KV and gauge freed", func() error {
		if st := eng.Stats(); st.Running != 0 || st.UsedBlocks != 0 {
			return fmt.Errorf("engine: %+v", st)
		}
		if v := metricValue(t, srv, llmmetrics.Active, "endpoint", "stream"); v != 0 {
			return fmt.Errorf("llm_active_requests = %v", v)
		}
		return nil
	})
	if v := metricValue(t, srv, llmmetrics.Requests, "endpoint", "stream", "status", "error"); v != 1 {
		t.Errorf("aborted stream counted %v errors, want 1", v)
	}
	if v := metricValue(t, srv, "vllm:generation_tokens_total"); v > 1+3+2 {
		t.Errorf("engine generated %v tokens; it should stop within a step of the client leaving", v)
	}
	http.DefaultClient.CloseIdleConnections()
	eventually(t, "no goroutine leak", func() error {
		if n := runtime.NumGoroutine(); n > baseline {
			return fmt.Errorf("%d goroutines, %d before the stream", n, baseline)
		}
		return nil
	})
}

func TestSeriesExistBeforeTraffic(t *testing.T) {
	_, hs := startServer(t, nil)
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(body)
	for _, series := range []string{
		`llm_requests_total{endpoint="nonstream",status="success"} 0`,
		`llm_requests_total{endpoint="nonstream",status="error"} 0`,
		`llm_requests_total{endpoint="stream",status="success"} 0`,
		`llm_requests_total{endpoint="stream",status="error"} 0`,
		`llm_request_duration_seconds_count{endpoint="nonstream"} 0`,
		`llm_request_duration_seconds_count{endpoint="stream"} 0`,
		`llm_tokens_generated_total{endpoint="stream"} 0`,
		`llm_tokens_generated_total{endpoint="nonstream"} 0`,
		`llm_request_size_bytes_bucket{endpoint="stream",le="1.048576e+06"} 0`,
		`llm_active_requests{endpoint="nonstream"} 0`,
		`llm_active_requests{endpoint="stream"} 0`,
		`llm_prompt_tokens_total{endpoint="stream"} 0`,
		`llm_time_to_first_token_seconds_bucket{endpoint="stream",le="0.001"} 0`,
		`llm_time_per_output_token_seconds_count{endpoint="stream"} 0`,
		`vllm:num_requests_running{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:num_requests_waiting{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:kv_cache_usage_perc{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:prompt_tokens_total{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:generation_tokens_total{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:request_success_total{engine="0",finished_reason="stop",model_name="llmmon-sim"} 0`,
		`vllm:request_success_total{engine="0",finished_reason="length",model_name="llmmon-sim"} 0`,
		`vllm:time_to_first_token_seconds_bucket{engine="0",model_name="llmmon-sim",le="2560"} 0`,
		`vllm:inter_token_latency_seconds_bucket{engine="0",model_name="llmmon-sim",le="80"} 0`,
		`vllm:e2e_request_latency_seconds_bucket{engine="0",model_name="llmmon-sim",le="7680"} 0`,
		`vllm:request_queue_time_seconds_count{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:request_prefill_time_seconds_count{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:request_decode_time_seconds_count{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:request_prompt_tokens_bucket{engine="0",model_name="llmmon-sim",le="2000"} 0`,
		`vllm:request_generation_tokens_count{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:prefix_cache_queries_total{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:prefix_cache_hits_total{engine="0",model_name="llmmon-sim"} 0`,
		`vllm:num_preemptions_total{engine="0",model_name="llmmon-sim"} 0`,
		`gen_ai_server_request_duration_seconds_count{error_type="",gen_ai_operation_name="chat",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim"} 0`,
		`gen_ai_server_request_duration_seconds_bucket{error_type="",gen_ai_operation_name="text_completion",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim",le="81.92"} 0`,
		`gen_ai_server_time_to_first_token_seconds_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim",le="10"} 0`,
		`gen_ai_server_time_per_output_token_seconds_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim",le="2.5"} 0`,
		`gen_ai_client_token_usage_bucket{gen_ai_operation_name="chat",gen_ai_provider_name="llmmon",gen_ai_request_model="llmmon-sim",gen_ai_response_model="llmmon-sim",gen_ai_token_type="output",le="6.7108864e+07"} 0`,
		`llm_model_active_requests{gen_ai_operation_name="text_completion",gen_ai_request_model="llmmon-sim"} 0`,
		`http_server_request_duration_seconds_count{error_type="",http_request_method="POST",http_response_status_code="200",http_route="/v1/chat/completions",url_scheme="http"} 0`,
		`http_server_request_duration_seconds_bucket{error_type="",http_request_method="GET",http_response_status_code="200",http_route="/v1/models/{model}",url_scheme="http",le="10"} 0`,
		"# TYPE gen_ai_client_token_usage histogram",
		"# TYPE llm_request_duration_seconds histogram",
		"# TYPE llm_active_requests gauge",
		"# TYPE vllm:kv_cache_usage_perc gauge",
		"# TYPE vllm:time_to_first_token_seconds histogram",
	} {
		if !strings.Contains(text, series+"\n") {
			t.Errorf("missing before any request: %s", series)
		}
	}
}

// The real promtool accepts the exposition; the only findings are the
// colons vLLM itself puts in its names.
// TestPromtoolCheckMetrics: the real /metrics output, after two models'
// chat and completion requests (streamed and not, some failing), an
// unknown model and an unknown path, holds every family llmmon serve
// exports, and promtool finds nothing in it but vLLM's colons.
func TestPromtoolCheckMetrics(t *testing.T) {
	_, hs := startServer(t, func(o *Options) { o.Model = "alpha,beta"; o.Sim.FailRate = 0.3 })
	for i := range 10 {
		for _, model := range []string{"alpha", "beta", "unknown"} {
			stream := i%2 == 0
			for _, r := range []struct{ path, body string }{
				{"/v1/completions", fmt.Sprintf(`{"model":%q,"prompt":"prompt %d","max_tokens":4,"stream":%t}`, model, i, stream)},
				{"/v1/chat/completions", fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hi %d"}],"max_tokens":4,"stream":%t}`, model, i, stream)},
			} {
				if resp := post(t, context.Background(), hs.URL+r.path, r.body); resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}
	if resp, err := http.Get(hs.URL + "/no/such/path"); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	families := append(llmmetrics.Seed(), llmmetrics.TTFT, llmmetrics.TPOT, llmmetrics.PromptTokens, llmmetrics.ModelActive,
		llmmetrics.GenAIRequestDuration, llmmetrics.GenAITTFT, llmmetrics.GenAITPOT, llmmetrics.GenAITokenUsage, llmmetrics.HTTPRequestDuration,
		llmmetrics.VLLMKVCacheUsage, llmmetrics.VLLMInterTokenLatency, llmmetrics.VLLMPrefixCacheHits, llmmetrics.VLLMPreemptions)
	for _, f := range families {
		if !strings.Contains(string(body), "\n# TYPE "+f+" ") {
			t.Errorf("/metrics has no family %s", f)
		}
	}
	for _, want := range []string{ // a failure of a served model (30% of 40 each), tokens, junk
		`gen_ai_server_request_duration_seconds_count\{error_type="[a-z_]+",[^}]*gen_ai_request_model="alpha"`,
		`gen_ai_client_token_usage_count\{[^}]*gen_ai_request_model="beta",[^}]*gen_ai_token_type="output"\} [1-9]`,
		`http_server_request_duration_seconds_count\{[^}]*http_response_status_code="404",http_route="other"[^}]*\} 1\n`,
	} {
		if !regexp.MustCompile(want).Match(body) {
			t.Errorf("/metrics has no series matching %s", want)
		}
	}
	if strings.Contains(string(body), `"unknown"`) {
		t.Error("a model serve does not expose has series")
	}
	cmd := exec.Command(testenv.Tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	out, _ := cmd.CombinedOutput()
	colon := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "vllm:") && strings.HasSuffix(line, "metric names should not contain ':'") {
			colon++
			continue
		}
		t.Errorf("promtool finding: %s", line)
	}
	if colon < 14 {
		t.Errorf("expected the vllm:* colon findings, got %d:\n%s", colon, out)
	}

	// OpenMetrics when asked for it.
	req, _ := http.NewRequest("GET", hs.URL+"/metrics", nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") ||
		!strings.HasSuffix(string(body), "# EOF\n") {
		t.Errorf("OpenMetrics negotiation: Content-Type %q", ct)
	}
}

func TestSeveralServersInOneProcess(t *testing.T) {
	a, _ := startServer(t, nil)
	b, _ := startServer(t, func(o *Options) { o.Model = "other" })
	if a.Registry() == b.Registry() {
		t.Fatal("servers share a registry")
	}
}

// ReadHeaderTimeout drops a client that never finishes its headers, while a
// stream longer than every timeout still completes.
func TestTimeouts(t *testing.T) {
	o := fastOptions()
	o.ReadHeaderTimeout = 200 * time.Millisecond
	o.BodyReadTimeout = 200 * time.Millisecond
	o.IdleTimeout = 200 * time.Millisecond
	o.Sim.ITL = 40 * time.Millisecond
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("a slow-header client was not dropped: %v", err)
	}

	resp := post(t, context.Background(), "http://"+ln.Addr().String()+"/v1/completions",
		`{"prompt":"long","max_tokens":15,"stream":true}`) // ≥ 600 ms
	defer resp.Body.Close()
	n, done, err := readStream(resp.Body, -1)
	if err != nil || !done || n != 15 {
		t.Fatalf("long stream cut: %d tokens, done %v, %v", n, done, err)
	}
}

// Cancelling Serve's context (SIGTERM in the CLI) lets in-flight streams
// finish, refuses new connections, and returns nil; past ShutdownTimeout
// the remaining streams are cut.
func TestGracefulShutdown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		timeout   time.Duration
		maxTokens int
		complete  bool
	}{
		{"in-flight finish", 10 * time.Second, 20, true},
		{"cut after the deadline", 100 * time.Millisecond, 100000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := fastOptions()
			o.ShutdownTimeout = tc.timeout
			o.Sim.ITL = 20 * time.Millisecond
			o.Sim.MaxModelLen = 200000
			o.Sim.KVBlocks = 200000 / 16
			srv, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ctx, ln) }()

			resp := post(t, context.Background(), "http://"+addr+"/v1/completions",
				fmt.Sprintf(`{"prompt":"drain me","max_tokens":%d,"stream":true}`, tc.maxTokens))
			defer resp.Body.Close()
			n1, _, err := readStream(resp.Body, 2)
			if err != nil || n1 != 2 {
				t.Fatalf("first tokens: %d %v", n1, err)
			}
			cancel()
			eventually(t, "new connections refused", func() error {
				c, err := net.Dial("tcp", addr)
				if err == nil {
					c.Close()
					return errors.New("still accepting")
				}
				return nil
			})
			n2, done, _ := readStream(resp.Body, -1)
			if tc.complete && (!done || n1+n2 != tc.maxTokens) {
				t.Errorf("in-flight stream got %d tokens, done %v; want all %d", n1+n2, done, tc.maxTokens)
			}
			if !tc.complete && done {
				t.Error("stream ran past the shutdown deadline")
			}
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("Serve returned %v, want nil", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
	}
}

// flushCounter is a ResponseWriter that counts explicit flushes.
type flushCounter struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushCounter) Flush() { f.flushes++ }

// A zero-delay engine's whole answer is ready at once: serve sends it with
// the stream's end in one write instead of flushing first (the floor's
// shape in hack/bench-serve.sh). A paced engine's tokens are still flushed
// as they come.
func TestStreamFlushesOnlyWhatWaits(t *testing.T) {
	for _, tt := range []struct {
		itl         time.Duration
		min, max    int
		description string
	}{
		{0, 0, 0, "zero delay: no flush before the end"},
		{2 * time.Millisecond, 15, 16, "2ms per token: a flush per token but the last"},
	} {
		o := fastOptions()
		o.Sim.ITL = tt.itl
		srv, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		w := &flushCounter{ResponseRecorder: httptest.NewRecorder()}
		body := `{"prompt":"Say something about monitoring.","max_tokens":16,"stream":true}`
		req := httptest.NewRequest(http.MethodPost, "/v1/completions", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		srv.Handler().ServeHTTP(w, req)
		srv.Close()
		events := strings.Count(w.Body.String(), "data: ")
		if w.Code != 200 || events != 18 || !strings.HasSuffix(w.Body.String(), "data: [DONE]\n\n") {
			t.Fatalf("%s: status %d, %d events:\n%s", tt.description, w.Code, events, w.Body)
		}
		if w.flushes < tt.min || w.flushes > tt.max {
			t.Errorf("%s: %d flushes, want %d to %d", tt.description, w.flushes, tt.min, tt.max)
		}
	}
}
