package load

import (
	"math"
	"slices"
)

// Quantiles are exact: every sample is kept and sorted once at the end, so
// a p99 is the p99 of the samples themselves, never an average of averages.
// Inter-token gaps are kept as float32 seconds (4 bytes each; 7 significant
// digits), so a long run at thousands of tokens per second stays small.

// Summary describes one latency distribution, in seconds.
type Summary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	Min   float64 `json:"min"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// summarize sorts xs in place and describes it; nil when xs is empty.
func summarize[T float32 | float64](xs []T) *Summary {
	if len(xs) == 0 {
		return nil
	}
	slices.Sort(xs)
	var sum float64
	for _, x := range xs {
		sum += float64(x)
	}
	return &Summary{
		Count: len(xs),
		Mean:  sum / float64(len(xs)),
		Min:   float64(xs[0]),
		P50:   quantile(xs, 0.50),
		P90:   quantile(xs, 0.90),
		P95:   quantile(xs, 0.95),
		P99:   quantile(xs, 0.99),
		Max:   float64(xs[len(xs)-1]),
	}
}

// quantile of sorted xs by linear interpolation between the two nearest
// ranks (Hyndman & Fan type 7, numpy's default, as vLLM's benchmark uses).
func quantile[T float32 | float64](sorted []T, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return float64(sorted[n-1])
	}
	a, b := float64(sorted[lo]), float64(sorted[lo+1])
	return a + (h-float64(lo))*(b-a)
}

// samples keeps measurements in fixed-size blocks. Appending to one long
// slice copies all of it each time it grows, under record's lock: at
// thousands of streamed requests a second that copying was 5% of the
// client's CPU and stalled every request waiting on the lock.
type samples[T float32 | float64] struct {
	blocks [][]T
	n      int
}

const sampleBlock = 1 << 14

func (s *samples[T]) add(xs ...T) {
	for len(xs) > 0 {
		if len(s.blocks) == 0 || len(s.blocks[len(s.blocks)-1]) == sampleBlock {
			s.blocks = append(s.blocks, make([]T, 0, sampleBlock))
		}
		last := &s.blocks[len(s.blocks)-1]
		k := min(len(xs), sampleBlock-len(*last))
		*last = append(*last, xs[:k]...)
		xs = xs[k:]
		s.n += k
	}
}

// all is every sample in one slice of its own, in the order added.
func (s *samples[T]) all() []T {
	out := make([]T, 0, s.n)
	for _, b := range s.blocks {
		out = append(out, b...)
	}
	return out
}
