package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/llmmon/llmmon/internal/cl100k"
	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// call is one request on its way upstream.
type call struct {
	p      *Proxy
	up     *upstream
	chat   bool
	stream bool
	body   []byte
	auth   string
	// requestID goes upstream as X-Request-Id, so engine logs match ours.
	requestID string
	// prompt and messages locate the client's prompt in orig (the body as
	// the client sent it), for estimates when the upstream reports no usage.
	orig             []byte
	prompt, messages openai.Span
	// exposed is the model name the client sees; requested is what it
	// asked for, and upModel the upstream's name.
	exposed, requested, upModel string
	// known: the gateway knows the model is served, so it may label
	// metrics with it.
	known bool
	// renameFrom/renameTo are the JSON-quoted upstream and exposed names
	// when --model renames; responses get the exposed name back.
	renameFrom, renameTo []byte
	// stripUsage: the gateway asked for usage, so the usage-only chunk is
	// not the client's.
	stripUsage bool
}

func (c *call) Stream() bool { return c.stream }

func (c *call) Info() backend.CallInfo {
	info := backend.CallInfo{Requested: c.requested}
	if c.up != nil {
		info.Provider = c.up.provider()
	}
	if c.known {
		info.Model, info.ResponseModel = c.exposed, c.upModel
	}
	return info
}

var (
	jsonAccept   = openai.Header{Name: "Accept", Value: "application/json"}
	streamAccept = openai.Header{Name: "Accept", Value: "text/event-stream"}
	contentJSON  = openai.Header{Name: "Content-Type", Value: "application/json"}
	userAgent    = openai.Header{Name: "User-Agent", Value: "llmmon-gateway"}
)

func (c *call) Do(ctx context.Context, out backend.Output) (backend.Result, error) {
	target := c.up.completions
	if c.chat {
		target = c.up.chat
	}
	header := make([]openai.Header, 3, 5)
	header[0], header[1], header[2] = contentJSON, jsonAccept, userAgent
	if c.stream {
		header[1] = streamAccept
	}
	if c.requestID != "" {
		header = append(header, openai.Header{Name: "X-Request-Id", Value: c.requestID})
	}
	if c.auth != "" {
		header = append(header, openai.Header{Name: "Authorization", Value: c.auth})
	}
	req := &openai.Request{Method: http.MethodPost, Header: header, Body: c.body, HeadTimeout: c.p.cfg.Timeout}
	resp, err := c.p.client.Do(ctx, target, req)
	if err != nil {
		if ctx.Err() != nil {
			return backend.Result{}, ctx.Err() // the client went away
		}
		if errors.Is(err, openai.ErrTooLarge) {
			return backend.Result{}, c.tooLarge(err, "--upstream-max-header-bytes")
		}
		if errors.Is(err, openai.ErrHeadTimeout) {
			return backend.Result{}, &backend.Error{Status: http.StatusGatewayTimeout, Type: "server_error", Code: "upstream_timeout",
				Message: "the model server did not answer in time",
				Detail:  fmt.Sprintf("the upstream %s sent no response within %s (llmmon serve --upstream-timeout): the engine is overloaded or stuck; raise --upstream-timeout for long non-streamed answers", c.up.base, c.p.cfg.Timeout)}
		}
		return backend.Result{}, c.unreachable(err)
	}
	defer resp.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		if ctx.Err() != nil {
			return backend.Result{}, ctx.Err()
		}
		return backend.Result{}, c.upstreamError(resp, b)
	}
	ct := strings.TrimSpace(resp.ContentType)
	if c.stream && len(ct) >= 17 && strings.EqualFold(ct[:17], "text/event-stream") {
		return c.relayStream(ctx, resp, out)
	}
	return c.relayBody(ctx, resp, out)
}

// tooLarge is the answer to an upstream answer that outgrew a limit: 502,
// and the flag that sets the limit.
func (c *call) tooLarge(err error, flag string) *backend.Error {
	return &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_response_too_large",
		Message: "response too large: the model server's answer is over this gateway's limit",
		Detail:  fmt.Sprintf("response too large: the upstream %s sent %v (llmmon serve %s)", c.up.base, err, flag)}
}

func (c *call) unreachable(err error) *backend.Error {
	return &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_unreachable",
		Message: "the model server behind this gateway cannot be reached",
		Detail:  fmt.Sprintf("cannot reach the upstream %s: %v. Is the engine running there? Check llmmon serve --upstream.", c.up.base, err)}
}

