package openai

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newClient(fallback http.RoundTripper) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &Client{Fallback: fallback, Dial: d.DialContext, MaxIdlePerHost: 16, IdleTimeout: time.Minute}
}

// countingServer counts the connections its clients open.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

// send does one request and reads the whole answer.
func send(t *testing.T, c *Client, ctx context.Context, method, u, body string) (int, string, error) {
	t.Helper()
	tg, err := c.Target(u)
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Method: method, Header: []Header{{"Content-Type", "application/json"}}}
	if method == "POST" {
		req.Body = []byte(body)
	}
	resp, err := c.Do(ctx, tg, req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func post(t *testing.T, c *Client, u, body string) (int, string) {
	t.Helper()
	code, b, err := send(t, c, context.Background(), "POST", u, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, b
}

func TestClientKeepsConnectionsAlive(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("stream") != "" { // chunked, as a stream is
			w.Write([]byte("data: " + string(b) + "\n\n"))
			w.(http.Flusher).Flush()
			w.Write([]byte("data: [DONE]\n\n"))
			return
		}
		w.Write(b)
	})
	c := newClient(nil)
	for i := range 20 {
		u := ts.URL
		if i%2 == 1 {
			u += "?stream=1"
		}
		code, body := post(t, c, u, fmt.Sprint(i))
		if code != 200 || !strings.Contains(body, fmt.Sprint(i)) {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 requests in turn opened %d connections, want 1", n)
	}
}

// A server that closes each connection after one answer without saying so
// (as when its keep-alive timeout strikes): the second request finds the
// pooled connection closed and goes again, once, on a new one.
func TestClientRetriesOnAClosedIdleConnection(t *testing.T) {
	var served atomic.Int32
	addr := listen(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		served.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	})
	c := newClient(nil)
	for i := range 4 {
		method := "POST"
		if i%2 == 1 {
			method = "GET" // a GET is resent as well
		}
		code, body, err := send(t, c, context.Background(), method, "http://"+addr+"/v1/models", `{}`)
		if err != nil || code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q %v", i, code, body, err)
		}
		time.Sleep(20 * time.Millisecond) // the server's close arrives
	}
	if n := served.Load(); n != 4 {
		t.Fatalf("the server answered %d requests, want 4 (each sent once)", n)
	}
}

// A connection that fails before any answer is not retried when it was
// new: the error is the server's, not a stale connection's.
func TestClientNewConnectionFailureIsNotRetried(t *testing.T) {
	var accepted atomic.Int32
	addr := listen(t, func(net.Conn) { accepted.Add(1) })
	_, _, err := send(t, newClient(nil), context.Background(), "POST", "http://"+addr+"/", `{}`)
	if err == nil || errors.Is(err, errServerClosedIdle) {
		t.Fatalf("err = %v, want the connection's own error", err)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// Closing an answer early keeps the connection when the rest of the body
// has already arrived, and closes it when more was still to come.
func TestClientEarlyClose(t *testing.T) {
	more := make(chan struct{})
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: 1\n\n"))
		if r.URL.Path == "/slow" {
			w.(http.Flusher).Flush()
			<-more
			w.Write([]byte("data: 2\n\n"))
		}
	})
	defer close(more)
	c := newClient(nil)
	read1 := func(path string) {
		tg, _ := c.Target(ts.URL + path)
		resp, err := c.Do(context.Background(), tg, &Request{Method: "POST", Body: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the end of the quick answer arrives
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		if line != "data: 1\n" {
			t.Fatalf("%s: read %q", path, line)
		}
		resp.Close()
	}
	read1("/quick")
	read1("/quick")
	if n := conns.Load(); n != 1 {
		t.Fatalf("after two quick answers closed early: %d connections, want 1", n)
	}
	read1("/slow")
	read1("/quick")
	if n := conns.Load(); n != 2 {
		t.Fatalf("after a slow answer closed early: %d connections, want 2 (it is not reused)", n)
	}
}

// Cancelling the request unblocks a body read at once and drops the
// connection, which is how the server learns that the client left.
func TestClientCancelClosesTheConnection(t *testing.T) {
	gone := make(chan struct{})
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	ctx, cancel := context.WithCancel(context.Background())
	c := newClient(nil)
	tg, _ := c.Target(ts.URL)
	resp, err := c.Do(ctx, tg, &Request{Method: "POST", Body: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Close()
	errc := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); errc <- err }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the body read ended cleanly after cancel")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the body read did not end after cancel")
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not see the client go")
	}
}

