package load

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Report is the outcome of one run; `llmmon load -o json` prints it as is,
// so its JSON names are a contract (see testdata/report.schema).
type Report struct {
	URL          string  `json:"url"`
	Model        string  `json:"model"`
	Endpoint     string  `json:"endpoint"`
	Stream       bool    `json:"stream"`
	Mode         string  `json:"mode"` // "rate" (open loop) or "concurrency" (closed loop)
	Rate         float64 `json:"rate"`
	Concurrency  int     `json:"concurrency"`
	MaxTokens    int     `json:"max_tokens"`
	PromptTokens string  `json:"prompt_tokens"`

	// Interrupted is true when the run was cancelled (Ctrl-C) before its end.
	Interrupted     bool    `json:"interrupted"`
	DurationSeconds float64 `json:"duration_seconds"`

	Requests   Counts       `json:"requests"`
	Errors     []ErrorCount `json:"errors"` // by status, in order of first appearance
	ErrorRatio float64      `json:"error_ratio"`

	SendRate              float64 `json:"send_rate"`                // requests sent per second while sending (the achieved --rate)
	RequestsPerSecond     float64 `json:"requests_per_second"`      // successful requests
	OutputTokensPerSecond float64 `json:"output_tokens_per_second"` // of successful requests
	OutputTokens          int64   `json:"output_tokens"`
	InputTokens           int64   `json:"input_tokens"` // from usage; 0 when the server sends none

	// Latencies of successful requests in seconds; null when there is no
	// sample (TTFT and ITL need --stream).
	TTFT *Summary `json:"ttft_seconds"`
	ITL  *Summary `json:"itl_seconds"` // over every gap between tokens of every request
	E2E  *Summary `json:"e2e_seconds"`

	// Goodput is null unless --slo-ttft or --slo-tpot is set.
	Goodput *Goodput `json:"goodput"`
}

// Goodput is the share of requests that met the SLOs, as vLLM's benchmark
// reports it: requests that succeeded within every SLO set, per second.
type Goodput struct {
	SLOTTFTSeconds    float64 `json:"slo_ttft_seconds"` // 0: not set
	SLOTPOTSeconds    float64 `json:"slo_tpot_seconds"` // 0: not set
	Good              int     `json:"good"`
	Ratio             float64 `json:"ratio"` // good / (succeeded + failed)
	RequestsPerSecond float64 `json:"requests_per_second"`
}

// Counts tallies requests. Sent = Succeeded + Failed + Cancelled.
type Counts struct {
	Sent      int `json:"sent"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"` // abandoned in flight by Ctrl-C or at the end of --duration
	Dropped   int `json:"dropped"`   // open loop: arrivals not sent because --max-in-flight were in flight
}

// ErrorCount is one kind of failure: an HTTP status code ("500", "429") or
// an error kind ("timeout", "connection_refused", "stream_error",
// "bad_response"), with the first message seen.
type ErrorCount struct {
	Status  string `json:"status"`
	Count   int    `json:"count"`
	Example string `json:"example"`
}

