// Package doctor diagnoses a stack the way a user would by hand when
// Prometheus can't scrape the LLM server, Grafana can't connect to
// Prometheus, or metrics don't appear: each thing to check is a Check, and
// each problem it finds is reported with its cause and the exact fix. The
// CLI draws the report.
//
// Checks run concurrently, each bounded by its own timeout, so a run takes
// a few seconds even when everything is down.
package doctor

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Status is the outcome of one check.
type Status string

// Statuses, from best to worst. Skip means a check could not run because
// something it depends on already failed (that failure carries the fix).
const (
	StatusOK   Status = "ok"
	StatusSkip Status = "skip"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Result is one line of the report: what a check found and, for a
// problem, why it happens and what to run to fix it.
type Result struct {
	Group   string   `json:"group"`
	Check   string   `json:"check"`
	Status  Status   `json:"status"`
	Message string   `json:"message"`
	Cause   string   `json:"cause,omitempty"`
	Fix     string   `json:"fix,omitempty"`
	Details []string `json:"details,omitempty"` // e.g. a crashed container's last log lines
}

// Check is one thing a user would verify by hand.
type Check struct {
	Group string // "Docker", "Prometheus", ...: the report's sections
	Name  string
	// Timeout bounds Run; DefaultTimeout when zero.
	Timeout time.Duration
	// Run inspects one thing. It must honour ctx; only Status and
	// Message are required, the runner fills Group and Check.
	Run func(ctx context.Context) Result
	// Hint is the fix shown when Run fails without naming one, or does
	// not finish in time.
	Hint string
}

// DefaultTimeout bounds a check that sets no Timeout.
const DefaultTimeout = 5 * time.Second

// Helpers for a check's Run.

// Pass is a passed check.
func Pass(format string, a ...any) Result {
	return Result{Status: StatusOK, Message: fmt.Sprintf(format, a...)}
}

// Warn is a problem that does not stop monitoring from working.
func Warn(msg, cause, fix string) Result {
	return Result{Status: StatusWarn, Message: msg, Cause: cause, Fix: fix}
}

// Fail is a problem that breaks monitoring.
func Fail(msg, cause, fix string) Result {
	return Result{Status: StatusFail, Message: msg, Cause: cause, Fix: fix}
}

// Skip is a check that could not run because of a failure reported elsewhere.
func Skip(format string, a ...any) Result {
	return Result{Status: StatusSkip, Message: fmt.Sprintf(format, a...)}
}

// Report is every check's result, in the order the checks were given.
type Report struct {
	Results  []Result      `json:"checks"`
	Duration time.Duration `json:"-"`
}

// Counts tallies results by status.
func (r Report) Counts() map[Status]int {
	n := map[Status]int{}
	for _, res := range r.Results {
		n[res.Status]++
	}
	return n
}

// ExitCode is 0 when every check passed, 1 when any failed, and 2 when
// there were only warnings.
func (r Report) ExitCode() int {
	n := r.Counts()
	switch {
	case n[StatusFail] > 0:
		return 1
	case n[StatusWarn] > 0:
		return 2
	}
	return 0
}

// grace is how long past its timeout a check may run before the runner
// stops waiting for it (a check that ignores its context).
const grace = 500 * time.Millisecond

// Run runs every check concurrently, each under its own timeout, and
// returns their results in the order given.
func Run(ctx context.Context, checks []Check) Report {
	start := time.Now()
	out := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = runOne(ctx, c)
		}()
	}
	wg.Wait()
	return Report{Results: out, Duration: time.Since(start)}
}

func runOne(ctx context.Context, c Check) Result {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Fail(fmt.Sprintf("check crashed: %v", p), "a bug in llmmon doctor", "report it with `llmmon doctor -v` output")
			}
		}()
		done <- c.Run(cctx)
	}()
	var res Result
	select {
	case res = <-done:
	case <-time.After(timeout + grace):
		res = Fail(fmt.Sprintf("did not answer within %s", timeout), "", "")
	}
	if res.Status == "" {
		res.Status = StatusOK
	}
	if res.Status == StatusFail || res.Status == StatusWarn {
		if res.Fix == "" {
			res.Fix = c.Hint
		}
	}
	res.Group, res.Check = c.Group, c.Name
	return res
}

// memo runs a probe at most once and shares its answer between the
// checks that depend on it (the Docker ping, Prometheus' target list).
type memo[T any] struct {
	once sync.Once
	f    func() (T, error)
	v    T
	err  error
}

func newMemo[T any](f func() (T, error)) *memo[T] { return &memo[T]{f: f} }

// get returns the probe's answer, or ctx's error if ctx ends first.
func (m *memo[T]) get(ctx context.Context) (T, error) {
	done := make(chan struct{})
	go func() {
		m.once.Do(func() { m.v, m.err = m.f() })
		close(done)
	}()
	select {
	case <-done:
		return m.v, m.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
