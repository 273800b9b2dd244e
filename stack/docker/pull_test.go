package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

// fakeDaemon answers the few Engine API calls a pull makes, streaming the
// progress messages a registry pull produces.
func fakeDaemon(t *testing.T, pullStream string) *Engine {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		switch {
		case strings.HasSuffix(r.URL.Path, "/_ping"):
			fmt.Fprint(w, "OK")
		case strings.HasSuffix(r.URL.Path, "/images/create"):
			if got := r.URL.Query().Get("fromImage"); got != "docker.io/prom/prometheus" || r.URL.Query().Get("tag") != "v3.13.2" {
				t.Errorf("pulled %q tag %q", got, r.URL.Query().Get("tag"))
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, pullStream)
		case strings.HasSuffix(r.URL.Path, "/version"):
			fmt.Fprint(w, `{"Version":"20.10.24+dfsg1","ApiVersion":"1.41","Os":"linux"}`)
		case strings.HasSuffix(r.URL.Path, "/info"):
			fmt.Fprint(w, `{"OperatingSystem":"Debian GNU/Linux 12 (bookworm)"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "http://"))
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const pullOK = `{"status":"Pulling from prom/prometheus","id":"v3.13.2"}
{"status":"Pulling fs layer","progressDetail":{},"id":"9fa9226be034"}
{"status":"Pulling fs layer","progressDetail":{},"id":"1617e25568b2"}
{"status":"Downloading","progressDetail":{"current":524288,"total":4194304},"progress":"[======\u003e      ]  524.3kB/4.194MB","id":"9fa9226be034"}
{"status":"Downloading","progressDetail":{"current":1048576,"total":2097152},"progress":"[=========\u003e   ]  1.049MB/2.097MB","id":"1617e25568b2"}
{"status":"Download complete","progressDetail":{},"id":"9fa9226be034"}
{"status":"Pull complete","progressDetail":{},"id":"9fa9226be034"}
{"status":"Pull complete","progressDetail":{},"id":"1617e25568b2"}
{"status":"Digest: sha256:0123456789abcdef"}
{"status":"Status: Downloaded newer image for prom/prometheus:v3.13.2"}
`

func TestPullProgress(t *testing.T) {
	e := fakeDaemon(t, pullOK)
	var plain, tty bytes.Buffer
	if err := e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{Out: &plain}); err != nil {
		t.Fatal(err)
	}
	if err := e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{Out: &tty, Terminal: true}); err != nil {
		t.Fatal(err)
	}
	// Plain lines: one per status change, no bars, no cursor movement.
	for _, want := range []string{"9fa9226be034: Pulling fs layer\n", "1617e25568b2: Pull complete\n", "Status: Downloaded newer image for prom/prometheus:v3.13.2\n"} {
		if !strings.Contains(plain.String(), want) {
			t.Errorf("plain output lacks %q:\n%s", want, plain.String())
		}
	}
	if strings.Contains(plain.String(), "\x1b[") || strings.Contains(plain.String(), "[======") {
		t.Errorf("plain output has terminal control or bars:\n%q", plain.String())
	}
	// A terminal gets a bar per layer, redrawn in place.
	for _, want := range []string{"9fa9226be034: Downloading [======>", "1617e25568b2: Downloading [=========================>", "\x1b["} {
		if !strings.Contains(tty.String(), want) {
			t.Errorf("terminal output lacks %q:\n%q", want, tty.String())
		}
	}
}

func TestPullErrorInStream(t *testing.T) {
	e := fakeDaemon(t, `{"status":"Pulling from prom/prometheus","id":"v3.13.2"}
{"errorDetail":{"message":"manifest for prom/prometheus:v3.13.2 not found: manifest unknown"},"error":"manifest for prom/prometheus:v3.13.2 not found: manifest unknown"}
`)
	err := e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{Out: &bytes.Buffer{}})
	if err == nil || !strings.Contains(err.Error(), "manifest unknown") {
		t.Fatalf("err = %v", err)
	}
}

func TestInfo(t *testing.T) {
	e := fakeDaemon(t, "")
	info, err := e.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "20.10.24+dfsg1" || info.OS != "linux" || info.APIVersion != "1.41" || !info.SupportsHostGateway() || !info.Remote() {
		t.Errorf("info %+v", info)
	}
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	e2, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e2.Info(context.Background()); !errors.Is(err, stack.ErrEngineUnreachable) {
		t.Errorf("unreachable engine: %v", err)
	}
}
