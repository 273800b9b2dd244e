// Package load drives traffic at any OpenAI-compatible server (llmmon serve,
// vLLM, llama.cpp, TGI, SGLang, Ollama's /v1) and measures what users feel:
// time to first token, inter-token latency and end-to-end latency, with exact
// percentiles. It is the client side of the "LLM server" box: `llmmon load`
// makes the metrics appear that Prometheus and Grafana then show.
//
// Two arrival processes: an open loop (Poisson arrivals at a set rate,
// scheduled independently of how fast the server answers, which is the
// honest way to load a server) and a closed loop (a fixed number of requests
// in flight). The generator must never be the bottleneck: plain http://
// targets get a lean HTTP/1.1 client of its own (http1.go), https:// ones a
// shared keep-alive net/http client, and answers and their event streams
// are scanned in place, without decoding JSON per token.
package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Run loads the server until Requests or Duration is reached, or ctx is
// cancelled (Ctrl-C), and reports on every request that finished. Requests
// in flight when sending stops are waited for, except on cancellation, when
// they are abandoned and counted as cancelled. An error means no load ran:
// bad options, or a server that is unreachable, refuses the API key, or is
// not an OpenAI-compatible API.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	g := newGenerator(opts)
	defer g.client.CloseIdleConnections()
	// The generator keeps little live memory but allocates per request;
	// collecting less often leaves the CPU to the server under test.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	model, err := g.preflight(ctx)
	if err != nil {
		return nil, err
	}
	g.setModel(model)
	if h := g.newHTTP1(ctx); h != nil {
		g.h1 = h
		defer h.closeIdle()
	}
	return g.run(ctx), nil
}

type generator struct {
	opts     Options
	client   *http.Client
	base     string // URL without a trailing slash
	endpoint string // full URL of the endpoint
	header   http.Header
	model    string
	head     []byte // request body before the prompt
	tail     []byte // request body after the prompt
	prompt   []byte // --prompt, JSON-escaped; nil: random words
	h1       *http1 // the fast client for http:// targets; nil: net/http

	// Live counters, read by the progress line.
	sent, done, failed, dropped, tokens atomic.Int64
	inFlight                            atomic.Int64

	mu        sync.Mutex
	agg       aggregate
	stop      chan struct{} // closed when no more requests may start
	stoppedAt atomic.Int64  // when it was closed, in Unix nanoseconds
	once      sync.Once
}

// aggregate is every finished request's measurements.
type aggregate struct {
	ttft, e2e             []float64
	itl                   []float32
	ok, failed, cancelled int
	outTokens, inTokens   int64
	errors                map[string]*ErrorCount
	errorOrder            []string
	lastFinish            time.Time
}

func newGenerator(opts Options) *generator {
	conns := opts.Concurrency
	if opts.Rate > 0 {
		conns = opts.MaxInFlight
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Token streams are small and latency-bound; gzip would only add
		// buffering between the server and the TTFT measurement.
		DisableCompression: true,
		ForceAttemptHTTP2:  true,
	}
	base := strings.TrimRight(opts.URL, "/")
	path := "/chat/completions"
	if opts.Endpoint == EndpointCompletions {
		path = "/completions"
	}
	h := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"llmmon-load"}}
	if opts.Stream {
		h.Set("Accept", "text/event-stream")
	} else {
		h.Set("Accept", "application/json")
	}
	if opts.APIKey != "" {
		h.Set("Authorization", "Bearer "+opts.APIKey)
	}
	client := opts.HTTPClient
	if client == nil {
		client = &http.Client{Transport: tr}
	}
	return &generator{
		opts:     opts,
		client:   client,
		base:     base,
		endpoint: base + path,
		header:   h,
		stop:     make(chan struct{}),
		agg:      aggregate{errors: map[string]*ErrorCount{}},
	}
}

