package proxy

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// A small JSON walker for the hot path. Every streamed chunk passes through
// the gateway, and encoding/json (a validation pass, then reflection and an
// allocation per field) cost more than the rest of the relay put together.
// The walker reads only what the gateway needs, allocates nothing, and
// treats keys exactly (as engines write them) with the last duplicate
// winning, like a JSON object decoded into a map. FuzzScanChunk holds it
// to encoding/json.

// chunkInfo is what the gateway reads of a chunk or a whole answer.
type chunkInfo struct {
	choices int // len(choices)
	content int // choices that carry generated text
	finish  string
	usage   bool
	prompt  int
	compl   int
	isError bool
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] == '"'.
func skipString(b []byte, i int) (int, bool) {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return 0, false
		}
		q := j + k
		n := 0 // backslashes right before the quote: odd means escaped
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1, true
		}
		j = q + 1
	}
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	return j, j > i
}

// eachField calls fn with each key (raw, without quotes) and value of the
// object at b[i]; the value is b[start:end]. It reports false if b[i:] is
// not an object.
func eachField(b []byte, i int, fn func(key []byte, start, end int)) bool {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) {
		if b[i] != '"' {
			return false
		}
		end, ok := skipString(b, i)
		if !ok {
			return false
		}
		key := b[i+1 : end-1]
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipWS(b, i+1)
		vend, ok := skipValue(b, i)
		if !ok {
			return false
		}
		fn(key, i, vend)
		i = skipWS(b, vend)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
	return false
}

// eachElement calls fn with each element of the array at b[0].
func eachElement(b []byte, fn func(val []byte)) bool {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		end, ok := skipValue(b, i)
		if !ok {
			return false
		}
		fn(b[i:end])
		i = skipWS(b, end)
		if i >= len(b) {
			return false
		}
		if b[i] == ']' {
			return true
		}
		if b[i] != ',' {
			return false
		}
		i = skipWS(b, i+1)
	}
	return false
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
		return skipWS(v, 1) < len(v) && v[skipWS(v, 1)] != ']'
	}
	return false
}

func isNullValue(v []byte) bool { return string(v) == "null" }

// stringValue is a JSON string's text ("" if v is not a string).
func stringValue(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	// The fast path only when decoding could not change a byte: no escapes,
	// and no invalid UTF-8, which encoding/json turns into U+FFFD.
	if bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
		return string(v[1 : len(v)-1])
	}
	var s string
	json.Unmarshal(v, &s)
	return s
}

func intValue(v []byte) int {
	n, err := strconv.Atoi(string(v))
	if err != nil {
		f, ferr := strconv.ParseFloat(string(v), 64)
		if ferr != nil {
			return 0
		}
		return int(f)
	}
	return n
}

// scanChunk reads a completion, chat completion or stream chunk. ok is
// false when b is not a JSON object.
func scanChunk(b []byte) (info chunkInfo, ok bool) {
	var choices, usage []byte
	errVal, objErr := false, false
	ok = eachField(b, 0, func(key []byte, s, e int) {
		val := b[s:e]
		switch string(key) {
		case "choices":
			choices = val
		case "usage":
			usage = val
		case "error":
			errVal = !isNullValue(val)
		case "object":
			objErr = string(val) == `"error"`
		}
	})
	if !ok {
		return chunkInfo{}, false
	}
	info.isError = errVal || objErr
	if choices != nil {
		eachElement(choices, func(choice []byte) {
			info.choices++
			text, finish := false, ""
			var msg []byte
			eachField(choice, 0, func(key []byte, s, e int) {
				switch string(key) {
				case "text":
					text = hasText(choice[s:e])
				case "delta", "message":
					msg = choice[s:e]
				case "finish_reason":
					finish = stringValue(choice[s:e])
				}
			})
			if msg != nil {
				var has [4]bool // content, reasoning_content, reasoning, tool_calls; the last duplicate wins
				eachField(msg, 0, func(key []byte, s, e int) {
					switch string(key) {
					case "content":
						has[0] = hasText(msg[s:e])
					case "reasoning_content":
						has[1] = hasText(msg[s:e])
					case "reasoning":
						has[2] = hasText(msg[s:e])
					case "tool_calls":
						has[3] = hasText(msg[s:e])
					}
				})
				text = text || has[0] || has[1] || has[2] || has[3]
			}
			if text {
				info.content++
			}
			if info.finish == "" {
				info.finish = finish
			}
		})
	}
	if len(usage) > 0 && usage[0] == '{' {
		info.usage = true
		eachField(usage, 0, func(key []byte, s, e int) {
			switch string(key) {
			case "prompt_tokens":
				info.prompt = intValue(usage[s:e])
			case "completion_tokens":
				info.compl = intValue(usage[s:e])
			}
		})
	}
	return info, true
}

// span is a value's place in a body: b[start:end]; start < 0 if absent.
type span struct{ start, end int }

func (s span) present() bool { return s.start >= 0 }

// requestFields are where the top-level fields the gateway routes by sit
// in a client's body.
type requestFields struct {
	model, stream, streamOptions, prompt, messages span
	includeUsage                                   span // inside stream_options
}

func scanRequest(b []byte) (requestFields, bool) {
	none := span{-1, -1}
	f := requestFields{none, none, none, none, none, none}
	ok := eachField(b, 0, func(key []byte, s, e int) {
		switch string(key) {
		case "model":
			f.model = span{s, e}
		case "stream":
			f.stream = span{s, e}
		case "stream_options":
			f.streamOptions = span{s, e}
		case "prompt":
			f.prompt = span{s, e}
		case "messages":
			f.messages = span{s, e}
		}
	})
	if ok && f.streamOptions.present() && b[f.streamOptions.start] == '{' {
		so := f.streamOptions
		eachField(b[:so.end], so.start, func(key []byte, s, e int) {
			if string(key) == "include_usage" {
				f.includeUsage = span{s, e}
			}
		})
	}
	return f, ok
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
