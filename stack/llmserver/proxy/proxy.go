package proxy

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Proxy is the upstream backend: a backend.Relay over HTTP.
type Proxy struct {
	cfg       Config
	client    *openai.Client
	upstreams []*upstream
	routes    map[string]*upstream // by the model name the upstream serves
	def       *upstream            // the upstream without a NAME=
	exposed   map[string]string    // --model: exposed name → upstream name; nil exposes all
	order     []string             // exposed names in flag order
	// ctx ends with Close; the catalog reads run under it.
	ctx    context.Context
	cancel context.CancelFunc
}

type upstream struct {
	name                      string
	base                      string
	completions, chat, models *openai.Target
	state                     upstreamState
}

var _ backend.Relay = (*Proxy)(nil)

// New builds a Proxy. It reads the upstreams' model lists in the
// background and never waits for them: an engine may come up after the
// gateway, and until then requests answer 502.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxHeaderBytes == 0 {
		cfg.MaxHeaderBytes = openai.DefaultMaxResponseHeaderBytes
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	dialer := &net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          0, // no global cap; per host below
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Pass bytes through as the engine sends them: no gzip round trip,
		// which would also hold back streamed chunks.
		DisableCompression:     true,
		MaxResponseHeaderBytes: cfg.MaxHeaderBytes,
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		ctx:    ctx,
		cancel: cancel,
		cfg:    cfg,
		client: &openai.Client{Fallback: tr, Proxy: tr.Proxy, Dial: dialer.DialContext,
			MaxIdlePerHost: tr.MaxIdleConnsPerHost, IdleTimeout: tr.IdleConnTimeout,
			MaxResponseHeaderBytes: cfg.MaxHeaderBytes},
		routes: map[string]*upstream{},
	}
	for _, u := range cfg.Upstreams {
		up, err := p.newUpstream(u)
		if err != nil {
			return nil, err
		}
		p.upstreams = append(p.upstreams, up)
		if u.Name == "" {
			p.def = up
		} else {
			p.routes[u.Name] = up
		}
	}
	if len(cfg.Models) > 0 {
		p.exposed = map[string]string{}
		for _, m := range cfg.Models {
			p.exposed[m.Exposed] = m.Upstream
			p.order = append(p.order, m.Exposed)
		}
	}
	for _, u := range p.upstreams {
		p.refresh(u, true)
	}
	return p, nil
}

func (p *Proxy) newUpstream(u Upstream) (*upstream, error) {
	base, _ := normalizeURL(u.URL) // Validate has checked it
	up := &upstream{name: u.Name, base: base}
	var err error
	target := func(path string) *openai.Target {
		t, terr := p.client.Target(base + path)
		err = cmp.Or(err, terr)
		return t
	}
	up.completions, up.chat, up.models = target("/completions"), target("/chat/completions"), target("/models")
	if err != nil {
		return nil, fmt.Errorf("--upstream %s: %w", u.URL, err)
	}
	return up, nil
}

// Models lists the models the gateway knows without asking the upstreams:
// the --model names, else the NAME= routes. GET /v1/models asks the
// upstreams for the full list.
func (p *Proxy) Models() []string {
	if p.order != nil {
		return slices.Clone(p.order)
	}
	return sortedKeys(p.routes)
}

// Generate is not used: the gateway calls NewCall on a backend.Relay.
func (p *Proxy) Generate(context.Context, *backend.Request, backend.Emit) (backend.Result, error) {
	return backend.Result{}, &backend.Error{Status: http.StatusInternalServerError, Type: "server_error",
		Message: "proxy: Generate is not supported; the gateway relays requests"}
}

// Close aborts what is still going upstream and closes the connections.
func (p *Proxy) Close() error {
	p.cancel()
	p.client.Close()
	return nil
}

