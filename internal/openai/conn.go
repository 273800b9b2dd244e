package openai

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

// conn is one of the client's own keep-alive connections. It carries one
// request at a time, and holds that request's answer.
type conn struct {
	c         *Client
	nc        net.Conn
	br        *bufio.Reader
	wbuf      []byte // the request as written
	addr      string
	idleSince time.Time
	reused    bool
	rdl, wdl  time.Time // the read and write deadlines set on nc

	resp     Response
	body     body
	drain    io.LimitedReader
	stop     func() bool // unregisters the request's cancellation hook
	stopLife func() bool // unregisters the Client's (Close)
	keep     bool        // the answer leaves the connection reusable
}

var aLongTimeAgo = time.Unix(1, 0)

func newConn(c *Client, nc net.Conn, addr string) *conn {
	cn := &conn{c: c, nc: nc, br: bufio.NewReaderSize(nc, 16<<10), addr: addr}
	cn.body.cn = cn
	cn.resp.release = cn.closeBody
	// One hook for the connection's life: Client.Close unblocks whatever
	// is reading or writing it.
	cn.stopLife = context.AfterFunc(c.lifetime(), func() { nc.SetDeadline(aLongTimeAgo) })
	return cn
}

// close closes the connection for good.
func (cn *conn) close() {
	cn.stopLife()
	cn.nc.Close()
}

