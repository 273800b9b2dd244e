package sim

import (
	"fmt"
	"net/http"
	"time"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

func (e *Engine) kick() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) blocksFor(tokens int) int {
	return (tokens + e.cfg.BlockSize - 1) / e.cfg.BlockSize
}

func (e *Engine) jitter(d time.Duration) time.Duration {
	if d <= 0 || e.cfg.Jitter == 0 {
		return d
	}
	return time.Duration(float64(d) * (1 + e.cfg.Jitter*(2*e.rng.Float64()-1)))
}

func (e *Engine) setGauges() {
	e.m.running.Set(float64(len(e.running)))
	e.m.waiting.Set(float64(len(e.waiting)))
	e.m.kvUsage.Set(float64(e.cfg.KVBlocks-e.freeBlocks) / float64(e.cfg.KVBlocks))
}

// loop is the scheduler: admit what fits, run one step (prefill of the
// newly admitted plus one decode token for every running sequence), repeat.
func (e *Engine) loop() {
	defer close(e.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		e.mu.Lock()
		e.dropAbortedWaiting()
		var now time.Time
		if len(e.waiting) > 0 {
			now = time.Now()
		}
		prefillTokens := e.admit(now)
		if len(e.running) == 0 || !now.IsZero() {
			e.setGauges()
		}
		if len(e.running) == 0 {
			closed := e.closed
			e.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-e.wake:
			case <-e.stop:
			}
			continue
		}
		var d time.Duration
		if prefillTokens > 0 {
			if e.cfg.TTFT > 0 {
				d = e.jitter(e.cfg.TTFT)
			} else {
				d = e.jitter(e.cfg.PrefillOverhead + time.Duration(prefillTokens)*e.cfg.PrefillPerToken)
			}
		}
		d += e.jitter(time.Duration(float64(e.cfg.ITL) * (1 + e.cfg.BatchSlowdown*float64(len(e.running)-1))))
		e.mu.Unlock()

		steps := 1
		if d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-e.stop:
				timer.Stop()
			}
		} else {
			// Steps that take no time all happen at this instant: run a
			// batch of them back to back rather than one per lock.
			steps = instantSteps
		}
		e.mu.Lock()
		now = time.Now()
		for i := 0; i < steps && len(e.running) > 0 && !e.closed; i++ {
			e.step(now)
		}
		e.mu.Unlock()
	}
}

// admit moves waiting sequences into the running batch while they fit and
// returns how many prompt tokens they prefill; e.mu is held.
func (e *Engine) admit(now time.Time) (prefillTokens int) {
	for len(e.waiting) > 0 && len(e.running) < e.cfg.MaxNumSeqs {
		s := e.waiting[0]
		need := e.blocksFor(s.promptTokens + s.generated + 1)
		if need > e.cfg.KVBlocks {
			// It would wait at the head of the queue for ever, and
			// every request behind it too.
			e.waiting[0] = nil
			e.waiting = e.waiting[1:]
			e.refuse(s)
			continue
		}
		if need > e.freeBlocks {
			break // head of line waits for KV blocks, as in vLLM's FCFS policy
		}
		e.freeBlocks -= need
		s.blocks = need
		e.waiting[0] = nil
		e.waiting = e.waiting[1:]
		fill := s.promptTokens + s.generated
		if s.scheduled.IsZero() {
			s.scheduled = now
			fill -= s.cached // a recompute after preemption starts over
		}
		s.prefilled = false
		prefillTokens += fill
		e.running = append(e.running, s)
	}
	return prefillTokens
}

// instantSteps is how many steps that take no time run back to back, at
// one instant, under one hold of the lock.
const instantSteps = 64

