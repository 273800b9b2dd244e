package load

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRun is a closed loop of 8 against a server that answers at once
// with a canned 16-token answer, streamed or not: each request takes the
// generator's whole path (body, client, event reader, chunk scanner,
// samples). ns/op counts the server's share of the two cores too; a CPU
// profile of it shows the generator's own cost.
func BenchmarkRun(b *testing.B) {
	var events []string
	for i := range 16 {
		events = append(events, fmt.Sprintf(`data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"raw","choices":[{"index":0,"text":" w%d","logprobs":null,"finish_reason":null}]}`+"\n\n", i))
	}
	events = append(events, `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"raw","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":16,"total_tokens":20}}`+"\n\n", "data: [DONE]\n\n")
	stream := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(events...)
	body := `{"id":"cmpl-1","object":"text_completion","created":1,"model":"raw","choices":[{"index":0,"text":"` +
		strings.Repeat(" word", 16) + `","finish_reason":"length"}],"usage":{"prompt_tokens":4,"completion_tokens":16,"total_tokens":20}}`
	json := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	for _, tc := range []struct {
		name   string
		stream bool
		answer string
	}{{"json", false, json}, {"stream", true, stream}} {
		b.Run(tc.name, func(b *testing.B) {
			s := &rawServer{answer: func(int64) (string, bool) { return tc.answer, false }}
			o := quickOptions(s.start(b))
			o.Stream, o.Requests, o.Concurrency = tc.stream, b.N, 8
			b.ReportAllocs()
			b.ResetTimer()
			r, err := Run(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			if r.Requests.Succeeded != b.N || r.OutputTokens != int64(16*b.N) {
				b.Fatalf("requests %+v, %d tokens", r.Requests, r.OutputTokens)
			}
		})
	}
}
