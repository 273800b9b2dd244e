// Package percpu numbers shards of data that every core writes, such as
// serve's metrics (intmetric), so that each P (the scheduler's slot for a
// running goroutine, one per core) keeps writing its own: a cache line
// that moves between cores costs more than the rest of a metric update on
// virtual machines.
package percpu

import (
	"math/bits"
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

// tokens hands each P a shard: a pool's Get and Put on one P use that P's
// own slot, so a P keeps its token, and Go has no other public way to ask
// which P code runs on. The pool drops a token that an idle P left
// unused through two collections; its shard is freed when the token is
// collected, and the next token takes a free shard, so two busy Ps do not
// end up sharing one. With every shard taken, tokens share them, which
// costs speed, never correctness: shards are written with atomics.
var (
	tokens = sync.Pool{New: func() any { return newToken() }}
	taken  atomic.Uint32 // a bit per shard a live token holds
	next   atomic.Uint32 // for sharing, once all are taken
)

// token is 16 bytes: a smaller one, with no pointers, would share a
// tiny-allocator block, and its cleanup might never run.
type token struct {
	shard int
	_     int
}

func newToken() *token {
	for {
		t := taken.Load()
		free := ^t & (1<<N - 1)
		if free == 0 {
			return &token{shard: int(next.Add(1)) & (N - 1)}
		}
		s := bits.TrailingZeros32(free)
		if taken.CompareAndSwap(t, t|1<<s) {
			tk := &token{shard: s}
			runtime.AddCleanup(tk, func(s int) { taken.And(^(uint32(1) << s)) }, s)
			return tk
		}
	}
}

// Shard is the calling P's shard, in [0, N).
func Shard() int {
	t := tokens.Get().(*token)
	s := t.shard
	tokens.Put(t)
	return s
}
