package openai

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
func ScanChunk(b []byte) (c Chunk, ok bool) {
	var errVal []byte
	objErr := false
	_, ok = fields(b, 0, func(key []byte, at int) int {
		switch string(key) {
		case "choices":
			c.HasChoices, c.Choices, c.Content, c.finish = false, 0, 0, nil
			if at < len(b) && b[at] == '[' {
				end, ok := elements(b, at, func(at int) int { return c.scanChoice(b, at) })
				if ok {
					c.HasChoices = true
				}
				return end
			}
		case "usage":
			c.Usage, c.PromptTokens, c.CompletionTokens = false, 0, 0
			if at < len(b) && b[at] == '{' {
				c.Usage = true
				end, _ := fields(b, at, func(key []byte, at int) int {
					switch string(key) {
					case "prompt_tokens":
						v, end := valueAt(b, at)
						c.PromptTokens = intValue(v)
						return end
					case "completion_tokens":
						v, end := valueAt(b, at)
						c.CompletionTokens = intValue(v)
						return end
					}
					return 0
				})
				return end
			}
		case "error":
			v, end := valueAt(b, at)
			errVal = nil
			if v != nil && !IsNull(v) {
				errVal = v
			}
			return end
		case "object":
			v, end := valueAt(b, at)
			objErr = string(v) == `"error"`
			return end
		}
		return 0
	})
	if !ok {
		return Chunk{}, false
	}
	switch {
	case errVal != nil:
		c.Error = errVal
	case objErr:
		c.Error = b
	}
	return c, true
}

// scanChoice reads one element of choices at b[at] and returns the index
// after it (0 if it is not an object, which the caller then skips).
func (c *Chunk) scanChoice(b []byte, at int) int {
	c.Choices++
	text, msg := false, false
	var finish []byte
	end, ok := fields(b, at, func(key []byte, at int) int {
		switch string(key) {
		case "text":
			v, end := valueAt(b, at)
			text = hasText(v)
			return end
		case "delta", "message": // whichever comes last counts
			var end int
			msg, end = messageHasText(b, at)
			return end
		case "finish_reason":
			v, end := valueAt(b, at)
			finish = nil
			if len(v) > 2 && v[0] == '"' { // "" is the only empty string
				finish = v
			}
			return end
		}
		return 0
	})
	if !ok {
		return 0
	}
	if text || msg {
		c.Content++
	}
	if c.finish == nil {
		c.finish = finish
	}
	return end
}

// messageHasText reports whether the delta or message object at b[at]
// carries output: content, reasoning_content, reasoning or tool_calls, each
// by its last duplicate. It returns the index after the value (0 if it is
// not an object, which then carries nothing).
func messageHasText(b []byte, at int) (bool, int) {
	var has [4]bool
	end, ok := fields(b, at, func(key []byte, at int) int {
		var k int
		switch string(key) {
		case "content":
			k = 0
		case "reasoning_content":
			k = 1
		case "reasoning":
			k = 2
		case "tool_calls":
			k = 3
		default:
			return 0
		}
		v, end := valueAt(b, at)
		has[k] = hasText(v)
		return end
	})
	if !ok {
		return false, 0
	}
	return has[0] || has[1] || has[2] || has[3], end
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
