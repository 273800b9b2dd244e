package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

func newEngine(t *testing.T, mutate func(*Config)) (*Engine, *prometheus.Registry) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.PrefillOverhead, cfg.PrefillPerToken, cfg.ITL, cfg.Jitter = 0, 0, 0, 0
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	if mutate != nil {
		mutate(&cfg)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, reg
}

// eventually polls f until it returns nil or the deadline passes.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type run struct {
	text   string
	chunks int
	res    backend.Result
	err    error
}

func generate(ctx context.Context, e *Engine, req *backend.Request) run {
	var r run
	var b strings.Builder
	r.res, r.err = e.Generate(ctx, req, func(cs []backend.Chunk, _ bool) error {
		for _, c := range cs {
			b.WriteString(c.Text)
			r.chunks += c.Tokens
		}
		return nil
	})
	r.text = b.String()
	return r
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.Gauge != nil {
				return m.Gauge.GetValue()
			}
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.MaxNumSeqs = 0 }, "--max-num-seqs"},
		{func(c *Config) { c.KVBlocks = 10 }, "raise --kv-blocks"},
		{func(c *Config) { c.Mode = "poetry" }, "--mode"},
		{func(c *Config) { c.FailRate = 2 }, "--fail-rate"},
		{func(c *Config) { c.ITL = -1 }, "negative"},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate() = %v, want mention of %q", err, tc.want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestQueueingSlotsAndKV(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) {
		c.MaxNumSeqs = 2
		c.ITL = 5 * time.Millisecond
		c.BlockSize = 4
	})
	const n = 5
	var wg sync.WaitGroup
	runs := make([]run, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = generate(context.Background(), e, &backend.Request{Prompt: "Tell me about queues.", MaxTokens: 40})
		}()
	}
	var firstUsed, maxUsed int
	eventually(t, "2 running, 3 waiting", func() error {
		st := e.Stats()
		if st.Running != 2 || st.Waiting != 3 {
			return errors.New("not yet")
		}
		firstUsed = st.UsedBlocks
		return nil
	})
	if got := gauge(t, reg, "vllm:num_requests_waiting"); got != 3 {
		t.Errorf("vllm:num_requests_waiting = %v, want 3", got)
	}
	eventually(t, "KV usage rises as sequences grow", func() error {
		st := e.Stats()
		maxUsed = max(maxUsed, st.UsedBlocks)
		if maxUsed <= firstUsed {
			return errors.New("not yet")
		}
		return nil
	})
	wg.Wait()
	for i, r := range runs {
		if r.err != nil || r.res.CompletionTokens != 40 || r.chunks != 40 || r.res.FinishReason != "length" {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	st := e.Stats()
	if st.Running != 0 || st.Waiting != 0 || st.UsedBlocks != 0 {
		t.Fatalf("after all finished: %+v", st)
	}
	for name, want := range map[string]float64{
		"vllm:kv_cache_usage_perc":     0,
		"vllm:num_requests_running":    0,
		"vllm:num_requests_waiting":    0,
		"vllm:generation_tokens_total": n * 40,
	} {
		if got := gauge(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "vllm:request_queue_time_seconds" {
			if c := mf.GetMetric()[0].GetHistogram().GetSampleCount(); c != n {
				t.Errorf("queue time observations = %d, want %d", c, n)
			}
		}
	}
}

func TestQueueFullIs429(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) {
		c.MaxNumSeqs, c.MaxQueue = 1, 1
		c.ITL = 20 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan run, 2)
	for want := range 2 {
		go func() { done <- generate(ctx, e, &backend.Request{Prompt: "hi", MaxTokens: 1000}) }()
		eventually(t, "admitted", func() error {
			if st := e.Stats(); st.Running != 1 || st.Waiting != want {
				return errors.New("not yet")
			}
			return nil
		})
	}
	eventually(t, "1 running, 1 waiting", func() error {
		if st := e.Stats(); st.Running != 1 || st.Waiting != 1 {
			return errors.New("not yet")
		}
		return nil
	})
	r := generate(context.Background(), e, &backend.Request{Prompt: "hi", MaxTokens: 5})
	var be *backend.Error
	if !errors.As(r.err, &be) || be.Status != http.StatusTooManyRequests || be.Code != "queue_full" {
		t.Fatalf("third request: %v, want 429 queue_full", r.err)
	}
	cancel()
	for range 2 {
		if r := <-done; !errors.Is(r.err, context.Canceled) {
			t.Errorf("cancelled request: %v", r.err)
		}
	}
	eventually(t, "slots and KV freed", func() error {
		if st := e.Stats(); st.Running != 0 || st.Waiting != 0 || st.UsedBlocks != 0 {
			return errors.New("not yet")
		}
		return nil
	})
}

func TestContextLengthExceeded(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.MaxModelLen = 32 })
	r := generate(context.Background(), e, &backend.Request{Prompt: "hello world", MaxTokens: 31})
	var be *backend.Error
	if !errors.As(r.err, &be) || be.Status != 400 || be.Code != "context_length_exceeded" {
		t.Fatalf("err = %v, want 400 context_length_exceeded", r.err)
	}
	if r := generate(context.Background(), e, &backend.Request{Prompt: "hello world", MaxTokens: 30}); r.err != nil {
		t.Fatalf("prompt 2 + 30 = 32 tokens must fit: %v", r.err)
	}
}

