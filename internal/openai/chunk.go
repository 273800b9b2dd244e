package openai

import (
	"bytes"
	"encoding/json"
)

// Chunk is what llmmon reads of a completion, a chat completion, or one
// streamed chunk of either. Both the gateway and load read answers through
// ScanChunk, so they agree on what a token is.
type Chunk struct {
	// HasChoices: choices is an array, as in every completion (a usage-only
	// chunk has an empty one).
	HasChoices bool
	// Choices is len(choices).
	Choices int
	// Content is how many choices carry generated output: non-empty text
	// (completions), or a delta or message with non-empty content,
	// reasoning_content (vLLM, SGLang), reasoning, or tool calls. In a
	// stream, each such choice is one token as the client sees it.
	Content int
	// Usage: a usage object, with the token counts it gives.
	Usage            bool
	PromptTokens     int
	CompletionTokens int
	// Error is the error this answer carries instead of a completion: the
	// "error" member (unless null), or the whole answer when it is vLLM's
	// flat {"object":"error",...}. Nil for a completion.
	Error []byte

	finish []byte // the first non-empty finish_reason among the choices, raw
}

// FinishReason is the first non-empty finish_reason among the choices
// ("stop", "length", ...), "" while the answer is still going.
func (c *Chunk) FinishReason() string { return Unquote(c.finish) }

// ScanChunk reads b in one pass without allocating. ok is false when b is
// not a JSON object.
func ScanChunk(b []byte) (Chunk, bool) {
	var s chunkScan
	return s.scan(b)
}

// chunkScan is one run of ScanChunk. It also notes where the first string
// that may carry generated output sits (the value of a choice's text, or
// of its message's content, reasoning_content or reasoning): all the scan
// reads of that string is whether it is empty.
type chunkScan struct {
	Chunk
	text Span // zero (Start == End == 0) until noted
}

func (s *chunkScan) scan(b []byte) (Chunk, bool) {
	c := &s.Chunk
	var errVal []byte
	objErr := false
	o := openObject(b, 0)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		end := 0
		switch string(key) {
		case "choices":
			c.HasChoices, c.Choices, c.Content, c.finish = false, 0, 0, nil
			if b[at] == '[' {
				end = s.scanChoices(b, at)
				c.HasChoices = end > 0
			}
		case "usage":
			c.Usage, c.PromptTokens, c.CompletionTokens = false, 0, 0
			if b[at] == '{' {
				c.Usage = true
				end = c.scanUsage(b, at)
			}
		case "error":
			var v []byte
			v, end = valueAt(b, at)
			errVal = nil
			if v != nil && !IsNull(v) {
				errVal = v
			}
		case "object":
			var v []byte
			v, end = valueAt(b, at)
			objErr = string(v) == `"error"`
		}
		o.value(end)
	}
	if o.bad {
		return Chunk{}, false
	}
	switch {
	case errVal != nil:
		c.Error = errVal
	case objErr:
		c.Error = b
	}
	return *c, true
}

// scanChoices reads the choices array at b[at]; it returns the index after
// it, 0 if it is malformed.
func (s *chunkScan) scanChoices(b []byte, at int) int {
	a := openArray(b, at)
	for at, more := a.element(); more; at, more = a.element() {
		s.Choices++
		a.value(s.scanChoice(b, at))
	}
	if a.bad {
		return 0
	}
	return a.i
}

// scanChoice reads one element of choices at b[at] and returns the index
// after it (0 if it is not an object, which the caller then skips).
func (s *chunkScan) scanChoice(b []byte, at int) int {
	text, msg := false, false
	var finish []byte
	o := openObject(b, at)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		end := 0
		switch string(key) {
		case "text":
			var v []byte
			v, end = valueAt(b, at)
			text = hasText(v)
			s.noteText(v, at, end)
		case "delta", "message": // whichever comes last counts
			msg, end = s.messageHasText(b, at)
		case "finish_reason":
			var v []byte
			v, end = valueAt(b, at)
			finish = nil
			if len(v) > 2 && v[0] == '"' { // "" is the only empty string
				finish = v
			}
		}
		o.value(end)
	}
	if o.bad {
		return 0
	}
	if text || msg {
		s.Content++
	}
	if s.finish == nil {
		s.finish = finish
	}
	return o.i
}