// newHTTP1 returns the fast client when the endpoint is plain http:// and no
// proxy applies to it.
func (g *generator) newHTTP1(run context.Context) *http1 {
	u, err := url.Parse(g.endpoint)
	if err != nil || u.Scheme != "http" || u.User != nil || g.opts.HTTPClient != nil {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	idle := g.opts.Concurrency
	if g.opts.Rate > 0 {
		idle = g.opts.MaxInFlight
	}
	return newHTTP1(run, addr, u.Host, u.RequestURI(), g.header, idle)
}

// setModel prepares the parts of the request body around the prompt.
func (g *generator) setModel(model string) {
	g.model = model
	if g.opts.Prompt != "" {
		p, _ := json.Marshal(g.opts.Prompt)
		g.prompt = p[1 : len(p)-1] // escaped, without the quotes
	}
	m, _ := json.Marshal(model)
	var head, tail bytes.Buffer
	head.WriteString(`{"model":`)
	head.Write(m)
	if g.opts.Endpoint == EndpointChat {
		head.WriteString(`,"messages":[{"role":"user","content":"`)
		tail.WriteString(`"}]`)
	} else {
		head.WriteString(`,"prompt":"`)
		tail.WriteString(`"`)
	}
	fmt.Fprintf(&tail, `,"max_tokens":%d`, g.opts.MaxTokens)
	if g.opts.Stream {
		tail.WriteString(`,"stream":true,"stream_options":{"include_usage":true}}`)
	} else {
		tail.WriteString(`,"stream":false}`)
	}
	g.head, g.tail = head.Bytes(), tail.Bytes()
}

// promptWords are common English words that are one token each in the
// usual BPE vocabularies, so n words make a prompt of about n tokens. Each
// prompt is drawn at random, so a server's prefix cache does not flatter it.
var promptWords = strings.Fields(`the of and to in is that for it as was with be by on not he this are or
his from at which but have an they you were her she there been one all we their has would when if so no
will more can other into some time only new could these two may first then do any like my now over such
our man me even most made after also did many off before must well back through years much where your way
down should because long each just state people those how too little good very make world still own see
men work last here might great day old year come since against go came right used take three small part
place since point water`)

// appendBody appends one request body with a prompt of n words.
func (g *generator) appendBody(b []byte, n int) []byte {
	b = append(b, g.head...)
	if g.prompt != nil {
		b = append(b, g.prompt...)
		return append(b, g.tail...)
	}
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, promptWords[rand.IntN(len(promptWords))]...)
	}
	return append(b, g.tail...)
}

func (g *generator) promptLen() int {
	r := g.opts.PromptTokens
	if r.Max == r.Min {
		return r.Min
	}
	return r.Min + rand.IntN(r.Max-r.Min+1)
}

func (g *generator) stopSending() {
	g.once.Do(func() {
		g.stoppedAt.Store(time.Now().UnixNano())
		close(g.stop)
	})
}

func (g *generator) stopped() bool {
	select {
	case <-g.stop:
		return true
	default:
		return false
	}
}

// take claims the right to start one more request.
func (g *generator) take(ctx context.Context) bool {
	if g.stopped() {
		return false
	}
	if ctx.Err() != nil {
		g.stopSending()
		return false
	}
	if g.opts.Requests > 0 && g.sent.Add(1) > int64(g.opts.Requests) {
		g.sent.Add(-1)
		g.stopSending()
		return false
	}
	if g.opts.Requests == 0 {
		g.sent.Add(1)
	}
	return true
}

