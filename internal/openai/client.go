package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
)

// Client sends requests to OpenAI-compatible servers: the gateway's
// requests to its upstreams, and load's to the server it loads. Plain
// http:// servers get HTTP/1.1 keep-alive connections of the client's own,
// on which the calling goroutine writes the request in one write and reads
// the answer itself (see the package doc for why); https:// and proxied
// URLs go through Fallback, net/http's Transport. The zero value is not
// ready: use a Client with Fallback set.
type Client struct {
	// Fallback carries what the client's own connections do not: https://,
	// and URLs that Proxy sends through a proxy.
	Fallback http.RoundTripper
	// Proxy picks a URL's proxy, as http.Transport.Proxy does; nil: none.
	Proxy func(*http.Request) (*url.URL, error)
	// Dial opens the client's own connections; nil: a net.Dialer with a
	// 10 s timeout and 30 s TCP keep-alive.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxIdlePerHost bounds the idle connections kept per server
	// (default 64).
	MaxIdlePerHost int
	// IdleTimeout closes a connection left idle this long rather than
	// reuse it: its server has most likely closed it (default 90 s).
	IdleTimeout time.Duration
	// MaxResponseHeaderBytes bounds an answer's status line and headers,
	// as net/http's Transport.MaxResponseHeaderBytes does; beyond, Do
	// returns a *LimitError (default DefaultMaxResponseHeaderBytes). Set
	// the Fallback's own limit to match.
	MaxResponseHeaderBytes int64

	mu   sync.Mutex
	idle map[string][]*conn // by host:port, the most recently used last

	lifeOnce sync.Once
	life     context.Context // cancelled by Close
	kill     context.CancelFunc
}

// lifetime is the context that Close cancels.
func (c *Client) lifetime() context.Context {
	c.lifeOnce.Do(func() { c.life, c.kill = context.WithCancel(context.Background()) })
	return c.life
}

// Close aborts every exchange in progress at once, on the client's own
// connections and through Fallback, and closes the connections; requests
// after it fail with ErrClosed. Cancelling a request's context aborts that
// request alone, but costs a hook per request: a caller that would only
// ever cancel them all together (load on Ctrl-C) passes a context that is
// never done, and calls Close.
func (c *Client) Close() {
	c.lifetime()
	c.kill()
	c.CloseIdleConnections()
}

// Target is a URL prepared once for many requests.
type Target struct {
	url  string
	own  bool   // carried by the client's own connections
	addr string // host:port to dial
	host string // the Host header
	path string // the request target, "/v1/completions"
}

// URL is the target's URL as given.
func (t *Target) URL() string { return t.url }

// Target parses rawURL and decides once which connections carry it.
func (c *Client) Target(rawURL string) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%q is not an http:// or https:// URL", rawURL)
	}
	t := &Target{url: rawURL, host: u.Host, path: u.RequestURI()}
	t.own = ownConns && u.Scheme == "http" && u.User == nil && !c.proxied(u)
	t.addr = u.Host
	if u.Port() == "" {
		t.addr = net.JoinHostPort(u.Hostname(), "80")
	}
	return t, nil
}

func (c *Client) proxied(u *url.URL) bool {
	if c.Proxy == nil {
		return false
	}
	p, err := c.Proxy(&http.Request{URL: u, Header: http.Header{}})
	return err != nil || p != nil
}

// Header is one request header field.
type Header struct{ Name, Value string }

// Request is one request to a Target.
type Request struct {
	Method string // GET or POST
	Header []Header
	Body   []byte
	// HeadTimeout bounds the wait for the answer's status line and
	// headers, from the start of the request: ErrHeadTimeout beyond. 0: no
	// bound.
	HeadTimeout time.Duration
	// Deadline bounds the whole exchange, the body included: past it a
	// read or write fails with an error that Is os.ErrDeadlineExceeded.
	// Zero: no bound.
	Deadline time.Time
}

// Response is an answer. Its Body is read by the caller, then Close must
// be called; neither the Response nor its Body may be used after that.
type Response struct {
	StatusCode    int
	Status        string // "200 OK"
	ContentType   string
	Location      string // a redirect's
	ContentLength int64  // -1: unknown
	Body          io.Reader

	release func() // returns the connection, or closes it
	keep    bool   // the connection may carry another request
	chunked bool
}

