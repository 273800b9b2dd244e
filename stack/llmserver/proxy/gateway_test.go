package proxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// TestExactCountersAgainstServe sends a mix of requests through the gateway
// to a second llmmon serve, concurrently, and checks the gateway counted
// exactly what was sent and received — and agrees with the upstream's own
// counters.
func TestExactCountersAgainstServe(t *testing.T) {
	up, uhs := startSim(t, nil)
	gw, ghs := startGateway(t, upstreamTo(uhs.URL))

	type want struct{ ok, fail int }
	var mu sync.Mutex
	counts := map[string]*want{"stream": {}, "nonstream": {}}
	tokensSeen := 0
	var wg sync.WaitGroup
	const n = 48
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chat, stream, usage := i%2 == 0, i%3 != 0, i%4 == 1
			maxTok := 2 + i%7
			model := `"llmmon-sim"`
			bad := ""
			switch i % 8 {
			case 5:
				bad = "gateway" // unknown model: rejected at the gateway (404)
				model = `"no-such-model"`
			case 7:
				bad = "upstream" // n=2: the upstream's 400, passed through
			}
			body := fmt.Sprintf(`{"model":%s,"max_tokens":%d,"stream":%t`, model, maxTok, stream)
			if chat {
				body += `,"messages":[{"role":"user","content":"count me"}]`
			} else {
				body += `,"prompt":"count me"`
			}
			if usage && stream {
				body += `,"stream_options":{"include_usage":true}`
			}
			if bad == "upstream" {
				body += `,"n":2`
			}
			body += "}"
			path := "/v1/completions"
			if chat {
				path = "/v1/chat/completions"
			}
			resp := post(t, context.Background(), ghs.URL+path, body)
			defer resp.Body.Close()
			ep := "nonstream"
			if stream {
				ep = "stream"
			}
			got := 0
			ok := resp.StatusCode == 200
			if ok && stream {
				s := summarize(t, readSSE(t, resp.Body, nil))
				got = s.ContentEvents
				if (s.Usage != nil) != usage || !s.Done || len(s.Errors) > 0 {
					t.Errorf("request %d: usage chunk %v (asked %v), done %v, errors %v", i, s.Usage != nil, usage, s.Done, s.Errors)
				}
				if s.Usage != nil && s.Usage.Usage.CompletionTokens != got {
					t.Errorf("request %d: usage says %d tokens, %d content chunks", i, s.Usage.Usage.CompletionTokens, got)
				}
			} else if ok {
				var r struct {
					Usage struct {
						CompletionTokens int `json:"completion_tokens"`
					} `json:"usage"`
				}
				b, _ := io.ReadAll(resp.Body)
				json.Unmarshal(b, &r)
				got = r.Usage.CompletionTokens
			} else {
				io.Copy(io.Discard, resp.Body)
			}
			if ok == (bad != "") {
				t.Errorf("request %d (%s, bad=%q): status %d", i, body, bad, resp.StatusCode)
			}
			if ok && got != maxTok {
				t.Errorf("request %d: %d tokens, want %d", i, got, maxTok)
			}
			mu.Lock()
			defer mu.Unlock()
			if ok {
				counts[ep].ok++
			} else {
				counts[ep].fail++
			}
			tokensSeen += got
		}()
	}
	wg.Wait()
	// A handler counts after its last write, so the client can be a moment
	// ahead of the counters.
	eventually(t, "every request counted", func() error {
		total := 0.0
		for _, ep := range []string{"stream", "nonstream"} {
			for _, st := range []string{"success", "error"} {
				total += metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", st)
			}
		}
		if total != n {
			return fmt.Errorf("%v of %d counted", total, n)
		}
		return nil
	})
	for ep, w := range counts {
		if got := metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", "success"); got != float64(w.ok) {
			t.Errorf("gateway %s successes = %v, sent %d", ep, got, w.ok)
		}
		if got := metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", "error"); got != float64(w.fail) {
			t.Errorf("gateway %s errors = %v, sent %d", ep, got, w.fail)
		}
		if got := metric(t, gw, llmmetrics.Active, "endpoint", ep); got != 0 {
			t.Errorf("gateway active %s = %v", ep, got)
		}
		if got := metric(t, gw, llmmetrics.RequestSize, "endpoint", ep); got != float64(w.ok+w.fail) {
			t.Errorf("gateway request sizes observed for %s = %v, want %d", ep, got, w.ok+w.fail)
		}
	}
	gwTokens := metric(t, gw, llmmetrics.Tokens, "endpoint", "stream") + metric(t, gw, llmmetrics.Tokens, "endpoint", "nonstream")
	upTokens := metric(t, up, llmmetrics.Tokens, "endpoint", "stream") + metric(t, up, llmmetrics.Tokens, "endpoint", "nonstream")
	if gwTokens != float64(tokensSeen) || upTokens != gwTokens {
		t.Errorf("tokens: gateway counted %v, upstream %v, clients received %d", gwTokens, upTokens, tokensSeen)
	}
	for _, ep := range []string{"stream", "nonstream"} {
		g, u := metric(t, gw, llmmetrics.PromptTokens, "endpoint", ep), metric(t, up, llmmetrics.PromptTokens, "endpoint", ep)
		if g != u || g == 0 {
			t.Errorf("prompt tokens %s: gateway %v, upstream %v", ep, g, u)
		}
	}
	// Gateway mode serves no engine metrics: those come from the engine.
	mfs, _ := gw.Registry().Gather()
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "vllm:") {
			t.Errorf("gateway registers %s", mf.GetName())
		}
	}
}

