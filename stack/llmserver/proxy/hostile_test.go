package proxy_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// rawUpstream is an engine that writes whatever answer wants, byte for
// byte, to every completion; /v1/models answers honestly. written counts
// what it managed to write: a gateway that stops reading stops it.
func rawUpstream(t *testing.T, answer func(w *bufio.Writer) error) (url string, written *atomic.Int64) {
	t.Helper()
	written = new(atomic.Int64)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				if strings.HasSuffix(req.URL.Path, "/models") { // the gateway's catalog read
					list := `{"object":"list","data":[{"id":"m","object":"model","owned_by":"vllm"}]}`
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(list), list)
					return
				}
				bw := bufio.NewWriterSize(countingWriter{c, written}, 64<<10)
				if answer(bw) == nil {
					bw.Flush()
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), written
}

type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

var fill = bytes.Repeat([]byte("x"), 64<<10)

// writeN writes n bytes of fill, from one buffer: the upstream itself
// allocates nothing per byte, so the test's allocations are the gateway's.
func writeN(w *bufio.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(fill)))
		if _, err := w.Write(fill[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

const sseHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"

// tail keeps the last bytes of what a client reads, and counts them.
type tail struct {
	buf []byte
	n   int64
}

func (t *tail) Write(p []byte) (int, error) {
	t.n += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > 64<<10 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-4096:]...)
	}
	return len(p), nil
}

// TestHostileUpstreamIsBounded: an engine that answers with a line, an
// event, headers or a body of hundreds of megabytes costs the gateway a few
// MiB, gets the client an error (an upstream_broken event, or a 502
// "response too large"), is counted as one, and is cut off: the gateway
// closes its connection rather than read on.
//
// Memory is measured as the bytes the process allocated while the request
// ran (runtime.MemStats.TotalAlloc): the peak heap cannot have grown by
// more, and it does not depend on when the collector ran.
func TestHostileUpstreamIsBounded(t *testing.T) {
	const huge = 400 << 20
	cases := []struct {
		name   string
		stream bool
		answer func(w *bufio.Writer) error
		status int    // what the client gets
		code   string // in the error body or event
		flag   string // named in the message
		limit  int64  // the limit that applies, by default
	}{
		{"a 400 MB SSE line", true, func(w *bufio.Writer) error {
			w.WriteString(sseHead + "data: ")
			return writeN(w, huge)
		}, 200, "upstream_broken", "--upstream-max-sse-line", openai.DefaultMaxLine},
		{"one event of 50M data lines", true, func(w *bufio.Writer) error {
			w.WriteString(sseHead)
			for range huge / 8 {
				if _, err := w.WriteString("data: x\n"); err != nil {
					return err
				}
			}
			return nil
		}, 200, "upstream_broken", "--upstream-max-sse-event", openai.DefaultMaxEvent},
		{"400 MB of response headers", true, func(w *bufio.Writer) error {
			w.WriteString("HTTP/1.1 200 OK\r\n")
			line := "X-Junk: " + strings.Repeat("a", 1014) + "\r\n"
			for range huge / len(line) {
				if _, err := w.WriteString(line); err != nil {
					return err
				}
			}
			_, err := w.WriteString("Content-Type: text/event-stream\r\nConnection: close\r\n\r\n" + twoChunks + "data: [DONE]\n\n")
			return err
		}, 502, "upstream_response_too_large", "--upstream-max-header-bytes", openai.DefaultMaxResponseHeaderBytes},
		{"a 400 MB body", false, func(w *bufio.Writer) error {
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n" +
				`{"choices":[{"index":0,"message":{"role":"assistant","content":"`)
			return writeN(w, huge)
		}, 502, "upstream_response_too_large", "--upstream-max-body", proxy.DefaultMaxBody},
		{"a 400 MB body, announced", false, func(w *bufio.Writer) error {
			w.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 419430400\r\n\r\n")
			return writeN(w, huge)
		}, 502, "upstream_response_too_large", "--upstream-max-body", proxy.DefaultMaxBody},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			url, written := rawUpstream(t, tt.answer)
			gw, ghs, log := startGatewayLogged(t, upstreamTo(url))
			ep := "nonstream"
			if tt.stream {
				ep = "stream"
			}
			body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":` + map[bool]string{true: "true", false: "false"}[tt.stream] + `}`

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			resp := post(t, context.Background(), ghs.URL+"/v1/chat/completions", body)
			var got tail
			io.Copy(&got, resp.Body)
			resp.Body.Close()
			runtime.ReadMemStats(&after)

			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; the answer ends %.300q", resp.StatusCode, tt.status, got.buf)
			}
			var e apiError
			if tt.stream && tt.status == 200 {
				s := summarize(t, readSSE(t, bytes.NewReader(got.buf), nil))
				if len(s.Errors) != 1 || !s.Done {
					t.Fatalf("the stream ends %.300q; want an error event and [DONE]", got.buf)
				}
				e = decodeError(t, []byte(`{"error":`+s.Errors[0]+`}`))
			} else {
				e = decodeError(t, got.buf)
			}
			if code(e) != tt.code {
				t.Fatalf("error %+v, want code %s", e.Error, tt.code)
			}
			// The flag to raise is the operator's business: in the log.
			hidesUpstream(t, log, resp, e.Error.Message, strings.TrimPrefix(url, "http://"), tt.flag)
			if tt.status == 502 && !strings.Contains(e.Error.Message, "response too large") {
				t.Errorf("message %q does not say the response is too large", e.Error.Message)
			}
			expectCounted(t, gw, ep, 1, 0)
			// Reading up to a limit may cost twice it (a buffer that
			// doubles), and an event's data as much again.
			if grew, bound := after.TotalAlloc-before.TotalAlloc, uint64(3*tt.limit+8<<20); grew > bound {
				t.Errorf("the request cost %d MiB of allocations, want at most %d MiB", grew>>20, bound>>20)
			} else {
				t.Logf("the request cost %.1f MiB of allocations (bound %d MiB)", float64(grew)/(1<<20), bound>>20)
			}
			if got.n > 16<<20 {
				t.Errorf("the client got %d MiB", got.n>>20)
			}
			// The gateway hung up rather than read on: the upstream
			// could not write all of it.
			eventually(t, "the upstream cut off", func() error {
				if n := written.Load(); n >= huge {
					return errorf("the upstream wrote %d MiB", n>>20)
				}
				return nil
			})
		})
	}
}

// A client that leaves while the upstream streams ends the work at once:
// the upstream's connection is closed and the active gauge is back to 0.
func TestClientLeavingStopsHostileStream(t *testing.T) {
	stopped := make(chan struct{})
	url, _ := rawUpstream(t, func(w *bufio.Writer) error {
		defer close(stopped)
		w.WriteString(sseHead)
		for { // one event that never ends, slowly
			if _, err := w.WriteString("data: x\n"); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			time.Sleep(time.Millisecond)
		}
	})
	gw, ghs := startGateway(t, upstreamTo(url))
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan error, 1)
	go func() {
		// No answer comes: the first event never ends.
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ghs.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		sent <- err
	}()
	eventually(t, "the request active", func() error {
		if a := metric(t, gw, llmmetrics.Active, "endpoint", "stream"); a != 1 {
			return errorf("active = %v", a)
		}
		return nil
	})
	cancel()
	<-sent
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream is still streaming 10 s after the client left")
	}
	expectCounted(t, gw, "stream", 1, 0)
}
