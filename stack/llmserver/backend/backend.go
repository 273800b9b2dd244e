// Package backend is the seam between llmmon serve's HTTP side (the API,
// validation, the llm_* metrics; package llmserver) and whatever produces
// the tokens: the embedded simulated engine (package sim, a Backend), or a
// real engine behind --upstream (package proxy, a Relay). The server only
// ever talks to a Backend.
package backend

import (
	"context"
	"fmt"
	"net/http"
)

// Message is one chat message, its content already flattened to text.
type Message struct {
	Role    string
	Content string
}

// Request is a validated completion request. Chat requests carry Messages;
// completion requests carry Prompt.
type Request struct {
	Model    string
	Chat     bool
	Prompt   string
	Messages []Message
	// MaxTokens is the most tokens to generate; 0 lets the backend decide.
	MaxTokens   int
	Stop        []string
	Seed        *int64
	Temperature *float64
	Stream      bool
	// IgnoreEOS (vLLM's ignore_eos) generates until MaxTokens or a stop
	// string; the end of sequence does not end it.
	IgnoreEOS bool
	// Body is the request body as the client sent it, for backends that
	// forward it unchanged.
	Body []byte
}

// Chunk is a piece of generated text and how many tokens it holds.
type Chunk struct {
	Text   string
	Tokens int
}

// Result is what a finished generation reports for the usage block.
type Result struct {
	PromptTokens     int
	CompletionTokens int
	// FinishReason is "stop" or "length", as in the OpenAI API.
	FinishReason string
}

// Emit receives chunks as the backend produces them, in order. A backend
// hands over everything ready at once, so the gateway can write it with one
// flush; final says the generation ended with these chunks, so the answer's
// end follows at once and one write can carry both. An error from Emit (the
// client went away) aborts the generation.
type Emit func(chunks []Chunk, final bool) error

// Backend produces tokens for the gateway.
type Backend interface {
	// Models lists the model names served.
	Models() []string
	// Generate runs one request, calling emit as text is produced, and
	// returns when it is finished, failed, or ctx is done. Errors the client
	// caused or should see are *Error.
	Generate(ctx context.Context, req *Request, emit Emit) (Result, error)
	// Close stops the backend; Generate calls in flight return errors.
	Close() error
}

// Error is an OpenAI-style API error with its HTTP status.
type Error struct {
	Status  int
	Type    string // e.g. invalid_request_error, server_error
	Code    string // e.g. context_length_exceeded; may be empty
	Param   string // the offending request field; may be empty
	Message string
	// Detail is for the server's log only: what a client must not see
	// (an upstream's internal address) and the operator's fix. The client
	// gets Message and the request id to quote.
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message)
}

// Errorf builds a 400 invalid_request_error about param.
func Errorf(param, code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error",
		Param: param, Code: code, Message: fmt.Sprintf(format, args...)}
}
