package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
)

// One request: its body, sending it, and reading and timing its answer.

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
	req := openai.CompletionRequest{Model: model, MaxTokens: &maxTokens, Stream: g.opts.Stream, IgnoreEOS: g.opts.IgnoreEOS}
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

// appendDatasetBody appends the body of the dataset's next prompt, taken
// in turn (and again from the start when a run outlasts the dataset).
func (g *generator) appendDatasetBody(b []byte) []byte {
	p := g.opts.Dataset[int((g.next.Add(1)-1)%int64(len(g.opts.Dataset)))]
	maxTokens := g.opts.MaxTokens
	if p.MaxTokens > 0 {
		maxTokens = p.MaxTokens
	}
	req := openai.CompletionRequest{Model: g.model, MaxTokens: &maxTokens, Stream: g.opts.Stream, IgnoreEOS: g.opts.IgnoreEOS}
	text, _ := json.Marshal(p.Text)
	switch {
	case p.Messages != nil:
		_ = json.Unmarshal(p.Messages, &req.Messages) // checked by LoadDataset
	case g.opts.Endpoint == EndpointChat:
		req.Messages = []openai.Message{{Role: "user", Content: text}}
	default:
		req.Prompt = text
	}
	if g.opts.Stream {
		req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	}
	out, _ := json.Marshal(req)
	return append(b, out...)
}

func (g *generator) promptLen() int {
	r := g.opts.PromptTokens
	if r.Max == r.Min {
		return r.Min
	}
	return r.Min + rand.IntN(r.Max-r.Min+1)
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

// do sends one request and records it; a failure after run is cancelled
// (Ctrl-C, which closes the client) counts as cancelled, not as an error.
func (g *generator) do(run context.Context) {
	gp := gapPool.Get().(*[]float32)
	o := outcome{gaps: (*gp)[:0]}
	g.send(run, &o)
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

func (g *generator) send(run context.Context, o *outcome) {
	bp := bodyPool.Get().(*[]byte)
	defer bodyPool.Put(bp)
	if len(g.opts.Dataset) > 0 {
		*bp = g.appendDatasetBody((*bp)[:0])
	} else {
		*bp = g.appendBody((*bp)[:0], g.promptLen())
	}
	if run.Err() != nil {
		o.status = "cancelled"
		return
	}
	start := time.Now()
	o.sent = true
	// No cancellation hook per request: Ctrl-C closes the client.
	resp, err := g.client.Do(context.Background(), g.endpoint, &openai.Request{Method: http.MethodPost,
		Header: g.header, Body: *bp, Deadline: start.Add(g.opts.Timeout)})
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

// arrivals remembers when the body last gave bytes. The stream is read
// on demand, so the last read is the one that completed the event just
// parsed: that is when the event arrived. Events that came in one read
// share its time (and a gap of 0), and the clock is read once per read,
// not once per token (it was 5% of a streamed request's CPU).
type arrivals struct {
	r  io.Reader
	at time.Time
}

func (a *arrivals) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.at = time.Now()
	}
	return n, err
}

// readStream times every content chunk as it arrives.
func (g *generator) readStream(ctx context.Context, body io.Reader, start time.Time, o *outcome) {
	in := &arrivals{r: body}
	st := openai.NewStream(in, g.opts.SSE)
	defer st.Release()
	var last time.Time
	var usage *openai.Chunk
	var u openai.Chunk
	events, chunks, tokens, done := 0, 0, 0, false
	for {
		ev, err := st.Next()
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
		now := in.at // when the event arrived; scanning it is not the server's time
		c, ok := st.Scan(ev.Data)
		if !ok {
			// Not a chunk at all: the stream is broken, whatever follows.
			o.status, o.detail = "bad_response", "a streamed chunk is not a JSON object: "+oneLine(ev.Data, 80)
			return
		}
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
	case errors.Is(err, openai.ErrTooLarge):
		return "bad_response", err.Error()
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
