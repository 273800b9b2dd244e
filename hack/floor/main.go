// Command floor is the benchmarks' floor for llmmon serve: the most a Go
// HTTP server can do on this machine with the same exchange. It reads and
// discards the request body and answers fixed bytes of the same shape and
// size as serve's (captured from serve by hack/bench-serve.sh): one JSON
// body, or, when the request asks to stream, the whole SSE answer (16
// chunks and [DONE]) in one write, as a zero-delay engine may coalesce.
// No JSON decoding, no engine, no metrics, no log.
//
// With --itl it is the floor for held streams instead: a streamed answer
// sends the captured events one at a time, one every ITL, for --tokens
// events, then [DONE] (bench-serve.sh's memory run holds 1,000 of them).
//
// With --upstream it is instead the floor for a Go gateway: the standard
// library's reverse proxy (net/http/httputil, flushing at once, keep-alive
// to the upstream), which parses no event and keeps no metric.
//
//	go run ./hack/floor --addr 127.0.0.1:8100 --body body.json --stream stream.sse
//	go run ./hack/floor --addr 127.0.0.1:8100 --body body.json --stream stream.sse --itl 20ms --tokens 500
//	go run ./hack/floor --addr 127.0.0.1:8101 --upstream http://127.0.0.1:8000
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8100", "address to listen on")
	bodyFile := flag.String("body", "", "the non-streamed answer's body (required)")
	streamFile := flag.String("stream", "", "the streamed answer's body, every event and [DONE] (required)")
	upstream := flag.String("upstream", "", "be a reverse proxy to this URL instead")
	itl := flag.Duration("itl", 0, "send a streamed answer's events one every ITL (0: all in one write)")
	tokens := flag.Int("tokens", 500, "with --itl, the events a streamed answer sends before [DONE]")
	flag.Parse()
	if *upstream != "" {
		fail(http.ListenAndServe(*addr, reverseProxy(*upstream)))
	}
	body, err := os.ReadFile(*bodyFile)
	if err != nil {
		fail(fmt.Errorf("--body: %w", err))
	}
	stream, err := os.ReadFile(*streamFile)
	if err != nil {
		fail(fmt.Errorf("--stream: %w", err))
	}
	bodyLen := strconv.Itoa(len(body))
	events := bytes.SplitAfter(stream, []byte("\n\n"))
	if len(events) > 0 && len(events[len(events)-1]) == 0 {
		events = events[:len(events)-1]
	}
	if *itl > 0 && len(events) < 2 {
		fail(fmt.Errorf("--stream: want events and [DONE], each ending in a blank line"))
	}
	// The one byte scan a server must do to tell the two answers apart.
	streamed := []byte(`"stream":true`)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /v1/completions", func(w http.ResponseWriter, r *http.Request) {
		var buf [512]byte
		n, _ := io.ReadFull(r.Body, buf[:])
		io.Copy(io.Discard, r.Body)
		if bytes.Contains(buf[:n], streamed) {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			if *itl > 0 {
				hold(w, r, events, *itl, *tokens)
				return
			}
			w.Write(stream) // no Content-Length: chunked, as serve's stream
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", bodyLen)
		w.Write(body)
	})
	fail(http.ListenAndServe(*addr, mux))
}

// hold sends events[:len-1] in turn, one every itl, tokens times, then the
// last event ([DONE]), or stops when the client leaves.
func hold(w http.ResponseWriter, r *http.Request, events [][]byte, itl time.Duration, tokens int) {
	rc := http.NewResponseController(w)
	t := time.NewTicker(itl)
	defer t.Stop()
	for i := range tokens {
		if _, err := w.Write(events[i%(len(events)-1)]); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		}
	}
	w.Write(events[len(events)-1])
}

func reverseProxy(upstream string) http.Handler {
	u, err := url.Parse(upstream)
	if err != nil {
		fail(fmt.Errorf("--upstream: %w", err))
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1 // as proxy_buffering off: every write goes on at once
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, DisableCompression: true}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("/", rp)
	return mux
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "floor:", err)
	os.Exit(1)
}
