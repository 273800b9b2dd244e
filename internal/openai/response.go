package openai

import (
	"strconv"
	"unicode/utf8"
)

// Answers are written with append functions rather than encoding/json: they
// are small and fixed in shape, and serve writes one per token.

// Answer is what every chunk of one answer repeats.
type Answer struct {
	Chat    bool   // a chat completion (else a text completion)
	ID      string // "chatcmpl-..." or "cmpl-..."
	Created int64  // Unix seconds
	Model   string

	// chunkHead is every chunk's start up to its text, the same for the
	// whole stream: written once, copied for each chunk. So an Answer does
	// not change once a chunk is appended.
	chunkHead []byte
}

// Usage is an answer's token counts.
type Usage struct {
	PromptTokens     int
	CompletionTokens int
}

func (a *Answer) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":`...)
	b = AppendString(b, a.ID)
	b = append(b, `,"object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, a.Created, 10)
	b = append(b, `,"model":`...)
	return AppendString(b, a.Model)
}

func appendUsage(b []byte, u Usage) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.PromptTokens+u.CompletionTokens), 10)
	return append(b, '}')
}

func appendFinish(b []byte, reason string) []byte {
	if reason == "" {
		return append(b, `null`...)
	}
	return AppendString(b, reason)
}

// AppendCompletion appends a whole (non-streamed) completion or chat
// completion with one choice.
func (a *Answer) AppendCompletion(b []byte, text, finish string, u Usage) []byte {
	if a.Chat {
		b = a.appendHead(b, "chat.completion")
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		b = AppendString(b, text)
		b = append(b, `},"logprobs":null,"finish_reason":`...)
	} else {
		b = a.appendHead(b, "text_completion")
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = AppendString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
	}
	b = appendFinish(b, finish)
	b = append(b, `}],`...)
	b = appendUsage(b, u)
	return append(b, '}')
}

// AppendRoleChunk appends the event that opens a chat stream: the
// assistant's role, no content yet.
func (a *Answer) AppendRoleChunk(b []byte) []byte {
	b = append(b, "data: "...)
	b = a.appendHead(b, "chat.completion.chunk")
	b = append(b, `,"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`...)
	return append(b, "\n\n"...)
}

// AppendChunk appends one streamed event carrying text, or, with a finish
// reason, the event that closes the choice (chat: an empty delta).
func (a *Answer) AppendChunk(b []byte, text, finish string) []byte {
	if a.chunkHead == nil {
		h := append(make([]byte, 0, 128), "data: "...)
		if a.Chat {
			h = a.appendHead(h, "chat.completion.chunk")
			h = append(h, `,"choices":[{"index":0,"delta":{`...)
		} else {
			h = a.appendHead(h, "text_completion")
			h = append(h, `,"choices":[{"index":0,"text":`...)
		}
		a.chunkHead = h
	}
	b = append(b, a.chunkHead...)
	if a.Chat {
		if finish == "" {
			b = append(b, `"content":`...)
			b = AppendString(b, text)
		}
		b = append(b, `},"logprobs":null,"finish_reason":`...)
	} else {
		b = AppendString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
	}
	b = appendFinish(b, finish)
	return append(b, "}]}\n\n"...)
}

// AppendUsageChunk appends the last, usage-only event that
// stream_options.include_usage asks for.
func (a *Answer) AppendUsageChunk(b []byte, u Usage) []byte {
	b = append(b, "data: "...)
	object := "text_completion"
	if a.Chat {
		object = "chat.completion.chunk"
	}
	b = a.appendHead(b, object)
	b = append(b, `,"choices":[],`...)
	b = appendUsage(b, u)
	return append(b, "}\n\n"...)
}

// DoneEvent is the event that ends a stream.
const DoneEvent = "data: " + Done + "\n\n"

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (byte-level BPE tokens can split a character).
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
