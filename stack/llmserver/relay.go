package llmserver

import (
	"net/http"
	"strconv"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Gateway mode: when the backend is a backend.Relay (llmmon serve
// --upstream), completions are forwarded to a real engine and its answer is
// passed through unchanged. The gateway still owns authentication, the body
// limit and every llm_* metric, measured where the client sits.

// relayCompletion serves one completion through rl.
func (s *Server) relayCompletion(x *exchange, r *http.Request, rl backend.Relay, body []byte) {
	var w http.ResponseWriter = x
	// The upstream sees the request id the client sees.
	r.Header["X-Request-Id"] = []string{x.id}
	call, err := rl.NewCall(body, x.op == opChat, r.Header)
	if call != nil {
		x.stream = call.Stream()
		info := call.Info()
		x.requested = info.Requested
		x.series = s.genai.lookup(info.Model, info.ResponseModel, info.Provider)
	}
	if err != nil {
		writeError(w, asAPIError(err))
		return
	}
	m, ep := s.metrics, endpointNonStreamIdx
	if x.stream {
		ep = endpointStreamIdx
	}
	active := x.series.active[x.op]
	m.active[ep].Inc()
	active.Inc()
	defer m.active[ep].Dec()
	defer active.Dec()
	out := &relayOutput{w: w, rc: http.NewResponseController(w), m: m, ep: ep, start: x.start, stream: x.stream}
	res, err := call.Do(r.Context(), out)
	out.account() // the last events, which the handler's return sends
	if res.CompletionTokens > out.sent {
		// The upstream's usage is the exact count; chunks were an estimate.
		m.tokens[ep].Add(res.CompletionTokens - out.sent)
	}
	if res.PromptTokens > 0 {
		m.promptTokens[ep].Add(res.PromptTokens)
	}
	x.prompt, x.output = res.PromptTokens, max(res.CompletionTokens, out.sent)
	if x.stream {
		x.first = out.first
	}
	if err != nil {
		switch {
		case r.Context().Err() != nil:
			x.fail(llmmetrics.ErrorCancelled) // the client is gone
		case !out.started:
			writeError(w, asAPIError(err))
		case isRelayed(err):
			x.fail(llmmetrics.ErrorStreamBroken) // the upstream's own error event
		case out.stream:
			apiErr := asAPIError(err)
			x.fail(errorType(apiErr))
			b := getBuf()
			*b = append(*b, "data: "...)
			*b = appendError(*b, x.public(apiErr))
			*b = append(*b, "\n\n"+openai.DoneEvent...)
			w.Write(*b)
			out.rc.Flush()
			putBuf(b)
		default:
			x.fail(errorType(asAPIError(err)))
		}
		return
	}
	if x.stream && x.output > 1 && !out.first.IsZero() {
		x.tpot, x.timed = out.last.Sub(out.first).Seconds()/float64(x.output-1), true
		m.tpot.Observe(x.tpot)
	}
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
	o.m.tokens[o.ep].Add(o.pending)
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
