package llmserver

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// exchange is one HTTP request on its way through the server: the
// ResponseWriter the handlers write to (it notes the status), and what the
// HTTP metric, the GenAI metrics and the access log record when it ends.
// Exchanges are pooled: nothing may keep one after ServeHTTP returns.
type exchange struct {
	http.ResponseWriter
	status int // 0 until the header is written
	start  time.Time
	end    time.Time // when the answer ended, once counted
	id     string
	route  int

	// Completions only.
	completion bool
	op         int
	stream     bool
	requested  string // the model the client named, for the log
	series     *modelSeries
	errType    string // "" while the request succeeds
	detail     string // what the log says of a failure and the client does not see
	prompt     int
	output     int
	first      time.Time // the first token reached the client
	tpot       float64   // seconds, when timed
	timed      bool      // tpot was measured (two tokens or more)
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func newExchange(w http.ResponseWriter, r *http.Request) *exchange {
	x := exchanges.Get().(*exchange)
	x.ResponseWriter = w
	x.start = time.Now()
	x.id = requestID(r)
	w.Header()["X-Request-Id"] = []string{x.id}
	return x
}

func (x *exchange) release() {
	*x = exchange{}
	exchanges.Put(x)
}

func (x *exchange) WriteHeader(code int) {
	if x.status == 0 {
		x.status = code
	}
	x.ResponseWriter.WriteHeader(code)
}

func (x *exchange) Write(p []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	return x.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes, read
// deadlines).
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// public is e as the client may see it: an error with a Detail keeps that
// for the log, and tells the client the request id to quote instead.
func (x *exchange) public(e *backend.Error) *backend.Error {
	if e.Detail == "" {
		return e
	}
	if x.detail == "" {
		x.detail = e.Detail
	}
	p := *e
	p.Detail = ""
	p.Message = e.Message + " (request id " + x.id + "; the server's log has the details)"
	return &p
}

// fail notes why the request failed; the first reason stands.
func (x *exchange) fail(errType string) {
	if x.errType == "" {
		x.errType = errType
	}
}

// requestID is the client's X-Request-Id when it is a sane one (printable
// ASCII, at most 128 bytes: it goes into logs and upstream requests),
// else a new random one.
func requestID(r *http.Request) string {
	if v := r.Header["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var b [32]byte
	hex.Encode(b[:], raw[:])
	return string(b[:])
}

func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}
