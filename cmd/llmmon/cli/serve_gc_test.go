package cli

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestAdaptiveLimitKeepsTheFloorAndFollowsLiveData(t *testing.T) {
	const mib = 1 << 20
	for _, tt := range []struct{ live, nonHeap, want int64 }{
		{0, 0, serveMemoryFloor},                // idle
		{12 * mib, 10 * mib, serveMemoryFloor},  // 1,000 streams: the floor, as before
		{60 * mib, 80 * mib, 80*mib + 90*mib},   // 5,000 streams: stacks plus 1.5 × live
		{500 * mib, 20 * mib, 20*mib + 750*mib}, // large prompts
	} {
		if got := adaptiveLimit(tt.live, tt.nonHeap); got != tt.want {
			t.Errorf("live %d MiB, non-heap %d MiB: limit %d MiB, want %d MiB", tt.live/mib, tt.nonHeap/mib, got/mib, tt.want/mib)
		}
	}
}

// With real live data well over the floor, the runtime's own figures give
// a limit above it: the collector is not left running back to back.
func TestReadGCSeesLiveData(t *testing.T) {
	keep := make([][]byte, 0, 96)
	for range 96 {
		keep = append(keep, make([]byte, 1<<20))
	}
	runtime.GC()
	live, nonHeap := readGC(append([]metrics.Sample(nil), gcSamples...))
	if live < 96<<20 || nonHeap <= 0 {
		t.Fatalf("live %d, non-heap %d: the runtime metrics were not read", live, nonHeap)
	}
	if limit := adaptiveLimit(live, nonHeap); limit < 144<<20 {
		t.Errorf("limit %d MiB for 96 MiB of live data", limit>>20)
	}
	runtime.KeepAlive(keep)
}
