package openai

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " backslash \`, "ctl \x00\x01\n\r\t\x1f", "naïve 日本 😀",
		"bad \xff\xfe utf8", "sep \u2028\u2029", "<html>&"} {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("%q round-tripped to %q", s, back)
		}
	}
}

// What serve writes, the gateway and load read back: every writer's output
// scans as the answer it is.
func TestAnswersScanBack(t *testing.T) {
	for _, chat := range []bool{false, true} {
		a := Answer{Chat: chat, ID: "cmpl-1", Created: 1, Model: "m \"quoted\""}
		for _, tc := range []struct {
			name    string
			event   []byte
			content int
			finish  string
			usage   bool
		}{
			{"chunk", a.AppendChunk(nil, " the", ""), 1, "", false},
			{"empty chunk", a.AppendChunk(nil, "", ""), 0, "", false},
			{"finish", a.AppendChunk(nil, "", "length"), 0, "length", false},
			{"usage", a.AppendUsageChunk(nil, Usage{7, 16}), 0, "", true},
		} {
			ev := tc.event
			if string(ev[:6]) != "data: " || string(ev[len(ev)-2:]) != "\n\n" {
				t.Fatalf("%s: not an SSE event: %q", tc.name, ev)
			}
			c, ok := ScanChunk(ev[6 : len(ev)-2])
			if !ok || !c.HasChoices || c.Content != tc.content || c.FinishReason() != tc.finish || c.Usage != tc.usage || c.Error != nil ||
				(tc.usage && (c.PromptTokens != 7 || c.CompletionTokens != 16)) {
				t.Errorf("chat=%v %s: %+v from %s", chat, tc.name, c, ev)
			}
		}
		if chat {
			ev := a.AppendRoleChunk(nil)
			if c, ok := ScanChunk(ev[6 : len(ev)-2]); !ok || c.Content != 0 || c.Choices != 1 {
				t.Errorf("role chunk: %+v from %s", c, ev)
			}
		}
		body := a.AppendCompletion(nil, "Hello", "stop", Usage{3, 1})
		c, ok := ScanChunk(body)
		text, err := CompletionText(body)
		if !ok || c.Content != 1 || c.FinishReason() != "stop" || !c.Usage || c.CompletionTokens != 1 || text != "Hello" || err != nil {
			t.Errorf("chat=%v completion: %+v %q %v from %s", chat, c, text, err, body)
		}
	}
	body := AppendError(nil, APIError{Message: "boom", Type: "server_error", Code: "x"})
	c, _ := ScanChunk(body)
	e, ok := ReadError(body)
	if c.Error == nil || !ok || e != (APIError{Message: "boom", Type: "server_error", Code: "x"}) {
		t.Errorf("error body %s: scanned %+v, read %+v %v", body, c, e, ok)
	}
}

// A stream's chunks share their start, written once: every chunk is what
// a fresh Answer writes, and decodes to its id, object, created and model.
func TestChunksShareTheirHead(t *testing.T) {
	for _, chat := range []bool{false, true} {
		a := Answer{Chat: chat, ID: "chatcmpl-9", Created: 1795895517, Model: "m \"q\""}
		a.AppendChunk(nil, "first", "")
		for _, text := range []string{"a", "b\n", ""} {
			fresh := Answer{Chat: chat, ID: a.ID, Created: a.Created, Model: a.Model}
			got, want := a.AppendChunk(nil, text, ""), fresh.AppendChunk(nil, text, "")
			if string(got) != string(want) {
				t.Fatalf("chat=%v: %q, a fresh answer writes %q", chat, got, want)
			}
			var ev struct {
				ID, Object, Model string
				Created           int64
			}
			if err := json.Unmarshal(got[6:], &ev); err != nil || ev.ID != a.ID || ev.Created != a.Created || ev.Model != a.Model {
				t.Fatalf("chat=%v: %+v, %v from %s", chat, ev, err, got)
			}
		}
	}
}
