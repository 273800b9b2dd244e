package grafanadouble

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// auth is how a test request signs in.
type auth struct{ user, pass, token string }

var (
	admin   = auth{user: "admin", pass: "pw"}
	noAuth  = auth{}
	badPass = auth{user: "admin", pass: "wrong"}
)

// call sends one request and returns status and decoded JSON body.
func call(t *testing.T, base string, a auth, method, path string, body any) (int, any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	} else if a.user != "" {
		req.SetBasicAuth(a.user, a.pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var v any
	if len(data) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := unmarshalNumbers(data, &v); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, v
}

func field(v any, key string) any {
	m, _ := v.(map[string]any)
	return m[key]
}

func str(v any, key string) string {
	s, _ := field(v, key).(string)
	return s
}

func intField(t *testing.T, v any, key string) int64 {
	t.Helper()
	i, ok := toInt64(field(v, key))
	if !ok {
		t.Fatalf("field %q of %v is not a number", key, v)
	}
	return i
}

// writeFiles writes name → content under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// apiCase is one request and the status and message Grafana answers.
type apiCase struct {
	name, method, path string
	body               any
	wantCode           int
	wantMsg            string // "" = not checked
}

func runCases(t *testing.T, base string, a auth, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, base, a, tc.method, tc.path, tc.body)
			if code != tc.wantCode {
				t.Fatalf("HTTP %d, want %d: %v", code, tc.wantCode, body)
			}
			if tc.wantMsg != "" && str(body, "message") != tc.wantMsg {
				t.Errorf("message %q, want %q", str(body, "message"), tc.wantMsg)
			}
		})
	}
}