// runInstant runs, in the caller's goroutine, what the loop would run at
// this instant when steps take no time: admission and up to instantSteps
// steps. A request to a zero-delay engine then usually finishes before
// its caller waits, instead of waking the loop's goroutine and waiting to
// be woken in turn. It reports whether work remains for the loop; e.mu is
// held.
func (e *Engine) runInstant() (busy bool) {
	e.dropAbortedWaiting()
	now := time.Now()
	e.admit(now)
	for i := 0; i < instantSteps && len(e.running) > 0 && !e.closed; i++ {
		e.step(now)
	}
	if len(e.running) == 0 {
		e.setGauges()
	}
	return len(e.running) > 0 || len(e.waiting) > 0
}

func (e *Engine) dropAbortedWaiting() {
	kept := e.waiting[:0]
	for _, s := range e.waiting {
		if s.aborted.Load() {
			e.m.success["abort"].Inc()
			continue
		}
		kept = append(kept, s)
	}
	clear(e.waiting[len(kept):])
	e.waiting = kept
}

// step produces one token for every running sequence; e.mu is held.
func (e *Engine) step(now time.Time) {
	kept := e.running[:0]
	var preempted []*seq
	for _, s := range e.running {
		if s.aborted.Load() {
			e.release(s)
			e.m.success["abort"].Inc()
			continue
		}
		if need := e.blocksFor(s.promptTokens+s.generated+1) - s.blocks; need > 0 {
			if s.blocks+need > e.cfg.KVBlocks {
				// Outgrows the whole cache: requeued, it could never run.
				e.release(s)
				e.refuse(s)
				continue
			}
			if need > e.freeBlocks {
				// Out of KV blocks: preempt by recompute, as vLLM does.
				e.release(s)
				e.m.preemptions.Inc()
				preempted = append(preempted, s)
				continue
			}
			e.freeBlocks -= need
			s.blocks += need
		}
		if !s.countedFill {
			s.countedFill = true
			e.m.promptTokens.Add(s.promptTokens)
		}
		s.prefilled = true
		chunk, finish := s.next()
		s.generated++
		e.m.generationTokens.Inc()
		if s.firstToken.IsZero() {
			s.firstToken = now
			e.m.ttft.Observe(now.Sub(s.arrival).Seconds())
		} else {
			e.m.itl.Observe(now.Sub(s.lastToken).Seconds())
		}
		s.lastToken = now
		if finish != "" {
			e.release(s)
			e.finished(s, finish, now)
		}
		s.deliver(chunk, finish)
		if finish == "" {
			kept = append(kept, s)
		}
	}
	clear(e.running[len(kept):])
	e.running = kept
	if len(preempted) > 0 {
		e.waiting = append(preempted, e.waiting...)
	}
	e.setGauges()
}

// refuse fails a sequence that can never fit the KV cache. New refuses
// none through the API (prompt + max_tokens <= --max-model-len, which
// Validate keeps within the cache); this is the scheduler's own guard.
func (e *Engine) refuse(s *seq) {
	e.m.success["abort"].Inc()
	s.fail(&backend.Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Code: "context_length_exceeded",
		Param: "max_tokens", Message: fmt.Sprintf("the sequence needs more than the whole KV cache (%d blocks of %d tokens); reduce the prompt or max_tokens",
			e.cfg.KVBlocks, e.cfg.BlockSize)})
}

func (e *Engine) release(s *seq) {
	e.freeBlocks += s.blocks
	s.blocks = 0
}

func (e *Engine) finished(s *seq, reason string, now time.Time) {
	m := e.m
	m.success[reason].Inc()
	m.e2e.Observe(now.Sub(s.arrival).Seconds())
	m.queue.Observe(s.scheduled.Sub(s.arrival).Seconds())
	m.inference.Observe(now.Sub(s.scheduled).Seconds())
	m.prefill.Observe(s.firstToken.Sub(s.scheduled).Seconds())
	m.decode.Observe(now.Sub(s.firstToken).Seconds())
	m.reqPromptTokens.Observe(float64(s.promptTokens))
	m.reqGenTokens.Observe(float64(s.generated))
	if s.explicitMax {
		m.reqMaxTokens.Observe(float64(s.maxTokens))
	}
}