// report sums the run up; ctx ended the run early (Ctrl-C or Duration),
// parent only on Ctrl-C.
func (g *generator) report(ctx, parent context.Context, start time.Time) *Report {
	g.mu.Lock()
	defer g.mu.Unlock()
	a := &g.agg
	end := a.lastFinish
	if end.IsZero() || ctx.Err() != nil {
		end = time.Now()
	}
	elapsed := end.Sub(start)
	r := &Report{
		URL: g.base, Model: g.model, Endpoint: g.opts.Endpoint, Stream: g.opts.Stream,
		Mode: g.opts.Mode(), Rate: g.opts.Rate, MaxTokens: g.opts.MaxTokens,
		PromptTokens:    g.opts.PromptTokens.String(),
		Interrupted:     parent.Err() != nil,
		DurationSeconds: elapsed.Seconds(),
		Requests: Counts{
			Sent:      a.ok + a.failed + a.cancelled,
			Succeeded: a.ok, Failed: a.failed, Cancelled: a.cancelled,
			Dropped: int(g.dropped.Load()),
		},
		Errors:       []ErrorCount{},
		OutputTokens: a.outTokens,
		InputTokens:  a.inTokens,
		TTFT:         summarize(a.ttft.all()),
		ITL:          summarize(a.itl.all()),
		E2E:          summarize(a.e2e.all()),
	}
	if g.opts.Rate == 0 {
		r.Concurrency = g.opts.Concurrency
	}
	for _, s := range a.errorOrder {
		r.Errors = append(r.Errors, *a.errors[s])
	}
	if n := a.ok + a.failed; n > 0 {
		r.ErrorRatio = float64(a.failed) / float64(n)
	}
	if at := g.stoppedAt.Load(); at > 0 {
		if secs := time.Unix(0, at).Sub(start).Seconds(); secs > 0 {
			r.SendRate = float64(r.Requests.Sent) / secs
		}
	}
	if secs := elapsed.Seconds(); secs > 0 {
		r.RequestsPerSecond = float64(a.ok) / secs
		r.OutputTokensPerSecond = float64(a.outTokens) / secs
	}
	if g.opts.SLOTTFT > 0 || g.opts.SLOTPOT > 0 {
		gp := &Goodput{SLOTTFTSeconds: g.opts.SLOTTFT.Seconds(), SLOTPOTSeconds: g.opts.SLOTPOT.Seconds(), Good: a.good}
		if n := a.ok + a.failed; n > 0 {
			gp.Ratio = float64(a.good) / float64(n)
		}
		if secs := elapsed.Seconds(); secs > 0 {
			gp.RequestsPerSecond = float64(a.good) / secs
		}
		r.Goodput = gp
	}
	return r
}

