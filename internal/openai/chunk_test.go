package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chunkView is a Chunk with its raw parts as text, so two can be compared.
type chunkView struct {
	HasChoices                     bool
	Choices, Content               int
	Usage                          bool
	PromptTokens, CompletionTokens int
	Error, FinishReason            string
	IsError                        bool
}

func view(c Chunk) chunkView {
	return chunkView{c.HasChoices, c.Choices, c.Content, c.Usage, c.PromptTokens, c.CompletionTokens,
		string(c.Error), c.FinishReason(), c.Error != nil}
}

// referenceChunk is ScanChunk written with encoding/json (objects decoded
// into maps: exact keys, the last duplicate wins). skip reports inputs the
// two legitimately read differently.
func referenceChunk(b []byte) (v chunkView, ok, skip bool) {
	if bytes.Contains(b, []byte(`\u00`)) {
		return v, false, true // an escaped key could spell a known one
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return v, false, false
	}
	str := func(raw json.RawMessage) string {
		var s string
		json.Unmarshal(raw, &s)
		return s
	}
	has := func(raw json.RawMessage) bool {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s != ""
		}
		var a []json.RawMessage
		return json.Unmarshal(raw, &a) == nil && len(a) > 0
	}
	// A token count: a JSON number, its fraction cut off; anything else,
	// or a count beyond int64, is 0.
	count := func(raw json.RawMessage) int {
		var n json.Number
		if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &n) != nil {
			return 0
		}
		if i, err := n.Int64(); err == nil && len(strings.TrimPrefix(string(n), "-")) <= 18 {
			return int(i)
		}
		f, err := n.Float64()
		if err != nil || f >= 9.223372036854775807e18 || f <= -9.223372036854775807e18 {
			return 0
		}
		return int(f)
	}
	if e, found := top["error"]; found && string(e) != "null" {
		v.IsError, v.Error = true, string(e)
	} else if str(top["object"]) == "error" {
		v.IsError, v.Error = true, string(b)
	}
	var choices []json.RawMessage
	if raw := top["choices"]; len(raw) > 0 && raw[0] == '[' && json.Unmarshal(raw, &choices) == nil {
		v.HasChoices = true
		for _, raw := range choices {
			v.Choices++
			var c map[string]json.RawMessage
			if json.Unmarshal(raw, &c) != nil {
				continue
			}
			_, d := c["delta"]
			_, m := c["message"]
			if d && m {
				return v, false, true // which came last is lost in a map
			}
			text := has(c["text"])
			msg := c["delta"]
			if m {
				msg = c["message"]
			}
			var mm map[string]json.RawMessage
			if json.Unmarshal(msg, &mm) == nil {
				for _, k := range []string{"content", "reasoning_content", "reasoning", "tool_calls"} {
					text = text || has(mm[k])
				}
			}
			if text {
				v.Content++
			}
			if v.FinishReason == "" {
				v.FinishReason = str(c["finish_reason"])
			}
		}
	}
	if u := top["usage"]; len(u) > 0 && u[0] == '{' {
		v.Usage = true
		var um map[string]json.RawMessage
		json.Unmarshal(u, &um)
		if n, found := um["prompt_tokens"]; found {
			v.PromptTokens = count(n)
		}
		if n, found := um["completion_tokens"]; found {
			v.CompletionTokens = count(n)
		}
	}
	return v, true, false
}

// chunkSeeds are every JSON answer and chunk of the engine fixtures, and
// chunks made to trip a scanner up.
func chunkSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "engines", "*", "*"))
	if len(files) == 0 {
		t.Fatal("no engine fixtures in testdata/engines")
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") {
			out = append(out, raw)
			continue
		}
		r := NewEventReader(bufio.NewReader(bytes.NewReader(raw)), Limits{})
		for {
			ev, err := r.Next()
			if err != nil {
				break
			}
			if ev.HasData {
				out = append(out, bytes.Clone(ev.Data))
			}
		}
	}
	out = append(out,
		[]byte(`{"error":{"object":"error","message":"x","type":"BadRequestError","code":400}}`),
		[]byte(`{"object":"error","message":"x"}`),
		[]byte(`{"error":"Input validation error","error_type":"validation"}`),
		[]byte(` { "choices" : [ { "delta" : { "tool_calls" : [ {"index":0} ] } , "finish_reason" : null } ] , "usage" : null } `),
		[]byte(`{"choices":[{"delta":{"reasoning_content":"hm"}},{"text":"a","finish_reason":"length"}],"usage":{"prompt_tokens":1e2,"completion_tokens":"3"}}`),
		[]byte(`{"choices":"no","usage":[1]}`),
		[]byte(`{"choices":[1,{"text":""},null],"choices":[{"text":"b"}]}`),
		[]byte(`{"usage":{"prompt_tokens":-3,"completion_tokens":12345678901234567890}}`),
		[]byte(`[1,2]`), []byte(`null`), []byte(`{"a":`),
	)
	// Chunks whose strings hold JSON-looking text, as load's own fuzzer
	// made them: a key inside a string must never count.
	for _, text := range []string{"the", "", `","content":"x`, `\"text\":\"y`, `{"usage":{"completion_tokens":9}}`} {
		for _, shape := range []string{
			`{"object":%s,"choices":[{"index":0,"text":%s}]}`,
			`{"object":%s,"choices":[{"index":0,"delta":{"role":"assistant","content":%s}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}`,
		} {
			q, _ := json.Marshal(text)
			out = append(out, []byte(strings.Replace(strings.Replace(shape, "%s", string(q), 1), "%s", string(q), 1)))
		}
	}
	return out
}

