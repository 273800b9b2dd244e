// Package load drives traffic at any OpenAI-compatible server (llmmon serve,
// vLLM, llama.cpp, TGI, SGLang, Ollama's /v1) and measures what users feel:
// time to first token, inter-token latency and end-to-end latency, with exact
// percentiles. It is the client side of the "LLM server" box: `llmmon load`
// makes the metrics appear that Prometheus and Grafana then show.
//
// Two arrival processes: an open loop (Poisson arrivals at a set rate,
// scheduled independently of how fast the server answers, which is the
// honest way to load a server) and a closed loop (a fixed number of requests
// in flight). The generator must never be the bottleneck: requests go out
// through openai.Client (plain http:// on lean keep-alive connections of its
// own, https:// through net/http), and answers and their event streams are
// read with the wire package's event reader and chunk scanner, in place,
// without decoding JSON per token.
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
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
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
	g, err := newGenerator(opts)
	if err != nil {
		return nil, err
	}
	defer g.client.CloseIdleConnections()
	// The generator keeps little live memory but allocates per request;
	// collecting less often leaves the CPU to the server under test.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	model, err := g.preflight(ctx)
	if err != nil {
		return nil, err
	}
	g.setModel(model)
	return g.run(ctx), nil
}

type generator struct {
	opts     Options
	client   *openai.Client
	base     string         // URL without a trailing slash
	endpoint *openai.Target // the completions or chat endpoint
	models   *openai.Target // the model list
	header   []openai.Header
	model    string
	head     []byte // request body before the prompt
	tail     []byte // request body after the prompt
	prompt   []byte // --prompt, JSON-escaped; nil: random words

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

func newGenerator(opts Options) (*generator, error) {
	conns := opts.Concurrency
	if opts.Rate > 0 {
		conns = opts.MaxInFlight
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	fallback := opts.Transport
	if fallback == nil {
		fallback = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           dialer.DialContext,
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
	}
	client := &openai.Client{Fallback: fallback, Proxy: http.ProxyFromEnvironment, Dial: dialer.DialContext,
		MaxIdlePerHost: conns + 16, IdleTimeout: 90 * time.Second}
	base := strings.TrimRight(opts.URL, "/")
	path := "/chat/completions"
	if opts.Endpoint == EndpointCompletions {
		path = "/completions"
	}
	endpoint, err := client.Target(base + path)
	if err != nil {
		return nil, fmt.Errorf("invalid --url %q: %v", opts.URL, err)
	}
	models, err := client.Target(base + "/models")
	if err != nil {
		return nil, fmt.Errorf("invalid --url %q: %v", opts.URL, err)
	}
	accept := "application/json"
	if opts.Stream {
		accept = "text/event-stream"
	}
	h := []openai.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Accept", Value: accept},
		{Name: "User-Agent", Value: "llmmon-load"}}
	if opts.APIKey != "" {
		h = append(h, openai.Header{Name: "Authorization", Value: "Bearer " + opts.APIKey})
	}
	return &generator{
		opts:     opts,
		client:   client,
		base:     base,
		endpoint: endpoint,
		models:   models,
		header:   h,
		stop:     make(chan struct{}),
		agg:      aggregate{errors: map[string]*ErrorCount{}},
	}, nil
}

// setModel prepares the parts of the request body around the prompt: the
// wire package's request, encoded once, with a marker where the prompt goes.
func (g *generator) setModel(model string) {
	g.model = model
	if g.opts.Prompt != "" {
		p, _ := json.Marshal(g.opts.Prompt)
		g.prompt = p[1 : len(p)-1] // escaped, without the quotes
	}
	const marker = `"\u0000prompt"`
	maxTokens := g.opts.MaxTokens
	req := openai.CompletionRequest{Model: model, MaxTokens: &maxTokens, Stream: g.opts.Stream}
	if g.opts.Endpoint == EndpointChat {
		req.Messages = []openai.Message{{Role: "user", Content: json.RawMessage(marker)}}
	} else {
		req.Prompt = json.RawMessage(marker)
	}
	if g.opts.Stream {
		req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	b, _ := json.Marshal(req)
	// The last marker is the prompt's: only the model comes before it, and
	// it cannot hold a NUL unescaped.
	i := bytes.LastIndex(b, []byte(marker))
	g.head, g.tail = b[:i+1], b[i+len(marker)-1:] // keep the quotes
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
				for g.take(ctx) {
					g.inFlight.Add(1)
					g.do(wctx, ctx)
					g.inFlight.Add(-1)
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
			g.do(ctx, ctx)
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

// do sends one request under ctx, and records it; a failure after run is
// cancelled counts as cancelled, not as an error.
func (g *generator) do(ctx, run context.Context) {
	gp := gapPool.Get().(*[]float32)
	o := outcome{gaps: (*gp)[:0]}
	g.send(ctx, run, &o)
	defer func() {
		*gp = o.gaps[:0]
		gapPool.Put(gp)
	}()
	if o.status != "" && run.Err() != nil {
		if !o.sent { // cancelled before it left: not a request at all
			g.sent.Add(-1)
			return
		}
		o.status = "cancelled"
	}
	g.record(&o)
}

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func (g *generator) send(ctx, run context.Context, o *outcome) {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	*bp = g.appendBody((*bp)[:0], g.promptLen())
	if run.Err() != nil {
		o.status = "cancelled"
		return
	}
	start := time.Now()
	o.sent = true
	resp, err := g.client.Do(ctx, g.endpoint, &openai.Request{Method: http.MethodPost, Header: g.header, Body: *bp,
		Deadline: start.Add(g.opts.Timeout)})
	if err != nil {
		o.status, o.detail = classify(run, err)
		return
	}
	defer resp.Close()
	switch {
	case resp.StatusCode != http.StatusOK:
		o.status, o.detail = strconv.Itoa(resp.StatusCode), resp.Status+": "+snippet(resp.Body)
	case g.opts.Stream:
		g.readStream(run, resp.Body, start, o)
	default:
		g.readJSON(run, resp.Body, start, o)
	}
	if o.e2e == 0 {
		o.e2e = time.Since(start)
	}
}

// streamReader is what reading one stream takes, pooled: its buffer, the
// event reader and the chunk scanner with their buffers.
type streamReader struct {
	br *bufio.Reader
	er *openai.EventReader
	ss openai.StreamScanner
}

var streamPool = sync.Pool{New: func() any {
	br := bufio.NewReaderSize(nil, 16<<10)
	return &streamReader{br: br, er: openai.NewEventReader(br)}
}}

// readStream times every content chunk as it arrives.
func (g *generator) readStream(ctx context.Context, body io.Reader, start time.Time, o *outcome) {
	sr := streamPool.Get().(*streamReader)
	sr.br.Reset(body)
	sr.ss.Reset() // a new stream: no template
	defer func() { sr.br.Reset(nil); streamPool.Put(sr) }()
	var last time.Time
	var usage *openai.Chunk
	var u openai.Chunk
	events, chunks, tokens, done := 0, 0, 0, false
	for {
		ev, err := sr.er.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				o.status, o.detail = classify(ctx, err)
				return
			}
			break
		}
		if !ev.HasData {
			continue
		}
		events++
		if ev.IsDone() {
			done = true
			continue // read on to EOF so the connection is reused
		}
		now := time.Now() // the event is in; scanning it is not the server's time
		c, _ := sr.ss.Scan(ev.Data)
		if c.Error != nil {
			o.status, o.detail = "stream_error", oneLine(c.Error, 160)
			return
		}
		if c.Usage {
			u, usage = c, &u
		}
		if c.Content > 0 {
			if chunks == 0 {
				o.ttft, o.hasTTFT = now.Sub(start), true
			} else {
				o.gaps = append(o.gaps, float32(now.Sub(last).Seconds()))
			}
			last = now
			chunks++
			tokens += c.Content
		}
	}
	switch {
	case events == 0:
		o.status, o.detail = "bad_response", "the answer has no server-sent events (not an OpenAI stream)"
	case !done && chunks == 0 && usage == nil:
		o.status, o.detail = "bad_response", "the stream ended without tokens or [DONE]"
	}
	o.outTokens = tokens
	if usage != nil {
		o.outTokens, o.inTokens = usage.CompletionTokens, usage.PromptTokens
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

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
	c, _ := openai.ScanChunk(b)
	switch {
	case c.Error != nil:
		o.status, o.detail = "response_error", oneLine(c.Error, 160)
		return
	case !c.HasChoices:
		o.status, o.detail = "bad_response", "not an OpenAI completion (no choices): "+oneLine(b, 80)
		return
	case c.Usage:
		o.outTokens, o.inTokens = c.CompletionTokens, c.PromptTokens
		return
	}
	text, err := openai.CompletionText(b)
	if err != nil {
		o.status, o.detail = "bad_response", "not JSON: "+oneLine(b, 80)
		return
	}
	o.outTokens = countTokens(text)
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
	case ctx.Err() != nil:
		return "cancelled", "cancelled"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout", "no complete answer within --timeout"
	case errors.Is(err, openai.ErrNotHTTP):
		return "bad_response", openai.ErrNotHTTP.Error()
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

// snippet reads the start of an error body for the report: an error body
// an OpenAI-compatible server words (openai.ReadError) is reduced to its
// message.
func snippet(r io.Reader) string {
	b := make([]byte, 4096)
	n, _ := io.ReadFull(r, b)
	b = b[:n]
	if e, ok := openai.ReadError(b); ok {
		return oneLine([]byte(e.Message), 160)
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
