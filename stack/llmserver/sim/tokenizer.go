package sim

import (
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Tokenizer splits text into BPE tokens with OpenAI's cl100k_base encoding.
// tiktoken-go/tokenizer compiles the vocabulary into the binary, so it works
// offline. Recent prompts are cached: load generators repeat prompts, and
// the regexp-driven split is the costliest step of a small request.
type Tokenizer struct {
	codec tokenizer.Codec

	mu    sync.Mutex
	cache map[string][]string
}

const tokenCacheEntries = 1024
const tokenCacheMaxLen = 8 << 10

// NewTokenizer loads the cl100k_base encoding.
func NewTokenizer() (*Tokenizer, error) {
	c, err := tokenizer.Get(tokenizer.Cl100kBase)
	if err != nil {
		return nil, err
	}
	return &Tokenizer{codec: c, cache: make(map[string][]string)}, nil
}

// Tokens returns text's tokens as strings; joined, they give text back.
// The slice may be shared: callers must not modify it.
func (t *Tokenizer) Tokens(text string) []string {
	if text == "" {
		return nil
	}
	cacheable := len(text) <= tokenCacheMaxLen
	if cacheable {
		t.mu.Lock()
		toks, ok := t.cache[text]
		t.mu.Unlock()
		if ok {
			return toks
		}
	}
	_, toks, err := t.codec.Encode(text)
	if err != nil {
		// ErrorModeNone never fails; keep a sane count if that changes.
		toks = []string{text}
	}
	if cacheable {
		t.mu.Lock()
		if len(t.cache) >= tokenCacheEntries {
			clear(t.cache)
		}
		t.cache[text] = toks
		t.mu.Unlock()
	}
	return toks
}

// Count returns the number of tokens in text.
func (t *Tokenizer) Count(text string) int { return len(t.Tokens(text)) }

// codecTokens tokenizes without the cache, for the corpus.
func (t *Tokenizer) codecTokens(text string) []string {
	_, toks, _ := t.codec.Encode(text)
	return toks
}
