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
		line = bytes.TrimRight(line, "\r\n")
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

// chunk is what the generator needs from one streamed JSON chunk.
type chunk struct {
	content bool   // carries generated text (a token for TTFT/ITL)
	usage   *usage // the usage block, when the server sends one
	failed  bool   // an error object instead of a completion chunk
	errText []byte // the error, for the report (a view into the payload)
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
}

// Keys whose non-empty string value is generated output: completions send
// "text", chat sends "delta":{"content"}, and reasoning models stream their
// thinking first as "reasoning_content" (vLLM, SGLang) or "reasoning".
var contentKeys = [][]byte{[]byte(`"text"`), []byte(`"content"`), []byte(`"reasoning_content"`), []byte(`"reasoning"`)}

var (
	usageKey  = []byte(`"usage"`)
	errorKey  = []byte(`"error"`)
	objectKey = []byte(`"object"`)
)

// scanChunk inspects one chunk without decoding it. In valid JSON a quote
// inside a string is escaped, so `"text"` followed by a colon can only be a
// key; the value is then looked at directly. The rare usage block is decoded.
func scanChunk(b []byte) chunk {
	var c chunk
	for _, k := range contentKeys {
		if v := valueOf(b, k); len(v) >= 2 && v[0] == '"' && v[1] != '"' {
			c.content = true
			break
		}
	}
	c.usage = usageOf(b)
	if v := valueOf(b, errorKey); len(v) > 0 && (v[0] == '{' || v[0] == '"') {
		c.failed, c.errText = true, v
	} else if v := valueOf(b, objectKey); bytes.HasPrefix(v, []byte(`"error"`)) {
		c.failed, c.errText = true, b
	}
	return c
}

// usageOf reads the usage block's token counts, or nil when there is none.
func usageOf(b []byte) *usage {
	v := valueOf(b, usageKey)
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
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
