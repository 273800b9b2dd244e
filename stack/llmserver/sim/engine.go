// Package sim is llmmon serve's embedded engine: a simulation, on the CPU,
// of a vLLM-like continuous-batching engine. It does not run a model. It
// schedules requests into a bounded batch, holds their KV cache in blocks,
// paces prefill and decode steps with configurable timings, produces real
// BPE tokens (fluent text from an embedded corpus, or an echo of the
// prompt), and exports vLLM v1's vllm:* metrics from that model, so the
// monitoring stack has realistic traffic to watch on a machine without a
// GPU.
package sim

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

//go:embed corpus.txt
var corpusText string

// Text modes.
const (
	ModeRandom = "random" // fluent text from the embedded corpus
	ModeEcho   = "echo"   // the prompt (or last user message) back
)

// Config is the engine's shape and pacing. Durations of 0 mean no delay.
type Config struct {
	// Model names the served model; to New, exactly one, to NewFleet a
	// comma-separated list, one engine each.
	Model           string
	MaxNumSeqs      int           // running slots (vLLM --max-num-seqs)
	MaxQueue        int           // waiting requests before 429
	PrefillOverhead time.Duration // fixed cost of a step that prefills
	PrefillPerToken time.Duration // per prompt token prefilled
	ITL             time.Duration // decode step time for a batch of one
	BatchSlowdown   float64       // each extra running sequence adds this fraction of ITL
	TTFT            time.Duration // if > 0, a prefill takes exactly this long
	Jitter          float64       // ± fraction applied to each step time
	Seed            int64         // seeds jitter, text choice and faults
	BlockSize       int           // tokens per KV block
	KVBlocks        int           // KV blocks in total
	MaxModelLen     int           // prompt + completion tokens allowed
	Mode            string        // ModeRandom or ModeEcho
	FailRate        float64       // fraction of requests failed on purpose
	// Speed makes a model of a fleet faster (2) or slower (0.5) than the
	// timings above say: they are divided by it. Unlisted models run at 1.
	Speed map[string]float64
	// ModelFailRate overrides FailRate for the models it lists.
	ModelFailRate map[string]float64
	// Registerer receives the vllm:* metrics; nil registers nothing.
	Registerer prometheus.Registerer
}

// DefaultConfig is a small GPU's worth of engine: visible queueing and KV
// usage under a few dozen concurrent streams.
func DefaultConfig() Config {
	return Config{
		Model:           "llmmon-sim",
		MaxNumSeqs:      64,
		MaxQueue:        1024,
		PrefillOverhead: 20 * time.Millisecond,
		PrefillPerToken: 100 * time.Microsecond,
		ITL:             20 * time.Millisecond,
		BatchSlowdown:   0.02,
		Jitter:          0.1,
		BlockSize:       16,
		KVBlocks:        2048,
		MaxModelLen:     4096,
		Mode:            ModeRandom,
	}
}

