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
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
)

// Run loads the server until Requests or Duration is reached, or ctx is
// cancelled (Ctrl-C), and reports on every request that finished. Requests
// in flight when Requests is reached are waited for (each within Timeout);
// those in flight at the end of Duration or on cancellation are abandoned
// and counted as cancelled, so Duration bounds the run even against a
// stream that never ends. An error means no load ran:
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
	defer g.client.Close()
	// The generator keeps little live memory but allocates per request;
	// collecting less often leaves the CPU to the server under test.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	model, err := g.preflight(ctx)
	if err != nil {
		return nil, err
	}
	g.setModel(model)
	run := ctx
	if opts.Duration > 0 {
		var cancel context.CancelFunc
		run, cancel = context.WithTimeout(ctx, opts.Duration)
		defer cancel()
	}
	// Ctrl-C or the end of Duration abandons every request in flight at
	// once; one hook for all, rather than one per request (see
	// openai.Client.Close).
	abandon := context.AfterFunc(run, g.client.Close)
	defer abandon()
	return g.run(run, ctx), nil
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
	next                                atomic.Int64  // the dataset's next prompt
	slots                               chan struct{} // WaitForSlot: one per request in flight

	mu        sync.Mutex
	agg       aggregate
	stop      chan struct{} // closed when no more requests may start
	stoppedAt atomic.Int64  // when it was closed, in Unix nanoseconds
	once      sync.Once
}

// aggregate is every finished request's measurements.
type aggregate struct {
	ttft, e2e             samples[float64]
	itl                   samples[float32]
	ok, failed, cancelled int
	good                  int // succeeded and met every SLO set
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
		slots:    make(chan struct{}, max(opts.MaxInFlight, 1)),
		agg:      aggregate{errors: map[string]*ErrorCount{}},
	}, nil
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

// run loads until ctx ends (Ctrl-C, the parent, or Duration) or Requests
// are sent; the report is interrupted when parent was cancelled.
func (g *generator) run(ctx, parent context.Context) *Report {
	start := time.Now()
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
				for g.take(ctx) {
					g.inFlight.Add(1)
					g.do(ctx)
					g.inFlight.Add(-1)
				}
			})
		}
	}
	wg.Wait()
	close(progressDone)
	progressWG.Wait()
	return g.report(ctx, parent, start)
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
		if g.opts.WaitForSlot {
			// vLLM's semantics: the arrival is on time, the request waits
			// for a slot; the schedule goes on meanwhile.
			wg.Go(func() {
				select {
				case g.slots <- struct{}{}:
				case <-ctx.Done():
					g.sent.Add(-1) // never left: not a request
					return
				}
				g.inFlight.Add(1)
				g.do(ctx)
				g.inFlight.Add(-1)
				<-g.slots
			})
			continue
		}
		if g.inFlight.Load() >= int64(g.opts.MaxInFlight) {
			g.dropped.Add(1)
			continue
		}
		g.inFlight.Add(1)
		wg.Go(func() {
			g.do(ctx)
			g.inFlight.Add(-1)
		})
	}
}

func (g *generator) record(o *outcome) {
	now := time.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	a := &g.agg
	switch o.status {
	case "":
		a.ok++
		if g.meetsSLOs(o) {
			a.good++
		}
		a.e2e.add(o.e2e.Seconds())
		if o.hasTTFT {
			a.ttft.add(o.ttft.Seconds())
		}
		a.itl.add(o.gaps...)
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

// meetsSLOs reports whether a successful request met every SLO set. Time
// per output token is vLLM's: the time after the first token over the
// tokens after it.
func (g *generator) meetsSLOs(o *outcome) bool {
	if g.opts.SLOTTFT > 0 && (!o.hasTTFT || o.ttft > g.opts.SLOTTFT) {
		return false
	}
	if g.opts.SLOTPOT > 0 && o.outTokens > 1 {
		if tpot := (o.e2e - o.ttft) / time.Duration(o.outTokens-1); !o.hasTTFT || tpot > g.opts.SLOTPOT {
			return false
		}
	}
	return true
}
