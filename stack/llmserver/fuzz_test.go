package llmserver

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/openai"
)

// FuzzDecodeRequest feeds arbitrary bodies to the request decoder: it must
// never panic, every rejection must be a well-formed 400, and an accepted
// request must satisfy what the backend relies on. The seed corpus is
// testdata/requests/*.json.
func FuzzDecodeRequest(f *testing.F) {
	files, err := filepath.Glob("testdata/requests/*.json")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed requests in testdata/requests: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, strings.Contains(filepath.Base(p), "chat"))
	}
	f.Fuzz(func(t *testing.T, body []byte, chat bool) {
		req, apiErr := decodeRequest(body, chat)
		if apiErr != nil {
			if apiErr.Status != http.StatusBadRequest || apiErr.Type != "invalid_request_error" || apiErr.Message == "" {
				t.Fatalf("bad rejection: %+v", apiErr)
			}
			var b []byte
			if out := appendError(b, apiErr); !json.Valid(out) {
				t.Fatalf("error body is not JSON: %s", out)
			}
			return
		}
		if req.Chat != chat || req.MaxTokens < 0 || len(req.Stop) > 4 {
			t.Fatalf("accepted an invalid request: %+v", req)
		}
		if chat && len(req.Messages) == 0 {
			t.Fatal("chat request without messages accepted")
		}
		if !chat && req.Prompt == "" {
			t.Fatal("completion request without prompt accepted")
		}
		for _, s := range req.Stop {
			if s == "" {
				t.Fatal("empty stop string kept")
			}
		}
		if req.IncludeUsage && !req.Stream {
			t.Fatal("include_usage without stream accepted")
		}
		// Whatever the client sent must come back as valid JSON.
		if out := openai.AppendString(nil, req.Prompt); !json.Valid(out) {
			t.Fatalf("prompt re-encodes to invalid JSON: %s", out)
		}
	})
}