func (g *generator) run(ctx context.Context) *Report {
	start := time.Now()
	if g.opts.Duration > 0 {
		t := time.AfterFunc(g.opts.Duration, g.stopSending)
		defer t.Stop()
	}
	go func() {
		select {
		case <-ctx.Done():
			g.stopSending()
		case <-g.stop:
		}
	}()
	progressDone := make(chan struct{})
	var progressWG sync.WaitGroup
	if g.opts.Progress != nil {
		progressWG.Add(1)
		go func() {
			defer progressWG.Done()
			g.progressLoop(start, progressDone)
		}()
	}

	var wg sync.WaitGroup
	if g.opts.Rate > 0 {
		g.openLoop(ctx, start, &wg)
	} else {
		for range g.opts.Concurrency {
			wg.Go(func() {
				// Each worker's requests hang off its own context, so they
				// do not all contend for ctx's lock to register and leave.
				wctx, cancel := context.WithCancel(ctx)
				defer cancel()
				// and each keeps its connection from one request to the next.
				var own *conn
				for g.take(ctx) {
					g.inFlight.Add(1)
					g.do(wctx, ctx, &own)
					g.inFlight.Add(-1)
				}
				if own != nil {
					g.h1.put(own)
				}
			})
		}
	}
	wg.Wait()
	close(progressDone)
	progressWG.Wait()
	return g.report(ctx, start)
}

// openLoop schedules Poisson arrivals on absolute times, so a slow answer
// never delays the next arrival; when the scheduler wakes late it catches
// up at once. Arrivals beyond MaxInFlight are dropped and counted.
func (g *generator) openLoop(ctx context.Context, start time.Time, wg *sync.WaitGroup) {
	exp := rand.ExpFloat64
	if g.opts.Seed != 0 {
		exp = rand.New(rand.NewPCG(g.opts.Seed, g.opts.Seed)).ExpFloat64
	}
	next := start
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next = next.Add(time.Duration(exp() / g.opts.Rate * float64(time.Second)))
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-g.stop:
				return
			}
		}
		if !g.take(ctx) {
			return
		}
		if g.inFlight.Load() >= int64(g.opts.MaxInFlight) {
			g.dropped.Add(1)
			continue
		}
		g.inFlight.Add(1)
		wg.Go(func() {
			g.do(ctx, ctx, nil)
			g.inFlight.Add(-1)
		})
	}
}

// outcome is one request's measurements.
type outcome struct {
	sent      bool   // the request was (being) written to the server
	status    string // "" on success, else an HTTP status code or an error kind
	detail    string
	ttft      time.Duration
	hasTTFT   bool
	e2e       time.Duration
	outTokens int
	inTokens  int
	gaps      []float32
}

var gapPool = sync.Pool{New: func() any { s := make([]float32, 0, 256); return &s }}
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 16<<10) }}

// do sends one request under parent, and records it; a failure after run
// is cancelled counts as cancelled, not as an error.
func (g *generator) do(parent, run context.Context, own **conn) {
	gp := gapPool.Get().(*[]float32)
	o := outcome{gaps: (*gp)[:0]}
	if g.h1 != nil {
		g.sendHTTP1(run, &o, own)
	} else {
		rctx, cancel := context.WithTimeout(parent, g.opts.Timeout)
		defer cancel()
		n := g.promptLen()
		body := g.appendBody(make([]byte, 0, len(g.head)+len(g.tail)+n*8), n)
		req, err := http.NewRequestWithContext(rctx, http.MethodPost, g.endpoint, bytes.NewReader(body))
		if err != nil {
			o.status, o.detail = "bad_request", err.Error()
		} else {
			req.Header = g.header // read-only; shared by every request
			g.send(rctx, req, &o)
		}
	}
	if o.status != "" && run.Err() != nil {
		if !o.sent { // cancelled before it left: not a request at all
			g.sent.Add(-1)
			*gp = o.gaps[:0]
			gapPool.Put(gp)
			return
		}
		o.status = "cancelled"
	}
	g.record(&o)
	*gp = o.gaps[:0]
	gapPool.Put(gp)
}

