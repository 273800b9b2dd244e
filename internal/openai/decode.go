package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DecodeCompletionRequest is json.Unmarshal of a completion request body:
// the same result, and the same error, for every input. The requests
// clients send are read by a direct walk instead, at half encoding/json's
// cost (BenchmarkDecodeCompletionRequest; decoding was 5% of a serve
// request's CPU); whatever the walk is not sure to read exactly as
// encoding/json does (escapes, keys that differ only in case, duplicate
// keys, a value of the wrong kind, invalid UTF-8) goes to json.Unmarshal.
// FuzzDecodeCompletionRequest holds the two to the same result.
func DecodeCompletionRequest(body []byte) (CompletionRequest, error) {
	var r CompletionRequest
	if json.Valid(body) && r.decodeFast(body) {
		return r, nil
	}
	r = CompletionRequest{}
	err := json.Unmarshal(body, &r)
	return r, err
}

// decodeFast reads a valid JSON body into r, or returns false.
func (r *CompletionRequest) decodeFast(b []byte) bool {
	o := openObject(b, 0)
	var seen uint16
	for key, at, more := o.member(); more; key, at, more = o.member() {
		var bit uint16
		end, ok := 0, true
		switch string(key) {
		case "model":
			bit = 1 << 0
			end, ok = plainString(b, at, &r.Model)
		case "prompt":
			bit = 1 << 1
			end, r.Prompt = rawValue(b, at)
		case "messages":
			bit = 1 << 2
			end, ok = r.decodeMessages(b, at)
		case "max_tokens":
			bit = 1 << 3
			end, ok = intPointer(b, at, &r.MaxTokens, strconv.IntSize)
		case "max_completion_tokens":
			bit = 1 << 4
			end, ok = intPointer(b, at, &r.MaxCompletionTokens, strconv.IntSize)
		case "stop":
			bit = 1 << 5
			end, r.Stop = rawValue(b, at)
		case "n":
			bit = 1 << 6
			end, ok = intPointer(b, at, &r.N, strconv.IntSize)
		case "seed":
			bit = 1 << 7
			end, ok = intPointer(b, at, &r.Seed, 64)
		case "temperature":
			bit = 1 << 8
			end, ok = floatPointer(b, at, &r.Temperature)
		case "stream":
			bit = 1 << 9
			end, ok = boolean(b, at, &r.Stream)
		case "stream_options":
			bit = 1 << 10
			end, ok = r.decodeStreamOptions(b, at)
		case "ignore_eos":
			bit = 1 << 11
			end, ok = boolean(b, at, &r.IgnoreEOS)
		default:
			ok = unknownKey(key, requestKeys)
		}
		if !ok || seen&bit != 0 { // a duplicate: encoding/json merges them
			return false
		}
		seen |= bit
		o.value(end)
	}
	return !o.bad && skipWS(b, o.i) == len(b)
}

var (
	requestKeys = []string{"model", "prompt", "messages", "max_tokens", "max_completion_tokens", "stop", "n",
		"seed", "temperature", "stream", "stream_options", "ignore_eos"}
	messageKeys = []string{"role", "content"}
	optionKeys  = []string{"include_usage"}
)

// unknownKey is true for a key encoding/json ignores: one that matches no
// field even case-insensitively (it folds keys, Unicode included).
func unknownKey(key []byte, known []string) bool {
	for _, c := range key {
		if c == '\\' || c >= utf8.RuneSelf {
			return false
		}
	}
	for _, k := range known {
		if strings.EqualFold(string(key), k) {
			return false
		}
	}
	return true
}