// Validate reports the first bad setting, naming its flag.
func (c Config) Validate() error {
	names, err := c.Models()
	if err != nil {
		return err
	}
	for name, v := range c.Speed {
		if !slices.Contains(names, name) {
			return fmt.Errorf("--model-speed %s=%g: no model %q is served (--model %s)", name, v, name, c.Model)
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return fmt.Errorf("--model-speed %s=%g: the speed must be a positive factor (2: twice as fast, 0.5: half)", name, v)
		}
	}
	for name, v := range c.ModelFailRate {
		if !slices.Contains(names, name) {
			return fmt.Errorf("--model-fail-rate %s=%g: no model %q is served (--model %s)", name, v, name, c.Model)
		}
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("--model-fail-rate %s=%g: the rate must be in [0, 1]", name, v)
		}
	}
	switch {
	case c.MaxNumSeqs < 1:
		return fmt.Errorf("--max-num-seqs must be at least 1, got %d", c.MaxNumSeqs)
	case c.MaxQueue < 0:
		return fmt.Errorf("--max-queue must not be negative, got %d", c.MaxQueue)
	case c.PrefillOverhead < 0 || c.PrefillPerToken < 0 || c.ITL < 0 || c.TTFT < 0:
		return errors.New("--prefill-overhead, --prefill-per-token, --itl and --ttft must not be negative")
	case c.BatchSlowdown < 0:
		return fmt.Errorf("--batch-slowdown must not be negative, got %g", c.BatchSlowdown)
	case c.Jitter < 0 || c.Jitter >= 1:
		return fmt.Errorf("--jitter must be in [0, 1), got %g", c.Jitter)
	case c.BlockSize < 1:
		return fmt.Errorf("--block-size must be at least 1, got %d", c.BlockSize)
	case c.MaxModelLen < 2:
		return fmt.Errorf("--max-model-len must be at least 2, got %d", c.MaxModelLen)
	case c.KVBlocks < 1 || c.KVBlocks*c.BlockSize < c.MaxModelLen:
		return fmt.Errorf("--kv-blocks %d × --block-size %d holds %d tokens, fewer than --max-model-len %d; raise --kv-blocks",
			c.KVBlocks, c.BlockSize, c.KVBlocks*c.BlockSize, c.MaxModelLen)
	case c.Mode != ModeRandom && c.Mode != ModeEcho:
		return fmt.Errorf("--mode must be %q or %q, got %q", ModeRandom, ModeEcho, c.Mode)
	case c.FailRate < 0 || c.FailRate > 1:
		return fmt.Errorf("--fail-rate must be in [0, 1], got %g", c.FailRate)
	}
	return nil
}

// Models returns the served model names, in the order given.
func (c Config) Models() ([]string, error) {
	var names []string
	for _, n := range strings.Split(c.Model, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			return nil, fmt.Errorf("--model %q: a model name is empty; give NAME or NAME,NAME", c.Model)
		case strings.ContainsAny(n, "= "):
			return nil, fmt.Errorf("--model %q: %q is not a model name (renames with = exist only with --upstream)", c.Model, n)
		case slices.Contains(names, n):
			return nil, fmt.Errorf("--model %q: %q is listed twice", c.Model, n)
		}
		names = append(names, n)
	}
	return names, nil
}

// Engine is the simulated engine for one model; it implements
// backend.Backend.
type Engine struct {
	cfg    Config
	corpus []string
	// sentences are the corpus offsets where a sentence starts.
	sentences []int
	m         *engineMetrics
	prefix    *prefixCache

	// instant: every step takes no time (no TTFT, prefill or ITL), so a
	// request's caller runs the steps itself (see runInstant).
	instant bool
	wake    chan struct{} // cap 1: new work or an abort
	stop    chan struct{} // closed by Close
	done    chan struct{} // closed when the loop exits

	mu         sync.Mutex
	rng        *rand.Rand
	waiting    []*seq // FCFS; preempted sequences go back to the front
	running    []*seq
	freeBlocks int
	closed     bool
}

var _ backend.Backend = (*Engine)(nil)

// New starts an engine for cfg's one model; Close stops it.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if names, _ := cfg.Models(); len(names) != 1 {
		return nil, fmt.Errorf("sim.New serves one model, --model names %d; use NewFleet", len(names))
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	return start(cfg, newMetricVecs(reg, cfg.MaxModelLen).engine(cfg.Model), corpusTokens()), nil
}

// corpusTokens is the embedded corpus, tokenized once for every engine.
var corpusTokens = sync.OnceValue(func() []string { return tokens(corpusText) })