// https:// and proxied URLs go through the fallback, net/http.
func TestClientFallsBack(t *testing.T) {
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls "+r.Proto)
	}))
	defer secure.Close()
	code, body := post(t, newClient(secure.Client().Transport), secure.URL, `{}`)
	if code != 200 || !strings.HasPrefix(body, "tls ") {
		t.Fatalf("https: %d %q", code, body)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "direct")
	}))
	defer plain.Close()
	var viaFallback atomic.Bool
	c := newClient(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		viaFallback.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	}))
	c.Proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.invalid:3128") }
	if code, _ := post(t, c, plain.URL, `{}`); code != 200 || !viaFallback.Load() {
		t.Fatalf("with a proxy set: %d, via net/http %v", code, viaFallback.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Connections idle past IdleTimeout are closed when the pool is next used,
// not kept open (in CLOSE_WAIT once the server has closed its end).
func TestClientClosesStaleIdleConnections(t *testing.T) {
	c := newClient(nil)
	c.IdleTimeout = 50 * time.Millisecond
	var peers []net.Conn
	put := func() {
		a, b := net.Pipe()
		peers = append(peers, b)
		c.put(newConn(c, a, "u:80"))
	}
	put()
	put()
	time.Sleep(80 * time.Millisecond)
	put()
	if n := len(c.idle["u:80"]); n != 1 {
		t.Fatalf("%d idle connections, want 1 (the fresh one)", n)
	}
	for i, p := range peers[:2] {
		p.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := p.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("stale connection %d: read %v, want EOF (closed)", i, err)
		}
	}
	if cn, err := c.get(context.Background(), "u:80", false, &Request{}, time.Now()); err != nil || !cn.reused {
		t.Fatalf("get: %v, reused %v", err, cn != nil && cn.reused)
	}
}

// The head timeout and the deadline are reported as such, over the
// client's own connections and over net/http.
func TestClientTimeouts(t *testing.T) {
	release := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Write([]byte("data: 1\n\n"))
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	plain := httptest.NewServer(handler)
	secure := httptest.NewTLSServer(handler)
	defer func() { close(release); plain.Close(); secure.Close() }()
	for _, base := range []string{plain.URL, secure.URL} {
		c := newClient(secure.Client().Transport)
		tg, _ := c.Target(base + "/head")
		start := time.Now()
		_, err := c.Do(context.Background(), tg, &Request{Method: "POST", Body: []byte("{}"), HeadTimeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrHeadTimeout) || time.Since(start) > 5*time.Second {
			t.Errorf("%s: head timeout: %v after %s", base, err, time.Since(start))
		}
		tg, _ = c.Target(base + "/body")
		resp, err := c.Do(context.Background(), tg, &Request{Method: "POST", Body: []byte("{}"),
			HeadTimeout: time.Minute, Deadline: time.Now().Add(200 * time.Millisecond)})
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		_, err = io.ReadAll(resp.Body)
		resp.Close()
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s: body past the deadline: %v, want os.ErrDeadlineExceeded", base, err)
		}
	}
}

// listen serves each connection to a new listener with serve, which
// returns when it is done with it; listen returns the listener's address.
func listen(tb testing.TB, serve func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// rawServer answers each request on a connection with answer.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	return "http://" + listen(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, answer); err != nil {
				return
			}
		}
	}) + "/v1/completions"
}

