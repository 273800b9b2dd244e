package sim

import (
	"slices"
	"testing"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// The SLO rules count slow first tokens from one bucket boundary of
// whichever TTFT histogram an instance exports: gen_ai_*, llm_time_* or
// vllm:*. Settings validate it against llmmetrics.GenAITTFTBuckets, so
// every one of those must be a boundary of the other two.
func TestTTFTBucketsAreTheOnesTheSLOReads(t *testing.T) {
	if !slices.Equal(TTFTBuckets(), llmmetrics.TTFTBuckets) {
		t.Errorf("sim TTFT buckets %v differ from llmmetrics.TTFTBuckets %v", TTFTBuckets(), llmmetrics.TTFTBuckets)
	}
	for _, b := range llmmetrics.GenAITTFTBuckets {
		if !slices.Contains(llmmetrics.TTFTBuckets, b) {
			t.Errorf("GenAI TTFT boundary %g is not one of vLLM's %v", b, llmmetrics.TTFTBuckets)
		}
	}
}