// sendHTTP1 sends one request over a pooled connection of the generator's
// own HTTP/1.1 client. A reused connection that the server had closed while
// idle fails before any answer arrives; that request is sent once more on a
// new connection, as net/http does.
func (g *generator) sendHTTP1(run context.Context, o *outcome, own **conn) {
	n := g.promptLen()
	for attempt := 0; ; attempt++ {
		var c *conn
		var err error
		if own != nil && *own != nil {
			c, *own = *own, nil
			c.reused = true
		} else {
			c, err = g.h1.get(run)
		}
		if err != nil {
			o.status, o.detail = classify(run, err)
			return
		}
		c.body = g.appendBody(c.body[:0], n)
		c.wbuf = append(c.wbuf[:0], g.h1.start...)
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(c.body)), 10)
		c.wbuf = append(c.wbuf, "\r\n\r\n"...)
		c.wbuf = append(c.wbuf, c.body...)
		c.nc.SetDeadline(time.Now().Add(g.opts.Timeout))
		if run.Err() != nil { // after the deadline, so Ctrl-C cannot be undone
			c.close()
			o.status = "cancelled"
			return
		}
		start := time.Now()
		var r response
		o.sent = true
		_, err = c.nc.Write(c.wbuf)
		if err == nil {
			err = readHead(c.br, &r)
		}
		if err != nil {
			c.close()
			if c.reused && !r.readAny && attempt == 0 && run.Err() == nil && !isTimeout(err) {
				continue
			}
			o.status, o.detail = classify(run, err)
			return
		}
		body := c.bodyOf(&r)
		switch {
		case r.status != http.StatusOK:
			o.status, o.detail = strconv.Itoa(r.status), r.statusText+": "+snippet(body)
		case g.opts.Stream:
			c.sse.Reset(body)
			g.readStream(run, c.sse, start, o)
			c.sse.Reset(nil)
		default:
			g.readJSON(run, body, start, o)
		}
		if o.e2e == 0 {
			o.e2e = time.Since(start)
		}
		if c.finish() {
			if own != nil {
				*own = c
			} else {
				g.h1.put(c)
			}
		} else {
			c.close()
		}
		return
	}
}

func (g *generator) send(ctx context.Context, req *http.Request, o *outcome) {
	start := time.Now()
	o.sent = true
	resp, err := g.client.Do(req)
	if err != nil {
		o.status, o.detail = classify(ctx, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.status = strconv.Itoa(resp.StatusCode)
		o.detail = resp.Status + ": " + snippet(resp.Body)
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return
	}
	if g.opts.Stream {
		br := readerPool.Get().(*bufio.Reader)
		br.Reset(resp.Body)
		g.readStream(ctx, br, start, o)
		br.Reset(nil)
		readerPool.Put(br)
	} else {
		g.readJSON(ctx, resp.Body, start, o)
	}
	if o.e2e == 0 {
		o.e2e = time.Since(start)
	}
}

// readStream times every content chunk as it arrives.
func (g *generator) readStream(ctx context.Context, br *bufio.Reader, start time.Time, o *outcome) {
	sr := sseReader{br: br}
	var sc streamScanner
	var last time.Time
	var u *usage
	events, chunks, done := 0, 0, false
	for {
		p, err := sr.next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				o.status, o.detail = classify(ctx, err)
				return
			}
			break
		}
		events++
		if bytes.Equal(p, doneMarker) {
			done = true
			continue // read on to EOF so the connection is reused
		}
		now := time.Now() // the event is in; scanning it is not the server's time
		c := sc.scan(p)
		if c.failed {
			o.status, o.detail = "stream_error", oneLine(c.errText, 160)
			return
		}
		if c.usage != nil {
			u = c.usage
		}
		if c.content {
			if chunks == 0 {
				o.ttft, o.hasTTFT = now.Sub(start), true
			} else {
				o.gaps = append(o.gaps, float32(now.Sub(last).Seconds()))
			}
			last = now
			chunks++
		}
	}
	switch {
	case events == 0:
		o.status, o.detail = "bad_response", "the answer has no server-sent events (not an OpenAI stream)"
	case !done && chunks == 0 && u == nil:
		o.status, o.detail = "bad_response", "the stream ended without tokens or [DONE]"
	}
	o.outTokens = chunks
	if u != nil {
		o.outTokens, o.inTokens = u.CompletionTokens, u.PromptTokens
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// completion is a non-streamed answer, decoded in full only when it carries
// no usage block and its text must be counted.
type completion struct {
	Choices []struct {
		Text    *string `json:"text"`
		Message *struct {
			Content *string `json:"content"`
		} `json:"message"`
	} `json:"choices"`
}

func (g *generator) readJSON(ctx context.Context, body io.Reader, start time.Time, o *outcome) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(body); err != nil {
		o.status, o.detail = classify(ctx, err)
		return
	}
	o.e2e = time.Since(start) // the answer is in; counting its tokens is not the server's time
	b := buf.Bytes()
	// Scanned in place like a streamed chunk: no reflection per request.
	sc := scanChunk(b)
	switch {
	case sc.failed:
		o.status, o.detail = "response_error", oneLine(sc.errText, 160)
		return
	case !sc.choices:
		o.status, o.detail = "bad_response", "not an OpenAI completion (no choices): "+oneLine(b, 80)
		return
	case sc.usage != nil:
		o.outTokens, o.inTokens = sc.usage.CompletionTokens, sc.usage.PromptTokens
		return
	}
	var c completion
	if err := json.Unmarshal(b, &c); err != nil {
		o.status, o.detail = "bad_response", "not JSON: "+oneLine(b, 80)
		return
	}
	var text strings.Builder
	for _, ch := range c.Choices {
		switch {
		case ch.Text != nil:
			text.WriteString(*ch.Text)
		case ch.Message != nil && ch.Message.Content != nil:
			text.WriteString(*ch.Message.Content)
		}
	}
	o.outTokens = countTokens(text.String())
}