func TestScanChunkMatchesEncodingJSON(t *testing.T) {
	for _, b := range chunkSeeds(t) {
		c, ok := ScanChunk(b)
		want, wok, skip := referenceChunk(b)
		if skip {
			continue
		}
		if got := view(c); ok != wok || (ok && got != want) {
			t.Errorf("%s:\n scan %+v %v\n json %+v %v", b, got, ok, want, wok)
		}
	}
}

// FuzzScanChunk is the one fuzz target of the chunk scanner that the gateway
// and load share: on valid JSON it reads what encoding/json reads, and on
// anything it never panics. Its corpus (testdata/fuzz) holds what it found.
func FuzzScanChunk(f *testing.F) {
	for _, b := range chunkSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok := ScanChunk(b) // never panics, on anything
		checkStreamScanner(t, b)
		if !json.Valid(b) {
			return
		}
		want, wok, skip := referenceChunk(b)
		if skip {
			return
		}
		if got := view(c); ok != wok || (ok && got != want) {
			t.Errorf("%q:\n scan %+v %v\n json %+v %v", b, got, ok, want, wok)
		}
	})
}

// checkStreamScanner primes a StreamScanner with b, then has it read b
// with its text string replaced: it must read what ScanChunk reads.
func checkStreamScanner(t *testing.T, b []byte) {
	t.Helper()
	var s StreamScanner
	s.Scan(b)
	if !s.ok {
		return
	}
	for _, text := range []string{`""`, `"x"`, `"\""`, `"say \"hi\""`, `"`, `"a","content":"b"`, `"\\"`} {
		v := append(append(append([]byte(nil), b[:s.at]...), text...), b[s.end:]...)
		got, gok := s.Scan(v)
		want, wok := ScanChunk(v)
		if gok != wok || (gok && view(got) != view(want)) {
			t.Fatalf("%s\n stream scan %+v %v\n full scan   %+v %v", v, view(got), gok, view(want), wok)
		}
		s.Scan(b) // the template again
	}
}

// A stream's chunks read in order agree with reading each alone.
func TestStreamScannerAgreesWithScanChunk(t *testing.T) {
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
		{ // a later duplicate decides, and text that looks like the layout
			`{"choices":[{"delta":{"content":"a","content":""}}]}`,
			`{"choices":[{"delta":{"content":"b","content":""}}]}`,
			`{"choices":[{"delta":{"content":"","content":""}}]}`,
			`{"choices":[{"delta":{"content":"\"}],\"usage\":{","content":""}}]}`,
		},
	}
	for _, stream := range streams {
		var ss StreamScanner
		for _, ch := range stream {
			fast, fok := ss.Scan([]byte(ch))
			full, ok := ScanChunk([]byte(ch))
			if fok != ok || view(fast) != view(full) {
				t.Errorf("%s\nstream scan %+v, full scan %+v", ch, view(fast), view(full))
			}
		}
	}
}

