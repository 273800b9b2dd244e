package proxy

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"time"
)

// The catalog: what each upstream serves and what engine it is, as its own
// GET /models last said. The gateway labels its per-model metrics only
// with models it knows are served — --model's names, NAME= routes, or a
// name in the catalog of the upstream that gets every other model — so a
// client sending made-up names cannot add series (the upstream answers
// those with its 404). The catalog is read at start, again when a request
// names a model it lacks or the engine kind is unknown (at most every
// catalogRetry), and whenever a client lists the models.

// maxCatalog bounds the model names kept per upstream.
const maxCatalog = 1000

// catalogRetry is the least time between two reads of one upstream's
// model list on a request's behalf.
const catalogRetry = 10 * time.Second

// catalog is one upstream's model list; immutable once stored.
type catalog struct {
	models   map[string]bool
	provider string
}

// upstreamState is what the gateway learns about an upstream as it runs.
type upstreamState struct {
	cat       atomic.Pointer[catalog]
	lastFetch atomic.Int64 // unix nanoseconds of the last read started
}

// providers maps the owned_by field engines put in their model lists to
// gen_ai_provider_name.
var providers = map[string]string{
	"vllm":     "vllm",
	"sglang":   "sglang",
	"llamacpp": "llama.cpp",
	"library":  "ollama", // Ollama names the namespace of its library models
	"ollama":   "ollama",
	"llmmon":   "llmmon",
	"openai":   "openai",
	"system":   "openai",
}

// learn stores what an upstream's model list says.
func (u *upstream) learn(list []map[string]json.RawMessage) {
	c := &catalog{models: make(map[string]bool, min(len(list), maxCatalog))}
	for _, m := range list {
		var id, owner string
		json.Unmarshal(m["id"], &id)
		json.Unmarshal(m["owned_by"], &owner)
		if id != "" && len(c.models) < maxCatalog {
			c.models[id] = true
		}
		if c.provider == "" {
			c.provider = providers[owner]
		}
	}
	u.state.cat.Store(c)
}

// serves reports whether the upstream's last model list had model.
func (u *upstream) serves(model string) bool {
	c := u.state.cat.Load()
	return c != nil && c.models[model]
}

// provider is the upstream's engine kind, or "" before its list told.
func (u *upstream) provider() string {
	if c := u.state.cat.Load(); c != nil {
		return c.provider
	}
	return ""
}

// refresh reads the upstream's model list in the background, unless it
// was read less than catalogRetry ago (force: whatever the time).
func (p *Proxy) refresh(u *upstream, force bool) {
	now := time.Now().UnixNano()
	last := u.state.lastFetch.Load()
	if !force && now-last < int64(catalogRetry) {
		return
	}
	if !u.state.lastFetch.CompareAndSwap(last, now) {
		return // another request started one
	}
	go func() {
		ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
		defer cancel()
		p.fetchModels(ctx, u) // learns on success
	}()
}
