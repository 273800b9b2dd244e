package llmserver

import (
	"strconv"
	"unicode/utf8"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Responses are written with append functions rather than encoding/json:
// they are small and fixed in shape, and this is the hot path.

func (s *Server) appendHead(b []byte, req *decodedRequest, id string, created int64, object string) []byte {
	b = append(b, `{"id":"`...)
	b = append(b, id...)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	return appendJSONString(b, req.Model)
}

func appendUsage(b []byte, res backend.Result) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(res.PromptTokens), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(res.CompletionTokens), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(res.PromptTokens+res.CompletionTokens), 10)
	return append(b, '}')
}

func appendFinish(b []byte, reason string) []byte {
	if reason == "" {
		return append(b, `null`...)
	}
	return appendJSONString(b, reason)
}

// appendResponse is a whole non-streamed completion or chat completion.
func (s *Server) appendResponse(b []byte, req *decodedRequest, text string, res backend.Result) []byte {
	if req.Chat {
		b = s.appendHead(b, req, newID(true), s.now(), "chat.completion")
		b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
		b = appendJSONString(b, text)
		b = append(b, `},"logprobs":null,"finish_reason":`...)
	} else {
		b = s.appendHead(b, req, newID(false), s.now(), "text_completion")
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = appendJSONString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
	}
	b = appendFinish(b, res.FinishReason)
	b = append(b, `}],`...)
	b = appendUsage(b, res)
	return append(b, '}')
}

// appendChunk is one SSE event of a stream. role marks chat's opening
// chunk; finish marks the closing one.
func (s *Server) appendChunk(b []byte, req *decodedRequest, id string, created int64, text string, role bool, finish string) []byte {
	b = append(b, "data: "...)
	if req.Chat {
		b = s.appendHead(b, req, id, created, "chat.completion.chunk")
		b = append(b, `,"choices":[{"index":0,"delta":{`...)
		switch {
		case role:
			b = append(b, `"role":"assistant","content":""`...)
		case finish == "":
			b = append(b, `"content":`...)
			b = appendJSONString(b, text)
		}
		b = append(b, `},"logprobs":null,"finish_reason":`...)
	} else {
		b = s.appendHead(b, req, id, created, "text_completion")
		b = append(b, `,"choices":[{"index":0,"text":`...)
		b = appendJSONString(b, text)
		b = append(b, `,"logprobs":null,"finish_reason":`...)
	}
	b = appendFinish(b, finish)
	return append(b, "}]}\n\n"...)
}

// appendUsageChunk is the final chunk stream_options.include_usage asks for.
func (s *Server) appendUsageChunk(b []byte, req *decodedRequest, id string, created int64, res backend.Result) []byte {
	b = append(b, "data: "...)
	object := "text_completion"
	if req.Chat {
		object = "chat.completion.chunk"
	}
	b = s.appendHead(b, req, id, created, object)
	b = append(b, `,"choices":[],`...)
	b = appendUsage(b, res)
	return append(b, "}\n\n"...)
}

func appendErrorJSON(b []byte, e *backend.Error) []byte {
	opt := func(b []byte, v string) []byte {
		if v == "" {
			return append(b, "null"...)
		}
		return appendJSONString(b, v)
	}
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, e.Message)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"param":`...)
	b = opt(b, e.Param)
	b = append(b, `,"code":`...)
	b = opt(b, e.Code)
	return append(b, "}}"...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD
// (byte-level BPE tokens can split a character).
func appendJSONString(b []byte, s string) []byte {
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