// The answers load's client was held to: framing, 1xx, HTTP/1.0, and what
// is not HTTP at all.
func TestClientReadsAnswers(t *testing.T) {
	chunked := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\nX-Trailer: 1\r\n\r\n"
	for _, tt := range []struct {
		name, answer string
		code         int
		body         string
		err          error
	}{
		{"chunked with a trailer", chunked, 200, "data: a\n\ndata: b\n\n", nil},
		{"length", "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc", 200, "abc", nil},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi", 200, "hi", nil},
		{"100 Continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 201, "ok", nil},
		{"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 204, "", nil},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n", 0, "", ErrNotHTTP},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(nil)
			u := rawServer(t, tt.answer)
			for range 3 {
				code, body, err := send(t, c, context.Background(), "POST", u, "{}")
				if code != tt.code || body != tt.body || !errors.Is(err, tt.err) {
					t.Fatalf("%d %q %v; want %d %q %v", code, body, err, tt.code, tt.body, tt.err)
				}
			}
		})
	}
}

// FuzzReadAnswer feeds arbitrary bytes to the answer reader: it must return
// an answer or an error, never panic or loop.
func FuzzReadAnswer(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"))
	f.Add([]byte("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 500 x\r\nConnection: close\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, p := net.Pipe()
		defer p.Close()
		go func() { p.Write(b); p.Close() }()
		cn := newConn(&Client{}, a, "u:80")
		cn.br = bufio.NewReaderSize(a, 64)
		if _, err := readHead(cn.br, &cn.resp, DefaultMaxResponseHeaderBytes); err != nil {
			a.Close()
			return
		}
		cn.body.start(&cn.resp, false)
		io.Copy(io.Discard, io.LimitReader(&cn.body, 1<<20))
		cn.closeBody()
	})
}

// Close aborts the exchanges in progress, over the client's own connections
// and over net/http, even when their contexts are never done; requests
// after it fail with ErrClosed.
func TestClientClose(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	plain := httptest.NewServer(handler)
	secure := httptest.NewTLSServer(handler)
	defer plain.Close()
	defer secure.Close()
	c := newClient(secure.Client().Transport)
	errc := make(chan error, 2)
	for _, u := range []string{plain.URL, secure.URL} {
		tg, _ := c.Target(u)
		resp, err := c.Do(context.Background(), tg, &Request{Method: "POST", Body: []byte("{}")})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			_, err := io.ReadAll(resp.Body)
			resp.Close()
			errc <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	c.Close()
	for range 2 {
		select {
		case err := <-errc:
			if err == nil {
				t.Error("a body read ended cleanly after Close")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a body read did not end after Close")
		}
	}
	if _, _, err := send(t, c, context.Background(), "POST", plain.URL, "{}"); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// A net/http body that ends cleanly once the exchange was cancelled or the
// Client closed was cut by us: closing a TLS connection sends close_notify
// first, and the server may end its response before the socket closes
// (TestClientClose met this about once in 300 runs). Its read reports the
// cut.
func TestFallbackBodyCutByUsIsNotClean(t *testing.T) {
	cause := errors.New("the caller's cause")
	for _, tc := range []struct {
		name   string
		cancel func(context.CancelCauseFunc)
		want   error
	}{
		{"live", func(context.CancelCauseFunc) {}, io.EOF},
		{"closed", func(c context.CancelCauseFunc) { c(ErrClosed) }, ErrClosed},
		{"cancelled", func(c context.CancelCauseFunc) { c(nil) }, context.Canceled},
		{"cancelled with a cause", func(c context.CancelCauseFunc) { c(cause) }, cause},
		{"deadline", func(c context.CancelCauseFunc) { c(context.DeadlineExceeded) }, os.ErrDeadlineExceeded},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		tc.cancel(cancel)
		b := &fallbackBody{ctx: ctx, rc: io.NopCloser(strings.NewReader("data: 1\n\n"))}
		got, err := io.ReadAll(b)
		if string(got) != "data: 1\n\n" {
			t.Errorf("%s: read %q", tc.name, got)
		}
		if tc.want == io.EOF {
			if err != nil {
				t.Errorf("%s: %v, want a clean end", tc.name, err)
			}
		} else if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		cancel(nil)
	}
}
