package sim

import (
	"slices"
	"testing"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// The SLO rules count slow first tokens from a bucket boundary that
// settings validate against llmmetrics.TTFTBuckets: the histogram serve
// exports must have exactly those boundaries.
func TestTTFTBucketsAreTheOnesTheSLOReads(t *testing.T) {
	if !slices.Equal(TTFTBuckets(), llmmetrics.TTFTBuckets) {
		t.Errorf("sim TTFT buckets %v differ from llmmetrics.TTFTBuckets %v", TTFTBuckets(), llmmetrics.TTFTBuckets)
	}
}
