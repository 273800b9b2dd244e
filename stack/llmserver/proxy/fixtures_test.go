package proxy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/internal/cl100k"
	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// engineFixtures are real engines' answers, recorded with the wire package
// (see its README).
const engineFixtures = "../../../internal/openai/testdata/engines"

// fixtureUpstream serves one fixture file as every completion answer, the
// way the engine sends it: an SSE file event by event, each flushed.
// It records the bodies it received.
func fixtureUpstream(t *testing.T, file string) (*sync.Mutex, *[][]byte, string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(engineFixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var bodies [][]byte
	hs := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		if strings.HasSuffix(file, ".json") {
			w.Header().Set("Content-Type", "application/json")
			w.Write(raw)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
		for _, ev := range strings.SplitAfter(string(raw), "\n\n") {
			if ev == "" {
				continue
			}
			io.WriteString(w, ev)
			w.(http.Flusher).Flush()
		}
	})
	return &mu, &bodies, hs.URL
}

// fixtureEvents are the data payloads of an SSE fixture.
func fixtureEvents(t *testing.T, file string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(engineFixtures, file))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range readSSE(t, bytes.NewReader(raw), nil) {
		out = append(out, ev.Data)
	}
	return out
}

func isUsageOnly(data string) bool {
	var c chunk
	return json.Unmarshal([]byte(data), &c) == nil && c.Usage != nil && len(c.Choices) == 0
}

func TestEngineResponseShapes(t *testing.T) {
	const prompt = "What is the capital of France?"
	promptEstimate := cl100k.Count(prompt)
	cases := []struct {
		file   string
		text   string
		tokens int // completion tokens the gateway must count
		prompt int // -1: no usage, estimated from the prompt
	}{
		{"vllm/chat.json", "Hello! How can I help you today?", 10, 42},
		{"vllm/chat.sse", "Hello! How can I help you today?", 10, 42},
		{"vllm/chat-nousage.sse", "Hello! How can I help you today?", 9, -1},
		{"vllm/completions.json", " San Francisco is a city in", 6, 5},
		{"vllm/completions.sse", " San Francisco is a city in", 6, 5},
		{"llamacpp/chat.json", "The sky is blue because of Rayleigh scattering.", 10, 18},
		{"llamacpp/chat.sse", "The sky is blue because of Rayleigh scattering.", 10, 18},
		{"llamacpp/completions.json", " I believe the meaning", 4, 6},
		{"llamacpp/completions.sse", " I believe the meaning", 4, 6},
		{"tgi/chat.json", "Deep learning is a subset of machine learning", 8, 21},
		{"tgi/chat.sse", "Deep learning is a subset of machine learning", 8, 21},
		{"tgi/chat-old.sse", "Deep learning is a subset of machine learning", 8, -1},
		{"tgi/completions.json", " is a subset of machine learning", 6, 4},
		{"ollama/chat.json", "The capital of France is Paris.", 8, 33},
		{"ollama/chat.sse", "The capital of France is Paris.", 8, 33},
		{"ollama/chat-nousage.sse", "The capital of France is Paris.", 7, -1},
		{"ollama/completions.json", " blue because of Rayleigh scattering.", 7, 9},
	}
	for _, tc := range cases {
		stream := strings.HasSuffix(tc.file, ".sse")
		chat := strings.Contains(tc.file, "chat")
		wantPrompt := tc.prompt
		if wantPrompt < 0 {
			wantPrompt = promptEstimate
		}
		for _, clientUsage := range []bool{false, true} {
			if !stream && clientUsage {
				continue
			}
			name := tc.file
			if clientUsage {
				name += "/client-asks-usage"
			}
			t.Run(name, func(t *testing.T) {
				mu, bodies, url := fixtureUpstream(t, tc.file)
				gw, ghs := startGateway(t, upstreamTo(url))
				path, body := "/v1/completions", `{"model":"m","prompt":"`+prompt+`"`
				if chat {
					path, body = "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"`+prompt+`"}]`
				}
				if stream {
					body += `,"stream":true`
				}
				if clientUsage {
					body += `,"stream_options":{"include_usage":true}`
				}
				resp := post(t, context.Background(), ghs.URL+path, body+"}")
				defer resp.Body.Close()
				if resp.StatusCode != 200 {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
				ep := "nonstream"
				if stream {
					ep = "stream"
					got := readSSE(t, resp.Body, nil)
					// Passed through unchanged, except the usage chunk the
					// gateway asked for; [DONE] added where the engine
					// sent none.
					var want []string
					for _, d := range fixtureEvents(t, tc.file) {
						if !clientUsage && isUsageOnly(d) {
							continue
						}
						want = append(want, d)
					}
					if want[len(want)-1] != "[DONE]" {
						want = append(want, "[DONE]")
					}
					var gotData []string
					for _, ev := range got {
						gotData = append(gotData, ev.Data)
					}
					if strings.Join(gotData, "\n") != strings.Join(want, "\n") {
						t.Errorf("client got\n%s\nwant\n%s", strings.Join(gotData, "\n"), strings.Join(want, "\n"))
					}
					if s := summarize(t, got); s.Content != tc.text {
						t.Errorf("content %q, want %q", s.Content, tc.text)
					}
					mu.Lock()
					var sent struct {
						StreamOptions struct {
							IncludeUsage bool `json:"include_usage"`
						} `json:"stream_options"`
					}
					json.Unmarshal((*bodies)[0], &sent)
					mu.Unlock()
					if !sent.StreamOptions.IncludeUsage {
						t.Errorf("the gateway did not ask upstream for usage: %s", (*bodies)[0])
					}
				} else {
					got, _ := io.ReadAll(resp.Body)
					want, _ := os.ReadFile(filepath.Join(engineFixtures, tc.file))
					if !bytes.Equal(got, want) {
						t.Errorf("body changed on the way:\n%s\nwant\n%s", got, want)
					}
					mu.Lock()
					if !bytes.Equal((*bodies)[0], []byte(body+"}")) {
						t.Errorf("a non-streamed request was rewritten: %s", (*bodies)[0])
					}
					mu.Unlock()
				}
				eventually(t, "the request counted", func() error {
					if n := metric(t, gw, llmmetrics.Requests, "endpoint", ep, "status", "success"); n != 1 {
						return errorf("%s successes = %v", ep, n)
					}
					return nil
				})
				if n := metric(t, gw, llmmetrics.Tokens, "endpoint", ep); n != float64(tc.tokens) {
					t.Errorf("tokens counted %v, want %d", n, tc.tokens)
				}
				if n := metric(t, gw, llmmetrics.PromptTokens, "endpoint", ep); n != float64(wantPrompt) {
					t.Errorf("prompt tokens counted %v, want %d", n, wantPrompt)
				}
				if stream {
					if n := metric(t, gw, llmmetrics.TTFT, "endpoint", ep); n != 1 {
						t.Errorf("TTFT observed %v times", n)
					}
				}
			})
		}
	}
}
