package cli

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// argv → options for gateway mode.
func TestServeUpstreamFlags(t *testing.T) {
	f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
	parse := func(args ...string) *serveOptions {
		t.Helper()
		var got *serveOptions
		cmd := newServeCmd(f, func(_ context.Context, o *serveOptions) error { got = o; return nil })
		cmd.SetArgs(args)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		return got
	}
	o := parse("--upstream", "http://127.0.0.1:8001", "--upstream", "qwen=http://gpu2:8000/v1",
		"--upstream-api-key", "sk-engine", "--upstream-timeout", "90s", "--model", "llama=meta-llama/Llama-3.1-8B,qwen",
		"--upstream-max-sse-line", "1MiB", "--upstream-max-sse-event", "2MiB", "--upstream-max-header-bytes", "64KiB",
		"--upstream-max-body", "10485760")
	cfg, err := gatewayConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	want := proxy.Config{
		Upstreams:         []proxy.Upstream{{URL: "http://127.0.0.1:8001/v1"}, {Name: "qwen", URL: "http://gpu2:8000/v1"}},
		APIKey:            "sk-engine",
		ForwardClientAuth: true,
		Timeout:           90 * time.Second,
		Models:            []proxy.ModelMap{{Exposed: "llama", Upstream: "meta-llama/Llama-3.1-8B"}, {Exposed: "qwen", Upstream: "qwen"}},
		SSE:               openai.Limits{MaxLine: 1 << 20, MaxEvent: 2 << 20},
		MaxHeaderBytes:    64 << 10,
		MaxBody:           10 << 20,
	}
	if !equalConfig(cfg, want) {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}

	// Defaults: no --model exposes the upstream's models; 5m first-byte
	// timeout; the client's key is passed on only without --api-key.
	o = parse("--upstream", "http://h:1/v1", "--api-key", "gw")
	cfg, err = gatewayConfig(o)
	if err != nil || cfg.Models != nil || cfg.Timeout != proxy.DefaultTimeout || cfg.ForwardClientAuth || cfg.APIKey != "" ||
		cfg.SSE.MaxLine != openai.DefaultMaxLine || cfg.SSE.MaxEvent != openai.DefaultMaxEvent ||
		cfg.MaxHeaderBytes != openai.DefaultMaxResponseHeaderBytes || cfg.MaxBody != proxy.DefaultMaxBody {
		t.Errorf("defaults: %+v %v", cfg, err)
	}

	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--upstream", "http://h:1", "--itl", "5ms", "--fail-rate", "0.1"}, "--fail-rate, --itl set the simulated engine, which --upstream replaces"},
		{[]string{"--upstream", "h:1"}, "http:// or https://"},
		{[]string{"--upstream", "http://a:1", "--upstream", "http://b:1"}, "only one URL may go without a NAME="},
		{[]string{"--upstream", "a=http://a:1", "--model", "x=b"}, `no --upstream routes the model "b"`},
		{[]string{"--upstream", "http://a:1", "--model", "x="}, "NAME or NAME=UPSTREAM_MODEL"},
		{[]string{"--upstream", "http://a:1", "--upstream-max-sse-line", "0"}, "--upstream-max-sse-line must be positive"},
	} {
		_, err := gatewayConfig(parse(tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
}

func equalConfig(a, b proxy.Config) bool {
	if len(a.Upstreams) != len(b.Upstreams) || len(a.Models) != len(b.Models) {
		return false
	}
	for i := range a.Upstreams {
		if a.Upstreams[i] != b.Upstreams[i] {
			return false
		}
	}
	for i := range a.Models {
		if a.Models[i] != b.Models[i] {
			return false
		}
	}
	return a.APIKey == b.APIKey && a.ForwardClientAuth == b.ForwardClientAuth && a.Timeout == b.Timeout &&
		a.SSE == b.SSE && a.MaxHeaderBytes == b.MaxHeaderBytes && a.MaxBody == b.MaxBody
}

// options → output: the gateway starts, says where it forwards, and
// answers through the upstream.
func TestRunServeUpstream(t *testing.T) {
	uo := llmserver.DefaultOptions()
	uo.Sim.ITL, uo.Sim.PrefillOverhead, uo.Sim.PrefillPerToken = 0, 0, 0
	up, err := llmserver.New(uo)
	if err != nil {
		t.Fatal(err)
	}
	uhs := httptest.NewServer(up.Handler())
	defer func() { uhs.Close(); up.Close() }()

	pr, pw := io.Pipe()
	opts := &serveOptions{IO: IOStreams{Out: pw, ErrOut: io.Discard}, Server: llmserver.DefaultOptions(),
		Upstreams: []string{uhs.URL}, UpstreamTimeout: time.Minute,
		UpstreamSSE:            openai.Limits{MaxLine: openai.DefaultMaxLine, MaxEvent: openai.DefaultMaxEvent},
		UpstreamMaxHeaderBytes: openai.DefaultMaxResponseHeaderBytes, UpstreamMaxBody: proxy.DefaultMaxBody}
	opts.Server.Host, opts.Server.Port = "127.0.0.1", 0
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts); pw.Close() }()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	api, _ := br.ReadString('\n')
	m := regexp.MustCompile(`^llmmon serve: gateway to (\S+) listening on \S+\n  API +(http://\S+)/v1 `).FindStringSubmatch(line + api)
	if m == nil || m[1] != uhs.URL+"/v1" {
		t.Fatalf("startup lines %q", line+api)
	}
	go io.Copy(io.Discard, pr)
	resp, err := http.Post(m[2]+"/v1/completions", "application/json", strings.NewReader(`{"model":"llmmon-sim","prompt":"hi","max_tokens":3}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"completion_tokens":3`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
