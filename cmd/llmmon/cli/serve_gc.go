package cli

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Garbage-collector tuning for serve, unless GOGC or GOMEMLIMIT is set.
//
// GOGC=400 collects a quarter as often as Go's default while the heap is
// small (~4% more requests/s with no simulated delay). A soft memory limit
// brings collection back as the heap grows: with 1,000 streams held open
// (~22 KB each, mostly net/http's buffers and two goroutine stacks) a
// 38 MiB limit gives a peak RSS of ~46.5 MiB (hack/bench-serve.sh).
//
// A fixed limit is a trap with more live data than it: the collector then
// runs back to back (up to half the CPU) for as long as the data lives, as
// with 5,000 open streams or very large prompts. So the limit follows the
// live data: every second it is set to what the runtime holds besides the
// heap (stacks above all) plus 1.5 times the live heap, and never below
// the 38 MiB floor. Small servers keep the floor, and so the 1,000-stream
// figure; large ones collect whenever the heap has grown by half its live
// size, as GOGC=50 would, instead of constantly.
const (
	serveGCPercent   = 400
	serveMemoryFloor = 38 << 20
	// serveHeapHeadroom is the heap's room over its live size, in halves.
	serveHeapHeadroom = 3 // live × 3/2
)

// gcSamples are the runtime metrics the limit follows.
var gcSamples = []metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

// adaptiveLimit is the soft memory limit for the runtime's state:
// everything that is not heap, plus the live heap and its headroom.
func adaptiveLimit(live, nonHeap int64) int64 {
	return max(int64(serveMemoryFloor), nonHeap+live*serveHeapHeadroom/2)
}

// readGC reads the live heap and the memory that is not heap.
func readGC(s []metrics.Sample) (live, nonHeap int64) {
	metrics.Read(s)
	v := func(i int) int64 { return int64(s[i].Value.Uint64()) }
	return v(0), v(1) - v(2) - v(3) - v(4) - v(5)
}

func tuneGC(ctx context.Context) (restore func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	gc := debug.SetGCPercent(serveGCPercent)
	limit := debug.SetMemoryLimit(serveMemoryFloor)
	ctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		samples := append([]metrics.Sample(nil), gcSamples...)
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				debug.SetMemoryLimit(adaptiveLimit(readGC(samples)))
			}
		}
	}()
	return func() {
		stop()
		<-done
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	}
}
