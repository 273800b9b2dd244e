package load

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Server-sent events are read line by line with bufio.Reader.ReadSlice, which
// hands back a view into the reader's buffer: a chunk is inspected in place
// and never copied, unless one line outgrows the buffer.

var (
	dataPrefix = []byte("data:")
	doneMarker = []byte("[DONE]")
)

// sseReader yields the payload of each "data:" line of an event stream.
type sseReader struct {
	br   *bufio.Reader
	long []byte // holds a line longer than br's buffer
}

// next returns the next data payload, valid until the following call. It
// skips comments, "event:"/"id:"/"retry:" fields and blank lines, and returns
// io.EOF at a clean end of the body.
func (r *sseReader) next() ([]byte, error) {
	for {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.long = append(r.long[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.br.ReadSlice('\n')
				r.long = append(r.long, line...)
			}
			line = r.long
		}
		if len(line) == 0 && err != nil {
			return nil, err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		line = trimEOL(line)
		if !bytes.HasPrefix(line, dataPrefix) {
			if err != nil {
				return nil, err
			}
			continue
		}
		payload := line[len(dataPrefix):]
		if len(payload) > 0 && payload[0] == ' ' {
			payload = payload[1:]
		}
		return payload, nil
	}
}

// chunk is what the generator needs from one streamed JSON chunk (or a
// whole non-streamed answer).
type chunk struct {
	content   bool   // carries generated text (a token for TTFT/ITL)
	contentAt int    // offset of the first content key's string value, 0 if none
	choices   bool   // has a "choices" array
	usage     *usage // the usage block, when the server sends one
	failed    bool   // an error object instead of a completion chunk
	errText   []byte // the error, for the report (a view into the payload)
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// scanChunk inspects one chunk in a single pass without decoding it: it
// walks the JSON strings (honouring escapes), and a string followed by a
// colon is a key. Keys whose non-empty string value is generated output:
// completions send "text", chat sends "delta":{"content"}, and reasoning
// models stream their thinking first as "reasoning_content" (vLLM, SGLang)
// or "reasoning". Only the rare usage block is looked into further.
func scanChunk(b []byte) chunk {
	var c chunk
	n := len(b)
	for i := 0; i < n; i++ {
		if b[i] != '"' {
			continue
		}
		start := i + 1
		for i = start; i < n; i++ {
			if b[i] == '\\' {
				i++
			} else if b[i] == '"' {
				break
			}
		}
		if i >= n {
			break // unterminated string
		}
		key := b[start:i]
		p := i + 1
		for p < n && (b[p] == ' ' || b[p] == '\t' || b[p] == '\n' || b[p] == '\r') {
			p++
		}
		if p >= n || b[p] != ':' {
			continue // a value, not a key
		}
		v := skipSpace(b, p+1)
		if v >= n {
			break
		}
		switch string(key) {
		case "text", "content", "reasoning_content", "reasoning":
			if b[v] == '"' && c.contentAt == 0 {
				c.contentAt = v
			}
			if b[v] == '"' && v+1 < n && b[v+1] != '"' {
				c.content = true
			}
		case "choices":
			c.choices = c.choices || b[v] == '['
		case "usage":
			if b[v] == '{' {
				c.usage = usageAt(b[v:])
			}
		case "error":
			if b[v] == '{' || b[v] == '"' {
				c.failed, c.errText = true, b[v:]
			}
		case "object":
			if bytes.HasPrefix(b[v:], []byte(`"error"`)) {
				c.failed, c.errText = true, b
			}
		}
		i = v - 1 // the value is scanned next
	}
	return c
}

// streamScanner scans the chunks of one stream. Servers repeat the same
// id, model and layout in every chunk, so once a chunk's bytes up to its
// content value are known, a later chunk that starts with the same bytes is
// settled by one comparison and a look at its short tail; anything else
// (a usage or error chunk, a new layout) gets the full scan.
type streamScanner struct {
	prefix []byte
	buf    [512]byte
}

var (
	usageKey = []byte(`"usage"`)
	errorKey = []byte(`"error"`)
)

func (s *streamScanner) scan(p []byte) chunk {
	if n := len(s.prefix); n > 0 && len(p) > n+1 && bytes.Equal(p[:n], s.prefix) {
		rest := p[n:]
		if !bytes.Contains(rest, usageKey) && !bytes.Contains(rest, errorKey) {
			return chunk{content: rest[0] == '"' && rest[1] != '"', contentAt: n}
		}
	}
	c := scanChunk(p)
	if c.contentAt > 0 && c.contentAt <= len(s.buf) {
		s.prefix = append(s.buf[:0], p[:c.contentAt]...)
	}
	return c
}

// usageAt reads the token counts of the usage object that starts v, or nil.
func usageAt(v []byte) *usage {
	obj := object(v)
	if obj == nil {
		return nil
	}
	// Counts sit directly in the usage object; nested details objects
	// (prompt_tokens_details) have other key names.
	completion, ok := intOf(obj, completionTokensKey)
	if !ok {
		return nil
	}
	prompt, _ := intOf(obj, promptTokensKey)
	return &usage{PromptTokens: prompt, CompletionTokens: completion}
}

var (
	completionTokensKey = []byte(`"completion_tokens"`)
	promptTokensKey     = []byte(`"prompt_tokens"`)
)

// intOf reads the non-negative integer value of key k.
func intOf(b, k []byte) (int, bool) {
	v := valueOf(b, k)
	n, i := 0, 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9' && i < 12; i++ {
		n = n*10 + int(v[i]-'0')
	}
	return n, i > 0
}

// valueOf returns the bytes from the start of the value of the first key k
// (quoted) that is followed by a colon, or nil.
func valueOf(b, k []byte) []byte {
	for {
		i := bytes.Index(b, k)
		if i < 0 {
			return nil
		}
		// A key follows '{', ',' or white space; a quote after anything
		// else (a backslash) is inside a string.
		keyStart := i == 0
		if i > 0 {
			switch b[i-1] {
			case '{', ',', ' ', '\t', '\n', '\r':
				keyStart = true
			}
		}
		b = b[i+len(k):]
		if !keyStart {
			continue
		}
		j := skipSpace(b, 0)
		if j < len(b) && b[j] == ':' {
			return b[skipSpace(b, j+1):]
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// object returns the JSON object at the start of b (through its closing
// brace), or nil when it is not closed.
func object(b []byte) []byte {
	depth, inString := 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return b[:i+1]
			}
		}
	}
	return nil
}

// trimEOL drops a line's trailing CR and LF bytes.
func trimEOL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
