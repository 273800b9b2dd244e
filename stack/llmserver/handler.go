package llmserver

import (
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// ServeHTTP serves one request: it is routed, answered, and then counted
// in the HTTP metric and logged, whatever its path. Only the completion
// routes count in the llm_* and GenAI metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := newExchange(w, r)
	// The completion paths are kept apart from the rest so that this
	// frame, which stays on the stack for a whole stream, is small.
	switch r.URL.Path {
	case "/v1/completions":
		x.route = routeCompletions
		s.completion(x, r, opTextCompletion)
	case "/v1/chat/completions":
		x.route = routeChat
		s.completion(x, r, opChat)
	default:
		s.routeOther(x, r)
	}
	s.finish(x, r)
}

// finish counts and logs a request that has been answered.
func (s *Server) finish(x *exchange, r *http.Request) {
	end := x.end
	if end.IsZero() {
		end = time.Now()
	}
	status := x.status
	if status == 0 {
		status = http.StatusOK // what net/http sends for a handler that wrote nothing
	}
	s.http.observer(x.route, methodIndex(r.Method), status).Observe(end.Sub(x.start).Seconds())
	if s.log != nil {
		s.logRequest(x, r, status, end)
	}
	x.release()
}

//go:noinline
func (s *Server) routeOther(x *exchange, r *http.Request) {
	var w http.ResponseWriter = x
	// No route here reads a body: answer at once, then close rather than
	// wait for one.
	closeUnread(w, r, lingerTimeout)
	switch path := r.URL.Path; {
	case path == "/metrics":
		x.route = routeMetrics
		if !getOrHead(w, r) {
			return
		}
		s.metricsH.ServeHTTP(w, r)
	case path == "/health":
		x.route = routeHealth
		if !getOrHead(w, r) {
			return
		}
		if s.draining.Load() {
			writeError(w, &backend.Error{Status: http.StatusServiceUnavailable, Type: "server_error",
				Code: "shutting_down", Message: "the server is shutting down"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		x.route = routeModels
		if path != "/v1/models" {
			x.route = routeModel
		}
		if !getOrHead(w, r) || !s.authorized(w, r) {
			return
		}
		id := strings.TrimPrefix(strings.TrimPrefix(path, "/v1/models"), "/")
		if rl, ok := s.backend.(backend.Relay); ok {
			s.relayModels(w, r, rl, id)
			return
		}
		s.listModels(w, id)
	default:
		// Counted only in the HTTP metric, as route "other": junk sent to
		// made-up paths must not move the LLM error ratio, nor add series.
		x.route = routeOther
		writeError(w, &backend.Error{Status: http.StatusNotFound, Type: "invalid_request_error",
			Code: "unknown_url", Message: "Unknown request URL: " + r.Method + " " + clip(path) +
				". llmmon serve offers POST /v1/completions, POST /v1/chat/completions, GET /v1/models, /health and /metrics."})
	}
}

// lingerTimeout bounds how long a connection that will close after an
// error answer still reads what the client is sending: enough for a body
// already under way to arrive, so that closing does not reset the answer
// away before the client reads it, and no more.
const lingerTimeout = time.Second

var aLongTimeAgo = time.Unix(1, 0)

// closeUnread makes the answer to r close the connection when r's body
// will not be read: net/http would otherwise read up to 256 KiB of it
// before answering, as slowly as the client cares to send it. What is
// already under way is read for at most linger after the answer.
func closeUnread(w http.ResponseWriter, r *http.Request, linger time.Duration) {
	if r.Body == http.NoBody {
		return
	}
	w.Header().Set("Connection", "close")
	deadline := aLongTimeAgo
	if linger > 0 {
		deadline = time.Now().Add(linger)
	}
	http.NewResponseController(w).SetReadDeadline(deadline)
}

// refuse answers e to a request whose body is left unread (or cut off),
// and closes the connection; a client too slow to send its body in time
// is not waited for at all.
func refuse(w http.ResponseWriter, r *http.Request, e *backend.Error) {
	linger := lingerTimeout
	if e.Status == http.StatusRequestTimeout {
		linger = 0
	}
	closeUnread(w, r, linger)
	writeError(w, e)
}

func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	writeError(w, methodNotAllowed(r, "GET"))
	return false
}

func methodNotAllowed(r *http.Request, want string) *backend.Error {
	return &backend.Error{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
		Code: "method_not_allowed", Message: r.Method + " is not allowed on " + r.URL.Path + "; use " + want}
}

func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey == "" {
		return true
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(s.opts.APIKey)) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="llmmon"`)
	refuse(w, r, &backend.Error{Status: http.StatusUnauthorized, Type: "invalid_request_error",
		Code: "invalid_api_key", Message: "Incorrect or missing API key: send the key given to llmmon serve --api-key as \"Authorization: Bearer KEY\"."})
	return false
}

func (s *Server) listModels(w http.ResponseWriter, id string) {
	b := getBuf()
	defer putBuf(b)
	model := func(b []byte, name string) []byte {
		b = append(b, `{"id":`...)
		b = openai.AppendString(b, name)
		b = append(b, `,"object":"model","created":`...)
		b = strconv.AppendInt(b, s.created, 10)
		return append(b, `,"owned_by":"llmmon"}`...)
	}
	if id != "" {
		if !s.models[id] {
			writeError(w, modelNotFound(id))
			return
		}
		*b = model(*b, id)
	} else {
		*b = append(*b, `{"object":"list","data":[`...)
		for i, m := range s.modelIDs {
			if i > 0 {
				*b = append(*b, ',')
			}
			*b = model(*b, m)
		}
		*b = append(*b, "]}"...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(*b)
}

func modelNotFound(name string) *backend.Error {
	return &backend.Error{Status: http.StatusNotFound, Type: "invalid_request_error", Code: "model_not_found",
		Param: "model", Message: "The model `" + name + "` does not exist. GET /v1/models lists the served model."}
}

// record counts one finished request: llm_requests_total, its duration
// and its size.
func (m *serverMetrics) record(ep, status int, seconds float64, size int) {
	m.requests[ep][status].Inc()
	m.duration[ep].Observe(seconds)
	m.size[ep].Observe(float64(size))
}

// completion serves /v1/completions and /v1/chat/completions: it admits the
// request, then relays it upstream (gateway mode, relay.go) or generates
// the answer with the backend. Every API request is counted exactly once in
// llm_requests_total and gen_ai_server_request_duration_seconds, rejected
// ones as errors. A wrong method or a missing key is not one: it is
// answered, and counted only in http_server_request_duration_seconds, so
// that nobody without the key can raise the error ratio.
func (s *Server) completion(x *exchange, r *http.Request, op int) {
	if !s.apiRequest(x, r) {
		return
	}
	x.completion, x.op = true, op
	size := 0
	if body, ok := s.admit(x, r, &size); ok {
		if rl, relay := s.backend.(backend.Relay); relay {
			s.relayCompletion(x, r, rl, body)
		} else {
			s.generate(x, r, body)
		}
	}
	s.recordCompletion(x, size)
}

// recordCompletion counts a finished completion request in the llm_* and
// GenAI metrics.
func (s *Server) recordCompletion(x *exchange, size int) {
	ep, status := endpointNonStreamIdx, statusSuccessIdx
	if x.stream {
		ep = endpointStreamIdx
	}
	if x.status >= 400 {
		x.fail(statusErrorType(x.status)) // an answer the handlers did not name
	}
	if x.errType != "" {
		status = statusErrorIdx
	}
	// One clock read for the metrics, the HTTP metric and the log: on
	// virtual machines a read can cost as much as a histogram update.
	x.end = time.Now()
	elapsed := x.end.Sub(x.start).Seconds()
	s.metrics.record(ep, status, elapsed, size)

	ms := x.series
	if ms == nil { // rejected before a model was known
		ms = s.genai.lookup("", "", s.provider)
	}
	op := x.op
	if x.prompt > 0 {
		ms.input[op].Observe(float64(x.prompt))
	}
	if x.output > 0 {
		ms.output[op].Observe(float64(x.output))
	}
	if x.errType != "" {
		s.genai.failed(ms, op, x.errType, elapsed)
		return
	}
	ms.duration[op].Observe(elapsed)
	if !x.first.IsZero() {
		ms.ttft[op].Observe(x.first.Sub(x.start).Seconds())
	}
	if x.timed {
		ms.tpot[op].Observe(x.tpot)
	}
}

// generate serves a completion from the backend's tokens (the simulated
// engine).
func (s *Server) generate(x *exchange, r *http.Request, body []byte) {
	req := s.decode(x, body)
	if req == nil {
		return
	}
	m, ep := s.metrics, endpointNonStreamIdx
	if req.Stream {
		ep = endpointStreamIdx
	}
	x.series = s.genai.lookup(req.Model, req.Model, s.provider)
	active := x.series.active[x.op]
	m.active[ep].Inc()
	active.Inc()
	if req.Stream {
		s.stream(x, r, req)
	} else {
		s.nonStream(x, r, req)
	}
	m.active[ep].Dec()
	active.Dec()
}

// apiRequest checks that r is a completion request at all (POST, with the
// key); if not, it has answered it.
//
//go:noinline
func (s *Server) apiRequest(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		closeUnread(w, r, lingerTimeout)
		w.Header().Set("Allow", "POST")
		writeError(w, methodNotAllowed(r, "POST"))
		return false
	}
	if !s.authorized(w, r) {
		return false
	}
	return true
}

// admit checks a completion request's content type and reads its body;
// when it goes no further, admit has answered it. size is how much of the
// body arrived. Like decode, admit is not inlined: its large frame is gone
// from the stack before a stream starts, so a thousand open streams each
// keep a smaller goroutine stack.
//
//go:noinline
func (s *Server) admit(x *exchange, r *http.Request, size *int) (body []byte, ok bool) {
	var w http.ResponseWriter = x
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			refuse(w, r, &backend.Error{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error",
				Message: "Content-Type must be application/json, got " + strconv.Quote(ct)})
			return nil, false
		}
	}
	body, err := s.readBody(w, r)
	*size = len(body)
	if err != nil {
		refuse(w, r, err)
		return nil, false
	}
	return body, true
}

// decode decodes and validates a request for the backend, and names the
// model the default when it names none; when the request goes no
// further, decode has answered it. The request is a stream as soon as the
// body says so, so that a rejected stream counts as one.
//
//go:noinline
func (s *Server) decode(x *exchange, body []byte) *decodedRequest {
	req, derr := decodeRequest(body, x.op == opChat)
	if req != nil {
		x.stream = req.Stream
		x.requested = req.Model
	}
	if derr != nil {
		writeError(x, derr)
		return nil
	}
	if req.Model == "" {
		if len(s.modelIDs) > 1 {
			writeError(x, backend.Errorf("model", "", "model is required: this server serves %s", strings.Join(s.modelIDs, ", ")))
			return nil
		}
		req.Model = s.modelIDs[0]
	} else if !s.models[req.Model] {
		writeError(x, modelNotFound(req.Model))
		return nil
	}
	return req
}

// readBody reads r's body within BodyReadTimeout. On an error the
// deadline stays: the answer then closes the connection (refuse), and
// nothing may read on without a bound.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (body []byte, apiErr *backend.Error) {
	if s.opts.BodyReadTimeout > 0 {
		rc := http.NewResponseController(w)
		if rc.SetReadDeadline(time.Now().Add(s.opts.BodyReadTimeout)) == nil {
			defer func() {
				if apiErr == nil {
					// The body is all in: net/http now only watches for
					// the client leaving, which must not time out.
					rc.SetReadDeadline(time.Time{})
				}
			}()
		}
	}
	max := s.opts.MaxBody
	if r.ContentLength > max {
		return nil, tooLarge(max)
	}
	n := r.ContentLength
	if n < 0 || n > 64<<10 {
		n = 512
	}
	buf := make([]byte, 0, n+1)
	body, err := readAll(http.MaxBytesReader(w, r.Body, max), buf)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return body, tooLarge(max)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return body, &backend.Error{Status: http.StatusRequestTimeout, Type: "invalid_request_error",
				Code: "request_timeout", Message: "the request body was not received in time"}
		}
		return body, &backend.Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
			Message: "could not read the request body: " + err.Error()}
	}
	return body, nil
}

func readAll(r io.Reader, b []byte) ([]byte, error) {
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				return b, nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

func tooLarge(max int64) *backend.Error {
	return &backend.Error{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
		Code: "request_too_large", Message: "the request body is larger than " + strconv.FormatInt(max, 10) +
			" bytes (llmmon serve --max-body)"}
}
