package proxy

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseUpstream(t *testing.T) {
	cases := []struct {
		in, name, url, err string
	}{
		{in: "http://127.0.0.1:8000/v1", url: "http://127.0.0.1:8000/v1"},
		{in: "http://127.0.0.1:8000", url: "http://127.0.0.1:8000/v1"},
		{in: "http://127.0.0.1:11434/", url: "http://127.0.0.1:11434/v1"},
		{in: "https://gpu.example/openai/v1/", url: "https://gpu.example/openai/v1"},
		{in: "llama=http://gpu1:8080/v1", name: "llama", url: "http://gpu1:8080/v1"},
		{in: "meta-llama/Llama-3.1-8B=http://gpu2:8000", name: "meta-llama/Llama-3.1-8B", url: "http://gpu2:8000/v1"},
		{in: "=http://x:1", err: "model name before = is empty"},
		{in: "127.0.0.1:8000", err: "http:// or https://"},
		{in: "ftp://x/v1", err: "http:// or https://"},
		{in: "http:///v1", err: "no host"},
		{in: "http://x:1/v1?key=a", err: "query"},
	}
	for _, tc := range cases {
		u, err := ParseUpstream(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || u.Name != tc.name || u.URL != tc.url {
			t.Errorf("%q: %+v %v; want %q %q", tc.in, u, err, tc.name, tc.url)
		}
	}
}

func TestParseModels(t *testing.T) {
	m, err := ParseModels("big=org/Big-8B, small ,x=y")
	if err != nil {
		t.Fatal(err)
	}
	want := []ModelMap{{"big", "org/Big-8B"}, {"small", "small"}, {"x", "y"}}
	if len(m) != len(want) {
		t.Fatalf("%+v", m)
	}
	for i := range want {
		if m[i] != want[i] {
			t.Errorf("%d: %+v, want %+v", i, m[i], want[i])
		}
	}
	for _, bad := range []string{"", ",", "a=", "=b", "a,a"} {
		if _, err := ParseModels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func(url string) Upstream { return Upstream{URL: url} }
	cases := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"none", Config{}, "no --upstream"},
		{"two defaults", Config{Upstreams: []Upstream{ok("http://a:1"), ok("http://b:1")}}, "only one URL may go without a NAME="},
		{"same name twice", Config{Upstreams: []Upstream{{"m", "http://a:1"}, {"m", "http://b:1"}}}, "routed twice"},
		{"model not routed", Config{Upstreams: []Upstream{{"a", "http://a:1"}}, Models: []ModelMap{{"x", "b"}}}, `no --upstream routes the model "b"`},
		{"negative timeout", Config{Upstreams: []Upstream{ok("http://a:1")}, Timeout: -1}, "must not be negative"},
		{"fine", Config{Upstreams: []Upstream{{"a", "http://a:1"}, ok("http://b:1")}, Models: []ModelMap{{"x", "zzz"}}}, ""},
	}
	for _, tc := range cases {
		err := tc.cfg.Validate()
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}

func TestResolve(t *testing.T) {
	p, err := New(Config{Upstreams: []Upstream{{"alpha", "http://a:1"}, {URL: "http://d:1"}},
		Models: []ModelMap{{"a", "alpha"}, {"other", "other-upstream"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ model, upModel, base string }{
		{"a", "alpha", "http://a:1/v1"},
		{"other", "other-upstream", "http://d:1/v1"},
	} {
		m, u, e := p.resolve(tc.model)
		if e != nil || m != tc.upModel || u.base != tc.base {
			t.Errorf("%q: %q %v %v", tc.model, m, u, e)
		}
	}
	if _, _, e := p.resolve("alpha"); e == nil || e.Status != http.StatusNotFound {
		t.Errorf("the upstream's own name is exposed: %v", e)
	}
	if _, _, e := p.resolve(""); e == nil || e.Status != http.StatusBadRequest {
		t.Errorf("empty model with two exposed: %v", e)
	}
}

func TestRename(t *testing.T) {
	c := &call{renameFrom: []byte(`"org/M"`), renameTo: []byte(`"m"`)}
	for in, want := range map[string]string{
		`{"id":"x","model":"org/M","choices":[]}`:  `{"id":"x","model":"m","choices":[]}`,
		`{"id":"x","model": "org/M","choices":[]}`: `{"id":"x","model": "m","choices":[]}`,
		`{"id":"x","model":"org/M2","choices":[]}`: `{"id":"x","model":"org/M2","choices":[]}`,
		`{"id":"x","choices":[{"text":"org/M"}]}`:  `{"id":"x","choices":[{"text":"org/M"}]}`,
	} {
		if got := string(c.rename([]byte(in))); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
}

func TestParseErrorBody(t *testing.T) {
	e := parseErrorBody(502, []byte("<html>Bad Gateway</html>"))
	if e.Status != 502 || e.Type != "server_error" || !strings.Contains(e.Message, "HTTP 502: <html>Bad Gateway</html>") {
		t.Errorf("%+v", e)
	}
	e = parseErrorBody(400, nil)
	if e.Type != "invalid_request_error" || !strings.Contains(e.Message, "Bad Request") {
		t.Errorf("%+v", e)
	}
}

func TestNewCallRewrites(t *testing.T) {
	p, _ := New(Config{Upstreams: []Upstream{{URL: "http://u:1"}}, Models: []ModelMap{{"m", "org/M"}}})
	c, err := p.NewCall([]byte(`{"model":"m","prompt":"x","stream":true,"stream_options":{"continuous_usage_stats":false}}`), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	body := string(c.(*call).body)
	if !strings.Contains(body, `"model":"org/M"`) || !strings.Contains(body, `"include_usage":true`) ||
		!strings.Contains(body, `"continuous_usage_stats":false`) || !c.(*call).stripUsage {
		t.Errorf("rewritten body %s", body)
	}
	c, err = p.NewCall([]byte(`{"model":"m","prompt":"x","stream":true,"stream_options":{"include_usage":true}}`), false, nil)
	if err != nil || c.(*call).stripUsage {
		t.Errorf("client asked for usage, but it would be stripped (%v)", err)
	}
	p, _ = New(Config{Upstreams: []Upstream{{URL: "http://u:1"}}, NoUsageRequest: true})
	orig := `{"model":"m","prompt":"x","stream":true}`
	c, _ = p.NewCall([]byte(orig), false, nil)
	if string(c.(*call).body) != orig {
		t.Errorf("with NoUsageRequest the body changed: %s", c.(*call).body)
	}
}