// Upstreams returns the upstream base URLs, for the startup line.
func (p *Proxy) Upstreams() []Upstream {
	out := make([]Upstream, len(p.upstreams))
	for i, u := range p.upstreams {
		out[i] = Upstream{Name: u.name, URL: u.base}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// served names what a client may ask for, for error messages.
func (p *Proxy) served() string {
	names := p.Models()
	if p.def != nil && p.order == nil {
		names = append(names, "any model "+p.def.base+" serves")
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// resolve maps the model a client asked for to the upstream model name and
// the upstream that serves it.
func (p *Proxy) resolve(model string) (upModel string, up *upstream, err *backend.Error) {
	if p.exposed != nil {
		if model == "" {
			if len(p.order) != 1 {
				return "", nil, backend.Errorf("model", "", "model is required: this gateway serves %s", p.served())
			}
			model = p.order[0]
		}
		m, ok := p.exposed[model]
		if !ok {
			return "", nil, p.notFound(model)
		}
		upModel = m
	} else {
		upModel = model
		if model == "" && p.def == nil {
			if len(p.routes) != 1 {
				return "", nil, backend.Errorf("model", "", "model is required: this gateway serves %s", p.served())
			}
			for name := range p.routes {
				upModel = name
			}
		}
	}
	if u, ok := p.routes[upModel]; ok {
		return upModel, u, nil
	}
	if p.def != nil {
		return upModel, p.def, nil
	}
	return "", nil, p.notFound(model)
}

func (p *Proxy) notFound(model string) *backend.Error {
	return &backend.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found",
		Param: "model", Message: "The model `" + model + "` does not exist on this gateway; it serves " + p.served() +
			". GET /v1/models lists them."}
}

// NewCall parses the client's body just enough to route it: model, stream
// and stream_options. Everything else goes upstream untouched, so the
// engine's own validation and features (tools, images, logprobs, n) apply.
// The body is only edited in place where it must be: the upstream's model
// name, and stream_options.include_usage.
func (p *Proxy) NewCall(body []byte, chat bool, header http.Header) (backend.Call, error) {
	f, ok := openai.ScanRequest(body)
	if !ok || !json.Valid(body) {
		var v map[string]json.RawMessage
		err := json.Unmarshal(body, &v)
		return nil, backend.Errorf("", "", "We could not parse the JSON body of your request: %v. Send a JSON object, e.g. {\"model\":\"...\",\"messages\":[...]}.", errOr(err, "not a JSON object"))
	}
	c := &call{p: p, chat: chat, body: body, orig: body, prompt: f.Prompt, messages: f.Messages}
	if f.Stream.Present() {
		switch v := string(body[f.Stream.Start:f.Stream.End]); v {
		case "true":
			c.stream = true
		case "false", "null":
		default:
			return nil, backend.Errorf("stream", "", "stream must be true or false, got %s", v)
		}
	}
	so := f.StreamOptions
	soSet := so.Present() && !openai.IsNull(body[so.Start:so.End])
	if soSet && body[so.Start] != '{' {
		return c, backend.Errorf("stream_options", "", "stream_options must be an object")
	}
	clientUsage := f.IncludeUsage.Present() && string(body[f.IncludeUsage.Start:f.IncludeUsage.End]) == "true"
	var model string
	if f.Model.Present() && !openai.IsNull(body[f.Model.Start:f.Model.End]) {
		if body[f.Model.Start] != '"' {
			return c, backend.Errorf("model", "", "model must be a string")
		}
		model = openai.Unquote(body[f.Model.Start:f.Model.End])
	}
	c.requested = model
	upModel, up, rerr := p.resolve(model)
	if rerr != nil {
		return c, rerr
	}
	c.up = up
	c.exposed = model
	if model == "" {
		c.exposed = upModel
	}
	c.upModel = upModel
	switch {
	case p.exposed != nil, p.routes[upModel] == up:
		c.known = true // --model or a NAME= route names it
	case up.serves(upModel):
		c.known = true
	default:
		p.refresh(up, false) // a model the engine may have added since
	}
	if up.provider() == "" {
		p.refresh(up, false)
	}
	var edits []edit
	open := f.Open // where new members go
	if upModel != model && upModel != "" {
		q, _ := json.Marshal(upModel)
		if f.Model.Present() {
			edits = append(edits, edit{f.Model.Start, f.Model.End, string(q)})
		} else {
			edits = append(edits, edit{open, open, `"model":` + string(q) + sep(body, open)})
		}
	}
	if c.exposed != upModel && upModel != "" {
		c.renameFrom, _ = json.Marshal(upModel)
		c.renameTo, _ = json.Marshal(c.exposed)
	}
	if c.stream && !clientUsage && !p.cfg.NoUsageRequest {
		c.stripUsage = true
		switch {
		case f.IncludeUsage.Present(): // false or null
			edits = append(edits, edit{f.IncludeUsage.Start, f.IncludeUsage.End, "true"})
		case soSet:
			in := so.Start + 1
			edits = append(edits, edit{in, in, `"include_usage":true` + sep(body, in)})
		case so.Present(): // null
			edits = append(edits, edit{so.Start, so.End, `{"include_usage":true}`})
		default:
			edits = append(edits, edit{open, open, `"stream_options":{"include_usage":true}` + sep(body, open)})
		}
	}
	if len(edits) > 0 {
		slices.SortFunc(edits, func(a, b edit) int { return a.start - b.start })
		c.body = applyEdits(body, edits)
	}
	c.requestID = header.Get("X-Request-Id")
	switch {
	case p.cfg.APIKey != "":
		c.auth = "Bearer " + p.cfg.APIKey
	case p.cfg.ForwardClientAuth:
		c.auth = header.Get("Authorization")
	}
	return c, nil
}

// sep is the comma a field inserted at b[i] needs: none before a closing
// brace.
func sep(b []byte, i int) string {
	if rest := bytes.TrimLeft(b[i:], " \t\r\n"); len(rest) > 0 && rest[0] == '}' {
		return ""
	}
	return ","
}

func errOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}

// edit replaces b[start:end] with with.
type edit struct {
	start, end int
	with       string
}

// applyEdits returns a copy of b with edits (in ascending, non-overlapping
// order) applied.
func applyEdits(b []byte, edits []edit) []byte {
	n := len(b)
	for _, e := range edits {
		n += len(e.with) - (e.end - e.start)
	}
	out := make([]byte, 0, n)
	at := 0
	for _, e := range edits {
		out = append(out, b[at:e.start]...)
		out = append(out, e.with...)
		at = e.end
	}
	return append(out, b[at:]...)
}
