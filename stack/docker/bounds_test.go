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
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// hung is an Engine on a daemon that accepts and never answers, with
// bounds short enough for a test.
func hung(t *testing.T, network string) (*Engine, string) {
	t.Helper()
	host := testenv.HungDaemon(t, network)
	t.Setenv("DOCKER_HOST", host)
	t.Setenv(TimeoutEnv, "300ms")
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, host
}

// Before the bounds, every call on such a daemon waited forever.
func TestHungDaemonHandshake(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			e, host := hung(t, network)
			calls := map[string]func() error{
				"Info":      func() error { _, err := e.Info(context.Background()); return err },
				"List":      func() error { _, err := e.List(context.Background(), stack.KindContainer, nil); return err },
				"Find":      func() error { _, err := e.Find(context.Background(), stack.KindNetwork, "x-monitoring"); return err },
				"PullImage": func() error { return e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{}) },
			}
			for name, call := range calls {
				var err error
				testenv.Within(t, 30*time.Second, name, func() { err = call() })
				var te *TimeoutError
				if !errors.Is(err, stack.ErrEngineTimeout) || !errors.As(err, &te) {
					t.Fatalf("%s: err = %v, want a TimeoutError", name, err)
				}
				want := "the Docker daemon at " + host + " (DOCKER_HOST) accepted the connection but did not answer within 300ms (handshake, GET /_ping)"
				if !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "restart it") {
					t.Errorf("%s: %v\nwant it to start with %s", name, err, want)
				}
			}
		})
	}
}

// daemonThat answers the handshake and serves the rest with handler.
func daemonThat(t *testing.T, handler http.HandlerFunc) *Engine {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Api-Version", "1.41")
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			fmt.Fprint(w, "OK")
			return
		}
		handler(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "http://"))
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// A daemon that answers the handshake and then hangs on one call.
func TestCallBound(t *testing.T) {
	e := daemonThat(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	e.bounds.Call = 200 * time.Millisecond
	var err error
	testenv.Within(t, 30*time.Second, "List", func() { _, err = e.List(context.Background(), stack.KindContainer, nil) })
	if !errors.Is(err, stack.ErrEngineTimeout) || !strings.Contains(err.Error(), "did not answer within 200ms (list containers)") {
		t.Fatalf("err = %v", err)
	}
	// A stop waits its grace period on purpose: Remove's bound adds it.
	var te *TimeoutError
	testenv.Within(t, 30*time.Second, "Remove", func() {
		e.bounds.Call, e.bounds.StopGrace = 200*time.Millisecond, 100*time.Millisecond
		err = e.Remove(context.Background(), stack.KindContainer, "abc")
	})
	if !errors.As(err, &te) || te.After != 300*time.Millisecond || te.Op != "remove container abc" {
		t.Fatalf("err = %v", err)
	}
	// The caller's own cancellation stays a cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	e.bounds.Call = time.Minute
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = e.List(ctx, stack.KindContainer, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, stack.ErrEngineTimeout) {
		t.Fatalf("cancelled: %v", err)
	}
}

// A pull is bounded by its silence, not by its length.
func TestPullStall(t *testing.T) {
	lines := strings.Split(strings.TrimSpace(pullOK), "\n")
	var stall bool
	e := daemonThat(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i, l := range lines {
			if stall && i == 3 {
				<-r.Context().Done() // the registry stopped sending
				return
			}
			fmt.Fprintln(w, l)
			w.(http.Flusher).Flush()
			time.Sleep(60 * time.Millisecond)
		}
	})
	e.bounds.PullStall = 250 * time.Millisecond

	// Steady progress for longer than the stall bound: no error.
	var out bytes.Buffer
	if err := e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{Out: &out}); err != nil {
		t.Fatalf("a steady pull of %d messages 60ms apart failed: %v", len(lines), err)
	}
	if !strings.Contains(out.String(), "Downloaded newer image") {
		t.Errorf("progress:\n%s", out.String())
	}

	stall = true
	var err error
	testenv.Within(t, 30*time.Second, "a stalled pull", func() {
		err = e.PullImage(context.Background(), "prom/prometheus:v3.13.2", stack.Progress{Out: &bytes.Buffer{}})
	})
	var te *TimeoutError
	if !errors.As(err, &te) || !te.Stalled || !errors.Is(err, stack.ErrEngineTimeout) ||
		!strings.Contains(err.Error(), "pull image prom/prometheus:v3.13.2: the Docker daemon at tcp://") ||
		!strings.Contains(err.Error(), "reported no progress for 250ms") || !strings.Contains(err.Error(), "--pull never") {
		t.Fatalf("err = %v", err)
	}
}

func TestBoundsFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == TimeoutEnv {
				return v
			}
			return ""
		}
	}
	b, err := boundsFromEnv(env(""))
	if err != nil || b != (Bounds{Handshake: DefaultHandshake, Call: DefaultCall, PullStall: DefaultPullStall, StopGrace: DefaultStopGrace}) {
		t.Errorf("defaults: %+v %v", b, err)
	}
	b, err = boundsFromEnv(env("1m"))
	if err != nil || b.Handshake != time.Minute || b.Call != time.Minute || b.PullStall != DefaultPullStall {
		t.Errorf("1m: %+v %v", b, err)
	}
	for _, bad := range []string{"10", "-1s", "0s", "soon"} {
		if _, err := boundsFromEnv(env(bad)); err == nil || !strings.Contains(err.Error(), "invalid LLMMON_DOCKER_TIMEOUT=") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestTimeoutWording(t *testing.T) {
	d := newDaemon(func(string) string { return "" })
	if got, want := d.where(), "unix:///var/run/docker.sock (the default socket; DOCKER_HOST is unset)"; got != want {
		t.Errorf("where = %q, want %q", got, want)
	}
	e := &TimeoutError{Daemon: "tcp://10.0.0.9:2375 (DOCKER_HOST)", Op: "handshake, GET /_ping", After: 10 * time.Second}
	if got := e.Error(); !strings.HasPrefix(got, "the Docker daemon at tcp://10.0.0.9:2375 (DOCKER_HOST) did not take a connection within 10s") {
		t.Errorf("never connected: %s", got)
	}
}
