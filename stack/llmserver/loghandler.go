package llmserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"
)

// lineHandler is the access log's slog.Handler: the lines of slog's
// TextHandler or JSONHandler, byte for byte for the kinds the access log
// uses (strings, integers, booleans, durations, times), at a third of
// their cost. slog's handlers are general (groups, ReplaceAttr, sources)
// and took 8% of a request on their own; a request's whole
// instrumentation has 5%.
type lineHandler struct {
	mu    *sync.Mutex // shared by the handlers WithAttrs and WithGroup derive
	w     io.Writer
	json  bool
	level slog.Leveler
	pre   []byte // attributes from WithAttrs, formatted, each with its separator
	group string // WithGroup's names, "a.b." (JSON: keys are prefixed, not nested)
}

func newLineHandler(w io.Writer, json bool, level slog.Leveler) *lineHandler {
	return &lineHandler{mu: new(sync.Mutex), w: w, json: json, level: level}
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

func (h *lineHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.pre = append([]byte(nil), h.pre...)
	for _, a := range attrs {
		c.pre = c.appendAttr(c.pre, h.group, a)
	}
	return &c
}

func (h *lineHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

var lineBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	bp := lineBufs.Get().(*[]byte)
	b := h.appendHead((*bp)[:0], r.Time, r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b = h.appendAttr(b, h.group, a)
		return true
	})
	return h.write(bp, b)
}

// handleAttrs writes the line Handle would write for a record of attrs,
// without building the record: slog.Record keeps five attributes inline
// and copies the rest to the heap, a quarter of an access line's cost.
func (h *lineHandler) handleAttrs(t time.Time, level slog.Level, msg string, attrs []slog.Attr) error {
	bp := lineBufs.Get().(*[]byte)
	b := h.appendHead((*bp)[:0], t, level, msg)
	for _, a := range attrs {
		b = h.appendAttr(b, h.group, a)
	}
	return h.write(bp, b)
}

// appendHead appends the built-in fields and WithAttrs' attributes.
func (h *lineHandler) appendHead(b []byte, t time.Time, level slog.Level, msg string) []byte {
	r := struct {
		Time    time.Time
		Level   slog.Level
		Message string
	}{t, level, msg}
	if h.json {
		b = append(b, '{')
		if !r.Time.IsZero() {
			b = append(b, `"time":"`...)
			b = appendRFC3339Nano(b, r.Time)
			b = append(b, `",`...)
		}
		b = append(b, `"level":"`...)
		b = append(b, r.Level.String()...)
		b = append(b, `","msg":`...)
		b = appendJSONString(b, r.Message)
	} else {
		if !r.Time.IsZero() {
			b = append(b, "time="...)
			b = appendRFC3339Millis(b, r.Time)
			b = append(b, ' ')
		}
		b = append(b, "level="...)
		b = append(b, r.Level.String()...)
		b = append(b, " msg="...)
		b = appendText(b, r.Message)
	}
	return append(b, h.pre...)
}

// write ends the line, writes it, and returns the buffer to the pool.
func (h *lineHandler) write(bp *[]byte, b []byte) error {
	if h.json {
		b = append(b, '}')
	}
	b = append(b, '\n')
	h.mu.Lock()
	_, err := h.w.Write(b)
	h.mu.Unlock()
	if cap(b) <= 16<<10 {
		*bp = b
		lineBufs.Put(bp)
	}
	return err
}

// appendAttr appends a separator and the attribute, as slog's handlers
// do: empty attributes are dropped, groups are flattened with dotted keys.
func (h *lineHandler) appendAttr(b []byte, prefix string, a slog.Attr) []byte {
	v := a.Value
	if v.Kind() == slog.KindLogValuer {
		v = v.Resolve() // it sets up a recover: only when there is something to resolve
	}
	if a.Key == "" && v.Kind() != slog.KindGroup {
		return b
	}
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			b = h.appendAttr(b, p, ga)
		}
		return b
	}
	key := a.Key
	if prefix != "" {
		key = prefix + key
	}
	if h.json {
		b = append(b, ',')
		b = appendJSONString(b, key)
		b = append(b, ':')
		return appendJSONValue(b, v)
	}
	b = append(b, ' ')
	b = appendText(b, key)
	b = append(b, '=')
	return appendTextValue(b, v)
}

func appendJSONValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendJSONString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10) // nanoseconds, as slog's JSON
	case slog.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case slog.KindTime:
		b = append(b, '"')
		b = appendRFC3339Nano(b, v.Time())
		return append(b, '"')
	}
	if err, ok := v.Any().(error); ok {
		return appendJSONString(b, err.Error())
	}
	j, err := json.Marshal(v.Any())
	if err != nil {
		return appendJSONString(b, fmt.Sprintf("!ERROR:%v", err))
	}
	return append(b, j...)
}

func appendTextValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendText(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindTime:
		return appendRFC3339Millis(b, v.Time())
	}
	return appendText(b, v.String()) // durations and the rest, as slog's text
}

// appendRFC3339Millis is slog's text time: RFC 3339 with milliseconds.
func appendRFC3339Millis(b []byte, t time.Time) []byte {
	b, zone := appendSecond(b, t)
	ms := t.Nanosecond() / 1e6
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, zone...)
}

// appendRFC3339Nano is t in time.RFC3339Nano, as slog's JSON writes it.
func appendRFC3339Nano(b []byte, t time.Time) []byte {
	b, zone := appendSecond(b, t)
	if ns := t.Nanosecond(); ns != 0 {
		var d [10]byte
		d[0] = '.'
		for i := 9; i > 0; i-- {
			d[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return append(b, zone...)
}

// second is one second of wall time, formatted: every line of that second
// shares it, and time.Time.AppendFormat costs a fifth of a line.
type second struct {
	unix       int64
	loc        *time.Location
	text, zone string
}

var lastSecond atomic.Pointer[second]

// appendSecond appends t's date and time to the second, and returns the
// zone suffix ("Z", "+01:00") that follows the fraction.
func appendSecond(b []byte, t time.Time) ([]byte, string) {
	s := lastSecond.Load()
	if s == nil || s.unix != t.Unix() || s.loc != t.Location() {
		full := t.Truncate(time.Second).Format(time.RFC3339)
		const n = len("2006-01-02T15:04:05")
		s = &second{unix: t.Unix(), loc: t.Location(), text: full[:n], zone: full[n:]}
		lastSecond.Store(s)
	}
	return append(b, s.text...), s.zone
}

// appendText appends s, quoted when slog's text handler would quote it.
func appendText(b []byte, s string) []byte {
	if needsQuoting(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuoting(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c != '\\' && (c == ' ' || c == '=' || !jsonSafe(c)) {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

// jsonSafe reports whether an ASCII byte goes into a JSON string as is.
func jsonSafe(c byte) bool { return c >= 0x20 && c != '"' && c != '\\' }

// appendJSONString appends s as a JSON string, escaped as slog's JSON
// handler escapes it.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonSafe(c) {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
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
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			switch r {
			case '\u2028':
				b = append(b, `\u2028`...)
			case '\u2029':
				b = append(b, `\u2029`...)
			default:
				b = append(b, `\ufffd`...)
			}
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