// TestTTFTMatchesUpstream: the gateway's time to first token is the
// upstream's configured TTFT plus little.
func TestTTFTMatchesUpstream(t *testing.T) {
	const ttft = 150 * time.Millisecond
	up, uhs := startSim(t, func(o *llmserver.Options) { o.Sim.TTFT = ttft; o.Sim.ITL = 5 * time.Millisecond })
	gw, ghs := startGateway(t, upstreamTo(uhs.URL))
	const n = 6
	for range n {
		resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions",
			`{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`)
		readSSE(t, resp.Body, nil)
		resp.Body.Close()
	}
	sec := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	mean := sec(histogramMean(t, gw, llmmetrics.TTFT, "endpoint", "stream"))
	upMean := sec(histogramMean(t, up, llmmetrics.TTFT, "endpoint", "stream"))
	// The gateway sees the upstream's TTFT plus its own hop. The bound on
	// the hop only guards against gross error (buffering would add the
	// whole generation) on a loaded CI machine.
	if mean < ttft || mean-upMean > 250*time.Millisecond {
		t.Errorf("gateway TTFT mean %s; upstream's configured %s, measured %s", mean, ttft, upMean)
	}
	if got := metric(t, gw, llmmetrics.TPOT, "endpoint", "stream"); got != n {
		t.Errorf("TPOT observed %v times, want %d", got, n)
	}
}

// TestStreamChunksArriveIncrementally: chunks reach the client while the
// upstream is still generating.
func TestStreamChunksArriveIncrementally(t *testing.T) {
	const itl = 50 * time.Millisecond
	const n = 8
	_, uhs := startSim(t, func(o *llmserver.Options) { o.Sim.ITL = itl })
	_, ghs := startGateway(t, upstreamTo(uhs.URL))
	resp := post(t, context.Background(), ghs.URL+"/v1/completions",
		fmt.Sprintf(`{"model":"llmmon-sim","prompt":"tick","max_tokens":%d,"stream":true}`, n))
	defer resp.Body.Close()
	var times []time.Time
	for _, ev := range readSSE(t, resp.Body, nil) {
		var c chunk
		if json.Unmarshal([]byte(ev.Data), &c) == nil && c.content() != "" {
			times = append(times, ev.At)
		}
	}
	if len(times) != n {
		t.Fatalf("%d content events, want %d", len(times), n)
	}
	// Buffered, all would arrive at once; passed through, they are spread
	// over the generation (n-1 decode steps of itl each). A quarter leaves
	// room for a loaded machine; TestStreamNotBuffered proves it exactly.
	if spread := times[n-1].Sub(times[0]); spread < time.Duration(n-1)*itl/4 {
		t.Errorf("content events arrived within %s; the upstream spent ~%s generating them", spread, time.Duration(n-1)*itl)
	}
}