// messageHasText reports whether the delta or message object at b[at]
// carries output: content, reasoning_content, reasoning or tool_calls, each
// by its last duplicate. It returns the index after the value (0 if it is
// not an object, which then carries nothing).
func (s *chunkScan) messageHasText(b []byte, at int) (bool, int) {
	var has [4]bool
	o := openObject(b, at)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		k := -1
		switch string(key) {
		case "content":
			k = 0
		case "reasoning_content":
			k = 1
		case "reasoning":
			k = 2
		case "tool_calls":
			k = 3
		}
		if k < 0 {
			o.value(0)
			continue
		}
		v, end := valueAt(b, at)
		has[k] = hasText(v)
		if k < 3 {
			s.noteText(v, at, end)
		}
		o.value(end)
	}
	if o.bad {
		return false, 0
	}
	return has[0] || has[1] || has[2] || has[3], o.i
}

// noteText notes where the first string value that may carry output sits.
func (s *chunkScan) noteText(v []byte, at, end int) {
	if s.text.End == 0 && len(v) > 0 && v[0] == '"' {
		s.text = Span{at, end}
	}
}

// scanUsage reads the usage object at b[at]; it returns the index after it,
// 0 if it is malformed.
func (c *Chunk) scanUsage(b []byte, at int) int {
	o := openObject(b, at)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		end := 0
		switch string(key) {
		case "prompt_tokens":
			var v []byte
			v, end = valueAt(b, at)
			c.PromptTokens = intValue(v)
		case "completion_tokens":
			var v []byte
			v, end = valueAt(b, at)
			c.CompletionTokens = intValue(v)
		}
		o.value(end)
	}
	if o.bad {
		return 0
	}
	return o.i
}

// hasText: a non-empty string, or a non-empty array (tool calls, content
// parts).
func hasText(v []byte) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '"':
		return len(v) > 2
	case '[':
		i := skipWS(v, 1)
		return i < len(v) && v[i] != ']'
	}
	return false
}

// StreamScanner reads the chunks of one stream, as ScanChunk does, for less.
// A server repeats the same id, model and layout in every chunk of a stream,
// so a chunk that differs from the last one scanned whole (its template)
// only inside the string of its generated text is read by comparing bytes:
// the structure is then the same, ScanChunk would read the same, and what
// it reads of that string is only whether it is empty. Both outcomes are
// worked out when the template is taken. Any other chunk is scanned whole
// and may become the template. The zero value is ready to use.
type StreamScanner struct {
	tmpl        []byte // the template chunk
	at, end     int    // its text string: tmpl[at:end]
	full, empty Chunk  // what ScanChunk reads of it with that string not empty, and empty
	ok          bool
	scratch     []byte
}

// Reset readies s for another stream, keeping its buffers.
func (s *StreamScanner) Reset() { s.ok = false }

// maxTemplate bounds the memory a stream's template keeps.
const maxTemplate = 4 << 10

// Scan reads one chunk of the stream; the result is ScanChunk's.
func (s *StreamScanner) Scan(b []byte) (Chunk, bool) {
	if s.ok {
		pre, suf := s.tmpl[:s.at], s.tmpl[s.end:]
		if len(b) >= len(pre)+len(suf)+2 && bytes.Equal(b[:len(pre)], pre) && bytes.Equal(b[len(b)-len(suf):], suf) {
			mid := b[len(pre) : len(b)-len(suf)]
			if end, ok := skipString(mid, 0); mid[0] == '"' && ok && end == len(mid) {
				if len(mid) > 2 {
					return s.full, true
				}
				return s.empty, true
			}
		}
	}
	var cs chunkScan
	c, ok := cs.scan(b)
	s.take(b, c, ok, cs.text)
	return c, ok
}

// take makes b the template when it has a text string, its outcome holds
// no view into b (no error, no finish reason), and it is valid JSON: on
// invalid JSON, ScanChunk's lenient walk may not read the text span as a
// string, so another string there would not read the same (the fuzzer
// found such a chunk). Validating costs once per template, not per chunk.
func (s *StreamScanner) take(b []byte, c Chunk, ok bool, text Span) {
	if !ok || text.End == 0 || c.Error != nil || c.finish != nil || len(b) > maxTemplate || !json.Valid(b) {
		return
	}
	s.tmpl = append(s.tmpl[:0], b...)
	s.at, s.end = text.Start, text.End
	other := `""`
	if text.End-text.Start == 2 {
		other = `"x"`
	}
	s.scratch = append(append(append(s.scratch[:0], b[:text.Start]...), other...), b[text.End:]...)
	oc, ook := ScanChunk(s.scratch)
	if !ook || oc.Error != nil || oc.finish != nil {
		s.ok = false
		return
	}
	s.full, s.empty = c, oc
	if other == `"x"` {
		s.full, s.empty = oc, c
	}
	s.ok = true
}
