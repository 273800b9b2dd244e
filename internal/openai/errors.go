package openai

import (
	"encoding/json"
	"strings"
)

// APIError is an error as OpenAI's API words it:
// {"error":{"message":...,"type":...,"param":...,"code":...}}.
type APIError struct {
	Message string
	Type    string // invalid_request_error, server_error, ...
	Param   string // the request field at fault; may be empty
	Code    string // context_length_exceeded, ...; may be empty
}

// AppendError appends e's JSON body.
func AppendError(b []byte, e APIError) []byte {
	opt := func(b []byte, v string) []byte {
		if v == "" {
			return append(b, "null"...)
		}
		return AppendString(b, v)
	}
	b = append(b, `{"error":{"message":`...)
	b = AppendString(b, e.Message)
	b = append(b, `,"type":`...)
	b = AppendString(b, e.Type)
	b = append(b, `,"param":`...)
	b = opt(b, e.Param)
	b = append(b, `,"code":`...)
	b = opt(b, e.Code)
	return append(b, "}}"...)
}

// ReadError reads the error body of an OpenAI-compatible server, whichever
// way it words it: OpenAI's {"error":{...}} (vLLM, SGLang, llama.cpp,
// Ollama's /v1), vLLM's older flat {"object":"error","message":...}, TGI's
// {"error":"...","error_type":"..."}, or FastAPI's {"detail":...}. ok is
// false for anything else (plain text, HTML); the fields the body does not
// give are empty.
func ReadError(body []byte) (e APIError, ok bool) {
	var w struct {
		Error     json.RawMessage `json:"error"`
		ErrorType string          `json:"error_type"`
		Message   string          `json:"message"`
		Type      string          `json:"type"`
		Param     json.RawMessage `json:"param"`
		Code      json.RawMessage `json:"code"`
		Detail    json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &w) != nil {
		return e, false
	}
	var inner struct {
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
	}
	var s string
	switch {
	case len(w.Error) > 0 && json.Unmarshal(w.Error, &inner) == nil && inner.Message != "":
		return APIError{Message: inner.Message, Type: inner.Type, Param: scalar(inner.Param), Code: scalar(inner.Code)}, true
	case len(w.Error) > 0 && json.Unmarshal(w.Error, &s) == nil && s != "":
		return APIError{Message: s, Code: w.ErrorType}, true
	case w.Message != "":
		return APIError{Message: w.Message, Type: w.Type, Param: scalar(w.Param), Code: scalar(w.Code)}, true
	case len(w.Detail) > 0:
		if json.Unmarshal(w.Detail, &s) == nil {
			return APIError{Message: s}, true
		}
		return APIError{Message: string(w.Detail)}, true
	}
	return e, false
}

// scalar is a JSON string or number as text ("" for null or absent).
func scalar(raw json.RawMessage) string {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}
