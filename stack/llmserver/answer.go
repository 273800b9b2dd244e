package llmserver

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

func (s *Server) nonStream(x *exchange, r *http.Request, req *decodedRequest) {
	var w http.ResponseWriter = x
	var text strings.Builder
	res, err := s.backend.Generate(r.Context(), &req.Request, func(chunks []backend.Chunk, _ bool) error {
		// The whole answer usually comes in one call: grow once.
		n := 0
		for _, c := range chunks {
			n += len(c.Text)
		}
		text.Grow(n)
		for _, c := range chunks {
			text.WriteString(c.Text)
		}
		return nil
	})
	if err != nil {
		if r.Context().Err() != nil {
			x.fail(llmmetrics.ErrorCancelled)
			return
		}
		writeError(w, asAPIError(err))
		return
	}
	b := getBuf()
	defer putBuf(b)
	a := openai.Answer{Chat: req.Chat, ID: newID(req.Chat), Created: s.now(), Model: req.Model}
	*b = a.AppendCompletion(*b, text.String(), res.FinishReason, answerUsage(res))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(*b)))
	if _, err := w.Write(*b); err != nil {
		x.fail(llmmetrics.ErrorCancelled)
		return
	}
	m, ep := s.metrics, endpointNonStreamIdx
	m.tokens[ep].Add(res.CompletionTokens)
	m.promptTokens[ep].Add(res.PromptTokens)
	x.prompt, x.output = res.PromptTokens, res.CompletionTokens
}

func (s *Server) stream(x *exchange, r *http.Request, req *decodedRequest) {
	var w http.ResponseWriter = x
	start := x.start
	ctx := r.Context()
	rc := http.NewResponseController(w)
	m := s.metrics
	ep := endpointStreamIdx
	a := openai.Answer{Chat: req.Chat, ID: newID(req.Chat), Created: time.Now().Unix(), Model: req.Model}
	started := false
	var first, last time.Time
	sent := 0

	// A buffer is borrowed per write, not per stream: a thousand idle
	// streams then hold no buffers at all.
	res, err := s.backend.Generate(ctx, &req.Request, func(chunks []backend.Chunk, final bool) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		b := getBuf()
		defer putBuf(b)
		buf := *b
		if !started {
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
			if req.Chat {
				buf = a.AppendRoleChunk(buf)
			}
		}
		n := 0
		for _, c := range chunks {
			buf = a.AppendChunk(buf, c.Text, "")
			n += c.Tokens
		}
		*b = buf
		if _, err := w.Write(buf); err != nil {
			return err
		}
		// The last chunks wait for the answer's end: the handler's return
		// sends both in one write, as a zero-delay engine's whole answer.
		if !final {
			if err := rc.Flush(); err != nil {
				return err
			}
		}
		now := time.Now()
		if !started {
			started, first = true, now
			m.ttft.Observe(now.Sub(start).Seconds())
		}
		last = now
		sent += n
		m.tokens[ep].Add(n)
		return nil
	})
	if sent > 0 {
		m.promptTokens[ep].Add(res.PromptTokens)
		x.prompt = res.PromptTokens
	}
	x.output, x.first = sent, first
	b := getBuf()
	defer putBuf(b)
	if err != nil {
		if ctx.Err() != nil {
			x.fail(llmmetrics.ErrorCancelled) // the client is gone
			return
		}
		apiErr := asAPIError(err)
		if !started {
			writeError(w, apiErr)
			return
		}
		x.fail(errorType(apiErr))
		buf := append((*b)[:0], "data: "...)
		buf = appendError(buf, x.public(apiErr))
		buf = append(buf, "\n\n"+openai.DoneEvent...)
		w.Write(buf)
		rc.Flush()
		return
	}
	if !started { // nothing generated: still a well-formed stream
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
	}
	buf := a.AppendChunk((*b)[:0], "", res.FinishReason)
	if req.IncludeUsage {
		buf = a.AppendUsageChunk(buf, answerUsage(res))
	}
	buf = append(buf, openai.DoneEvent...)
	*b = buf
	// No flush: the handler's return sends the last events and the end
	// of the chunked body in one write.
	if _, err := w.Write(buf); err != nil {
		x.fail(llmmetrics.ErrorCancelled)
		return
	}
	if sent > 1 {
		x.tpot, x.timed = last.Sub(first).Seconds()/float64(sent-1), true
		m.tpot.Observe(x.tpot)
	}
}

func asAPIError(err error) *backend.Error {
	var e *backend.Error
	if errors.As(err, &e) {
		return e
	}
	return &backend.Error{Status: http.StatusInternalServerError, Type: "server_error", Message: "internal error", Detail: err.Error()}
}

// writeError answers e in OpenAI's error format, and notes its error type
// for the metrics and the log.
func writeError(w http.ResponseWriter, e *backend.Error) {
	if x, ok := w.(*exchange); ok {
		x.fail(errorType(e))
		e = x.public(e)
	}
	b := getBuf()
	defer putBuf(b)
	*b = appendError(*b, e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(*b)))
	w.WriteHeader(e.Status)
	w.Write(*b)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() *[]byte { b := bufPool.Get().(*[]byte); *b = (*b)[:0]; return b }
func putBuf(b *[]byte) {
	if cap(*b) <= 64<<10 {
		bufPool.Put(b)
	}
}

func newID(chat bool) string {
	const hex = "0123456789abcdef"
	prefix := "cmpl-"
	if chat {
		prefix = "chatcmpl-"
	}
	b := make([]byte, len(prefix)+24)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i += 16 {
		v := rand.Uint64()
		for j := 0; j < 16 && i+j < len(b); j++ {
			b[i+j] = hex[v&15]
			v >>= 4
		}
	}
	return string(b)
}
