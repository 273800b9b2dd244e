package openai

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// A small JSON walker for the hot paths. Every streamed chunk passes through
// the gateway and through load, and encoding/json (a validation pass, then
// reflection and an allocation per field) would cost more than the rest of
// their work put together. The walker reads only the members asked for,
// allocates nothing, and treats keys exactly (as engines write them), the
// last duplicate winning, as when a JSON object is decoded into a map. It
// does not validate what it skips: FuzzScanChunk holds it to encoding/json
// on valid JSON, and on anything else it must only never panic.

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] == '"'.
// Keys and most values are short: they are stepped through byte by byte;
// a long string's end is searched with bytes.IndexByte.
func skipString(b []byte, i int) (int, bool) {
	j := i + 1
	for end := min(len(b), j+32); j < end; j++ {
		switch b[j] {
		case '"':
			return j + 1, true
		case '\\':
			j++ // the escaped byte
		}
	}
	for j < len(b) {
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
	return 0, false
}

// skipValue returns the index after the value that starts at b[i].
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

// valueAt returns the value that starts at b[i] and the index after it;
// nil and 0 if there is none.
func valueAt(b []byte, i int) ([]byte, int) {
	end, ok := skipValue(b, i)
	if !ok {
		return nil, 0
	}
	return b[i:end], end
}

// seq steps through a JSON object's members or an array's elements in one
// pass:
//
//	o := openObject(b, i)
//	for key, at, ok := o.member(); ok; key, at, ok = o.member() {
//		o.value(end) // where the value at b[at] ended, or 0 to skip it
//	}
//	// o.bad: b[i:] is not well-formed; else o.i is just past it.
//
// Arrays go the same way with openArray and element.
type seq struct {
	b     []byte
	i     int
	close byte // '}' or ']'
	start bool
	bad   bool
}

func openSeq(b []byte, i int, open, close byte) seq {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != open {
		return seq{bad: true}
	}
	return seq{b: b, i: i + 1, close: close, start: true}
}

func openObject(b []byte, i int) seq { return openSeq(b, i, '{', '}') }
func openArray(b []byte, i int) seq  { return openSeq(b, i, '[', ']') }

// element returns the index of the next item (always within b); false at
// the end, or when the sequence is malformed.
func (s *seq) element() (at int, ok bool) {
	b := s.b
	if s.bad {
		return 0, false
	}
	i := skipWS(b, s.i)
	if i >= len(b) {
		s.bad = true
		return 0, false
	}
	switch {
	case b[i] == s.close:
		s.i = i + 1
		return 0, false
	case s.start:
		s.start = false
	case b[i] == ',':
		i = skipWS(b, i+1)
	default:
		s.bad = true
		return 0, false
	}
	if i >= len(b) {
		s.bad = true
		return 0, false
	}
	s.i = i
	return i, true
}

// member returns the next member's key (raw, without its quotes) and the
// index of its value (always within b); false at the end of the object, or
// when it is malformed.
func (s *seq) member() (key []byte, at int, ok bool) {
	i, ok := s.element()
	if !ok {
		return nil, 0, false
	}
	b := s.b
	end, ok := 0, b[i] == '"'
	if ok {
		end, ok = skipString(b, i)
	}
	if !ok {
		s.bad = true
		return nil, 0, false
	}
	key = b[i+1 : end-1]
	i = skipWS(b, end)
	if i >= len(b) || b[i] != ':' {
		s.bad = true
		return nil, 0, false
	}
	s.i = skipWS(b, i+1)
	if s.i >= len(b) {
		s.bad = true
		return nil, 0, false
	}
	return key, s.i, true
}

// value says where the current item's value ended: end, if it was read;
// 0 has it skipped.
func (s *seq) value(end int) {
	if end > s.i {
		s.i = end
		return
	}
	end, ok := skipValue(s.b, s.i)
	if !ok {
		s.bad = true
		return
	}
	s.i = end
}

// Span is where a value sits in a body: b[Start:End]. Start is -1 when the
// member is absent.
type Span struct{ Start, End int }

// Present reports whether the member was there.
func (s Span) Present() bool { return s.Start >= 0 }

var absent = Span{-1, -1}

// IsNull reports whether a raw JSON value is null.
func IsNull(v []byte) bool { return string(v) == "null" }

// Unquote is a raw JSON string's text, "" if v is not a string.
func Unquote(v []byte) string {
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

// intValue reads a JSON number as an int, the way token counts are read:
// a fraction is cut off, and anything that is not a number is 0.
func intValue(v []byte) int {
	n, i, neg := 0, 0, false
	if len(v) > 0 && v[0] == '-' {
		neg, i = true, 1
	}
	digits := 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9' && digits < 18; i++ {
		n = n*10 + int(v[i]-'0')
		digits++
	}
	if i == len(v) && digits > 0 {
		if neg {
			return -n
		}
		return n
	}
	// Exponents, fractions and long numbers: rare, so parsed the slow way.
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || math.IsNaN(f) || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0
	}
	return int(f)
}
