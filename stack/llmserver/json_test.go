package llmserver

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func jsonValid(b []byte) bool { return json.Valid(b) }

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " backslash \`, "ctl \x00\x01\n\r\t\x1f", "naïve 日本 😀",
		"bad \xff\xfe utf8", "sep \u2028\u2029", "<html>&"} {
		out := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("%q → %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Errorf("%q round-tripped to %q", s, back)
		}
	}
}
