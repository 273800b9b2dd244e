// Package openai is the OpenAI-compatible wire, as llmmon speaks it on
// both sides: llmmon serve decodes requests and writes answers with it, and
// the gateway (serve --upstream) and llmmon load read answers with it.
//
//   - CompletionRequest, Answer and APIError are the request, answer and
//     error formats; ReadError reads every engine's error body.
//   - EventReader is the one server-sent event reader.
//   - ScanChunk is the one chunk scanner: a one-pass, allocation-free JSON
//     walker that reads choices, generated output, finish reason, usage and
//     errors. FuzzScanChunk holds it to encoding/json, so the gateway and
//     load agree on what a token is. StreamScanner reads a stream's chunks
//     for less, exactly as ScanChunk would.
//   - Stream reads one streamed answer (events and their chunks) with
//     pooled buffers: what the gateway and load both do per request.
//   - ScanRequest locates the members the gateway routes a body by.
//   - Client is the one HTTP/1.1 client.
//
// # Why a client of its own
//
// net/http's Transport gives every connection a read and a write goroutine
// and hands each request and answer between them and the caller over
// channels, with a header map and some 60 allocations a request. Client's
// own connections are written and read by the calling goroutine, the
// request in one write, the answer's head parsed off the connection's
// buffer; https:// and proxied URLs still go through net/http. It stays
// because it wins by a margin that matters in both of its uses, measured in
// the same runs on this project's 2-core machines (2026-12-02):
//
// BenchmarkClient, one request and its answer read and scanned, against a
// canned server in the same process (go test -bench Client), own vs
// net/http (ns/op over both cores; allocations):
//
//	json   gateway  19.6-22.2 µs,  8 allocs   vs  30.9-31.3 µs, 68 allocs
//	json   load     19.8-20.3 µs,  0 allocs   vs  30.1-32.9 µs, 69 allocs
//	stream gateway  23.8-27.3 µs,  9 allocs   vs  37.3-40.0 µs, 71 allocs
//	stream load     24.5-25.9 µs,  1 alloc    vs  39.3-41.3 µs, 72 allocs
//
// End to end, llmmon built as is and with -tags openai_nethttp (every
// request through net/http; GOFLAGS=-tags=openai_nethttp bash hack/...),
// three runs of each script, alternated:
//
//	bench-load.sh: llmmon load's requests/s over wrk's, and its CPU a request
//	  non-streamed  own 0.88-0.96, 28-33 µs   net/http 0.63-0.77, 47-71 µs
//	  streamed      own 0.86-0.87, 44-50 µs   net/http 0.72-0.78, 65-99 µs
//	bench-gateway.sh: latency the gateway adds (p50, p99), throughput over
//	direct, and the gateway's CPU a request
//	  non-streamed  own 0.14-0.17 ms, 0.24-0.57 ms, 0.41-0.47, 63-75 µs
//	                net/http 0.22-0.23 ms, 0.56-0.61 ms, 0.34-0.37, 88-103 µs
//	  streamed      own 0.17-0.21 ms, 0.26-0.58 ms, 0.49-0.51, 79-82 µs
//	                net/http 0.26-0.33 ms, 0.57-0.76 ms, 0.40-0.42, 110-132 µs
//
// With net/http, load falls below its bar of 0.8 of wrk's throughput, and
// the gateway spends a third more CPU per request and adds a third more
// latency.
package openai