// max_tokens up to MaxInt64 is refused without overflowing prompt +
// max_tokens, and the engine serves on.
func TestMaxTokensNoOverflow(t *testing.T) {
	e, _ := newEngine(t, nil)
	for _, mt := range []int{math.MaxInt, math.MaxInt - 1, math.MaxInt - 2} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := generate(ctx, e, &backend.Request{Prompt: "hello world", MaxTokens: mt})
		cancel()
		var be *backend.Error
		if !errors.As(r.err, &be) || be.Code != "context_length_exceeded" || !strings.Contains(be.Message, "9223372036854775") {
			t.Fatalf("max_tokens %d: %v, want context_length_exceeded naming it", mt, r.err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := generate(ctx, e, &backend.Request{Prompt: "hello world", MaxTokens: 5}); r.err != nil {
		t.Fatalf("a request after them: %v", r.err)
	}
}

// A sequence that can never fit the KV cache is refused, never preempted
// and requeued: at the head of the queue it would stop every request
// behind it. The API refuses such requests first (prompt + max_tokens >
// --max-model-len, which Validate keeps within the cache), so the length
// check is lifted here to reach the scheduler's own guard.
func TestSequenceBeyondKVCacheIsRefused(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) { c.BlockSize, c.KVBlocks, c.MaxModelLen = 4, 8, 32 })
	e.cfg.MaxModelLen = 1 << 20
	for _, prompt := range []string{"a b", strings.Repeat("word ", 40)} { // grows past the cache; starts past it
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r := generate(ctx, e, &backend.Request{Prompt: prompt, MaxTokens: 100})
		cancel()
		var be *backend.Error
		if !errors.As(r.err, &be) || be.Code != "context_length_exceeded" {
			t.Fatalf("prompt %.10q: %v after %d tokens, want context_length_exceeded", prompt, r.err, r.res.CompletionTokens)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := generate(ctx, e, &backend.Request{Prompt: "a b", MaxTokens: 5}); r.err != nil {
		t.Fatalf("a request after them: %v", r.err)
	}
	if got := gauge(t, reg, "vllm:num_preemptions_total"); got != 0 {
		t.Errorf("%v preemptions, want none", got)
	}
	if st := e.Stats(); st.UsedBlocks != 0 || st.Waiting != 0 {
		t.Errorf("left behind: %+v", st)
	}
}

// Sequences that outgrow the KV cache are preempted and recomputed, and
// still finish with every token.
func TestKVPreemption(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) {
		c.BlockSize, c.KVBlocks, c.MaxModelLen = 4, 8, 32
		c.ITL = time.Millisecond
	})
	var wg sync.WaitGroup
	runs := make([]run, 3)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = generate(context.Background(), e, &backend.Request{Prompt: "a b", MaxTokens: 28})
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if r.err != nil || r.res.CompletionTokens != 28 {
			t.Errorf("run %d: %+v", i, r)
		}
	}
	if got := gauge(t, reg, "vllm:num_preemptions_total"); got == 0 {
		t.Error("3 × 30 tokens in a 32-token cache must preempt")
	}
	if st := e.Stats(); st.UsedBlocks != 0 {
		t.Errorf("KV not freed: %+v", st)
	}
}

