package llmserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Gateway mode: when the backend is a backend.Relay (llmmon serve
// --upstream), completions are forwarded to a real engine and its answer is
// passed through unchanged. The gateway still owns authentication, the body
// limit and every llm_* metric, measured where the client sits.

// relayCompletion serves one completion through rl. It returns the endpoint
// and status to count.
func (s *Server) relayCompletion(w http.ResponseWriter, r *http.Request, rl backend.Relay, body []byte, chat bool, start time.Time) (ep, status int) {
	ep, status = endpointNonStreamIdx, statusErrorIdx
	call, err := rl.NewCall(body, chat, r.Header)
	if call != nil && call.Stream() {
		ep = endpointStreamIdx
	}
	if err != nil {
		writeError(w, asAPIError(err))
		return ep, status
	}
	m := s.metrics
	m.active[ep].Inc()
	defer m.active[ep].Dec()
	out := &relayOutput{w: w, rc: http.NewResponseController(w), m: m, ep: ep, start: start, stream: call.Stream()}
	res, err := call.Do(r.Context(), out)
	out.account() // the last events, which the handler's return sends
	if res.CompletionTokens > out.sent {
		// The upstream's usage is the exact count; chunks were an estimate.
		m.tokens[ep].Add(float64(res.CompletionTokens - out.sent))
	}
	if res.PromptTokens > 0 {
		m.promptTokens[ep].Add(float64(res.PromptTokens))
	}
	if err != nil {
		if r.Context().Err() != nil {
			return ep, status // the client is gone
		}
		if !out.started {
			writeError(w, asAPIError(err))
			return ep, status
		}
		if out.stream && !isRelayed(err) {
			b := getBuf()
			*b = append(*b, "data: "...)
			*b = appendError(*b, asAPIError(err))
			*b = append(*b, "\n\n"+openai.DoneEvent...)
			w.Write(*b)
			out.rc.Flush()
			putBuf(b)
		}
		return ep, status
	}
	if out.stream {
		n := max(res.CompletionTokens, out.sent)
		if n > 1 && !out.first.IsZero() {
			m.tpot.Observe(out.last.Sub(out.first).Seconds() / float64(n-1))
		}
	}
	return ep, statusSuccessIdx
}

func isRelayed(err error) bool {
	for err != nil {
		if err == backend.ErrRelayed {
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// relayOutput is the gateway's backend.Output: it writes to the client and
// keeps the token metrics.
type relayOutput struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	m       *serverMetrics
	ep      int
	start   time.Time
	stream  bool
	started bool
	pending int
	sent    int
	first   time.Time
	last    time.Time
}

func (o *relayOutput) Start(status int, contentType string, length int64) {
	if o.started {
		return
	}
	o.started = true
	h := o.w.Header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	if o.stream {
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
	}
	if length >= 0 {
		h.Set("Content-Length", strconv.FormatInt(length, 10))
	}
	o.w.WriteHeader(status)
}

func (o *relayOutput) Write(p []byte, tokens int) error {
	o.pending += tokens
	_, err := o.w.Write(p)
	return err
}

func (o *relayOutput) Flush() error {
	if err := o.rc.Flush(); err != nil {
		return err
	}
	o.account()
	return nil
}

// account counts the tokens written since the last call as sent now: at a
// flush, or when the stream's end goes out with the handler's return.
func (o *relayOutput) account() {
	if o.pending == 0 {
		return
	}
	now := time.Now()
	if o.first.IsZero() {
		o.first = now
		if o.stream {
			o.m.ttft.Observe(now.Sub(o.start).Seconds())
		}
	}
	o.last = now
	o.m.tokens[o.ep].Add(float64(o.pending))
	o.sent += o.pending
	o.pending = 0
}

// relayModels answers /v1/models in gateway mode from the upstreams' lists.
func (s *Server) relayModels(w http.ResponseWriter, r *http.Request, rl backend.Relay, id string) {
	body, err := rl.ListModels(r.Context(), id)
	if err != nil {
		writeError(w, asAPIError(err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
