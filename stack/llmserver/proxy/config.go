// Package proxy is llmmon serve's upstream backend (llmmon serve
// --upstream): an HTTP client that forwards completions to a real
// OpenAI-compatible engine — vLLM, llama.cpp's llama-server, TGI, SGLang,
// Ollama's /v1 route — and passes its answers through chunk by chunk, while
// the gateway in package llmserver measures them with the llm_* metrics.
//
// It asks a streaming upstream for usage (stream_options.include_usage) when
// the client did not, strips that extra chunk again, and counts content
// chunks when an upstream gives no usage. Faults become OpenAI-style errors:
// 502 when the upstream cannot be reached, 504 when it sends no first byte
// in time, the upstream's own status for its 4xx/5xx, and an error event
// when its stream breaks off.
package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
)

// Upstream is one engine the gateway forwards to. An Upstream with a Name
// receives only requests for that model (the name the engine serves); the
// one without a Name receives every other request.
type Upstream struct {
	Name string
	// URL is the engine's OpenAI API base, e.g. http://127.0.0.1:8000/v1.
	URL string
}

// ModelMap is one --model entry: the name clients use, and the name the
// upstream serves. They are equal unless the entry renames.
type ModelMap struct {
	Exposed  string
	Upstream string
}

// Config is what llmmon serve's --upstream* and --model flags set.
type Config struct {
	Upstreams []Upstream
	// APIKey is sent upstream as "Authorization: Bearer KEY".
	APIKey string
	// ForwardClientAuth passes the client's own Authorization header
	// upstream when APIKey is empty (the gateway does not check keys then).
	ForwardClientAuth bool
	// Timeout bounds the wait for the upstream's response headers (its
	// first byte); 504 beyond. 0 waits for ever.
	Timeout time.Duration
	// DialTimeout bounds connecting to an upstream; 502 beyond.
	DialTimeout time.Duration
	// Models, when set, are the only models exposed, possibly renamed.
	Models []ModelMap
	// NoUsageRequest stops the gateway from adding
	// stream_options.include_usage to streamed requests (for an engine that
	// rejects the field). Tokens are then counted from content chunks.
	NoUsageRequest bool

	// What an upstream's answer may hold: a broken or hostile engine must
	// not exhaust the gateway. Zero takes the default.
	//
	// SSE bounds a streamed answer's lines and events (openai.Limits);
	// beyond them the stream ends with an upstream_broken error event.
	SSE openai.Limits
	// MaxHeaderBytes bounds the answer's status line and headers
	// (openai.DefaultMaxResponseHeaderBytes); 502 beyond.
	MaxHeaderBytes int64
	// MaxBody bounds a non-streamed answer, which is read whole
	// (DefaultMaxBody); 502 beyond.
	MaxBody int64
}

// DefaultMaxBody is Config.MaxBody's default.
const DefaultMaxBody = 64 << 20

// DefaultTimeout is --upstream-timeout's default: long enough for a
// non-streamed answer of a few thousand tokens from a busy engine.
const DefaultTimeout = 5 * time.Minute

// ParseUpstream reads one --upstream value: URL, or NAME=URL to route the
// model NAME there. A URL without a path gets /v1.
func ParseUpstream(s string) (Upstream, error) {
	var u Upstream
	raw := strings.TrimSpace(s)
	if !strings.Contains(strings.SplitN(raw, "=", 2)[0], "://") {
		if name, rest, ok := strings.Cut(raw, "="); ok {
			u.Name, raw = strings.TrimSpace(name), strings.TrimSpace(rest)
			if u.Name == "" {
				return u, fmt.Errorf("--upstream %q: the model name before = is empty; use NAME=URL or just URL", s)
			}
		}
	}
	base, err := normalizeURL(raw)
	if err != nil {
		return u, fmt.Errorf("--upstream %q: %w", s, err)
	}
	u.URL = base
	return u, nil
}

func normalizeURL(raw string) (string, error) {
	if !strings.Contains(raw, "://") {
		return "", errors.New("want an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1")
	}
	pu, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("not a URL: %v", err)
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return "", errors.New("want an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1")
	}
	if pu.Host == "" {
		return "", errors.New("the URL has no host, e.g. http://127.0.0.1:8000/v1")
	}
	if pu.RawQuery != "" || pu.Fragment != "" {
		return "", errors.New("the URL must not have a query or fragment")
	}
	pu.Path = strings.TrimRight(pu.Path, "/")
	if pu.Path == "" {
		pu.Path = "/v1" // every supported engine serves its OpenAI API under /v1
	}
	pu.RawPath = ""
	return pu.String(), nil
}

// ParseModels reads --model in gateway mode: a comma-separated list of NAME
// (expose the upstream's model NAME, and only the listed ones) or
// NAME=UPSTREAM_NAME (expose UPSTREAM_NAME as NAME).
func ParseModels(s string) ([]ModelMap, error) {
	var out []ModelMap
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		exp, up, ok := strings.Cut(part, "=")
		exp, up = strings.TrimSpace(exp), strings.TrimSpace(up)
		if !ok {
			up = exp
		}
		if exp == "" || up == "" {
			return nil, fmt.Errorf("--model %q: each entry is NAME or NAME=UPSTREAM_MODEL, got %q", s, part)
		}
		if seen[exp] {
			return nil, fmt.Errorf("--model %q: %q is listed twice", s, exp)
		}
		seen[exp] = true
		out = append(out, ModelMap{Exposed: exp, Upstream: up})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--model %q names no model", s)
	}
	return out, nil
}

// Validate reports the first inconsistent setting, naming its flag.
func (c Config) Validate() error {
	if len(c.Upstreams) == 0 {
		return errors.New("no --upstream given")
	}
	names := map[string]bool{}
	defaults := 0
	for _, u := range c.Upstreams {
		if _, err := normalizeURL(u.URL); err != nil {
			return fmt.Errorf("--upstream %q: %w", u.URL, err)
		}
		if u.Name == "" {
			defaults++
			continue
		}
		if names[u.Name] {
			return fmt.Errorf("--upstream: model %q is routed twice; give each NAME=URL once", u.Name)
		}
		names[u.Name] = true
	}
	if defaults > 1 {
		return errors.New("--upstream: only one URL may go without a NAME= (it gets every model no NAME= routes); name the others NAME=URL")
	}
	if defaults == 0 {
		for _, m := range c.Models {
			if !names[m.Upstream] {
				return fmt.Errorf("--model %s: no --upstream routes the model %q (routed: %s); add --upstream %s=URL or a plain --upstream URL",
					m.Exposed, m.Upstream, strings.Join(sortedKeys(names), ", "), m.Upstream)
			}
		}
	}
	if c.Timeout < 0 || c.DialTimeout < 0 {
		return errors.New("--upstream-timeout must not be negative")
	}
	switch {
	case c.SSE.MaxLine < 0:
		return fmt.Errorf("--upstream-max-sse-line must not be negative, got %d", c.SSE.MaxLine)
	case c.SSE.MaxEvent < 0:
		return fmt.Errorf("--upstream-max-sse-event must not be negative, got %d", c.SSE.MaxEvent)
	case c.MaxHeaderBytes < 0:
		return fmt.Errorf("--upstream-max-header-bytes must not be negative, got %d", c.MaxHeaderBytes)
	case c.MaxBody < 0:
		return fmt.Errorf("--upstream-max-body must not be negative, got %d", c.MaxBody)
	}
	return nil
}
