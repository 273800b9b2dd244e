package sim

import "github.com/llmmon/llmmon/internal/cl100k"

// Tokenizer splits text into BPE tokens with OpenAI's cl100k_base encoding
// (internal/cl100k: tiktoken's tokens, from a table embedded in the binary,
// so it works offline and builds nothing on the heap).
type Tokenizer struct{}

// NewTokenizer returns the cl100k_base tokenizer.
func NewTokenizer() (*Tokenizer, error) { return &Tokenizer{}, nil }

// Tokens returns text's tokens as strings; joined, they give text back.
func (t *Tokenizer) Tokens(text string) []string {
	if text == "" {
		return nil
	}
	return cl100k.AppendTokens(make([]string, 0, len(text)/4+1), text)
}

// Count returns the number of tokens in text, without building them.
func (t *Tokenizer) Count(text string) int { return cl100k.Count(text) }