// Close ends the answer. The connection is kept for another request when
// the body was read to its end, or what is left of it has already arrived;
// otherwise it is closed, which tells the server the client has gone.
func (r *Response) Close() {
	if r.release != nil {
		r.release()
	}
}

var (
	// ErrHeadTimeout: no status line and headers within Request.HeadTimeout.
	ErrHeadTimeout = errors.New("no answer within the head timeout")
	// ErrNotHTTP: what came back is not an HTTP/1.x answer.
	ErrNotHTTP = errors.New("the answer is not HTTP/1.x")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("the client was closed")
	// errServerClosedIdle: the server closed a kept-alive connection before
	// answering, as servers do when their keep-alive timeout strikes just
	// as a request goes out. The request never reached a handler, so it is
	// sent again, once, on a new connection (as net/http's Transport does).
	errServerClosedIdle = errors.New("the server closed an idle connection")
)

// Do sends req to t and returns the answer once its head has arrived.
// Cancelling ctx aborts the exchange at once, the body's reading included,
// and closes the connection.
func (c *Client) Do(ctx context.Context, t *Target, req *Request) (*Response, error) {
	for _, h := range req.Header {
		if strings.ContainsAny(h.Value, "\r\n") {
			return nil, fmt.Errorf("header %s: the value holds a line break", h.Name)
		}
	}
	if c.lifetime().Err() != nil {
		return nil, ErrClosed
	}
	if !t.own {
		return c.fallback(ctx, t, req)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		cn, err := c.get(ctx, t.addr, attempt > 0, req, start)
		if err != nil {
			return nil, err
		}
		resp, err := cn.exchange(ctx, t, req, start)
		if err == nil {
			return resp, nil
		}
		if !errors.Is(err, errServerClosedIdle) || attempt > 0 {
			return nil, err
		}
	}
}

// headDeadline is when req's answer head is due: zero for never.
func (req *Request) headDeadline(start time.Time) time.Time {
	d := req.Deadline
	if req.HeadTimeout > 0 {
		if hd := start.Add(req.HeadTimeout); d.IsZero() || hd.Before(d) {
			d = hd
		}
	}
	return d
}

// get returns an idle connection to addr, or dials one (always, if fresh)
// within req's head deadline.
func (c *Client) get(ctx context.Context, addr string, fresh bool, req *Request, start time.Time) (*conn, error) {
	idleTimeout := c.idleTimeout()
	c.mu.Lock()
	for conns := c.idle[addr]; len(conns) > 0 && !fresh; conns = c.idle[addr] {
		cn := conns[len(conns)-1]
		c.idle[addr] = conns[:len(conns)-1]
		if time.Since(cn.idleSince) < idleTimeout {
			c.mu.Unlock()
			cn.reused = true
			return cn, nil
		}
		cn.close()
	}
	c.mu.Unlock()
	dial := c.Dial
	if dial == nil {
		dial = defaultDialer.DialContext
	}
	dctx := ctx
	if d := req.headDeadline(start); !d.IsZero() {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	nc, err := dial(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil && dctx.Err() != nil {
			return nil, req.timeoutError(start)
		}
		return nil, err
	}
	return newConn(c, nc, addr), nil
}

// timeoutError is the error for req's passed deadline: ErrHeadTimeout when
// the head timeout struck first.
func (req *Request) timeoutError(start time.Time) error {
	if req.HeadTimeout > 0 && !time.Now().Before(start.Add(req.HeadTimeout)) {
		return ErrHeadTimeout
	}
	return fmt.Errorf("%w (the request's deadline)", os.ErrDeadlineExceeded)
}

// DefaultMaxResponseHeaderBytes is Client.MaxResponseHeaderBytes' default:
// an engine's answer head is well under 2 KiB.
const DefaultMaxResponseHeaderBytes = 1 << 20

func (c *Client) maxHeaderBytes() int64 {
	if c.MaxResponseHeaderBytes > 0 {
		return c.MaxResponseHeaderBytes
	}
	return DefaultMaxResponseHeaderBytes
}

var defaultDialer = &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return 90 * time.Second
}

