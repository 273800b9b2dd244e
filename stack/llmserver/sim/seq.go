package sim

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// seq is one request inside the engine.
type seq struct {
	stream       bool
	promptTokens int
	cached       int  // prompt tokens found in the prefix cache
	maxTokens    int  // hard limit on generated tokens
	explicitMax  bool // the client set max_tokens
	minLen       int  // without max_tokens: stop at a sentence end after this many
	ignoreEOS    bool // ignore_eos: only max_tokens or a stop string ends it
	source       []string
	pos          int
	echo         bool // source is the prompt: stop when it runs out
	stop         []string
	text         []byte // generated text, kept only when stop strings are set
	sent         int    // bytes of text released to the client

	// Owned by the engine loop, under Engine.mu.
	generated   int
	blocks      int
	prefilled   bool
	arrival     time.Time
	scheduled   time.Time
	firstToken  time.Time
	lastToken   time.Time
	countedFill bool

	aborted atomic.Bool

	mu       sync.Mutex
	out      []backend.Chunk
	finished bool
	finish   string
	err      error
	notify   chan struct{}
}

func (s *seq) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *seq) deliver(c backend.Chunk, finish string) {
	s.mu.Lock()
	s.out = append(s.out, c)
	if finish != "" {
		s.finished, s.finish = true, finish
	}
	s.mu.Unlock()
	if s.stream || finish != "" {
		s.signal()
	}
}

func (s *seq) fail(err error) {
	s.mu.Lock()
	s.finished, s.err = true, err
	s.mu.Unlock()
	s.signal()
}

// next produces the sequence's next token and, if it is the last, why.
func (s *seq) next() (chunk backend.Chunk, finish string) {
	tok := s.source[s.pos%len(s.source)]
	s.pos++
	chunk = backend.Chunk{Text: tok, Tokens: 1}
	n := s.generated + 1
	if len(s.stop) > 0 {
		// Stop strings never reach the client: text that could be the start
		// of one is held back until the next token settles it.
		s.text = append(s.text, tok...)
		for _, st := range s.stop {
			from := max(0, len(s.text)-len(tok)-len(st)+1)
			if i := strings.Index(string(s.text[from:]), st); i >= 0 {
				chunk.Text = string(s.text[s.sent : from+i])
				s.sent = len(s.text)
				return chunk, "stop"
			}
		}
		hold := 0
		for _, st := range s.stop {
			for k := min(len(st)-1, len(s.text)-s.sent); k > hold; k-- {
				if strings.HasSuffix(string(s.text), st[:k]) {
					hold = k
					break
				}
			}
		}
		end := len(s.text) - hold
		chunk.Text = string(s.text[s.sent:end])
		s.sent = end
		defer func() {
			if finish != "" { // finished for another reason: release what was held
				chunk.Text += string(s.text[s.sent:])
				s.sent = len(s.text)
			}
		}()
	}
	switch {
	case s.echo && !s.ignoreEOS && s.pos >= len(s.source): // the prompt is exhausted
		return chunk, "stop"
	case n >= s.maxTokens:
		return chunk, "length"
	case s.minLen > 0 && n >= s.minLen && endsSentence(tok):
		return chunk, "stop"
	}
	return chunk, ""
}

func endsSentence(tok string) bool {
	t := strings.TrimRight(tok, " \n")
	return strings.HasSuffix(t, ".") || strings.HasSuffix(t, "!") || strings.HasSuffix(t, "?")
}
