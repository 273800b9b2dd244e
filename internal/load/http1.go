package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"strconv"
	"time"
)

// http1 is the generator's own HTTP/1.1 client for plain http:// servers,
// built the way wrk is: each keep-alive connection carries one request at a
// time, the request goes out in a single write from a reused buffer, and
// the answer is read straight off the connection's buffer. net/http's
// client spends two goroutines, channel hand-offs and a context per request;
// on a 2-core machine shared with the server under test that CPU is taken
// from the server, and the generator becomes the bottleneck it must not be.
// https:// and proxied URLs use net/http instead.
type http1 struct {
	addr   string // host:port to dial
	start  []byte // "POST /path HTTP/1.1\r\nHost: ...\r\n...Content-Length: "
	idle   chan *conn
	dialer net.Dialer
	run    context.Context // cancelling it (Ctrl-C) unblocks every connection
}

// conn is one keep-alive connection and its reusable buffers.
type conn struct {
	nc     net.Conn
	br     *bufio.Reader // the connection's reader
	sse    *bufio.Reader // reads event lines of a streamed body
	wbuf   []byte        // the request as written
	body   []byte        // the request body
	lr     io.LimitedReader
	chunks io.Reader   // the chunked body being read
	resp   response    // the answer being read
	stop   func() bool // unregisters the cancellation hook
	reused bool
}

var aLongTimeAgo = time.Unix(1, 0)

func newHTTP1(run context.Context, addr, host, path string, header map[string][]string, maxIdle int) *http1 {
	var b bytes.Buffer
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: %s\r\n", path, host)
	for _, k := range []string{"Content-Type", "Accept", "User-Agent", "Authorization"} {
		for _, v := range header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("Content-Length: ")
	return &http1{
		addr:   addr,
		start:  b.Bytes(),
		idle:   make(chan *conn, maxIdle),
		dialer: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		run:    run,
	}
}

func (h *http1) get(ctx context.Context) (*conn, error) {
	select {
	case c := <-h.idle:
		c.reused = true
		return c, nil
	default:
	}
	nc, err := h.dialer.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, err
	}
	c := &conn{
		nc:  nc,
		br:  bufio.NewReaderSize(nc, 16<<10),
		sse: bufio.NewReaderSize(nil, 16<<10),
	}
	// One hook per connection, not per request: Ctrl-C makes every read
	// and write on it fail at once.
	c.stop = context.AfterFunc(h.run, func() { nc.SetDeadline(aLongTimeAgo) })
	return c, nil
}

func (h *http1) put(c *conn) {
	select {
	case h.idle <- c:
	default:
		c.close()
	}
}

func (c *conn) close() {
	c.stop()
	c.nc.Close()
}

func (h *http1) closeIdle() {
	for {
		select {
		case c := <-h.idle:
			c.close()
		default:
			return
		}
	}
}

// response is the head of an HTTP/1.1 answer.
type response struct {
	status     int
	statusText string // only for non-200 answers
	length     int64  // -1: unknown
	chunked    bool
	close      bool
	readAny    bool // some bytes of the answer arrived
}

var errNotHTTP = errors.New("the answer is not HTTP/1.x")

// readHead reads the status line and headers, skipping 1xx answers.
func readHead(br *bufio.Reader, r *response) error {
	for {
		*r = response{length: -1, readAny: r.readAny}
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			r.readAny = true
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return errNotHTTP
			}
			return err
		}
		line = trimEOL(line)
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return errNotHTTP
		}
		code, err := strconv.Atoi(string(line[9:12]))
		if err != nil {
			return errNotHTTP
		}
		r.status = code
		if code != 200 {
			r.statusText = string(line[9:])
		}
		if line[7] == '0' {
			r.close = true // HTTP/1.0 closes unless told otherwise
		}
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					return fmt.Errorf("a response header is longer than %d bytes", br.Size())
				}
				return err
			}
			h = trimEOL(h)
			if len(h) == 0 {
				break
			}
			name, value, ok := bytes.Cut(h, []byte(":"))
			if !ok {
				continue
			}
			value = bytes.TrimSpace(value)
			switch {
			case asciiEqualFold(name, "content-length"):
				n, err := strconv.ParseInt(string(value), 10, 64)
				if err != nil || n < 0 {
					return fmt.Errorf("bad Content-Length %q", value)
				}
				r.length = n
			case asciiEqualFold(name, "transfer-encoding"):
				r.chunked = containsFold(value, "chunked")
			case asciiEqualFold(name, "connection"):
				if containsFold(value, "close") {
					r.close = true
				} else if containsFold(value, "keep-alive") {
					r.close = false
				}
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue
		}
		if code == 204 || code == 304 {
			r.length, r.chunked = 0, false // never a body
		}
		return nil
	}
}

// bodyOf returns the reader of the answer's body; finish then completes it.
func (c *conn) bodyOf(r *response) io.Reader {
	c.resp = *r
	switch {
	case r.chunked:
		c.chunks = httputil.NewChunkedReader(c.br)
		return c.chunks
	case r.length >= 0:
		c.lr = io.LimitedReader{R: c.br, N: r.length}
		return &c.lr
	default: // until the server closes the connection
		return c.br
	}
}

// finish reads what is left of the answer (and a chunked trailer) and
// reports whether the connection may carry another request.
func (c *conn) finish() bool {
	r := &c.resp
	switch {
	case r.chunked:
		if _, err := io.Copy(io.Discard, io.LimitReader(c.chunks, 256<<10)); err != nil {
			return false
		}
		// The chunked reader stops after the last chunk's size line;
		// the (empty) trailer ends with a blank line.
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return false
			}
			if len(trimEOL(line)) == 0 {
				return !r.close
			}
		}
	case r.length >= 0:
		if c.lr.N > 256<<10 {
			return false
		}
		_, err := io.Copy(io.Discard, &c.lr)
		return err == nil && c.lr.N == 0 && !r.close
	default:
		return false
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}

func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