// put keeps cn for the next request to its server, and closes the
// connections idle longer than IdleTimeout (the oldest, at the bottom):
// their server has most likely closed them by now.
func (c *Client) put(cn *conn) {
	now := time.Now()
	cn.idleSince = now
	maxIdle := c.MaxIdlePerHost
	if maxIdle <= 0 {
		maxIdle = 64
	}
	idleTimeout := c.idleTimeout()
	var stale []*conn
	c.mu.Lock()
	if c.idle == nil {
		c.idle = map[string][]*conn{}
	}
	conns := c.idle[cn.addr]
	n := 0
	for n < len(conns) && now.Sub(conns[n].idleSince) >= idleTimeout {
		n++
	}
	if n > 0 {
		stale = append(stale, conns[:n]...)
		conns = append(conns[:0], conns[n:]...)
	}
	if len(conns) < maxIdle && c.lifetime().Err() == nil {
		conns = append(conns, cn)
	} else {
		stale = append(stale, cn)
	}
	c.idle[cn.addr] = conns
	c.mu.Unlock()
	for _, s := range stale {
		s.close()
	}
}

// CloseIdleConnections closes the idle connections, the Fallback's too.
func (c *Client) CloseIdleConnections() {
	c.mu.Lock()
	idle := c.idle
	c.idle = nil
	c.mu.Unlock()
	for _, conns := range idle {
		for _, cn := range conns {
			cn.close()
		}
	}
	if ci, ok := c.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// fallback sends req through net/http, with the same contract as the
// client's own connections.
func (c *Client) fallback(ctx context.Context, t *Target, req *Request) (*Response, error) {
	ctx, cancelCause := context.WithCancelCause(ctx)
	stopLife := context.AfterFunc(c.lifetime(), func() { cancelCause(ErrClosed) })
	cancel := func(cause error) { stopLife(); cancelCause(cause) }
	if !req.Deadline.IsZero() {
		var cancelDeadline context.CancelFunc
		ctx, cancelDeadline = context.WithDeadline(ctx, req.Deadline)
		cancelOuter := cancel
		cancel = func(cause error) { cancelDeadline(); cancelOuter(cause) }
	}
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, t.url, body)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	for _, h := range req.Header {
		hr.Header.Add(h.Name, h.Value)
	}
	var timer *time.Timer
	if req.HeadTimeout > 0 {
		timer = time.AfterFunc(req.HeadTimeout, func() { cancelCause(ErrHeadTimeout) })
	}
	resp, err := c.Fallback.RoundTrip(hr)
	if timer != nil && !timer.Stop() && err == nil {
		resp.Body.Close()
		err = ErrHeadTimeout
	}
	if err != nil {
		cancel(nil)
		if strings.Contains(err.Error(), "server response headers exceeded") {
			// The Fallback's MaxResponseHeaderBytes struck (net/http has no
			// error value for it).
			return nil, &LimitError{What: "response headers", Limit: c.maxHeaderBytes()}
		}
		return nil, fallbackError(ctx, err)
	}
	return &Response{
		StatusCode:    resp.StatusCode,
		Status:        resp.Status,
		ContentType:   resp.Header.Get("Content-Type"),
		Location:      resp.Header.Get("Location"),
		ContentLength: resp.ContentLength,
		Body:          &fallbackBody{ctx: ctx, rc: resp.Body},
		release:       func() { resp.Body.Close(); cancel(nil) },
	}, nil
}

// fallbackError words net/http's errors as the client's own: the head
// timeout, and a passed deadline as os.ErrDeadlineExceeded.
func fallbackError(ctx context.Context, err error) error {
	switch cause := context.Cause(ctx); {
	case cause == ErrClosed:
		return ErrClosed
	case cause == ErrHeadTimeout || errors.Is(err, ErrHeadTimeout):
		return ErrHeadTimeout
	case errors.Is(cause, context.DeadlineExceeded):
		return fmt.Errorf("%w (%v)", os.ErrDeadlineExceeded, err)
	}
	return err
}

type fallbackBody struct {
	ctx context.Context
	rc  io.ReadCloser
}

func (b *fallbackBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	switch {
	case err == io.EOF && b.ctx.Err() != nil:
		// Cut by a deadline, a cancellation or Close, not complete: net/http
		// may still end such a body with a clean EOF (closing a TLS
		// connection sends close_notify first, and the server may end its
		// response before the socket closes).
		err = fallbackError(b.ctx, fmt.Errorf("the body was cut off: %w", context.Cause(b.ctx)))
	case err != nil && err != io.EOF:
		err = fallbackError(b.ctx, err)
	}
	return n, err
}