// WriteText prints the report as a short summary and a latency table.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	stream := "streamed"
	if !r.Stream {
		stream = "not streamed"
	}
	load := fmt.Sprintf("closed loop, concurrency %d", r.Concurrency)
	if r.Mode == "rate" {
		load = fmt.Sprintf("open loop, Poisson %g req/s", r.Rate)
	}
	fmt.Fprintf(&b, "target      %s  model %s  (%s, %s, %s)\n", r.URL, r.Model, r.Endpoint, stream, load)
	fmt.Fprintf(&b, "requests    %d sent: %d ok, %d failed", r.Requests.Sent, r.Requests.Succeeded, r.Requests.Failed)
	if r.Requests.Cancelled > 0 {
		fmt.Fprintf(&b, ", %d cancelled", r.Requests.Cancelled)
	}
	if r.Requests.Dropped > 0 {
		fmt.Fprintf(&b, ", %d dropped (over --max-in-flight)", r.Requests.Dropped)
	}
	fmt.Fprintf(&b, " in %s", fmtDuration(r.DurationSeconds))
	if r.Mode == "rate" {
		fmt.Fprintf(&b, ", sent at %.2f/s", r.SendRate)
	}
	if r.Interrupted {
		b.WriteString(" (interrupted)")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "throughput  %.2f req/s, %.1f output tokens/s (%d output tokens", r.RequestsPerSecond, r.OutputTokensPerSecond, r.OutputTokens)

	if r.InputTokens > 0 {
		fmt.Fprintf(&b, ", %d input", r.InputTokens)
	}
	b.WriteString(")\n")
	if gp := r.Goodput; gp != nil {
		var slo []string
		if gp.SLOTTFTSeconds > 0 {
			slo = append(slo, "TTFT ≤ "+ms(gp.SLOTTFTSeconds)+" ms")
		}
		if gp.SLOTPOTSeconds > 0 {
			slo = append(slo, "TPOT ≤ "+ms(gp.SLOTPOTSeconds)+" ms")
		}
		fmt.Fprintf(&b, "goodput     %.2f req/s: %d requests (%.1f%%) within %s\n", gp.RequestsPerSecond, gp.Good, 100*gp.Ratio, strings.Join(slo, " and "))
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(&b, "errors      %.1f%% of requests\n", 100*r.ErrorRatio)
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "  %-20s %6d  %s\n", e.Status, e.Count, e.Example)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-12s %7s %8s %8s %8s %8s %8s %8s\n", "latency (ms)", "count", "mean", "p50", "p90", "p95", "p99", "max")
	row := func(name string, s *Summary) {
		if s == nil {
			fmt.Fprintf(&b, "%-12s %7d %8s %8s %8s %8s %8s %8s\n", name, 0, "-", "-", "-", "-", "-", "-")
			return
		}
		fmt.Fprintf(&b, "%-12s %7d %8s %8s %8s %8s %8s %8s\n", name, s.Count,
			ms(s.Mean), ms(s.P50), ms(s.P90), ms(s.P95), ms(s.P99), ms(s.Max))
	}
	row("TTFT", r.TTFT)
	row("ITL", r.ITL)
	row("E2E", r.E2E)
	if !r.Stream {
		b.WriteString("(TTFT and ITL need a streamed answer: drop --stream=false)\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func ms(sec float64) string {
	v := sec * 1000
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func fmtDuration(sec float64) string {
	return time.Duration(sec * float64(time.Second)).Round(10 * time.Millisecond).String()
}

// Progress is a live view of a run, for the progress line.
type Progress struct {
	Elapsed  time.Duration
	Sent     int64
	Done     int64 // finished, successfully or not
	Failed   int64
	InFlight int64
	Dropped  int64
	Tokens   int64   // output tokens of successful requests
	Rate     float64 // finished requests per second, averaged over about rateWindow
	Draining bool    // sending has stopped; waiting for requests in flight
	Total    int64   // --requests, 0 when only a duration stops the run
	// ETA is the time left: by the duration, or by the requests left at
	// Rate, whichever ends first; -1 when unknown.
	ETA time.Duration
}

// rateWindow is the time constant of the progress line's moving average:
// long enough that a server answering in bursts reads as steady.
const rateWindow = 5 * time.Second

func (p Progress) String() string {
	done := fmt.Sprint(p.Done)
	if p.Total > 0 {
		done = fmt.Sprintf("%d/%d", p.Done, p.Total)
	}
	eta := ""
	if p.ETA >= 0 {
		r := time.Second
		if p.ETA < 10*time.Second {
			r = 100 * time.Millisecond
		}
		eta = "  ETA " + p.ETA.Round(r).String()
	}
	s := fmt.Sprintf("%s  done %s%s  %.1f req/s  in flight %d  errors %d  %d tokens",
		p.Elapsed.Round(100*time.Millisecond), done, eta, p.Rate, p.InFlight, p.Failed, p.Tokens)
	if p.Dropped > 0 {
		s += fmt.Sprintf("  dropped %d", p.Dropped)
	}
	if p.Draining {
		s += "  (waiting for requests in flight)"
	}
	return s
}

func (g *generator) progressLoop(start time.Time, done <-chan struct{}) {
	every := g.opts.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastDone, lastAt := int64(0), start
	rate, first := 0.0, true
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			d := g.done.Load()
			p := Progress{
				Elapsed: now.Sub(start), Sent: g.sent.Load() - g.dropped.Load(), Done: d,
				Failed: g.failed.Load(), InFlight: g.inFlight.Load(), Dropped: g.dropped.Load(),
				Tokens: g.tokens.Load(), Draining: g.stopped(),
			}
			if dt := now.Sub(lastAt); dt > 0 {
				rate = smoothRate(rate, float64(d-lastDone)/dt.Seconds(), dt, first)
				first = false
			}
			p.Rate = rate
			p.Total, p.ETA = int64(g.opts.Requests), g.eta(p)
			lastDone, lastAt = d, now
			g.opts.Progress(p)
		}
	}
}

// eta is the time left: the duration's end, or the requests left at the
// averaged rate, whichever comes first; -1 when neither is known.
func (g *generator) eta(p Progress) time.Duration {
	eta := time.Duration(-1)
	if d := g.opts.Duration; d > 0 {
		eta = max(d-p.Elapsed, 0)
	}
	if n := int64(g.opts.Requests); n > 0 && p.Rate > 0 {
		left := time.Duration(float64(max(n-p.Done, 0)) / p.Rate * float64(time.Second))
		if eta < 0 || left < eta {
			eta = left
		}
	}
	return eta
}

// smoothRate folds the last interval's rate into the moving average, an
// exponential one with time constant rateWindow whatever the interval.
func smoothRate(avg, inst float64, dt time.Duration, first bool) float64 {
	if first {
		return inst
	}
	return avg + (1-math.Exp(-dt.Seconds()/rateWindow.Seconds()))*(inst-avg)
}
