package percpu

import (
	"runtime"
	"sync"
	"testing"
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
