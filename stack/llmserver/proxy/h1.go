package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// h1 is the gateway's client for plain http:// upstreams. net/http's
// Transport gives every connection a read and a write goroutine and passes
// each request and response between them and the caller over channels;
// with a fast engine those hand-offs are most of what the gateway adds to
// a request's latency, and of its CPU. Here the caller's goroutine writes
// the request and reads the answer itself, on a pooled keep-alive
// connection, with net/http's own Request.Write and ReadResponse. https://
// and proxied (HTTP_PROXY) upstreams go to net/http's Transport.
type h1 struct {
	fallback    http.RoundTripper
	proxy       func(*http.Request) (*url.URL, error)
	dial        func(ctx context.Context, network, addr string) (net.Conn, error)
	maxIdle     int           // per upstream address
	idleTimeout time.Duration // an idle connection older than this is closed, not reused

	mu   sync.Mutex
	idle map[string][]*h1conn
}

type h1conn struct {
	nc        net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	idleSince time.Time
}

// errServerClosedIdle: the upstream closed a kept-alive connection before
// answering, as servers do when their keep-alive timeout strikes just as a
// request goes out. The request never reached a handler, so it is sent
// again, once, on a new connection (as net/http's Transport does).
var errServerClosedIdle = errors.New("the upstream closed an idle connection")

var aLongTimeAgo = time.Unix(1, 0)

func (t *h1) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.URL.User != nil || t.proxied(req) {
		return t.fallback.RoundTrip(req)
	}
	addr := req.URL.Host
	if req.URL.Port() == "" {
		addr = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	for attempt := 0; ; attempt++ {
		c, reused, err := t.get(req.Context(), addr)
		if err != nil {
			return nil, err
		}
		resp, err := t.exchange(c, addr, req, reused)
		if err == nil {
			return resp, nil
		}
		noBody := req.Body == nil || req.Body == http.NoBody
		if !(errors.Is(err, errServerClosedIdle) && reused && attempt == 0 && (noBody || req.GetBody != nil)) {
			return nil, err
		}
		if !noBody {
			body, gerr := req.GetBody()
			if gerr != nil {
				return nil, err
			}
			r2 := *req
			r2.Body = body
			req = &r2
		}
	}
}

func (t *h1) proxied(req *http.Request) bool {
	if t.proxy == nil {
		return false
	}
	p, err := t.proxy(req)
	return err != nil || p != nil
}

// get returns an idle connection to addr, or dials one.
func (t *h1) get(ctx context.Context, addr string) (c *h1conn, reused bool, err error) {
	t.mu.Lock()
	for conns := t.idle[addr]; len(conns) > 0; conns = t.idle[addr] {
		c = conns[len(conns)-1]
		t.idle[addr] = conns[:len(conns)-1]
		if time.Since(c.idleSince) < t.idleTimeout {
			t.mu.Unlock()
			return c, true, nil
		}
		c.nc.Close()
	}
	t.mu.Unlock()
	nc, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, false, err
	}
	return &h1conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, false, nil
}

// put keeps c for the next request to addr, and closes the connections
// idle for longer than idleTimeout (the oldest, at the bottom of the stack):
// their upstream has most likely closed them by now.
func (t *h1) put(addr string, c *h1conn) {
	now := time.Now()
	c.idleSince = now
	var stale []*h1conn
	t.mu.Lock()
	if t.idle == nil {
		t.idle = map[string][]*h1conn{}
	}
	conns := t.idle[addr]
	n := 0
	for n < len(conns) && now.Sub(conns[n].idleSince) >= t.idleTimeout {
		n++
	}
	stale = append(stale, conns[:n]...)
	conns = append(conns[:0], conns[n:]...)
	if len(conns) < t.maxIdle {
		conns = append(conns, c)
		c = nil
	}
	t.idle[addr] = conns
	t.mu.Unlock()
	if c != nil {
		c.nc.Close()
	}
	for _, s := range stale {
		s.nc.Close()
	}
}

// exchange writes req on c and reads the answer's head. The body is read
// by the caller; reading it to the end gives c back to the pool.
func (t *h1) exchange(c *h1conn, addr string, req *http.Request, reused bool) (*http.Response, error) {
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		c.nc.Close()
		return nil, err
	}
	// Cancelling the request (the client left, or the first-byte timer
	// fired) unblocks whatever is reading or writing c.
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	fail := func(err error) (*http.Response, error) {
		stop()
		c.nc.Close()
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, err
	}
	if err := req.Write(c.bw); err != nil {
		return fail(err)
	}
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	for {
		if _, err := c.br.Peek(1); err != nil {
			if reused && (err == io.EOF || isReset(err)) {
				return fail(errServerClosedIdle)
			}
			return fail(err)
		}
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return fail(err)
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			reused = false // the upstream has the request: no resending it
			continue       // 100 Continue, 103 Early Hints: the answer follows
		}
		resp.Body = &h1body{t: t, c: c, addr: addr, rc: resp.Body, stop: stop,
			keep: !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols}
		return resp, nil
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// h1body is an answer's body. At its end the connection goes back to the
// pool; closed early, the connection is closed, unless what is left of the
// body has already arrived.
type h1body struct {
	t    *h1
	c    *h1conn
	addr string
	rc   io.ReadCloser
	stop func() bool
	keep bool
	done bool
	err  error // what ended the body
}

func (b *h1body) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	n, err := b.rc.Read(p)
	if err != nil {
		b.err = err
		b.release(err == io.EOF)
	}
	return n, err
}

func (b *h1body) Close() error {
	if b.done {
		return nil
	}
	// Whatever is buffered may finish the body (an SSE stream's last
	// chunk marker comes right after [DONE]); the connection is not waited on.
	const most = 64 << 10
	b.c.nc.SetReadDeadline(aLongTimeAgo)
	n, err := io.Copy(io.Discard, io.LimitReader(b.rc, most))
	b.err = errors.New("read on a closed body")
	b.release(err == nil && n < most && b.c.br.Buffered() == 0)
	return nil
}

func (b *h1body) release(atEOF bool) {
	if b.done {
		return
	}
	b.done = true
	b.rc.Close()
	if b.stop() && atEOF && b.keep && b.c.nc.SetDeadline(time.Time{}) == nil {
		b.t.put(b.addr, b.c)
		return
	}
	b.c.nc.Close()
}

// CloseIdleConnections closes the pooled connections, and net/http's.
func (t *h1) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			c.nc.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
