package openai

import (
	"encoding/json"
	"reflect"
	"testing"
)

// What clients send: each must take the fast path, with encoding/json's
// result.
var typicalRequests = []string{
	`{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":false}`,
	`{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":true}`,
	`{"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Hi"}],"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":64,"temperature":0.7,"n":1,"seed":-42}`,
	`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"}],"name":"x"}],"stop":["\n","END"],"ignore_eos":true,"top_p":0.9,"logit_bias":{"50256":-100}}`,
	" {\n \"model\" : \"é\", \"prompt\" : [1, 2, 3], \"max_tokens\" : null, \"stream\" : null, \"stream_options\" : null }\n",
	`{"model":"m","messages":[],"prompt":null}`,
	`{}`,
}

func TestDecodeTakesTheFastPath(t *testing.T) {
	for _, body := range typicalRequests {
		var fast CompletionRequest
		if !json.Valid([]byte(body)) || !fast.decodeFast([]byte(body)) {
			t.Errorf("fast path refused %s", body)
			continue
		}
		var want CompletionRequest
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("encoding/json refused %s: %v", body, err)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Errorf("%s:\nfast %+v\njson %+v", body, fast, want)
		}
	}
}

// What the fast path must leave to encoding/json: it would read each
// differently, or fail with its own message.
func TestDecodeLeavesTheRestToEncodingJSON(t *testing.T) {
	for _, body := range []string{
		`{"Model":"a"}`, `{"model":"a","model":"b"}`, `{"model":"a\u0062"}`, "{\"model\":\"\xff\"}",
		`{"max_tokens":1.0}`, `{"max_tokens":"1"}`, `{"max_tokens":1e2}`, `{"max_tokens":99999999999999999999}`,
		`{"stream":"true"}`, `{"stream":1}`, `{"temperature":"hot"}`, `{"messages":[null]}`, `{"messages":{}}`,
		`{"messages":[{"role":"user","ROLE":"x"}]}`, `{"stream_options":{"include_usage":1}}`, `{"ſtream":true}`,
		`{"model":"a"} x`, `[]`, `{"model":`, ``,
	} {
		var fast CompletionRequest
		if json.Valid([]byte(body)) && fast.decodeFast([]byte(body)) {
			t.Errorf("fast path took %q", body)
		}
		got, gotErr := DecodeCompletionRequest([]byte(body))
		var want CompletionRequest
		wantErr := json.Unmarshal([]byte(body), &want)
		if !reflect.DeepEqual(got, want) || (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Errorf("%q: got %+v, %v; encoding/json %+v, %v", body, got, gotErr, want, wantErr)
		}
	}
}

// FuzzDecodeCompletionRequest holds DecodeCompletionRequest to
// json.Unmarshal: the same request, or the same error, for any body.
func FuzzDecodeCompletionRequest(f *testing.F) {
	for _, body := range typicalRequests {
		f.Add([]byte(body))
	}
	f.Add([]byte(`{"messages":[{"role":"user","content":null},{"content":"x","role":null}],"n":-0,"seed":9223372036854775807}`))
	f.Add([]byte(`{"stream_options":{"include_usage":false,"other":[1,{"a":"b"}]},"temperature":-1.5e-3}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got, gotErr := DecodeCompletionRequest(body)
		var want CompletionRequest
		wantErr := json.Unmarshal(body, &want)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("%q: error %v, encoding/json's %v", body, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\ngot  %+v\nwant %+v", body, got, want)
		}
	})
}

// BenchmarkDecodeCompletionRequest decodes bench-serve's request (wrk's
// post.lua) and an OpenAI SDK chat request.
func BenchmarkDecodeCompletionRequest(b *testing.B) {
	for name, body := range map[string]string{"wrk": typicalRequests[0], "chat": typicalRequests[2]} {
		b.Run(name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var r CompletionRequest
				if err := json.Unmarshal([]byte(body), &r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeCompletionRequest([]byte(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzStringValue holds StringValue to json.Unmarshal into a string.
func FuzzStringValue(f *testing.F) {
	for _, s := range []string{`"Say something."`, `"a\"b"`, `"é"`, "\"\xff\"", `"a" "b"`, `null`, `1`, `["x"]`, ` "x" `, `""`, "\"\t\""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := StringValue(raw)
		var want string
		wantOK := json.Unmarshal(raw, &want) == nil
		if ok != wantOK || (ok && got != want) {
			t.Fatalf("%q: %q, %v; encoding/json %q, %v", raw, got, ok, want, wantOK)
		}
	})
}