// start runs an engine with validated settings for one model.
func start(cfg Config, m *engineMetrics, corpus []string) *Engine {
	if f, ok := cfg.ModelFailRate[cfg.Model]; ok {
		cfg.FailRate = f
	}
	if v, ok := cfg.Speed[cfg.Model]; ok {
		scale := func(d *time.Duration) { *d = time.Duration(float64(*d) / v) }
		scale(&cfg.PrefillOverhead)
		scale(&cfg.PrefillPerToken)
		scale(&cfg.ITL)
		scale(&cfg.TTFT)
	}
	seed := uint64(cfg.Seed)
	e := &Engine{
		cfg:        cfg,
		corpus:     corpus,
		m:          m,
		prefix:     newPrefixCache(cfg.KVBlocks),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
		rng:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		freeBlocks: cfg.KVBlocks,
		instant:    cfg.TTFT == 0 && cfg.PrefillOverhead == 0 && cfg.PrefillPerToken == 0 && cfg.ITL == 0,
	}
	e.sentences = []int{0}
	for i, t := range e.corpus[:len(e.corpus)-1] {
		if endsSentence(t) {
			e.sentences = append(e.sentences, i+1)
		}
	}
	go e.loop()
	return e
}

// Models lists the one served model.
func (e *Engine) Models() []string { return []string{e.cfg.Model} }

// Stats is a snapshot of the scheduler, for tests and logs.
type Stats struct {
	Running, Waiting int
	UsedBlocks       int
	KVUsage          float64
}

// Stats returns the scheduler's current state.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	used := e.cfg.KVBlocks - e.freeBlocks
	return Stats{Running: len(e.running), Waiting: len(e.waiting), UsedBlocks: used,
		KVUsage: float64(used) / float64(e.cfg.KVBlocks)}
}

// Close fails what is queued or running and stops the scheduler.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done
		return nil
	}
	e.closed = true
	errClosed := &backend.Error{Status: http.StatusServiceUnavailable, Type: "server_error",
		Code: "shutting_down", Message: "the server is shutting down"}
	for _, s := range e.waiting {
		s.fail(errClosed)
	}
	for _, s := range e.running {
		e.freeBlocks += s.blocks
		s.blocks = 0
		s.fail(errClosed)
	}
	e.waiting, e.running = nil, nil
	e.setGauges()
	close(e.stop)
	e.mu.Unlock()
	<-e.done
	return nil
}

func putRanks(rb *[]int) {
	if rb != nil && cap(*rb) <= 64<<10 {
		*rb = (*rb)[:0]
		ranksPool.Put(rb)
	}
}

