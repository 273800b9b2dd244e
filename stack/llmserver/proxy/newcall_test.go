package proxy

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzNewCall: whatever the client sends, an accepted body goes upstream as
// valid JSON with the upstream's model name and include_usage set, and
// every other field as it was.
func FuzzNewCall(f *testing.F) {
	for _, s := range []string{
		`{"model":"m","prompt":"x"}`,
		`{"prompt":"x","stream":true}`,
		`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":false}}`,
		`{"model":"m","prompt":"x","stream":true,"stream_options":{}}`,
		`{"model":"m","prompt":"x","stream":true,"stream_options":null}`,
		`{"model":"m","prompt":"x","stream":true,"stream_options":{"continuous_usage_stats":true}}`,
		` { "stream" : true } `,
		`{}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true}}`,
	} {
		f.Add([]byte(s))
	}
	p, err := New(Config{Upstreams: []Upstream{{URL: "http://u:1"}}, Models: []ModelMap{{"m", "org/M"}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		bc, err := p.NewCall(body, false, nil)
		if err != nil || bytes.Contains(body, []byte(`\u00`)) {
			return
		}
		c := bc.(*call)
		var in, out map[string]json.RawMessage
		if json.Unmarshal(body, &in) != nil {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		if err := json.Unmarshal(c.body, &out); err != nil {
			t.Fatalf("sent upstream invalid JSON %q (from %q): %v", c.body, body, err)
		}
		var model string
		json.Unmarshal(out["model"], &model)
		if model != "org/M" {
			t.Errorf("upstream model %q in %q", model, c.body)
		}
		if c.stream {
			var so struct {
				IncludeUsage bool `json:"include_usage"`
			}
			if json.Unmarshal(out["stream_options"], &so) != nil || !so.IncludeUsage {
				t.Errorf("no include_usage in %q", c.body)
			}
		}
		for k, v := range in {
			if k == "model" || k == "stream_options" {
				continue
			}
			if !bytes.Equal(v, out[k]) {
				t.Errorf("field %s changed: %s → %s", k, v, out[k])
			}
		}
	})
}
