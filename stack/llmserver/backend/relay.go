package backend

import (
	"context"
	"errors"
	"net/http"
)

// Relay is a Backend that does not generate text itself but forwards each
// request to another OpenAI-compatible server (vLLM, llama.cpp, TGI, SGLang,
// Ollama) and passes the answer through unchanged: the upstream's own ids,
// fields, tool calls and SSE chunks reach the client as the upstream wrote
// them. The gateway keeps authentication, the body limit and the llm_*
// metrics; the Relay decides what a request means upstream.
//
// The gateway checks for this interface with a type assertion; Generate is
// then never called for completions.
type Relay interface {
	Backend
	// NewCall reads a client's completion body (chat: /v1/chat/completions)
	// and resolves where it goes. Errors are *Error (400 for a body that is
	// not a JSON object, 404 for a model no upstream serves); a Call may
	// come back with the error, so a rejected stream is counted as one.
	// header is the client's request header.
	NewCall(body []byte, chat bool, header http.Header) (Call, error)
	// ListModels answers GET /v1/models (id == "") or /v1/models/{id} with a
	// JSON body, built from the upstreams' own lists.
	ListModels(ctx context.Context, id string) ([]byte, error)
}

// Call is one prepared completion request.
type Call interface {
	// Stream reports whether the client asked for a streamed answer.
	Stream() bool
	// Info names the models and the engine the call is for, as far as
	// they are known, also for a call NewCall returned with an error.
	Info() CallInfo
	// Do forwards the request and writes the answer to out. Before
	// out.Start it returns *Error for the gateway to answer with (the
	// upstream's own 4xx/5xx, 502 unreachable, 504 no first byte in time).
	// After out.Start an error means the answer broke off: the gateway ends
	// the stream with an error event, unless the error wraps ErrRelayed.
	// The Result's token counts come from the upstream's usage, or are
	// counted when it gave none.
	Do(ctx context.Context, out Output) (Result, error)
}

// CallInfo is what a call is for, as the metrics label it and the access
// log names it.
type CallInfo struct {
	// Requested is the model the client named, as it named it.
	Requested string
	// Model is the exposed model name, only when the gateway knows it is
	// served: a name made up by a client never becomes a label.
	Model string
	// ResponseModel is the upstream's own name for Model.
	ResponseModel string
	// Provider is the upstream's engine kind (vllm, sglang, llama.cpp,
	// ollama), when its model list told; else "".
	Provider string
}

// Output is where a Call writes the upstream's answer. Tokens written with
// Write are counted as sent when Flush returns; the gateway measures time to
// first token at the first Flush that carries tokens.
type Output interface {
	// Start sends the status line and headers. length is the body size, or
	// -1 when unknown (streams).
	Start(status int, contentType string, length int64)
	// Write queues p (whole SSE events, or the JSON body) for the client;
	// tokens is how many completion tokens p carries.
	Write(p []byte, tokens int) error
	// Flush sends what is queued to the client now.
	Flush() error
}

// ErrRelayed marks a failure the upstream already told the client about in
// its own words (an error event inside its stream): the request counts as an
// error, and the gateway adds nothing to the answer.
var ErrRelayed = errors.New("the upstream reported an error in its answer")