// TestStreamNotBuffered proves it without timing: the upstream sends its
// next chunk only after the client has received the previous one through
// the gateway. A gateway that buffered would deadlock here.
func TestStreamNotBuffered(t *testing.T) {
	received := make(chan int)
	upstream := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fl := w.(http.Flusher)
		for i := range 5 {
			fmt.Fprintf(w, `data: {"id":"c","object":"text_completion","model":"m","choices":[{"index":0,"text":"t%d","finish_reason":null}]}`+"\n\n", i)
			fl.Flush()
			select {
			case got := <-received:
				if got != i {
					t.Errorf("client got chunk %d, sent %d", got, i)
				}
			case <-r.Context().Done():
				return
			case <-time.After(10 * time.Second):
				t.Errorf("chunk %d never reached the client: the gateway holds it back", i)
				return
			}
		}
		io.WriteString(w, `data: {"id":"c","object":"text_completion","model":"m","choices":[{"index":0,"text":"","finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	})
	_, ghs := startGateway(t, upstreamTo(upstream.URL))
	resp := post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"m","prompt":"x","stream":true}`)
	defer resp.Body.Close()
	i := 0
	readSSE(t, resp.Body, func(ev sseEvent) {
		var c chunk
		if json.Unmarshal([]byte(ev.Data), &c) == nil && c.content() != "" {
			received <- i
			i++
		}
	})
	if i != 5 {
		t.Fatalf("client received %d chunks, want 5", i)
	}
}

// TestClientDisconnectCancelsUpstream: a client that goes away mid-stream
// stops the upstream's generation at once.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	up, uhs := startSim(t, func(o *llmserver.Options) { o.Sim.ITL = 20 * time.Millisecond })
	gw, ghs := startGateway(t, upstreamTo(uhs.URL))
	ctx, cancel := context.WithCancel(context.Background())
	// 2000 tokens at 20 ms: 40 s if nothing stopped it.
	resp := post(t, ctx, ghs.URL+"/v1/chat/completions",
		`{"model":"llmmon-sim","messages":[{"role":"user","content":"long"}],"max_tokens":2000,"stream":true}`)
	seen := 0
	readSSE(t, resp.Body, func(ev sseEvent) {
		if seen++; seen == 3 {
			cancel()
		}
	})
	resp.Body.Close()
	start := time.Now()
	eventually(t, "the upstream to see the abort", func() error {
		if a := metric(t, up, llmmetrics.Active, "endpoint", "stream"); a != 0 {
			return fmt.Errorf("upstream active = %v", a)
		}
		if e := metric(t, up, llmmetrics.Requests, "endpoint", "stream", "status", "error"); e != 1 {
			return fmt.Errorf("upstream stream errors = %v", e)
		}
		if r := metric(t, up, "vllm:num_requests_running", "model_name", "llmmon-sim"); r != 0 {
			return fmt.Errorf("upstream running = %v", r)
		}
		return nil
	})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the upstream stopped %s after the client left", d)
	}
	if a := metric(t, gw, llmmetrics.Active, "endpoint", "stream"); a != 0 {
		t.Errorf("gateway active = %v", a)
	}
	if e := metric(t, gw, llmmetrics.Requests, "endpoint", "stream", "status", "error"); e != 1 {
		t.Errorf("gateway stream errors = %v, want 1", e)
	}
	if gt, ut := metric(t, gw, llmmetrics.Tokens, "endpoint", "stream"), metric(t, up, llmmetrics.Tokens, "endpoint", "stream"); gt == 0 || gt > ut {
		t.Errorf("tokens: gateway %v, upstream %v", gt, ut)
	}
}

// TestOpenAISDKThroughGateway: the official OpenAI Go SDK against the
// gateway, chat and completions, streamed and not.
func TestOpenAISDKThroughGateway(t *testing.T) {
	_, uhs := startSim(t, nil)
	gw, ghs := startGateway(t, upstreamTo(uhs.URL))
	client := openai.NewClient(option.WithBaseURL(ghs.URL+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx := context.Background()

	res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:               "llmmon-sim",
		Messages:            []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello!")},
		MaxCompletionTokens: openai.Int(7),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Model != "llmmon-sim" || res.Choices[0].Message.Content == "" || res.Usage.CompletionTokens != 7 {
		t.Fatalf("chat: %s", res.RawJSON())
	}

	stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
		Model:     "llmmon-sim",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Stream please")},
		MaxTokens: openai.Int(6),
	})
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	// The gateway asked upstream for usage, and kept that chunk to itself.
	if acc.Usage.TotalTokens != 0 || acc.Choices[0].Message.Content == "" || acc.Choices[0].FinishReason != "length" {
		t.Fatalf("chat stream: usage %+v, choices %+v", acc.Usage, acc.Choices)
	}

	comp, err := client.Completions.New(ctx, openai.CompletionNewParams{
		Model:     "llmmon-sim",
		Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")},
		MaxTokens: openai.Int(5),
	})
	if err != nil {
		t.Fatal(err)
	}
	if comp.Choices[0].Text == "" || comp.Usage.CompletionTokens != 5 {
		t.Fatalf("completion: %s", comp.RawJSON())
	}

	cs := client.Completions.NewStreaming(ctx, openai.CompletionNewParams{
		Model:         "llmmon-sim",
		Prompt:        openai.CompletionNewParamsPromptUnion{OfString: openai.String("Once")},
		MaxTokens:     openai.Int(4),
		StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
	})
	text, usage := "", int64(0)
	for cs.Next() {
		c := cs.Current()
		if len(c.Choices) > 0 {
			text += c.Choices[0].Text
		}
		usage += c.Usage.CompletionTokens
	}
	if err := cs.Err(); err != nil {
		t.Fatal(err)
	}
	if text == "" || usage != 4 { // asked for: the usage chunk is the client's
		t.Fatalf("completion stream: text %q, usage %d", text, usage)
	}

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Data) != 1 || models.Data[0].ID != "llmmon-sim" {
		t.Fatalf("models: %+v", models.Data)
	}
	eventually(t, "4 successes counted", func() error {
		if got := metric(t, gw, llmmetrics.Requests, "endpoint", "stream", "status", "success") +
			metric(t, gw, llmmetrics.Requests, "endpoint", "nonstream", "status", "success"); got != 4 {
			return fmt.Errorf("gateway counted %v successes, want 4", got)
		}
		return nil
	})
	if got := metric(t, gw, llmmetrics.Tokens, "endpoint", "stream") + metric(t, gw, llmmetrics.Tokens, "endpoint", "nonstream"); got != 7+6+5+4 {
		t.Errorf("gateway counted %v tokens, want 22", got)
	}
}

