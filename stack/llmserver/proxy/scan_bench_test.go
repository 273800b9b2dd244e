package proxy

import "testing"

var benchChunk = []byte(`{"id":"cmpl-063578d88f95a9297d811020","object":"text_completion","created":1795895517,"model":"llmmon-sim","choices":[{"index":0,"text":" When","logprobs":null,"finish_reason":null}]}`)

func BenchmarkScanChunk(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		scanChunk(benchChunk)
	}
}