// Generate queues req, waits for the scheduler, and hands tokens to emit.
func (e *Engine) Generate(ctx context.Context, req *backend.Request, emit backend.Emit) (backend.Result, error) {
	var res backend.Result
	if err := e.injectFault(); err != nil {
		return res, err
	}
	var last string // what echo mode repeats
	if req.Chat {
		for _, m := range req.Messages {
			if m.Role == "user" {
				last = m.Content
			}
		}
	} else {
		last = req.Prompt
	}
	// The ranks are only matched against the prefix cache: their buffer
	// goes back before the wait, or a thousand open streams would hold
	// 2 KB each.
	rb := ranksPool.Get().(*[]int)
	defer func() { putRanks(rb) }()
	ranks := promptRanks((*rb)[:0], req)
	*rb = ranks
	res.PromptTokens = len(ranks)
	var echo []string
	if e.cfg.Mode == ModeEcho { // only echo needs the tokens themselves
		echo = tokens(last)
	}
	limit := e.cfg.MaxModelLen
	// No sum that can overflow: max_tokens may be anything up to MaxInt64.
	if res.PromptTokens >= limit || req.MaxTokens > limit-res.PromptTokens {
		requested := fmt.Sprintf("%d tokens (%d in the prompt, %d for the completion)",
			res.PromptTokens+req.MaxTokens, res.PromptTokens, req.MaxTokens)
		if req.MaxTokens > math.MaxInt-res.PromptTokens {
			requested = fmt.Sprintf("%d tokens in the prompt and %d for the completion", res.PromptTokens, req.MaxTokens)
		}
		return res, &backend.Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Code: "context_length_exceeded", Param: "max_tokens",
			Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %s. Please reduce the length of the prompt or max_tokens.",
				limit, requested)}
	}
	s := &seq{
		stream:       req.Stream,
		promptTokens: res.PromptTokens,
		maxTokens:    req.MaxTokens,
		explicitMax:  req.MaxTokens > 0,
		ignoreEOS:    req.IgnoreEOS,
		stop:         req.Stop,
		notify:       make(chan struct{}, 1),
		arrival:      time.Now(),
	}
	if !s.explicitMax {
		s.maxTokens = limit - res.PromptTokens
	}
	// Sized so appending tokens rarely reallocates: a whole typical answer
	// when it is handed over at the end, a few tokens when streamed.
	if req.Stream {
		s.out = make([]backend.Chunk, 0, min(s.maxTokens, 4))
	} else {
		s.out = make([]backend.Chunk, 0, min(s.maxTokens, 64))
	}

	e.mu.Lock()
	if !e.closed && len(e.waiting) < e.cfg.MaxQueue {
		s.cached = e.prefix.match(ranks, e.cfg.BlockSize)
		e.m.prefixQueries.Add(s.promptTokens)
		e.m.prefixHits.Add(s.cached)
	}
	rng := e.rng
	if req.Seed != nil {
		sd := uint64(*req.Seed)
		rng = rand.New(rand.NewPCG(sd, sd^0x9e3779b97f4a7c15))
	}
	if e.cfg.Mode == ModeEcho && len(echo) > 0 {
		s.source, s.echo = echo, true
	} else {
		s.source = e.corpus
		s.pos = e.sentences[rng.IntN(len(e.sentences))]
		if !s.explicitMax && !req.IgnoreEOS {
			s.minLen = 8 + rng.IntN(56)
		}
	}
	switch {
	case e.closed:
		e.mu.Unlock()
		return res, &backend.Error{Status: http.StatusServiceUnavailable, Type: "server_error",
			Code: "shutting_down", Message: "the server is shutting down"}
	case len(e.waiting) >= e.cfg.MaxQueue:
		e.mu.Unlock()
		return res, &backend.Error{Status: http.StatusTooManyRequests, Type: "rate_limit_error",
			Code: "queue_full", Message: fmt.Sprintf(
				"the engine's waiting queue is full (%d requests, --max-queue); retry later", e.cfg.MaxQueue)}
	}
	e.waiting = append(e.waiting, s)
	e.m.waiting.Set(float64(len(e.waiting)))
	busy := true
	if e.instant {
		busy = e.runInstant()
	}
	e.mu.Unlock()
	putRanks(rb)
	rb = nil
	if busy {
		e.kick()
	}

	var buf []backend.Chunk
	for {
		select {
		case <-s.notify:
		case <-ctx.Done():
			s.aborted.Store(true)
			e.kick()
			return res, ctx.Err()
		}
		s.mu.Lock()
		chunks := s.out
		if len(chunks) > 0 {
			// Swap buffers only when taking chunks: otherwise s.out and
			// buf could share a backing array the engine appends into
			// while emit still reads it.
			s.out = buf[:0]
		}
		finished, finish, err := s.finished, s.finish, s.err
		s.mu.Unlock()
		if len(chunks) > 0 {
			if eerr := emit(chunks, finished); eerr != nil {
				s.aborted.Store(true)
				e.kick()
				return res, eerr
			}
			for _, c := range chunks {
				res.CompletionTokens += c.Tokens
			}
			clear(chunks)
			buf = chunks
		}
		if finished {
			res.FinishReason = finish
			return res, err
		}
	}
}

// Faults injected by --fail-rate, chosen evenly.
var faults = []backend.Error{
	{Status: http.StatusInternalServerError, Type: "server_error", Code: "internal_error",
		Message: "simulated engine failure (--fail-rate)"},
	{Status: http.StatusServiceUnavailable, Type: "server_error", Code: "engine_overloaded",
		Message: "simulated engine overload (--fail-rate); retry later"},
	{Status: http.StatusTooManyRequests, Type: "rate_limit_error", Code: "rate_limit_exceeded",
		Message: "simulated rate limit (--fail-rate); retry later"},
}

func (e *Engine) injectFault() error {
	if e.cfg.FailRate <= 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rng.Float64() >= e.cfg.FailRate {
		return nil
	}
	f := faults[e.rng.IntN(len(faults))]
	return &f
}
