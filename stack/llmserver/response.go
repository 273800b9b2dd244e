package llmserver

import (
	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver/backend"
)

// Answers are written by the wire package's append functions
// (openai.Answer), in buffers borrowed from bufPool.

func answerUsage(res backend.Result) openai.Usage {
	return openai.Usage{PromptTokens: res.PromptTokens, CompletionTokens: res.CompletionTokens}
}

// appendError appends e's body in OpenAI's error format.
func appendError(b []byte, e *backend.Error) []byte {
	return openai.AppendError(b, openai.APIError{Message: e.Message, Type: e.Type, Param: e.Param, Code: e.Code})
}