// upstreamError passes the upstream's 4xx/5xx on with its status, in the
// OpenAI error format whatever the engine's own format.
func (c *call) upstreamError(resp *openai.Response, body []byte) *backend.Error {
	e := parseErrorBody(resp.StatusCode, body)
	if resp.StatusCode < 400 {
		// A redirect: the URL is wrong, not the request.
		e.Status = http.StatusBadGateway
		e.Type = "server_error"
		e.Code = "upstream_redirect"
		e.Message = "the model server behind this gateway is misconfigured"
		e.Detail = fmt.Sprintf("the upstream %s answered HTTP %d (redirect to %q): point llmmon serve --upstream at the engine's OpenAI base URL, e.g. http://HOST:PORT/v1",
			c.up.base, resp.StatusCode, resp.Location)
	}
	return e
}

// parseErrorBody reads an engine's error body (openai.ReadError) into the
// gateway's answer; plain text becomes the message.
func parseErrorBody(status int, body []byte) *backend.Error {
	e := &backend.Error{Status: status, Type: "invalid_request_error"}
	if status >= 500 {
		e.Type = "server_error"
	}
	if w, ok := openai.ReadError(body); ok {
		e.Message, e.Param, e.Code = w.Message, w.Param, w.Code
		if w.Type != "" {
			e.Type = w.Type
		}
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 512 {
		text = text[:512] + "…"
	}
	if text == "" {
		text = http.StatusText(status)
	}
	e.Message = fmt.Sprintf("the upstream answered HTTP %d: %s", status, text)
	return e
}

// relayBody passes a whole (non-streamed) answer through.
func (c *call) relayBody(ctx context.Context, resp *openai.Response, out backend.Output) (backend.Result, error) {
	var body []byte
	var err error
	max := c.p.cfg.MaxBody
	switch {
	case resp.ContentLength > max:
		return backend.Result{}, c.tooLarge(&openai.LimitError{What: "a body", Limit: max}, "--upstream-max-body")
	case resp.ContentLength >= 0:
		body = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, body)
	default:
		var more bool
		body, more, err = readUpTo(resp.Body, max)
		if err == nil && more {
			// Never a truncated answer passed off as a whole one.
			return backend.Result{}, c.tooLarge(&openai.LimitError{What: "a body", Limit: max}, "--upstream-max-body")
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return backend.Result{}, ctx.Err()
		}
		return backend.Result{}, &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_broken",
			Message: "the model server broke off its answer",
			Detail:  fmt.Sprintf("the upstream %s broke off its answer: %v", c.up.base, err)}
	}
	var res backend.Result
	if ch, ok := openai.ScanChunk(body); ok {
		res.FinishReason = ch.FinishReason()
		if ch.Usage {
			res.PromptTokens, res.CompletionTokens = ch.PromptTokens, ch.CompletionTokens
		} else {
			text, _ := openai.CompletionText(body)
			res.CompletionTokens = c.estimate(text)
			res.PromptTokens = c.estimate(c.promptText())
		}
	}
	body = c.rename(body)
	out.Start(resp.StatusCode, resp.ContentType, int64(len(body)))
	// No flush: the handler's return sends the body with its headers.
	return res, out.Write(body, 0)
}

// readUpTo reads r to its end, or to n bytes and then whether more
// follows, doubling its buffer as it goes: io.ReadAll grows by a quarter at
// a time, and would allocate five times a large answer to read it.
func readUpTo(r io.Reader, n int64) (b []byte, more bool, err error) {
	b = make([]byte, 0, min(n, 32<<10))
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			b = append(make([]byte, 0, min(2*int64(cap(b)), n)), b...)
		}
		k, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err == io.EOF {
			return b, false, nil
		}
		if err != nil {
			return b, false, err
		}
	}
	var probe [1]byte
	k, err := io.ReadFull(r, probe[:])
	if err == io.EOF {
		err = nil
	}
	return b, k > 0, err
}