func (r *CompletionRequest) decodeMessages(b []byte, at int) (int, bool) {
	if b[at] == 'n' { // null
		return at + 4, true
	}
	a := openArray(b, at)
	r.Messages = []Message{}
	for i, more := a.element(); more; i, more = a.element() {
		if b[i] != '{' {
			return 0, false
		}
		var m Message
		var seen uint8
		o := openObject(b, i)
		for key, at, more := o.member(); more; key, at, more = o.member() {
			var bit uint8
			end, ok := 0, true
			switch string(key) {
			case "role":
				bit = 1
				end, ok = plainString(b, at, &m.Role)
			case "content":
				bit = 2
				end, m.Content = rawValue(b, at)
			default:
				ok = unknownKey(key, messageKeys)
			}
			if !ok || seen&bit != 0 {
				return 0, false
			}
			seen |= bit
			o.value(end)
		}
		if o.bad {
			return 0, false
		}
		r.Messages = append(r.Messages, m)
		a.value(o.i)
	}
	return a.i, !a.bad
}

func (r *CompletionRequest) decodeStreamOptions(b []byte, at int) (int, bool) {
	if b[at] == 'n' {
		return at + 4, true
	}
	if b[at] != '{' {
		return 0, false
	}
	r.StreamOptions = &StreamOptions{}
	seen := false
	o := openObject(b, at)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		end, ok := 0, true
		if string(key) == "include_usage" {
			end, ok = boolean(b, at, &r.StreamOptions.IncludeUsage)
			ok = ok && !seen
			seen = true
		} else {
			ok = unknownKey(key, optionKeys)
		}
		if !ok {
			return 0, false
		}
		o.value(end)
	}
	return o.i, !o.bad
}

// rawValue copies the value at b[at], as json.RawMessage does ("null"
// included).
func rawValue(b []byte, at int) (int, json.RawMessage) {
	end, _ := skipValue(b, at) // b is valid JSON
	return end, append(json.RawMessage(nil), b[at:end]...)
}

// plainString reads a string with no escapes and valid UTF-8 (what
// encoding/json would change), or null (which leaves s alone).
func plainString(b []byte, at int, s *string) (int, bool) {
	if b[at] == 'n' {
		return at + 4, true
	}
	if b[at] != '"' {
		return 0, false
	}
	end, _ := skipString(b, at)
	raw := b[at+1 : end-1]
	for _, c := range raw {
		if c == '\\' {
			return 0, false
		}
	}
	if !utf8.Valid(raw) {
		return 0, false
	}
	*s = string(raw)
	return end, true
}

// literal is the number, true, false or null at b[at].
func literal(b []byte, at int) []byte {
	end, _ := skipValue(b, at)
	return b[at:end]
}

func boolean(b []byte, at int, v *bool) (int, bool) {
	lit := literal(b, at)
	switch string(lit) {
	case "true":
		*v = true
	case "false":
		*v = false
	case "null":
	default:
		return 0, false
	}
	return at + len(lit), true
}

// intPointer reads an integer of bits bits (T's size), as encoding/json
// does, or null.
func intPointer[T int | int64](b []byte, at int, p **T, bits int) (int, bool) {
	lit := literal(b, at)
	if string(lit) == "null" {
		*p = nil
		return at + 4, true
	}
	n, err := strconv.ParseInt(string(lit), 10, bits)
	if err != nil {
		return 0, false
	}
	v := T(n)
	*p = &v
	return at + len(lit), true
}

func floatPointer(b []byte, at int, p **float64) (int, bool) {
	lit := literal(b, at)
	if string(lit) == "null" {
		*p = nil
		return at + 4, true
	}
	if len(lit) == 0 || (lit[0] != '-' && (lit[0] < '0' || lit[0] > '9')) {
		return 0, false // a string, an object, true...
	}
	f, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return 0, false
	}
	*p = &f
	return at + len(lit), true
}

// StringValue is json.Unmarshal(raw, &s) of one JSON value: ok is false
// where that fails. A string with nothing to unescape or replace is cut
// out of raw directly; any other value goes to encoding/json.
func StringValue(raw []byte) (s string, ok bool) {
	if n := len(raw); n >= 2 && raw[0] == '"' && raw[n-1] == '"' {
		body, plain := raw[1:n-1], true
		for _, c := range body {
			if c == '"' || c == '\\' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain && utf8.Valid(body) {
			return string(body), true
		}
	}
	return s, json.Unmarshal(raw, &s) == nil
}
