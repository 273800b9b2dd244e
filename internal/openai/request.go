package openai

import (
	"encoding/json"
	"strings"
)

// CompletionRequest is the body of POST /v1/completions (Prompt) and
// /v1/chat/completions (Messages), as far as llmmon reads or writes one:
// serve decodes it, load encodes it. Unknown fields are ignored, as OpenAI
// clients send many; the gateway does not decode bodies at all but routes
// them by ScanRequest.
type CompletionRequest struct {
	Model               string          `json:"model"`
	Prompt              json.RawMessage `json:"prompt,omitempty"`
	Messages            []Message       `json:"messages,omitempty"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Stop                json.RawMessage `json:"stop,omitempty"`
	N                   *int            `json:"n,omitempty"`
	Seed                *int64          `json:"seed,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options,omitempty"`
	// IgnoreEOS is vLLM's extension: generate max_tokens whatever the
	// model's end of sequence, so benchmark runs have fixed output lengths.
	IgnoreEOS bool `json:"ignore_eos,omitempty"`
}

// Message is one chat message. Content is a string, null, or an array of
// content parts.
type Message struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// StreamOptions asks a streaming server for a last, usage-only chunk.
type StreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// RequestFields are where the members the gateway routes by sit in a
// client's body, so that it can forward the body as it came and edit only
// what it must.
type RequestFields struct {
	Model, Stream, StreamOptions, Prompt, Messages Span
	IncludeUsage                                   Span // inside stream_options
	// Open is the index just after the body's opening brace: where a
	// member can be added.
	Open int
}

// ScanRequest locates the routing members of a completion request body. ok
// is false when the body is not a JSON object; it is not otherwise
// validated.
func ScanRequest(b []byte) (f RequestFields, ok bool) {
	f = RequestFields{absent, absent, absent, absent, absent, absent, skipWS(b, 0) + 1}
	o := openObject(b, 0)
	for key, at, more := o.member(); more; key, at, more = o.member() {
		var s *Span
		switch string(key) {
		case "model":
			s = &f.Model
		case "stream":
			s = &f.Stream
		case "stream_options":
			s = &f.StreamOptions
		case "prompt":
			s = &f.Prompt
		case "messages":
			s = &f.Messages
		}
		o.value(0)
		if s != nil && !o.bad {
			*s = Span{at, o.i}
		}
	}
	if o.bad {
		return f, false
	}
	if so := f.StreamOptions; so.Present() && b[so.Start] == '{' {
		o := openObject(b[:so.End], so.Start)
		for key, at, more := o.member(); more; key, at, more = o.member() {
			o.value(0)
			if string(key) == "include_usage" && !o.bad {
				f.IncludeUsage = Span{at, o.i}
			}
		}
	}
	return f, true
}

// CompletionText is the generated text of a whole (non-streamed)
// completion or chat completion: each choice's text, or its message's
// content and reasoning. It is how tokens are counted for an answer that
// carries no usage.
func CompletionText(body []byte) (string, error) {
	var answer struct {
		Choices []struct {
			Text    json.RawMessage `json:"text"`
			Message *struct {
				Content          json.RawMessage `json:"content"`
				ReasoningContent json.RawMessage `json:"reasoning_content"`
				Reasoning        json.RawMessage `json:"reasoning"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return "", err
	}
	var b strings.Builder
	str := func(raw json.RawMessage) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			b.WriteString(s)
		}
	}
	for _, c := range answer.Choices {
		str(c.Text)
		if c.Message != nil {
			str(c.Message.Content)
			str(c.Message.ReasoningContent)
			str(c.Message.Reasoning)
		}
	}
	return b.String(), nil
}