// The cases load's scanner was held to, by the rules both now share.
func TestScanChunk(t *testing.T) {
	type usage struct{ prompt, completion int }
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
		{"tool call", `{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]}}]}`, true, nil, false},
		{"empty text", `{"choices":[{"index":0,"text":"","finish_reason":"length"}]}`, false, nil, false},
		{"logprobs content array", `{"choices":[{"delta":{},"logprobs":{"content":[{"token":"a"}]}}]}`, false, nil, false},
		{"logprobs content string", `{"choices":[{"delta":{},"logprobs":{"content":"a"}}]}`, false, nil, false},
		{"key inside a string", `{"choices":[{"delta":{"role":"x \"content\":\"y"}}]}`, false, nil, false},
		{"escaped quote then key", `{"choices":[{"delta":{"content":"say \"hi\""}}]}`, true, nil, false},
		{"usage only", `{"id":"c","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":16,"total_tokens":23}}`, false, &usage{7, 16}, false},
		{"usage null", `{"choices":[{"text":"a"}],"usage":null}`, true, nil, false},
		{"usage with spaces", `{"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4}}`, false, &usage{3, 4}, false},
		{"usage details", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"prompt_tokens":99}}}`, false, &usage{3, 4}, false},
		{"error object", `{"error":{"message":"boom","type":"server_error","code":500}}`, false, nil, true},
		{"vllm error response", `{"object":"error","message":"boom","type":"BadRequestError","code":400}`, false, nil, true},
		{"error null", `{"choices":[{"text":"a"}],"error":null}`, true, nil, false},
		{"nested error is not the answer's", `{"choices":[{"text":"a","error":{"message":"x"}}]}`, true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := ScanChunk([]byte(tt.chunk))
			if !ok {
				t.Fatal("not read as a JSON object")
			}
			if (c.Content > 0) != tt.content || (c.Error != nil) != tt.failed {
				t.Errorf("content=%d error=%s, want %v %v", c.Content, c.Error, tt.content, tt.failed)
			}
			if c.Usage != (tt.usage != nil) || (tt.usage != nil && (c.PromptTokens != tt.usage.prompt || c.CompletionTokens != tt.usage.completion)) {
				t.Errorf("usage %v %d/%d, want %+v", c.Usage, c.PromptTokens, c.CompletionTokens, tt.usage)
			}
		})
	}
}

// Every streamed fixture of every engine reads as the gateway's fixture
// test expects: the same content events, usage where the engine sends it,
// and a finish reason.
func TestEngineStreams(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "engines", "*", "*.sse"))
	if len(files) == 0 {
		t.Fatal("no streamed fixtures")
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			r := NewEventReader(bufio.NewReaderSize(bytes.NewReader(raw), 16), Limits{})
			content, usage, finish, done := 0, false, "", false
			for {
				ev, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasSuffix(ev.Raw, []byte("\n\n")) || !bytes.HasPrefix(raw, ev.Raw) {
					t.Fatalf("raw event %q is not the stream's next bytes", ev.Raw)
				}
				raw = raw[len(ev.Raw):]
				if ev.IsDone() {
					done = true
					continue
				}
				c, ok := ScanChunk(ev.Data)
				if !ok || c.Error != nil || !c.HasChoices {
					t.Fatalf("chunk %s: ok %v %+v", ev.Data, ok, c)
				}
				content += c.Content
				usage = usage || c.Usage
				if fr := c.FinishReason(); fr != "" {
					finish = fr
				}
			}
			noUsage := strings.Contains(f, "nousage") || strings.Contains(f, "chat-old")
			if content == 0 || finish == "" || usage == noUsage || done == strings.Contains(f, "chat-old") {
				t.Errorf("%d content events, usage %v, finish %q, [DONE] %v", content, usage, finish, done)
			}
		})
	}
}

func BenchmarkStreamScanner(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"demo","choices":[{"index":0,"delta":{"content":" monitoring"},"logprobs":null,"finish_reason":null}]}`)
	var ss StreamScanner
	b.ReportAllocs()
	for b.Loop() {
		if c, _ := ss.Scan(chunk); c.Content != 1 {
			b.Fatal("no content")
		}
	}
}

var benchChunk = []byte(`{"id":"cmpl-063578d88f95a9297d811020","object":"text_completion","created":1795895517,"model":"llmmon-sim","choices":[{"index":0,"text":" When","logprobs":null,"finish_reason":null}]}`)

func BenchmarkScanChunk(b *testing.B) {
	for _, bc := range []struct{ name, chunk string }{
		{"completion", string(benchChunk)},
		{"chat", `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"demo","choices":[{"index":0,"delta":{"content":" monitoring"},"logprobs":null,"finish_reason":null}]}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			chunk := []byte(bc.chunk)
			b.ReportAllocs()
			for b.Loop() {
				if c, _ := ScanChunk(chunk); c.Content != 1 {
					b.Fatal("no content")
				}
			}
		})
	}
}
