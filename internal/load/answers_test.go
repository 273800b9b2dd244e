package load

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer answers every request on a connection with answer(n), n
// counting requests across connections from 1; it closes the connection
// when answer returns close.
type rawServer struct {
	answer func(n int64) (resp string, close bool)
	n      atomic.Int64
	conns  atomic.Int64
}

func (s *rawServer) start(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns.Add(1)
			wg.Go(func() { s.serve(c) })
		}
	})
	return "http://" + ln.Addr().String() + "/v1"
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		method, length := "", 0
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			if method == "" {
				method = strings.Fields(line)[0]
			}
			if line == "" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
				fmt.Sscan(strings.TrimSpace(v), &length)
			}
		}
		io.CopyN(io.Discard, br, int64(length))
		if method == "GET" { // the model list
			body := `{"data":[{"id":"raw"}]}`
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			continue
		}
		resp, closeConn := s.answer(s.n.Add(1))
		if _, err := io.WriteString(c, resp); err != nil || closeConn {
			return
		}
	}
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

const sseChunk = "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"

func TestAnswers(t *testing.T) {
	jsonBody := `{"choices":[{"text":"a b"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`
	tests := []struct {
		name      string
		stream    bool
		answer    string
		close     bool
		wantConns int64 // connections for 6 requests
		wantErr   string
	}{
		{"chunked stream with trailer", true, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strings.TrimSuffix(chunked(sseChunk, sseChunk+sseChunk, "data: [DONE]\n\n"), "\r\n") + "X-Trailer: 1\r\n\r\n", false, 1, ""},
		{"stream with length", true, fmt.Sprintf("HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s", len(sseChunk)*3+14, sseChunk+sseChunk+sseChunk+"data: [DONE]\n\n"), false, 1, ""},
		{"stream until close", true, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + sseChunk + sseChunk + sseChunk + "data: [DONE]\n\n", true, 6, ""},
		{"HTTP/1.0", false, fmt.Sprintf("HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(jsonBody), jsonBody), true, 6, ""},
		{"100 Continue first", false, fmt.Sprintf("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(jsonBody), jsonBody), false, 1, ""},
		{"chunked JSON", false, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(jsonBody[:10], jsonBody[10:]), false, 1, ""},
		{"error status keeps the connection", false, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 9\r\n\r\nslow down", false, 1, "429"},
		{"204 has no body", false, "HTTP/1.1 204 No Content\r\n\r\n", false, 1, "204"},
		{"not HTTP", false, "SSH-2.0-OpenSSH_9.6\r\n", true, 6, "bad_response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &rawServer{answer: func(int64) (string, bool) { return tt.answer, tt.close }}
			o := quickOptions(s.start(t))
			o.Stream, o.Requests, o.Concurrency = tt.stream, 6, 1
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			// The model list's connection carries the first request.
			if got := s.conns.Load(); got != tt.wantConns {
				t.Errorf("%d connections for the model list and 6 requests, want %d", got, tt.wantConns)
			}
			if tt.wantErr != "" {
				if r.Requests.Failed != 6 || r.Errors[0].Status != tt.wantErr {
					t.Fatalf("requests %+v errors %+v", r.Requests, r.Errors)
				}
				return
			}
			if r.Requests.Succeeded != 6 {
				t.Fatalf("requests %+v errors %+v", r.Requests, r.Errors)
			}
			if tt.stream && (r.ITL.Count != 6*2 || r.OutputTokens != 6*3) {
				t.Errorf("ITL samples %d, tokens %d", r.ITL.Count, r.OutputTokens)
			}
			if !tt.stream && r.OutputTokens != 6*2 {
				t.Errorf("tokens %d", r.OutputTokens)
			}
		})
	}
}

// A keep-alive connection the server closed while idle fails on reuse
// before any answer; the request is sent again on a new connection and
// does not count as an error.
func TestRetriesConnectionClosedWhileIdle(t *testing.T) {
	body := `{"choices":[{"text":"a"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`
	ok := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	s := &rawServer{answer: func(n int64) (string, bool) {
		if n%2 == 0 {
			return "", true // read the request, then hang up without answering
		}
		return ok, false
	}}
	o := quickOptions(s.start(t))
	o.Stream, o.Requests, o.Concurrency = false, 5, 1
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// Every request after the first meets a hang-up on its reused
	// connection and is resent on a new one: 1 + 4×2 sent.
	if r.Requests.Succeeded != 5 || r.Requests.Failed != 0 || s.n.Load() != 9 {
		t.Fatalf("requests %+v errors %+v, server saw %d", r.Requests, r.Errors, s.n.Load())
	}
}

// A hang-up on a fresh connection is the server's failure: counted, not
// retried. (The first request goes out on the model list's kept-alive
// connection; a hang-up there may be an idle close, so it is resent once,
// on a fresh one.)
func TestHangUpOnNewConnectionIsAnError(t *testing.T) {
	s := &rawServer{answer: func(n int64) (string, bool) { return "", true }}
	o := quickOptions(s.start(t))
	o.Requests, o.Concurrency = 3, 1
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Failed != 3 || s.n.Load() != 1+3 || r.Errors[0].Status != "connection_closed" {
		t.Fatalf("requests %+v errors %+v, server saw %d", r.Requests, r.Errors, s.n.Load())
	}
}

func TestTimeout(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			f := &fakeServer{ttft: 700 * time.Millisecond, tokens: 1, tls: tls}
			o := f.options(t)
			o.Requests, o.Concurrency, o.Timeout = 2, 2, 100*time.Millisecond
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests.Failed != 2 || r.Errors[0].Status != "timeout" || r.Errors[0].Example != "no complete answer within --timeout" {
				t.Fatalf("requests %+v errors %+v", r.Requests, r.Errors)
			}
		})
	}
}