func TestAbortFreesSlotWithinAStep(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) { c.ITL = 20 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	got := 0
	_, err := e.Generate(ctx, &backend.Request{Prompt: "hi", MaxTokens: 1000, Stream: true}, func(cs []backend.Chunk, _ bool) error {
		got += len(cs)
		if got >= 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	eventually(t, "aborted sequence freed", func() error {
		if st := e.Stats(); st.Running != 0 || st.UsedBlocks != 0 {
			return errors.New("still held")
		}
		return nil
	})
	if n := gauge(t, reg, "vllm:generation_tokens_total"); n > float64(got)+2 {
		t.Errorf("generated %v tokens after the client left at %d", n, got)
	}
}

func TestEchoAndStop(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.Mode = ModeEcho })
	r := generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps."})
	if r.err != nil || r.text != "The quick brown fox jumps." || r.res.FinishReason != "stop" {
		t.Fatalf("echo: %+v", r)
	}
	r = generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", MaxTokens: 2})
	if r.text != "The quick" || r.res.FinishReason != "length" {
		t.Fatalf("echo with max_tokens 2: %+v", r)
	}
	r = generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", Stop: []string{"own f"}})
	if r.text != "The quick br" || r.res.FinishReason != "stop" || r.chunks != 4 {
		t.Fatalf("echo with stop: %+v", r)
	}
	// A partial match that does not complete is released, not lost.
	r = generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", Stop: []string{"own fix", "."}})
	if r.text != "The quick brown fox jumps" || r.res.FinishReason != "stop" {
		t.Fatalf("echo with near-miss stop: %+v", r)
	}
	r = generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", MaxTokens: 3, Stop: []string{"own fix"}})
	if r.text != "The quick brown" || r.res.FinishReason != "length" {
		t.Fatalf("held-back text at length: %+v", r)
	}
	r = generate(context.Background(), e, &backend.Request{Chat: true, Messages: []backend.Message{
		{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Repeat me"}}})
	if r.text != "Repeat me" || r.res.PromptTokens != 3+(3+1+3)+(3+1+2) {
		t.Fatalf("chat echo: %+v", r)
	}
}

// ignore_eos (vLLM's): the end of the prompt (echo) or of a sentence
// (random, without max_tokens) no longer ends the answer; max_tokens does.
func TestIgnoreEOSRunsToMaxTokens(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.Mode = ModeEcho })
	r := generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", MaxTokens: 12, IgnoreEOS: true})
	if r.err != nil || r.res.FinishReason != "length" || r.res.CompletionTokens != 12 || !strings.HasPrefix(r.text, "The quick brown fox jumps.The quick") {
		t.Fatalf("echo with ignore_eos: %+v", r)
	}
	r = generate(context.Background(), e, &backend.Request{Prompt: "The quick brown fox jumps.", MaxTokens: 12, IgnoreEOS: true, Stop: []string{"fox"}})
	if r.res.FinishReason != "stop" || r.text != "The quick brown " {
		t.Fatalf("a stop string still stops with ignore_eos: %+v", r)
	}
	rnd, _ := newEngine(t, func(c *Config) { c.MaxModelLen = 200 })
	seed := int64(7)
	r = generate(context.Background(), rnd, &backend.Request{Prompt: "x", Seed: &seed, IgnoreEOS: true})
	if r.res.FinishReason != "length" {
		t.Fatalf("random without max_tokens, ignore_eos: %+v", r)
	}
}

func TestSeedRepeatsText(t *testing.T) {
	e, _ := newEngine(t, nil)
	seed := int64(42)
	a := generate(context.Background(), e, &backend.Request{Prompt: "x", MaxTokens: 30, Seed: &seed})
	b := generate(context.Background(), e, &backend.Request{Prompt: "x", MaxTokens: 30, Seed: &seed})
	if a.text == "" || a.text != b.text {
		t.Fatalf("same seed, different text:\n%q\n%q", a.text, b.text)
	}
	// Without max_tokens the answer ends at a sentence boundary.
	c := generate(context.Background(), e, &backend.Request{Prompt: "x", Seed: &seed})
	if c.res.FinishReason != "stop" || !endsSentence(c.text) {
		t.Fatalf("open-ended answer: %+v", c)
	}
}

func TestFailRate(t *testing.T) {
	e, _ := newEngine(t, func(c *Config) { c.FailRate = 1 })
	seen := map[int]bool{}
	for range 30 {
		r := generate(context.Background(), e, &backend.Request{Prompt: "x", MaxTokens: 1})
		var be *backend.Error
		if !errors.As(r.err, &be) {
			t.Fatalf("fail-rate 1 returned %v", r.err)
		}
		seen[be.Status] = true
	}
	if len(seen) < 2 {
		t.Errorf("fault kinds seen: %v", seen)
	}
}

func TestTokenizerIsRealBPE(t *testing.T) {
	// cl100k_base: "hello world" is 2 tokens, "tiktoken is great!" 6.
	for text, want := range map[string]int{"hello world": 2, "tiktoken is great!": 6, "": 0} {
		if got := countTokens(text); got != want {
			t.Errorf("countTokens(%q) = %d, want %d", text, got, want)
		}
	}
	if got := strings.Join(tokens("Monitoring LLMs, offline."), ""); got != "Monitoring LLMs, offline." {
		t.Errorf("tokens do not join back: %q", got)
	}
}

func TestBuild125Buckets(t *testing.T) {
	got := build125Buckets(1000)
	want := []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v", got)
		}
	}
}

// With no delays the callers run the steps themselves (runInstant), beside
// the loop: many at once through a small batch must all finish, with every
// token counted and the batch and KV cache left empty.
func TestInstantEngineManyCallersAtOnce(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) {
		c.MaxNumSeqs, c.MaxQueue, c.KVBlocks, c.BlockSize, c.MaxModelLen = 4, 300, 64, 16, 1024
	})
	if !e.instant {
		t.Fatal("a zero-delay engine is not instant")
	}
	var wg sync.WaitGroup
	runs := make([]run, 200)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i] = generate(context.Background(), e, &backend.Request{Prompt: "Say something about monitoring.", MaxTokens: 16, Stream: i%2 == 0})
		}()
	}
	wg.Wait()
	for i, r := range runs {
		if r.err != nil || r.res.CompletionTokens != 16 || r.chunks != 16 {
			t.Fatalf("request %d: %v, %d tokens, %d chunks", i, r.err, r.res.CompletionTokens, r.chunks)
		}
	}
	if got := gauge(t, reg, "vllm:generation_tokens_total"); got != 200*16 {
		t.Errorf("generation tokens %v, want %d", got, 200*16)
	}
	eventually(t, "the batch to empty", func() error {
		if st := e.Stats(); st.Running != 0 || st.Waiting != 0 || st.UsedBlocks != 0 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
}
