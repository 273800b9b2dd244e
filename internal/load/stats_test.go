package load

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestQuantileMatchesNumpy(t *testing.T) {
	// numpy.percentile([1..10], [50, 90, 95, 99]) = 5.5, 9.1, 9.55, 9.91
	xs := []float64{10, 3, 1, 7, 2, 9, 4, 8, 6, 5}
	s := summarize(xs)
	want := Summary{Count: 10, Mean: 5.5, Min: 1, P50: 5.5, P90: 9.1, P95: 9.55, P99: 9.91, Max: 10}
	if !near(s.P50, want.P50) || !near(s.P90, want.P90) || !near(s.P95, want.P95) || !near(s.P99, want.P99) ||
		s.Count != want.Count || s.Mean != want.Mean || s.Min != want.Min || s.Max != want.Max {
		t.Fatalf("summary = %+v, want %+v", *s, want)
	}
	if one := summarize([]float32{0.25}); one.P50 != 0.25 || one.P99 != 0.25 {
		t.Fatalf("one sample: %+v", *one)
	}
	if summarize([]float64{}) != nil {
		t.Fatal("no samples must give a nil summary")
	}
}

// A percentile is a rank in the pooled gaps of every request: one slow
// request among many fast ones moves only the top ranks.
func TestQuantilePooledNotAveraged(t *testing.T) {
	var gaps []float32
	for range 99 {
		for range 10 {
			gaps = append(gaps, 0.010)
		}
	}
	for range 10 {
		gaps = append(gaps, 1.0)
	}
	s := summarize(gaps)
	// p99 sits at rank 989.01 of 1000: interpolated between the last fast
	// gap and the first slow one.
	if !near(s.P50, 0.010) || !near(s.P95, 0.010) || !near(s.P99, 0.010+0.01*0.99) || s.Max != 1.0 {
		t.Fatalf("pooled: %+v", *s)
	}
}

func TestQuantileBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n < 200; n += 7 {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = r.ExpFloat64()
		}
		slices.Sort(xs)
		prev := math.Inf(-1)
		for _, q := range []float64{0, 0.5, 0.9, 0.95, 0.99, 1} {
			v := quantile(xs, q)
			// At least a fraction q of the samples lie at or below it.
			below := 0
			for _, x := range xs {
				if x <= v+1e-12 {
					below++
				}
			}
			if v < xs[0] || v > xs[n-1] || v < prev || float64(below) < q*float64(n-1) {
				t.Fatalf("n=%d q=%v: %v out of order or range", n, q, v)
			}
			prev = v
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-6 }

// A server that finishes requests in bursts (8, then 0, every 500 ms)
// reads as about 8 req/s, not as a rate jumping between 0 and 16.
func TestProgressRateIsSmoothed(t *testing.T) {
	avg, first := 0.0, true
	lo, hi := 1e9, 0.0
	for i := range 60 {
		inst := 16.0
		if i%2 == 1 {
			inst = 0
		}
		avg = smoothRate(avg, inst, 500*time.Millisecond, first)
		first = false
		if i >= 40 {
			lo, hi = min(lo, avg), max(hi, avg)
		}
	}
	if lo < 7 || hi > 9 {
		t.Errorf("smoothed rate swings %.1f-%.1f req/s, want within 7-9", lo, hi)
	}
}

func TestProgressLineShowsTotalAndETA(t *testing.T) {
	g := &generator{opts: Options{Requests: 100}}
	p := Progress{Elapsed: 10 * time.Second, Done: 40, Rate: 4, Total: 100, InFlight: 4, Tokens: 1234}
	p.ETA = g.eta(p)
	if p.ETA != 15*time.Second {
		t.Errorf("ETA %s, want 15s (60 left at 4/s)", p.ETA)
	}
	if s := p.String(); !strings.Contains(s, "done 40/100  ETA 15s  4.0 req/s  in flight 4") {
		t.Errorf("line %q", s)
	}
	// A duration that ends first wins; with neither, no ETA is shown.
	g.opts.Duration = 12 * time.Second
	if eta := g.eta(p); eta != 2*time.Second {
		t.Errorf("ETA by duration %s, want 2s", eta)
	}
	g.opts = Options{}
	p.Total, p.ETA = 0, g.eta(p)
	if s := p.String(); strings.Contains(s, "ETA") || !strings.Contains(s, "done 40  ") {
		t.Errorf("open-ended line %q", s)
	}
}

func TestSamplesKeepEveryValueInOrderAcrossBlocks(t *testing.T) {
	var s samples[float32]
	var want []float32
	// Runs of several sizes, so adds both fill blocks exactly and straddle them.
	for i, n := range []int{1, sampleBlock - 1, 2, sampleBlock, 3*sampleBlock + 5, 0, 7} {
		run := make([]float32, n)
		for j := range run {
			run[j] = float32(i*1_000_000 + j)
		}
		s.add(run...)
		want = append(want, run...)
	}
	got := s.all()
	if !slices.Equal(got, want) {
		t.Fatalf("all() has %d values, want %d (first difference at %d)", len(got), len(want), firstDiff(got, want))
	}
	for i, b := range s.blocks {
		if cap(b) != sampleBlock || (i < len(s.blocks)-1 && len(b) != sampleBlock) {
			t.Errorf("block %d: len %d cap %d, want full blocks of %d", i, len(b), cap(b), sampleBlock)
		}
	}
	got[0] = -1 // all's slice is the caller's to sort
	if s.blocks[0][0] == -1 {
		t.Error("all() shares memory with the blocks")
	}
}

func firstDiff(a, b []float32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// BenchmarkRecordGaps is one request's 16 gaps kept, in one growing slice
// (what record did before) and in samples' blocks, over runs of 100,000
// requests (5 s of bench-load.sh's streamed rate) so that b.N does not
// stretch one run beyond any real one.
func BenchmarkRecordGaps(b *testing.B) {
	const run = 100_000
	gaps := make([]float32, 16)
	b.Run("slice", func(b *testing.B) {
		var s []float32
		for i := 0; b.Loop(); i++ {
			if i%run == 0 {
				s = nil
			}
			s = append(s, gaps...)
		}
		if len(s)%16 != 0 {
			b.Fatal(len(s))
		}
	})
	b.Run("samples", func(b *testing.B) {
		var s samples[float32]
		for i := 0; b.Loop(); i++ {
			if i%run == 0 {
				s = samples[float32]{}
			}
			s.add(gaps...)
		}
		if s.n%16 != 0 {
			b.Fatal(s.n)
		}
	})
}
