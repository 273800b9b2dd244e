package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestScanChunk(t *testing.T) {
	tests := []struct {
		name    string
		chunk   string
		content bool
		usage   *usage
		failed  bool
	}{
		{"completions", `{"id":"c","object":"text_completion","choices":[{"index":0,"text":" the","finish_reason":null}]}`, true, nil, false},
		{"python spacing", `{"object": "text_completion", "choices": [{"index": 0, "text": "the "}]}`, true, nil, false},
		{"chat delta", `{"choices":[{"index":0,"delta":{"content":"Hi"}}]}`, true, nil, false},
		{"chat role only", `{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`, false, nil, false},
		{"chat null content", `{"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}`, false, nil, false},
		{"reasoning", `{"choices":[{"delta":{"reasoning_content":"hmm"}}]}`, true, nil, false},
		{"empty text", `{"choices":[{"index":0,"text":"","finish_reason":"length"}]}`, false, nil, false},
		{"logprobs content array", `{"choices":[{"delta":{},"logprobs":{"content":[{"token":"a"}]}}]}`, false, nil, false},
		{"key inside a string", `{"choices":[{"delta":{"role":"x \"content\":\"y"}}]}`, false, nil, false},
		{"escaped quote then key", `{"choices":[{"delta":{"content":"say \"hi\""}}]}`, true, nil, false},
		{"usage only", `{"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":16,"total_tokens":23}}`, false, &usage{7, 16}, false},
		{"usage null", `{"choices":[{"text":"a"}],"usage":null}`, true, nil, false},
		{"usage with spaces", `{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}`, false, &usage{3, 4}, false},
		{"error object", `{"error":{"message":"boom","type":"server_error","code":500}}`, false, nil, true},
		{"vllm error response", `{"object":"error","message":"boom","type":"BadRequestError","code":400}`, false, nil, true},
		{"error null", `{"choices":[{"text":"a"}],"error":null}`, true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := scanChunk([]byte(tt.chunk))
			if c.content != tt.content || c.failed != tt.failed {
				t.Errorf("content=%v failed=%v, want %v %v", c.content, c.failed, tt.content, tt.failed)
			}
			if (c.usage == nil) != (tt.usage == nil) || (c.usage != nil && *c.usage != *tt.usage) {
				t.Errorf("usage = %+v, want %+v", c.usage, tt.usage)
			}
		})
	}
}

// streamChunk is the shape OpenAI-compatible servers stream, for the fuzzer.
type streamChunk struct {
	Object  string `json:"object"`
	Choices []struct {
		Text  *string `json:"text,omitempty"`
		Delta *struct {
			Role    string  `json:"role,omitempty"`
			Content *string `json:"content"`
		} `json:"delta,omitempty"`
	} `json:"choices"`
	Usage *usage `json:"usage"`
}

// FuzzScanChunk checks the in-place scanner against encoding/json on chunks
// whose strings hold arbitrary text, including JSON-looking text.
func FuzzScanChunk(f *testing.F) {
	f.Add("the", "assistant", true, false, 3)
	f.Add("", "", false, true, 0)
	f.Add(`","content":"x`, `\"text\":\"y`, true, false, 1)
	f.Add(`{"usage":{"completion_tokens":9}}`, "error", false, false, 2)
	f.Fuzz(func(t *testing.T, text, role string, chat, withUsage bool, n int) {
		var c streamChunk
		c.Object = role
		c.Choices = make([]struct {
			Text  *string `json:"text,omitempty"`
			Delta *struct {
				Role    string  `json:"role,omitempty"`
				Content *string `json:"content"`
			} `json:"delta,omitempty"`
		}, 1)
		if chat {
			c.Choices[0].Delta = &struct {
				Role    string  `json:"role,omitempty"`
				Content *string `json:"content"`
			}{Role: role, Content: &text}
		} else {
			c.Choices[0].Text = &text
		}
		if withUsage {
			n = max(n%1000000, -n%1000000) // token counts are never negative
			c.Usage = &usage{PromptTokens: n, CompletionTokens: n + 1}
		}
		b, err := json.Marshal(c)
		if err != nil {
			return // not a chunk a server could send
		}
		got := scanChunk(b)
		// The stream scanner, primed with a chunk of the same layout, must
		// agree with the full scan.
		var ss streamScanner
		prime := c
		x := "x"
		if chat {
			prime.Choices[0].Delta.Content = &x
		} else {
			prime.Choices[0].Text = &x
		}
		pb, _ := json.Marshal(prime)
		ss.scan(pb)
		if fast := ss.scan(b); fast.content != got.content || (fast.usage == nil) != (got.usage == nil) || fast.failed != got.failed {
			t.Fatalf("stream scan %+v, full scan %+v for %s", fast, got, b)
		}
		if got.content != (text != "") {
			t.Fatalf("content = %v for %s", got.content, b)
		}
		if withUsage != (got.usage != nil) || (withUsage && *got.usage != *c.Usage) {
			t.Fatalf("usage = %+v for %s", got.usage, b)
		}
		if got.failed != (role == "error") {
			t.Fatalf("failed = %v for %s", got.failed, b)
		}
	})
}

