package load

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/cl100k"
	"github.com/llmmon/llmmon/stack/llmserver"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadDatasetJSONL(t *testing.T) {
	p := writeFile(t, "d.jsonl", `{"prompt": "Tell me a story.", "max_tokens": 7}

{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "output_len": 3}
{"prompt": "No length here."}
`)
	ps, err := LoadDataset(p, DatasetOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	byText := map[string]Prompt{}
	for _, x := range ps {
		byText[x.Text+string(x.Messages)] = x
	}
	if len(ps) != 3 || byText["Tell me a story."].MaxTokens != 7 || byText["No length here."].MaxTokens != 0 {
		t.Fatalf("prompts %+v", ps)
	}
	var msgs int
	for _, x := range ps {
		if x.Messages != nil {
			msgs++
			if x.MaxTokens != 3 || !json.Valid(x.Messages) {
				t.Errorf("messages entry %+v", x)
			}
		}
	}
	if msgs != 1 {
		t.Errorf("%d messages entries, want 1", msgs)
	}
	// --output-len fixes every request's length, whatever the data says.
	ps, _ = LoadDataset(p, DatasetOptions{OutputLen: 64})
	for _, x := range ps {
		if x.MaxTokens != 64 {
			t.Errorf("--output-len: %+v", x)
		}
	}
}

func TestLoadDatasetErrorsNameTheLine(t *testing.T) {
	for content, want := range map[string]string{
		"{\"prompt\": \"ok\"}\nnot json\n":                             "line 2: want a JSON object",
		`{"prompt": "a", "messages": [{"role":"user","content":"b"}]}`: `line 1: has both "prompt" and "messages"`,
		`{"text": "a"}`:                `line 1: has neither "prompt" nor "messages"`,
		`{"messages": []}`:             `line 1: "messages" must be a non-empty array`,
		`{"messages": [{"role": ""}]}`: `line 1: messages[0] needs "role" and "content"`,
		`{"prompt": ""}`:               `line 1: "prompt" is empty`,
		"\n\n":                         "holds no usable prompt",
	} {
		_, err := LoadDataset(writeFile(t, "d.jsonl", content), DatasetOptions{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", content, err, want)
		}
	}
	if _, err := LoadDataset(filepath.Join(t.TempDir(), "missing.jsonl"), DatasetOptions{}); err == nil || !strings.Contains(err.Error(), "--dataset") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadDataset(writeFile(t, "d", `{"prompt":"a"}`), DatasetOptions{Format: "csv"}); err == nil || !strings.Contains(err.Error(), "--dataset-format") {
		t.Errorf("bad format: %v", err)
	}
}

func TestLoadDatasetShareGPT(t *testing.T) {
	reply := "Paris is the capital of France, and it has been for a long time."
	p := writeFile(t, "sharegpt.json", ` [
	  {"id": "a", "conversations": [{"from": "human", "value": "What is the capital of France?"}, {"from": "gpt", "value": "`+reply+`"}]},
	  {"id": "b", "conversations": [{"from": "human", "value": "alone"}]},
	  {"id": "c", "conversations": [{"from": "gpt", "value": "starts with the model"}, {"from": "human", "value": "x"}]}
	]`)
	ps, err := LoadDataset(p, DatasetOptions{}) // auto: '[' is ShareGPT
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Text != "What is the capital of France?" || ps[0].MaxTokens != cl100k.Count(reply) {
		t.Fatalf("prompts %+v, want the one usable conversation with max_tokens %d", ps, cl100k.Count(reply))
	}
	if _, err := LoadDataset(writeFile(t, "bad.json", `{"conversations": []}`), DatasetOptions{Format: FormatShareGPT}); err == nil || !strings.Contains(err.Error(), "not ShareGPT") {
		t.Errorf("an object is not ShareGPT: %v", err)
	}
}

func TestInputLenFitsPrompts(t *testing.T) {
	p := writeFile(t, "d.jsonl", `{"prompt": "one two three"}
{"prompt": "`+strings.Repeat("word ", 300)+`"}
`)
	ps, err := LoadDataset(p, DatasetOptions{InputLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ps {
		if n := cl100k.Count(x.Text); n < 95 || n > 105 {
			t.Errorf("--input-len 100 made a prompt of %d tokens", n)
		}
	}
	m := writeFile(t, "m.jsonl", `{"messages": [{"role": "user", "content": "hi"}]}`)
	if _, err := LoadDataset(m, DatasetOptions{InputLen: 10}); err == nil || !strings.Contains(err.Error(), "drop --input-len") {
		t.Errorf("--input-len with messages: %v", err)
	}
}

// The dataset's prompts and lengths reach the real server: with echo and
// ignore_eos, each answer is exactly its entry's max_tokens long.
func TestDatasetAndIgnoreEOSAgainstServe(t *testing.T) {
	url := startServe(t, func(o *llmserver.Options) {
		o.Sim.Mode = "echo"
		o.Sim.ITL, o.Sim.PrefillOverhead, o.Sim.PrefillPerToken = time.Millisecond, time.Millisecond, 0
	})
	p := writeFile(t, "d.jsonl", `{"prompt": "short", "max_tokens": 5}
{"messages": [{"role": "user", "content": "also short"}], "max_tokens": 7}
{"prompt": "third", "max_tokens": 9}
`)
	ds, err := LoadDataset(p, DatasetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o := quickOptions(url + "/v1")
	o.Dataset, o.IgnoreEOS, o.Requests, o.Concurrency = ds, true, 6, 2
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Succeeded != 6 || r.OutputTokens != 2*(5+7+9) {
		t.Fatalf("succeeded %d, output tokens %d; want 6 and %d", r.Requests.Succeeded, r.OutputTokens, 2*(5+7+9))
	}
	// Without ignore_eos the echo ends with the prompt, before max_tokens.
	o.IgnoreEOS = false
	if r, _ = Run(context.Background(), o); r.OutputTokens >= 2*(5+7+9) {
		t.Errorf("without --ignore-eos the answers still ran to max_tokens (%d tokens)", r.OutputTokens)
	}
	o.Endpoint = EndpointCompletions
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "use --endpoint chat") {
		t.Errorf("messages on /completions: %v", err)
	}
}

func TestGoodputCountsRequestsWithinSLOs(t *testing.T) {
	f := &fakeServer{ttft: 30 * time.Millisecond, itl: 10 * time.Millisecond, tokens: 4}
	o := quickOptions(f.start(t))
	o.Requests = 8
	for _, tt := range []struct {
		ttft, tpot time.Duration
		good       int
	}{
		{time.Second, time.Second, 8},
		{5 * time.Millisecond, 0, 0},             // TTFT is 30 ms
		{0, 2 * time.Millisecond, 0},             // TPOT is 10 ms
		{time.Second, 500 * time.Millisecond, 8}, // both met
	} {
		o.SLOTTFT, o.SLOTPOT = tt.ttft, tt.tpot
		r, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Goodput == nil || r.Goodput.Good != tt.good || r.Goodput.Ratio != float64(tt.good)/8 {
			t.Errorf("SLO ttft %s tpot %s: goodput %+v, want %d good", tt.ttft, tt.tpot, r.Goodput, tt.good)
		}
	}
	var b strings.Builder
	o.SLOTTFT, o.SLOTPOT = time.Second, 500*time.Millisecond
	r, _ := Run(context.Background(), o)
	_ = r.WriteText(&b)
	if !strings.Contains(b.String(), "goodput") || !strings.Contains(b.String(), "(100.0%) within TTFT ≤ 1000 ms and TPOT ≤ 500 ms") {
		t.Errorf("text report:\n%s", b.String())
	}
	o.Stream = false
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "need streamed answers") {
		t.Errorf("SLOs without streaming: %v", err)
	}
}

// vllm bench serve's --max-concurrency with --request-rate: arrivals over
// the cap wait for a slot instead of being dropped.
func TestWaitForSlotQueuesArrivals(t *testing.T) {
	f := &fakeServer{ttft: 50 * time.Millisecond, tokens: 1}
	o := quickOptions(f.start(t))
	o.Rate, o.MaxInFlight, o.Requests, o.Seed = 1000, 3, 12, 1
	o.WaitForSlot = true
	start := time.Now()
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests.Dropped != 0 || r.Requests.Succeeded != 12 {
		t.Fatalf("requests %+v, want 12 ok and none dropped", r.Requests)
	}
	// 12 requests of at least 50 ms, 3 at a time: at least 4 rounds.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("took %s: more than 3 requests ran at once", d)
	}
	o.WaitForSlot = false
	if r, _ = Run(context.Background(), o); r.Requests.Dropped == 0 {
		t.Errorf("without waiting, 1000/s over 3 slots dropped nothing: %+v", r.Requests)
	}
}