// exchange writes req on cn and reads the answer's head. The body is read
// by the caller; Response.Close then gives cn back to the pool, or closes
// it.
func (cn *conn) exchange(ctx context.Context, t *Target, req *Request, start time.Time) (*Response, error) {
	b := append(cn.wbuf[:0], req.Method...)
	b = append(b, ' ')
	b = append(b, t.path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, t.host...)
	b = append(b, "\r\n"...)
	for _, h := range req.Header {
		b = append(append(append(append(b, h.Name...), ": "...), h.Value...), "\r\n"...)
	}
	if req.Body != nil || req.Method == "POST" {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(req.Body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	cn.wbuf = append(b, req.Body...)

	headDeadline := req.headDeadline(start)
	cn.setDeadlines(headDeadline, req.Deadline)
	// Set after the deadlines, so that a cancellation is never undone:
	// cancelling ctx (the client left, Ctrl-C) unblocks whatever is reading
	// or writing cn.
	cn.stop = nil
	if ctx.Done() != nil {
		cn.stop = context.AfterFunc(ctx, func() { cn.nc.SetDeadline(aLongTimeAgo) })
	}
	fail := func(err error, answered bool) (*Response, error) {
		cn.unhook()
		cn.close()
		switch {
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case cn.c.lifetime().Err() != nil:
			return nil, ErrClosed
		case isTimeout(err) && req.HeadTimeout > 0 && !time.Now().Before(start.Add(req.HeadTimeout)):
			return nil, ErrHeadTimeout // else a passed Deadline: err Is os.ErrDeadlineExceeded
		case cn.reused && !answered && !isTimeout(err):
			return nil, errServerClosedIdle
		}
		return nil, err
	}
	if _, err := cn.nc.Write(cn.wbuf); err != nil {
		return fail(err, false)
	}
	r := &cn.resp
	answered, err := readHead(cn.br, r, cn.c.maxHeaderBytes())
	if err != nil {
		return fail(err, answered)
	}
	if !headDeadline.Equal(req.Deadline) {
		cn.setDeadlines(req.Deadline, req.Deadline) // the head is in: only the whole exchange is bounded now
		if ctx.Err() != nil {
			cn.nc.SetDeadline(aLongTimeAgo) // the hook may have run before
		}
	}
	cn.body.start(r, req.Method == "HEAD")
	cn.keep = r.keep && cn.body.kind != untilClose
	r.Body = &cn.body
	return r, nil
}

// setDeadlines sets the read and write deadlines that differ from those
// set (each costs a timer update).
func (cn *conn) setDeadlines(read, write time.Time) {
	switch {
	case read.Equal(cn.rdl) && write.Equal(cn.wdl):
	case read.Equal(write):
		cn.nc.SetDeadline(read)
	case read.Equal(cn.rdl):
		cn.nc.SetWriteDeadline(write)
	case write.Equal(cn.wdl):
		cn.nc.SetReadDeadline(read)
	default:
		cn.nc.SetReadDeadline(read)
		cn.nc.SetWriteDeadline(write)
	}
	cn.rdl, cn.wdl = read, write
}

func (cn *conn) unhook() bool {
	if cn.stop == nil {
		return true
	}
	return cn.stop()
}

// closeBody is Response.Close. Whatever is buffered may finish the body
// (an SSE stream's last chunk marker comes right after [DONE]); the
// connection is not waited on. Then cn goes back to the pool if its body
// was read to the end, the answer allows it, nothing unasked-for follows
// it, and no cancellation has touched it; otherwise cn is closed.
func (cn *conn) closeBody() {
	b := &cn.body
	if !b.done {
		cn.setDeadlines(aLongTimeAgo, cn.wdl)
		cn.drain.R, cn.drain.N = b, 64<<10
		io.Copy(io.Discard, &cn.drain)
		cn.drain.R = nil
		if !b.done {
			b.done, b.err = true, errors.New("read on a closed body")
		}
	}
	if b.closed {
		return
	}
	b.closed = true
	// The deadlines stay: the next exchange sets its own.
	if cn.unhook() && b.err == io.EOF && cn.keep && cn.br.Buffered() == 0 {
		cn.c.put(cn)
		return
	}
	cn.close()
}

// body kinds.
const (
	noBody = iota
	lengthBody
	chunkedBody
	untilClose
)

// body reads an answer's body off its connection's buffer.
type body struct {
	cn     *conn
	kind   int
	remain int64     // lengthBody: bytes still to come
	chunks io.Reader // chunkedBody
	done   bool
	err    error // what ended the body, returned by every later Read
	closed bool  // Response.Close ran
}

func (b *body) start(r *Response, head bool) {
	*b = body{cn: b.cn}
	switch {
	case head || r.StatusCode == 204 || r.StatusCode == 304:
		b.kind = noBody
	case r.chunked:
		b.kind = chunkedBody
		b.chunks = httputil.NewChunkedReader(b.cn.br)
	case r.ContentLength >= 0:
		b.kind, b.remain = lengthBody, r.ContentLength
	default:
		b.kind = untilClose
	}
}

func (b *body) Read(p []byte) (int, error) {
	if b.done {
		return 0, b.err
	}
	var n int
	var err error
	switch b.kind {
	case noBody:
		err = io.EOF
	case lengthBody:
		if b.remain == 0 {
			err = io.EOF
			break
		}
		if int64(len(p)) > b.remain {
			p = p[:b.remain]
		}
		n, err = b.cn.br.Read(p)
		b.remain -= int64(n)
		switch {
		case b.remain == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	case chunkedBody:
		n, err = b.chunks.Read(p)
		if err == io.EOF {
			if terr := readTrailer(b.cn.br); terr != nil {
				err = terr
			}
		}
	default:
		n, err = b.cn.br.Read(p)
	}
	if err != nil {
		b.done, b.err = true, err
		if err != io.EOF {
			b.cn.close() // at once: the server learns the client has gone
		}
	}
	return n, err
}

// readTrailer reads the trailer of a chunked body, through its blank line.
func readTrailer(br *bufio.Reader) error {
	for range 64 {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(trimEOL(line)) == 0 {
			return nil
		}
	}
	return errors.New("a chunked body's trailer has too many fields")
}

// readHead reads the status line and headers into r, skipping 1xx
// answers. answered reports that some of the answer had arrived, so the
// request reached the server.
// The head may take at most max bytes, 1xx heads included (a server that
// sends 100 Continue for ever is cut off too).
func readHead(br *bufio.Reader, r *Response, max int64) (answered bool, err error) {
	left := max
	tooLarge := func() error { return &LimitError{What: "response headers", Limit: max} }
	for {
		*r = Response{release: r.release, ContentLength: -1}
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			answered = true
		}
		if left -= int64(len(line)); left < 0 {
			return answered, tooLarge()
		}
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return answered, ErrNotHTTP
			}
			return answered, err
		}
		line = trimEOL(line)
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' || (len(line) > 12 && line[12] != ' ') {
			return answered, ErrNotHTTP
		}
		code, err := strconv.Atoi(string(line[9:12]))
		if err != nil || code < 100 {
			return answered, ErrNotHTTP
		}
		r.StatusCode = code
		if string(line[9:]) == "200 OK" {
			r.Status = "200 OK"
		} else {
			r.Status = string(line[9:])
		}
		r.keep = line[7] != '0' // HTTP/1.0 closes unless told otherwise
		for {
			h, err := br.ReadSlice('\n')
			if left -= int64(len(h)); left < 0 {
				return answered, tooLarge()
			}
			if err != nil {
				if errors.Is(err, bufio.ErrBufferFull) {
					return answered, fmt.Errorf("a response header is longer than %d bytes", br.Size())
				}
				return answered, err
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
					return answered, fmt.Errorf("bad Content-Length %q", value)
				}
				r.ContentLength = n
			case asciiEqualFold(name, "transfer-encoding"):
				r.chunked = containsFold(value, "chunked")
			case asciiEqualFold(name, "connection"):
				if containsFold(value, "close") {
					r.keep = false
				} else if containsFold(value, "keep-alive") {
					r.keep = true
				}
			case asciiEqualFold(name, "content-type"):
				r.ContentType = internContentType(value)
			case asciiEqualFold(name, "location"):
				r.Location = string(value)
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // 100 Continue, 103 Early Hints: the answer follows
		}
		if code == 101 {
			r.keep = false
		}
		if r.chunked {
			r.ContentLength = -1
		}
		return answered, nil
	}
}

// internContentType spares an allocation for the types servers answer with.
func internContentType(v []byte) string {
	for _, s := range []string{"text/event-stream", "application/json", "text/event-stream; charset=utf-8"} {
		if string(v) == s {
			return s
		}
	}
	return string(v)
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