func (g *generator) record(o *outcome) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	a := &g.agg
	switch o.status {
	case "":
		a.ok++
		a.e2e = append(a.e2e, o.e2e.Seconds())
		if o.hasTTFT {
			a.ttft = append(a.ttft, o.ttft.Seconds())
		}
		a.itl = append(a.itl, o.gaps...)
		a.outTokens += int64(o.outTokens)
		a.inTokens += int64(o.inTokens)
		g.tokens.Add(int64(o.outTokens))
		g.done.Add(1)
	case "cancelled":
		a.cancelled++
		return
	default:
		a.failed++
		e := a.errors[o.status]
		if e == nil {
			e = &ErrorCount{Status: o.status, Example: o.detail}
			a.errors[o.status] = e
			a.errorOrder = append(a.errorOrder, o.status)
		}
		e.Count++
		g.failed.Add(1)
		g.done.Add(1)
	}
	a.lastFinish = now
}

// classify names a transport error by what the user can do about it.
func classify(ctx context.Context, err error) (status, detail string) {
	var dns *net.DNSError
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timeout", "no complete answer within --timeout"
	case ctx.Err() != nil:
		return "cancelled", "cancelled"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout", "no complete answer within --timeout"
	case errors.Is(err, errNotHTTP):
		return "bad_response", errNotHTTP.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused", "connection refused"
	case errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE):
		return "connection_reset", "connection reset by the server"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection_closed", "the server closed the connection mid-answer"
	case errors.As(err, &dns):
		return "dns", dns.Error()
	}
	return "transport", err.Error()
}

// snippet reads the start of an error body for the report.
// An OpenAI error body ({"error":{"message":...}}), or vLLM's
// ({"object":"error","message":...}), is reduced to its message.
func snippet(r io.Reader) string {
	b := make([]byte, 4096)
	n, _ := io.ReadFull(r, b)
	b = b[:n]
	var e struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(b, &e) == nil {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(e.Error, &inner) == nil && inner.Message != "" {
			return oneLine([]byte(inner.Message), 160)
		}
		if e.Message != "" {
			return oneLine([]byte(e.Message), 160)
		}
	}
	return oneLine(b, 160)
}

// oneLine squeezes b onto one line of at most max bytes.
func oneLine(b []byte, max int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}