// A stream's chunks scanned in order agree with scanning each alone.
func TestStreamScannerAgreesWithFullScan(t *testing.T) {
	streams := [][]string{
		{ // vLLM-like chat, usage in the last chunk
			`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":""},"finish_reason":null}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":" there"},"finish_reason":"length"}]}`,
			`{"id":"c1","object":"chat.completion.chunk","model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}`,
		},
		{ // usage in every chunk (vLLM continuous_usage_stats), then an error
			`{"id":"c2","choices":[{"index":0,"text":"a"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`,
			`{"id":"c2","choices":[{"index":0,"text":"b"}],"usage":{"prompt_tokens":1,"completion_tokens":2}}`,
			`{"id":"c2","choices":[{"index":0,"text":"c"}],"error":{"message":"boom"}}`,
			`{"error":{"message":"engine died"}}`,
		},
		{ // Python's spacing
			`{"object": "text_completion", "choices": [{"index": 0, "text": "the "}]}`,
			`{"object": "text_completion", "choices": [{"index": 0, "text": ""}]}`,
			`{"object": "text_completion", "choices": [{"index": 0, "text": "fox "}]}`,
		},
	}
	for _, stream := range streams {
		var ss streamScanner
		for _, ch := range stream {
			fast, full := ss.scan([]byte(ch)), scanChunk([]byte(ch))
			if fast.content != full.content || fast.failed != full.failed || (fast.usage == nil) != (full.usage == nil) ||
				(fast.usage != nil && *fast.usage != *full.usage) {
				t.Errorf("%s\nstream scan %+v, full scan %+v", ch, fast, full)
			}
		}
	}
}

func TestSSEReader(t *testing.T) {
	long := strings.Repeat("x", 40000)
	stream := ": comment\r\n" +
		"event: message\n" +
		"data: {\"a\":1}\r\n\r\n" +
		"id: 7\n" +
		"data:{\"b\":2}\n\n" +
		"data: " + long + "\n\n" +
		"retry: 100\n" +
		"data: [DONE]\n\n" +
		"data: tail-without-newline"
	r := sseReader{br: bufio.NewReaderSize(strings.NewReader(stream), 16)}
	want := []string{`{"a":1}`, `{"b":2}`, long, "[DONE]", "tail-without-newline"}
	for i, w := range want {
		p, err := r.next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if string(p) != w {
			t.Fatalf("event %d = %.60q, want %.60q", i, p, w)
		}
	}
	if _, err := r.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last event: %v, want EOF", err)
	}
}

func TestSSEReaderPassesReadErrors(t *testing.T) {
	r := sseReader{br: bufio.NewReader(io.MultiReader(strings.NewReader("data: {}\n"), errReader{}))}
	if _, err := r.next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.next(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want the body's read error", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func BenchmarkStreamScanner(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"demo","choices":[{"index":0,"delta":{"content":" monitoring"},"logprobs":null,"finish_reason":null}]}`)
	var ss streamScanner
	b.ReportAllocs()
	for b.Loop() {
		if !ss.scan(chunk).content {
			b.Fatal("no content")
		}
	}
}

func BenchmarkScanChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"demo","choices":[{"index":0,"delta":{"content":" monitoring"},"logprobs":null,"finish_reason":null}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if !scanChunk(chunk).content {
			b.Fatal("no content")
		}
	}
}
