// Package percpu numbers shards of data that every core writes, such as
// serve's metrics (intmetric), so that each P (the
// scheduler's slot for a running goroutine, one per core) keeps writing
// its own: a cache line that moves between cores costs more than the rest
// of a metric update on virtual machines.
package percpu

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Max bounds the shards: a histogram of 20 buckets then takes at most
// 2 KiB whatever the core count.
const Max = 8

// N is the number of shards: one per P at start, up to Max; a power of
// two.
var N = func() int {
	n := 1
	for n < min(runtime.GOMAXPROCS(0), Max) {
		n *= 2
	}
	return n
}()

// tokens hands each P a shard number: a pool's Get and Put on one P use
// that P's own slot, so a P keeps its token, and Go has no other way to
// ask which P code runs on. A token the GC drops is replaced by the next
// number; two Ps may then share a shard, which costs speed, never
// correctness: shards are written with atomics or under locks.
var (
	tokens = sync.Pool{New: func() any { t := next.Add(1) - 1; return &t }}
	next   atomic.Uint32
)

// Shard is the calling P's shard, in [0, N).
func Shard() int {
	t := tokens.Get().(*uint32)
	i := int(*t) & (N - 1)
	tokens.Put(t)
	return i
}
