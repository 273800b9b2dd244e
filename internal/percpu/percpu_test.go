package percpu

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestShards(t *testing.T) {
	if N < 1 || N > Max || N&(N-1) != 0 {
		t.Fatalf("N = %d, want a power of two in [1, %d]", N, Max)
	}
	if want := min(runtime.GOMAXPROCS(0), Max); N < want {
		t.Fatalf("N = %d for GOMAXPROCS %d: fewer shards than Ps", N, runtime.GOMAXPROCS(0))
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10000 {
				if s := Shard(); s < 0 || s >= N {
					t.Errorf("Shard() = %d, want [0, %d)", s, N)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Live tokens hold distinct shards while there are free ones, and a
// collected token's shard is taken again, not shared.
func TestTokensTakeFreeShards(t *testing.T) {
	// Tokens the pool holds take shards too; this test needs its own.
	for taken.Load() != 0 {
		tokens = sync.Pool{New: tokens.New}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	held := make([]*token, N)
	seen := map[int]bool{}
	for i := range held {
		held[i] = newToken()
		if seen[held[i].shard] {
			t.Fatalf("token %d got shard %d, already held, with shards free", i, held[i].shard)
		}
		seen[held[i].shard] = true
	}
	dropped := held[N-1].shard
	held[N-1] = nil
	deadline := time.Now().Add(10 * time.Second)
	for taken.Load()&(1<<dropped) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("shard %d still taken 10 s after its token was dropped", dropped)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	if s := newToken().shard; s != dropped {
		t.Fatalf("new token got shard %d, want the freed %d", s, dropped)
	}
	runtime.KeepAlive(held)
}