// relayStream passes an SSE stream through event by event. Events already
// received are written together and flushed once; nothing waits for more
// data before being flushed.
func (c *call) relayStream(ctx context.Context, resp *openai.Response, out backend.Output) (backend.Result, error) {
	var res backend.Result
	st := openai.NewStream(resp.Body, c.p.cfg.SSE)
	defer st.Release()

	out.Start(resp.StatusCode, resp.ContentType, -1)
	counted, usage, finished, done, relayedErr := 0, false, false, false, false
	var err error
	for {
		var ev openai.Event
		ev, err = st.Next()
		if err != nil {
			break
		}
		forward, tokens := true, 0
		switch {
		case !ev.HasData: // a comment or keep-alive: pass it on
		case ev.IsDone():
			done = true
		default:
			if ch, ok := st.Scan(ev.Data); ok {
				if ch.Error != nil {
					relayedErr = true
				}
				tokens = ch.Content
				if fr := ch.FinishReason(); fr != "" {
					finished, res.FinishReason = true, fr
				}
				if ch.Usage {
					usage = true
					res.PromptTokens, res.CompletionTokens = ch.PromptTokens, ch.CompletionTokens
					if c.stripUsage && ch.Choices == 0 {
						forward = false
					}
				}
			}
		}
		if forward {
			if err := out.Write(c.rename(ev.Raw), tokens); err != nil {
				return c.finish(res, counted, usage), err
			}
			counted += tokens
		}
		if done {
			// The handler's return flushes: the last events and the end
			// of the chunked body then go out in one write.
			break
		}
		if !st.Buffered() {
			if err := out.Flush(); err != nil {
				return c.finish(res, counted, usage), err
			}
		}
	}
	res = c.finish(res, counted, usage)
	switch {
	case done:
	case ctx.Err() != nil:
		return res, ctx.Err()
	case err == io.EOF && (finished || usage):
		// Some engines end without [DONE]; clients expect it.
		out.Write([]byte(openai.DoneEvent), 0)
	case err == io.EOF:
		return res, &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_broken",
			Message: "the model server ended its stream before it finished",
			Detail:  fmt.Sprintf("the upstream %s closed its stream before it finished (no finish_reason, no [DONE])", c.up.base)}
	case errors.Is(err, openai.ErrTooLarge):
		flag := "--upstream-max-sse-event"
		if le := (*openai.LimitError)(nil); errors.As(err, &le) && le.What == openai.WhatLine {
			flag = "--upstream-max-sse-line"
		}
		return res, &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_broken",
			Message: "the model server's stream is over this gateway's limits",
			Detail:  fmt.Sprintf("the upstream %s sent %v (llmmon serve %s)", c.up.base, err, flag)}
	default:
		return res, &backend.Error{Status: http.StatusBadGateway, Type: "server_error", Code: "upstream_broken",
			Message: "the model server broke off its stream",
			Detail:  fmt.Sprintf("the upstream %s broke off its stream: %v", c.up.base, err)}
	}
	if relayedErr {
		return res, backend.ErrRelayed
	}
	return res, nil
}

// finish fills in the token counts when the upstream reported no usage.
func (c *call) finish(res backend.Result, counted int, usage bool) backend.Result {
	if !usage {
		res.CompletionTokens = counted
		if counted > 0 {
			res.PromptTokens = c.estimate(c.promptText())
		}
	}
	return res
}

// rename puts the exposed model name back into an answer, if --model
// renamed it. Only the first "model" field is touched.
func (c *call) rename(b []byte) []byte {
	if c.renameFrom == nil {
		return b
	}
	i := bytes.Index(b, []byte(`"model"`))
	if i < 0 {
		return b
	}
	j := i + len(`"model"`)
	for j < len(b) && (b[j] == ' ' || b[j] == ':') {
		j++
	}
	if !bytes.HasPrefix(b[j:], c.renameFrom) {
		return b
	}
	out := make([]byte, 0, len(b)+len(c.renameTo)-len(c.renameFrom))
	out = append(out, b[:j]...)
	out = append(out, c.renameTo...)
	return append(out, b[j+len(c.renameFrom):]...)
}

// estimate counts text's tokens with cl100k_base: an approximation for an
// engine that reports no usage.
func (c *call) estimate(text string) int {
	return cl100k.Count(text)
}

// promptText is the request's prompt or message text, for estimates.
func (c *call) promptText() string {
	var b strings.Builder
	if c.prompt.Present() {
		raw := c.orig[c.prompt.Start:c.prompt.End]
		var s string
		var list []string
		if json.Unmarshal(raw, &s) == nil {
			b.WriteString(s)
		} else if json.Unmarshal(raw, &list) == nil {
			b.WriteString(strings.Join(list, ""))
		}
	}
	if c.messages.Present() {
		var msgs []struct {
			Content json.RawMessage `json:"content"`
		}
		json.Unmarshal(c.orig[c.messages.Start:c.messages.End], &msgs)
		for _, m := range msgs {
			var s string
			var parts []struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(m.Content, &s) == nil {
				b.WriteString(s)
			} else if json.Unmarshal(m.Content, &parts) == nil {
				for _, p := range parts {
					b.WriteString(p.Text)
				}
			}
		}
	}
	return b.String()
}
