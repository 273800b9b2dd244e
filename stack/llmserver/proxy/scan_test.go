package proxy

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// referenceChunk is scanChunk written with encoding/json (objects decoded
// into maps: exact keys, the last duplicate wins). skip reports inputs the
// two legitimately read differently.
func referenceChunk(b []byte) (info chunkInfo, ok, skip bool) {
	if bytes.Contains(b, []byte(`\u00`)) {
		return info, false, true // an escaped key could spell a known one
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || top == nil {
		return info, false, false
	}
	str := func(raw json.RawMessage) string {
		var s string
		json.Unmarshal(raw, &s)
		return s
	}
	has := func(raw json.RawMessage) bool {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s != ""
		}
		var a []json.RawMessage
		return json.Unmarshal(raw, &a) == nil && len(a) > 0
	}
	if e, found := top["error"]; found && string(e) != "null" {
		info.isError = true
	}
	if str(top["object"]) == "error" {
		info.isError = true
	}
	var choices []json.RawMessage
	if json.Unmarshal(top["choices"], &choices) == nil {
		for _, raw := range choices {
			info.choices++
			var c map[string]json.RawMessage
			if json.Unmarshal(raw, &c) != nil {
				continue
			}
			_, d := c["delta"]
			_, m := c["message"]
			if d && m {
				return info, false, true // which came last is lost in a map
			}
			text := has(c["text"])
			msg := c["delta"]
			if m {
				msg = c["message"]
			}
			var mm map[string]json.RawMessage
			if json.Unmarshal(msg, &mm) == nil {
				for _, k := range []string{"content", "reasoning_content", "reasoning", "tool_calls"} {
					text = text || has(mm[k])
				}
			}
			if text {
				info.content++
			}
			if info.finish == "" {
				info.finish = str(c["finish_reason"])
			}
		}
	}
	if u := top["usage"]; len(u) > 0 && u[0] == '{' {
		info.usage = true
		var um map[string]json.RawMessage
		json.Unmarshal(u, &um)
		if v, found := um["prompt_tokens"]; found {
			info.prompt = intValue(v)
		}
		if v, found := um["completion_tokens"]; found {
			info.compl = intValue(v)
		}
	}
	return info, true, false
}

// chunkSeeds are every JSON chunk and body of the engine fixtures.
func chunkSeeds(t testing.TB) [][]byte {
	var out [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*"))
	for _, f := range files {
		if strings.HasPrefix(f, filepath.Join("testdata", "fuzz")) {
			continue // the fuzz corpus, which go test reads itself
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(f, ".json") {
			out = append(out, raw)
			continue
		}
		for _, ev := range strings.Split(string(raw), "\n\n") {
			if d, ok := eventData([]byte(ev)); ok {
				out = append(out, d)
			}
		}
	}
	out = append(out,
		[]byte(`{"error":{"object":"error","message":"x","type":"BadRequestError","code":400}}`),
		[]byte(`{"object":"error","message":"x"}`),
		[]byte(`{"error":"Input validation error","error_type":"validation"}`),
		[]byte(` { "choices" : [ { "delta" : { "tool_calls" : [ {"index":0} ] } , "finish_reason" : null } ] , "usage" : null } `),
		[]byte(`{"choices":[{"delta":{"reasoning_content":"hm"}},{"text":"a","finish_reason":"length"}],"usage":{"prompt_tokens":1e2,"completion_tokens":"3"}}`),
		[]byte(`{"choices":"no","usage":[1]}`),
		[]byte(`[1,2]`), []byte(`null`), []byte(`{"a":`),
	)
	return out
}

func TestScanChunkMatchesEncodingJSON(t *testing.T) {
	for _, b := range chunkSeeds(t) {
		got, ok := scanChunk(b)
		want, wok, skip := referenceChunk(b)
		if skip {
			continue
		}
		if ok != wok || got != want {
			t.Errorf("%s:\n scan %+v %v\n json %+v %v", b, got, ok, want, wok)
		}
	}
}

func FuzzScanChunk(f *testing.F) {
	for _, b := range chunkSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := scanChunk(b) // never panics, on anything
		if !json.Valid(b) {
			return
		}
		want, wok, skip := referenceChunk(b)
		if skip {
			return
		}
		if ok != wok || got != want {
			t.Errorf("%q:\n scan %+v %v\n json %+v %v", b, got, ok, want, wok)
		}
	})
}

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
