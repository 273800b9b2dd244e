package load

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/llmmon/llmmon/internal/cl100k"
)

// Prompt is one request's input from a dataset: a text prompt or a chat
// messages array, and the output length the data asks for (0: none).
type Prompt struct {
	Text      string
	Messages  json.RawMessage
	MaxTokens int
}

// Dataset formats.
const (
	FormatAuto     = "auto"
	FormatJSONL    = "jsonl"
	FormatShareGPT = "sharegpt"
)

// DatasetOptions say how to read a dataset file and shape its prompts.
type DatasetOptions struct {
	Format    string // FormatAuto (by the first byte: '[' ShareGPT, else JSONL), FormatJSONL, FormatShareGPT
	InputLen  int    // > 0: every text prompt made this many tokens (cl100k), cut or repeated
	OutputLen int    // > 0: every request's max_tokens, whatever the data says
	Seed      uint64 // shuffles the prompts; 0: random
}

// LoadDataset reads prompts from a JSONL file (one {"prompt": "..."} or
// {"messages": [...]} per line, with an optional "max_tokens" or
// "output_len") or a ShareGPT JSON file (the first human turn is the
// prompt, the reply's length in tokens its max_tokens, as vLLM's benchmark
// takes them). Errors name the line or entry.
func LoadDataset(path string, o DatasetOptions) ([]Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--dataset: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	format := o.Format
	if format == "" || format == FormatAuto {
		format = FormatJSONL
		if b, err := peekNonSpace(r); err == nil && b == '[' {
			format = FormatShareGPT
		}
	}
	var ps []Prompt
	switch format {
	case FormatJSONL:
		ps, err = readJSONL(r)
	case FormatShareGPT:
		ps, err = readShareGPT(r)
	default:
		return nil, fmt.Errorf("invalid --dataset-format %q: want auto, jsonl or sharegpt", o.Format)
	}
	if err != nil {
		return nil, fmt.Errorf("--dataset %s: %w", path, err)
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("--dataset %s holds no usable prompt", path)
	}
	for i := range ps {
		if o.OutputLen > 0 {
			ps[i].MaxTokens = o.OutputLen
		}
		if o.InputLen > 0 {
			if ps[i].Messages != nil {
				return nil, fmt.Errorf("--input-len fixes the length of text prompts; --dataset %s holds messages arrays (entry %d): drop --input-len", path, i+1)
			}
			ps[i].Text = fitTokens(ps[i].Text, o.InputLen)
		}
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))
	if o.Seed == 0 {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	return ps, nil
}

func peekNonSpace(r *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := r.Peek(n)
		if err != nil {
			return 0, err
		}
		if c := b[n-1]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != 0xEF && c != 0xBB && c != 0xBF {
			return c, nil
		}
	}
}

func readJSONL(r *bufio.Reader) ([]Prompt, error) {
	var ps []Prompt
	line := 0
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			if t := bytes.TrimSpace(b); len(t) > 0 {
				p, perr := jsonlPrompt(t)
				if perr != nil {
					return nil, fmt.Errorf("line %d: %w", line, perr)
				}
				ps = append(ps, p)
			}
		}
		if errors.Is(err, io.EOF) {
			return ps, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func jsonlPrompt(b []byte) (Prompt, error) {
	var e struct {
		Prompt    *string         `json:"prompt"`
		Messages  json.RawMessage `json:"messages"`
		MaxTokens int             `json:"max_tokens"`
		OutputLen int             `json:"output_len"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return Prompt{}, fmt.Errorf(`want a JSON object like {"prompt": "..."} or {"messages": [...]}: %v`, err)
	}
	p := Prompt{MaxTokens: max(e.MaxTokens, e.OutputLen)}
	switch {
	case e.Prompt != nil && e.Messages != nil:
		return p, errors.New(`has both "prompt" and "messages": keep one`)
	case e.Prompt != nil:
		if *e.Prompt == "" {
			return p, errors.New(`"prompt" is empty`)
		}
		p.Text = *e.Prompt
	case e.Messages != nil:
		var ms []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(e.Messages, &ms); err != nil || len(ms) == 0 {
			return p, errors.New(`"messages" must be a non-empty array of {"role", "content"}`)
		}
		for i, m := range ms {
			if m.Role == "" || m.Content == nil {
				return p, fmt.Errorf(`messages[%d] needs "role" and "content"`, i)
			}
		}
		p.Messages = e.Messages
	default:
		return p, errors.New(`has neither "prompt" nor "messages"`)
	}
	if e.MaxTokens < 0 || e.OutputLen < 0 {
		return p, errors.New(`"max_tokens" and "output_len" must be positive`)
	}
	return p, nil
}

// readShareGPT streams the array, so a large file costs only the prompts
// it keeps. Conversations without a human turn followed by a reply are
// skipped, as vLLM's benchmark skips them.
func readShareGPT(r io.Reader) ([]Prompt, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, errors.New(`not ShareGPT JSON: want an array of {"conversations": [{"from": "human", "value": "..."}, ...]}`)
	}
	var ps []Prompt
	for i := 1; dec.More(); i++ {
		var c struct {
			Conversations []struct {
				From  string `json:"from"`
				Value string `json:"value"`
			} `json:"conversations"`
		}
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("entry %d: %v", i, err)
		}
		if len(c.Conversations) < 2 || c.Conversations[0].From != "human" || c.Conversations[0].Value == "" {
			continue
		}
		out := cl100k.Count(c.Conversations[1].Value)
		if out < 1 {
			continue
		}
		ps = append(ps, Prompt{Text: c.Conversations[0].Value, MaxTokens: out})
	}
	return ps, nil
}

// fitTokens makes text n cl100k tokens long, cut or repeated (tokens
// joined anew can re-split, so a count may differ by a few).
func fitTokens(text string, n int) string {
	toks := cl100k.AppendTokens(nil, text)
	if len(toks) == 0 {
		toks = []string{" the"}
	}
	var b strings.Builder
	for i := range n {
		b.WriteString(toks[i%len(toks)])
	}
	return b.String()
}
