package sim

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Fleet is several simulated models served side by side, one Engine each
// (as vLLM runs one engine per model): each has its own scheduler, KV
// cache, queue and vllm:* series, and its own speed and failure rate
// (Config.Speed, Config.ModelFailRate), so per-model panels have something
// to tell apart without a GPU. It implements backend.Backend.
type Fleet struct {
	names   []string
	engines map[string]*Engine
}

var _ backend.Backend = (*Fleet)(nil)

// NewFleet starts one engine for each model cfg.Model lists.
func NewFleet(cfg Config) (*Fleet, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	names, _ := cfg.Models()
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	vecs := newMetricVecs(reg, cfg.MaxModelLen)
	f := &Fleet{names: names, engines: make(map[string]*Engine, len(names))}
	for i, name := range names {
		c := cfg
		c.Model = name
		c.Seed = cfg.Seed + int64(i) // the models' jitter and faults differ
		f.engines[name] = start(c, vecs.engine(name), corpusTokens())
	}
	return f, nil
}

// Models lists the served models, in the order --model gave them.
func (f *Fleet) Models() []string { return append([]string(nil), f.names...) }

// Engine returns the engine serving model, or nil.
func (f *Fleet) Engine(model string) *Engine { return f.engines[model] }

// Generate runs req on its model's engine.
func (f *Fleet) Generate(ctx context.Context, req *backend.Request, emit backend.Emit) (backend.Result, error) {
	e := f.engines[req.Model]
	if e == nil {
		return backend.Result{}, &backend.Error{Status: http.StatusNotFound, Type: "invalid_request_error",
			Code: "model_not_found", Param: "model", Message: "The model `" + req.Model + "` does not exist."}
	}
	return e.Generate(ctx, req, emit)
}

// Stats sums the engines' scheduler states.
func (f *Fleet) Stats() Stats {
	var st Stats
	blocks := 0
	for _, e := range f.engines {
		s := e.Stats()
		st.Running += s.Running
		st.Waiting += s.Waiting
		st.UsedBlocks += s.UsedBlocks
		blocks += e.cfg.KVBlocks
	}
	st.KVUsage = float64(st.UsedBlocks) / float64(blocks)
	return st
}

// Close stops every engine.
func (f *Fleet) Close() error {
	for _, e := range f.engines {
		e.Close()
	}
	return nil
}

// ParseModelValues reads repeated NAME=VALUE flags (--model-speed,
// --model-fail-rate) into a map.
func ParseModelValues(flag string, values []string) (map[string]float64, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]float64, len(values))
	for _, v := range values {
		name, num, ok := strings.Cut(v, "=")
		name = strings.TrimSpace(name)
		f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
		if !ok || name == "" || err != nil {
			return nil, fmt.Errorf("%s %q: want MODEL=NUMBER, e.g. %s slow=0.5", flag, v, flag)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s: model %q is given twice", flag, name)
		}
		out[name] = f
	}
	return out, nil
}