// TestModelRestrictAndRename: --model exposes only what it lists, under
// its names, and answers carry the exposed name.
func TestModelRestrictAndRename(t *testing.T) {
	_, uhs := startSim(t, func(o *llmserver.Options) { o.Model = "org/Big-Model-8B" })
	cfg := upstreamTo(uhs.URL)
	cfg.Models = []proxy.ModelMap{{Exposed: "big", Upstream: "org/Big-Model-8B"}}
	_, ghs := startGateway(t, cfg)

	resp, err := http.Get(ghs.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var list struct {
		Data []struct {
			ID      string `json:"id"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil || len(list.Data) != 1 || list.Data[0].ID != "big" || list.Data[0].OwnedBy != "llmmon" {
		t.Fatalf("models: %s", b)
	}

	resp = post(t, context.Background(), ghs.URL+"/v1/chat/completions",
		`{"model":"big","messages":[{"role":"user","content":"hi"}],"max_tokens":3,"stream":true}`)
	s := summarize(t, readSSE(t, resp.Body, nil))
	resp.Body.Close()
	if !s.Models["big"] || len(s.Models) != 1 || s.ContentEvents != 3 {
		t.Fatalf("stream: models %v, %d content events", s.Models, s.ContentEvents)
	}
	resp = post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"big","prompt":"hi","max_tokens":2}`)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"model":"big"`) {
		t.Fatalf("completion: %d %s", resp.StatusCode, b)
	}
	// The upstream's own name is not exposed.
	resp = post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"org/Big-Model-8B","prompt":"hi","max_tokens":2}`)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "model_not_found") {
		t.Fatalf("upstream name: %d %s", resp.StatusCode, b)
	}
}

// TestRouteByModel: --upstream NAME=URL sends each model to its engine.
func TestRouteByModel(t *testing.T) {
	a, ahs := startSim(t, func(o *llmserver.Options) { o.Model = "alpha" })
	b, bhs := startSim(t, func(o *llmserver.Options) { o.Model = "beta" })
	_, ghs := startGateway(t, proxy.Config{Upstreams: []proxy.Upstream{
		{Name: "alpha", URL: ahs.URL + "/v1"}, {Name: "beta", URL: bhs.URL}}})
	for _, m := range []string{"alpha", "beta", "beta"} {
		resp := post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"`+m+`","prompt":"hi","max_tokens":2}`)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", m, resp.StatusCode)
		}
	}
	if na, nb := metric(t, a, llmmetrics.Requests, "endpoint", "nonstream", "status", "success"),
		metric(t, b, llmmetrics.Requests, "endpoint", "nonstream", "status", "success"); na != 1 || nb != 2 {
		t.Errorf("alpha got %v, beta %v; want 1 and 2", na, nb)
	}
	resp := post(t, context.Background(), ghs.URL+"/v1/completions", `{"model":"gamma","prompt":"hi"}`)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unrouted model: %d, want 404", resp.StatusCode)
	}
	r, err := http.Get(ghs.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(body), `"id":"alpha"`) || !strings.Contains(string(body), `"id":"beta"`) {
		t.Errorf("models: %s", body)
	}
}
