package llmserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

var validRoles = map[string]bool{"system": true, "developer": true, "user": true,
	"assistant": true, "tool": true, "function": true}

// decodedRequest is a validated request for the backend, and the wire
// options the server itself handles.
type decodedRequest struct {
	backend.Request
	IncludeUsage bool
}

// decodeRequest parses and validates a completions (chat=false) or chat
// completions body. Every failure is an OpenAI-style 400. Once the JSON
// parses, the request is returned even with an error, so a rejected
// streaming request is still counted under endpoint="stream".
func decodeRequest(body []byte, chat bool) (*decodedRequest, *backend.Error) {
	w, err := openai.DecodeCompletionRequest(body)
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return nil, backend.Errorf(te.Field, "", "%s must be %s, not a JSON %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return nil, backend.Errorf("", "", "We could not parse the JSON body of your request: %v. Send a JSON object, e.g. {\"model\":\"...\",\"prompt\":\"...\"}.", err)
	}
	req := &decodedRequest{}
	req.Model = w.Model
	req.Chat = chat
	req.Stream = w.Stream
	req.Seed = w.Seed
	req.IgnoreEOS = w.IgnoreEOS
	req.Body = body
	if w.StreamOptions != nil {
		if !w.Stream {
			return req, backend.Errorf("stream_options", "", "stream_options is only allowed when stream is true")
		}
		req.IncludeUsage = w.StreamOptions.IncludeUsage
	}

	if chat {
		if len(w.Messages) == 0 {
			return req, backend.Errorf("messages", "", "messages is required and must hold at least one message")
		}
		if w.Prompt != nil {
			return req, backend.Errorf("prompt", "", "prompt is not a chat completions field; send messages (or use /v1/completions)")
		}
		req.Messages = make([]backend.Message, len(w.Messages))
		for i, m := range w.Messages {
			if !validRoles[m.Role] {
				return req, backend.Errorf(fmt.Sprintf("messages[%d].role", i), "",
					"messages[%d].role must be one of system, developer, user, assistant, tool; got %q", i, m.Role)
			}
			text, err := messageText(m.Content)
			if err != nil {
				return req, backend.Errorf(fmt.Sprintf("messages[%d].content", i), "", "messages[%d].content %v", i, err)
			}
			req.Messages[i] = backend.Message{Role: m.Role, Content: text}
		}
	} else {
		if w.Messages != nil {
			return req, backend.Errorf("messages", "", "messages is not a completions field; send prompt (or use /v1/chat/completions)")
		}
		p, err := promptText(w.Prompt)
		if err != nil {
			return req, backend.Errorf("prompt", "", "prompt %v", err)
		}
		req.Prompt = p
	}

	maxTokens, param := w.MaxTokens, "max_tokens"
	if chat && w.MaxCompletionTokens != nil {
		if w.MaxTokens != nil && *w.MaxTokens != *w.MaxCompletionTokens {
			return req, backend.Errorf("max_completion_tokens", "", "max_tokens and max_completion_tokens disagree; send only max_completion_tokens")
		}
		maxTokens, param = w.MaxCompletionTokens, "max_completion_tokens"
	}
	if maxTokens != nil {
		if *maxTokens < 1 {
			return req, backend.Errorf(param, "", "%s must be at least 1, got %d", param, *maxTokens)
		}
		req.MaxTokens = *maxTokens
	}
	if w.N != nil && *w.N != 1 {
		return req, backend.Errorf("n", "", "n must be 1: llmmon serve returns one choice per request, got %d", *w.N)
	}
	if t := w.Temperature; t != nil && (math.IsNaN(*t) || *t < 0 || *t > 2) {
		return req, backend.Errorf("temperature", "", "temperature must be between 0 and 2, got %g", *t)
	}
	stop, err := stopList(w.Stop)
	if err != nil {
		return req, backend.Errorf("stop", "", "stop %v", err)
	}
	req.Stop = stop
	return req, nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	case "slice":
		return "an array"
	case "struct", "ptr":
		return "an object"
	}
	return "a different type"
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// promptText accepts a string or an array holding one string.
func promptText(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", errors.New("is required")
	}
	if s, ok := openai.StringValue(raw); ok {
		if s == "" {
			return "", errors.New("must not be empty")
		}
		return s, nil
	}
	var s string
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return "", errors.New("must be a string")
	}
	if len(list) != 1 {
		return "", fmt.Errorf("must be a string or an array of one string (one choice per request), got %d items", len(list))
	}
	if err := json.Unmarshal(list[0], &s); err != nil {
		return "", errors.New("must be text: token-ID prompts are not supported by llmmon serve")
	}
	if s == "" {
		return "", errors.New("must not be empty")
	}
	return s, nil
}

// messageText accepts a string, null, or an array of {"type":"text"} parts.
func messageText(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	if s, ok := openai.StringValue(raw); ok {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", errors.New("must be a string or an array of text parts")
	}
	var b strings.Builder
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part %d has type %q; only text parts are supported", i, p.Type)
		}
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// stopList accepts null, a string or an array of up to 4 strings.
func stopList(raw json.RawMessage) ([]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	if s, ok := openai.StringValue(raw); ok {
		if s == "" {
			return nil, nil
		}
		return []string{s}, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, errors.New("must be a string or an array of strings")
	}
	if len(list) > 4 {
		return nil, fmt.Errorf("allows at most 4 sequences, got %d", len(list))
	}
	out := list[:0]
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}
