package sim

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// series returns a family's series for model_name=model.
func series(t *testing.T, reg *prometheus.Registry, name, model string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "model_name" && l.GetValue() == model {
					return m
				}
			}
		}
	}
	t.Fatalf("no %s{model_name=%q}", name, model)
	return nil
}

func TestFleetModelsHaveTheirOwnSpeedAndFailRate(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Model = "fast,slow"
	cfg.PrefillOverhead, cfg.PrefillPerToken, cfg.Jitter = 0, 0, 0
	cfg.ITL = 2 * time.Millisecond
	cfg.Speed = map[string]float64{"slow": 0.2} // 10 ms per token
	cfg.ModelFailRate = map[string]float64{"slow": 1}
	reg := prometheus.NewRegistry()
	cfg.Registerer = reg
	f, err := NewFleet(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := strings.Join(f.Models(), ","); got != "fast,slow" {
		t.Fatalf("Models() = %s", got)
	}
	start := time.Now()
	var res backend.Result
	res, err = f.Generate(context.Background(), &backend.Request{Model: "fast", Prompt: "hi", MaxTokens: 20}, func([]backend.Chunk, bool) error { return nil })
	if err != nil || res.CompletionTokens != 20 {
		t.Fatalf("fast: %+v %v", res, err)
	}
	fast := time.Since(start)
	for range 5 {
		_, err := f.Generate(context.Background(), &backend.Request{Model: "slow", Prompt: "hi", MaxTokens: 20}, func([]backend.Chunk, bool) error { return nil })
		var be *backend.Error
		if !errors.As(err, &be) {
			t.Fatalf("slow with fail rate 1: %v", err)
		}
	}
	// The slow engine, with its faults lifted, takes 5x as long per token.
	slowEngine := f.Engine("slow")
	slowEngine.mu.Lock()
	slowEngine.cfg.FailRate = 0
	slowEngine.mu.Unlock()
	start = time.Now()
	if _, err := f.Generate(context.Background(), &backend.Request{Model: "slow", Prompt: "hi", MaxTokens: 20}, func([]backend.Chunk, bool) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if slow := time.Since(start); slow < 3*fast || slow < 20*10*time.Millisecond {
		t.Errorf("slow took %s, fast %s: want 5x as long per token", slow, fast)
	}
	for _, m := range []string{"fast", "slow"} {
		if got := series(t, reg, "vllm:generation_tokens_total", m).GetCounter().GetValue(); got != 20 {
			t.Errorf("vllm:generation_tokens_total{model_name=%q} = %v, want 20", m, got)
		}
	}
	if _, err := f.Generate(context.Background(), &backend.Request{Model: "other", Prompt: "hi"}, nil); err == nil {
		t.Error("a model the fleet does not serve was generated")
	}
}

func TestFleetConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.Model = "" }, "empty"},
		{func(c *Config) { c.Model = "a,,b" }, "empty"},
		{func(c *Config) { c.Model = "a,a" }, "twice"},
		{func(c *Config) { c.Model = "a=b" }, "--upstream"},
		{func(c *Config) { c.Model = "a"; c.Speed = map[string]float64{"b": 2} }, "no model \"b\""},
		{func(c *Config) { c.Model = "a"; c.Speed = map[string]float64{"a": 0} }, "positive"},
		{func(c *Config) { c.Model = "a"; c.ModelFailRate = map[string]float64{"a": 1.5} }, "[0, 1]"},
	} {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%q) = %v, want mention of %q", c.Model, err, tc.want)
		}
	}
	if _, err := ParseModelValues("--model-speed", []string{"slow"}); err == nil {
		t.Error("--model-speed slow (no =) accepted")
	}
	if m, err := ParseModelValues("--model-speed", []string{"slow=0.5", " fast = 2"}); err != nil || m["slow"] != 0.5 || m["fast"] != 2 {
		t.Errorf("ParseModelValues = %v, %v", m, err)
	}
}

// A prompt seen before hits the prefix cache for all its full blocks but
// the last token, as vLLM counts it, and its prefill is shorter.
func TestPrefixCache(t *testing.T) {
	e, reg := newEngine(t, func(c *Config) {
		c.BlockSize = 4
		c.PrefillPerToken = time.Millisecond
	})
	prompt := strings.Repeat("monitoring language models in production ", 8) // ~48 tokens
	q := func() float64 {
		return series(t, reg, "vllm:prefix_cache_queries_total", "llmmon-sim").GetCounter().GetValue()
	}
	h := func() float64 {
		return series(t, reg, "vllm:prefix_cache_hits_total", "llmmon-sim").GetCounter().GetValue()
	}
	timed := func() time.Duration {
		start := time.Now()
		r := generate(context.Background(), e, &backend.Request{Prompt: prompt, MaxTokens: 1})
		if r.err != nil {
			t.Fatal(r.err)
		}
		return time.Since(start)
	}
	cold := timed()
	tokens := q()
	if tokens < 40 || h() != 0 {
		t.Fatalf("first request: %v queried, %v hit; want all queried, none hit", tokens, h())
	}
	warm := timed()
	full := float64(int(tokens) / 4 * 4)
	if want := min(full, tokens-1); h() != want || q() != 2*tokens {
		t.Errorf("second request: %v hit of %v queried, want %v of %v", h(), q(), want, 2*tokens)
	}
	if warm >= cold {
		t.Errorf("a cached prompt's prefill took %s, the cold one %s", warm, cold)
	}
	// A different prompt with the same start hits only the shared blocks.
	before := h()
	generate(context.Background(), e, &backend.Request{Prompt: prompt[:40] + " and something else entirely", MaxTokens: 1})
	if got := h() - before; got <= 0 || got >= full {
		t.Errorf("shared-prefix prompt hit %v tokens, want some but fewer than %v", got, full)
	}
}
