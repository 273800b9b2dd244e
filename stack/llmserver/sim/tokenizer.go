package sim

import "github.com/llmmon/llmmon/internal/cl100k"

// Text is counted and cut in OpenAI's cl100k_base BPE tokens
// (internal/cl100k: tiktoken's tokens, from a table embedded in the binary,
// so it works offline and builds nothing on the heap).

// tokens returns text's tokens; joined, they give text back.
func tokens(text string) []string {
	if text == "" {
		return nil
	}
	return cl100k.AppendTokens(make([]string, 0, len(text)/4+1), text)
}

func countTokens(text string) int { return cl100k.Count(text) }
