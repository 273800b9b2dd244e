package proxy

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
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newH1(fallback http.RoundTripper) *h1 {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &h1{fallback: fallback, dial: d.DialContext, maxIdle: 16, idleTimeout: time.Minute}
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

func post(t *testing.T, c *http.Client, u, body string) (int, string) {
	t.Helper()
	resp, err := c.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestH1KeepsConnectionsAlive(t *testing.T) {
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
	c := &http.Client{Transport: newH1(nil)}
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
func TestH1RetriesOnAClosedIdleConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var served atomic.Int32
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
				served.Add(1)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	c := &http.Client{Transport: newH1(nil)}
	for i := range 4 {
		var code int
		var body string
		if i%2 == 0 {
			code, body = post(t, c, "http://"+ln.Addr().String()+"/v1/completions", `{}`)
		} else { // a GET has no body to rewind: it is resent as it is
			resp, err := c.Get("http://" + ln.Addr().String() + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code, body = resp.StatusCode, string(b)
		}
		if code != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q", i, code, body)
		}
		time.Sleep(20 * time.Millisecond) // the server's close arrives
	}
	if n := served.Load(); n != 4 {
		t.Fatalf("the server answered %d requests, want 4 (each sent once)", n)
	}
}

// A connection that fails before any answer is not retried when it was
// new: the error is the upstream's, not a stale connection's.
func TestH1NewConnectionFailureIsNotRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	c := &http.Client{Transport: newH1(nil)}
	_, err = c.Post("http://"+ln.Addr().String()+"/", "application/json", strings.NewReader(`{}`))
	if err == nil || errors.Is(err, errServerClosedIdle) {
		t.Fatalf("err = %v, want the connection's own error", err)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

// Closing a body early keeps the connection when the rest of the body has
// already arrived, and closes it when more was still to come.
func TestH1EarlyClose(t *testing.T) {
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
	c := &http.Client{Transport: newH1(nil)}
	read1 := func(path string) {
		resp, err := c.Post(ts.URL+path, "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the end of the quick answer arrives
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		if line != "data: 1\n" {
			t.Fatalf("%s: read %q", path, line)
		}
		resp.Body.Close()
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
// connection, which is how the upstream learns that the client left.
func TestH1CancelClosesTheConnection(t *testing.T) {
	gone := make(chan struct{})
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(gone)
	})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader(`{}`))
	resp, err := (&http.Client{Transport: newH1(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
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
		t.Fatal("the upstream did not see the client go")
	}
}

// https:// and proxied upstreams go through net/http's Transport.
func TestH1FallsBack(t *testing.T) {
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls "+r.Proto)
	}))
	defer secure.Close()
	tr := newH1(secure.Client().Transport)
	code, body := post(t, &http.Client{Transport: tr}, secure.URL, `{}`)
	if code != 200 || !strings.HasPrefix(body, "tls ") {
		t.Fatalf("https: %d %q", code, body)
	}

	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "direct")
	}))
	defer plain.Close()
	var viaFallback atomic.Bool
	tr = newH1(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		viaFallback.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	}))
	tr.proxy = func(*http.Request) (*url.URL, error) { return url.Parse("http://proxy.invalid:3128") }
	if code, _ := post(t, &http.Client{Transport: tr}, plain.URL, `{}`); code != 200 || !viaFallback.Load() {
		t.Fatalf("with a proxy set: %d, via net/http %v", code, viaFallback.Load())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Connections idle past idleTimeout are closed when the pool is next used,
// not kept open (in CLOSE_WAIT once the upstream has closed its end).
func TestH1ClosesStaleIdleConnections(t *testing.T) {
	tr := newH1(nil)
	tr.idleTimeout = 50 * time.Millisecond
	var peers []net.Conn
	put := func() {
		a, b := net.Pipe()
		peers = append(peers, b)
		tr.put("u:80", &h1conn{nc: a})
	}
	put()
	put()
	time.Sleep(80 * time.Millisecond)
	put()
	if n := len(tr.idle["u:80"]); n != 1 {
		t.Fatalf("%d idle connections, want 1 (the fresh one)", n)
	}
	for i, p := range peers[:2] {
		p.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := p.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("stale connection %d: read %v, want EOF (closed)", i, err)
		}
	}
	if c, reused, err := tr.get(context.Background(), "u:80"); err != nil || !reused || c.nc == nil {
		t.Fatalf("get: %v, reused %v", err, reused)
	}
}
