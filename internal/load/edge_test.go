package load

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A stream that is not what it claims counts as an error, never as a
// success: a chunk that is not JSON (even when [DONE] follows), or a line
// over the reader's limit.
func TestMalformedStreamIsAnError(t *testing.T) {
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name, stream string
		maxLine      int
		detail       string
	}{
		{"not JSON", "data: this is not json\n\n" + sseChunk + "data: [DONE]\n\n", 0, "a streamed chunk is not a JSON object"},
		{"cut-off JSON", sseChunk + "data: {\"choices\":[{\"text\":\"a\"\n\n" + "data: [DONE]\n\n", 0, "a streamed chunk is not a JSON object"},
		{"a line over the limit", "data: {\"choices\":[{\"text\":\"" + strings.Repeat("a", 300) + "\"}]}\n\ndata: [DONE]\n\n", 256, "an SSE line over the 256 bytes limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &rawServer{answer: func(int64) (string, bool) { return head + tt.stream, true }}
			o := quickOptions(s.start(t))
			o.Requests, o.Concurrency = 3, 1
			o.SSE.MaxLine = tt.maxLine
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests.Succeeded != 0 || r.Requests.Failed != 3 || len(r.Errors) != 1 ||
				r.Errors[0].Status != "bad_response" || !strings.Contains(r.Errors[0].Example, tt.detail) {
				t.Fatalf("requests %+v errors %+v; want 3 bad_response naming %q", r.Requests, r.Errors, tt.detail)
			}
		})
	}
}

// endlessServer streams one token every 20 ms and never finishes, until
// its client leaves; streams counts the streams begun.
func endlessServer(t *testing.T) (url string, streams *atomic.Int64) {
	streams = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"data":[{"id":"endless"}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		streams.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			fmt.Fprint(w, sseChunk)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", streams
}

// --duration bounds the run against a stream that never ends: the
// requests in flight are abandoned at its end and counted as cancelled, not
// waited for until --timeout (5 minutes by default). Both loops.
func TestDurationBoundsNeverEndingStream(t *testing.T) {
	for _, rate := range []float64{0, 50} {
		t.Run(fmt.Sprintf("rate=%g", rate), func(t *testing.T) {
			url, streams := endlessServer(t)
			o := quickOptions(url)
			o.Requests, o.Duration, o.Timeout, o.Rate, o.Concurrency = 0, 300*time.Millisecond, 5*time.Minute, rate, 2
			start := time.Now()
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// Far below --timeout: the duration ended the run, with slack
			// for a busy machine.
			if took := time.Since(start); took > 30*time.Second {
				t.Fatalf("the run took %s with --duration 300ms", took)
			}
			if r.Interrupted || r.Requests.Succeeded != 0 || r.Requests.Failed != 0 || r.Requests.Cancelled < 1 ||
				int64(r.Requests.Sent) != streams.Load() {
				t.Fatalf("interrupted %v requests %+v errors %+v, server saw %d", r.Interrupted, r.Requests, r.Errors, streams.Load())
			}
		})
	}
}
