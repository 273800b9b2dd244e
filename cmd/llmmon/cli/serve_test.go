package cli

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmserver"
)

func TestServeFlags(t *testing.T) {
	var got *serveOptions
	f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
	cmd := newServeCmd(f, func(_ context.Context, o *serveOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--host", "127.0.0.1", "--port", "8123", "--model", "m,n", "--api-key", "k",
		"--model-speed", "n=0.5", "--model-fail-rate", "n=0.25", "--model-speed", "m=2", "--log-format", "json", "--log-level", "debug",
		"--max-body", "2048", "--shutdown-timeout", "3s", "--max-header-bytes", "16KiB", "--max-connections", "10",
		"--read-header-timeout", "2s", "--body-timeout", "4s", "--idle-timeout", "5s",
		"--max-num-seqs", "4", "--max-queue", "9", "--prefill-overhead", "5ms", "--prefill-per-token", "1us",
		"--itl", "10ms", "--batch-slowdown", "0.5", "--ttft", "50ms", "--jitter", "0", "--seed", "7",
		"--block-size", "8", "--kv-blocks", "100", "--max-model-len", "512", "--mode", "echo", "--fail-rate", "0.05"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := llmserver.DefaultOptions()
	want.Host, want.Port, want.Model, want.APIKey, want.MaxBody = "127.0.0.1", 8123, "m,n", "k", 2048
	want.ShutdownTimeout = 3 * time.Second
	want.MaxHeaderBytes, want.MaxConnections = 16<<10, 10
	want.ReadHeaderTimeout, want.BodyReadTimeout, want.IdleTimeout = 2*time.Second, 4*time.Second, 5*time.Second
	s := &want.Sim
	s.MaxNumSeqs, s.MaxQueue, s.PrefillOverhead, s.PrefillPerToken = 4, 9, 5*time.Millisecond, time.Microsecond
	s.ITL, s.BatchSlowdown, s.TTFT, s.Jitter, s.Seed = 10*time.Millisecond, 0.5, 50*time.Millisecond, 0, 7
	s.BlockSize, s.KVBlocks, s.MaxModelLen, s.Mode, s.FailRate = 8, 100, 512, "echo", 0.05
	s.Speed, s.ModelFailRate = map[string]float64{"n": 0.5, "m": 2}, map[string]float64{"n": 0.25}
	if fmt.Sprintf("%+v", got.Server) != fmt.Sprintf("%+v", want) {
		t.Fatalf("options\n got %+v\nwant %+v", got.Server, want)
	}
	if got.LogFormat != "json" || got.LogLevel != slog.LevelDebug {
		t.Errorf("log format %q level %v, want json debug", got.LogFormat, got.LogLevel)
	}

	// Defaults: 0.0.0.0:8000, so Prometheus in Docker can scrape it.
	cmd = newServeCmd(f, func(_ context.Context, o *serveOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Server.Addr() != "0.0.0.0:8000" || got.Server.Model != "llmmon-sim" || got.Server.MaxBody != 1<<20 {
		t.Fatalf("defaults: %+v", got.Server)
	}
	if got.LogFormat != "text" || got.LogLevel != slog.LevelInfo {
		t.Errorf("log defaults: %q %v, want text info", got.LogFormat, got.LogLevel)
	}
	if !strings.Contains(cmd.Flag("host").Usage, "host-gateway") {
		t.Error("--host help must say why the default is 0.0.0.0")
	}
}

func TestServeBadFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--mode poetry":                           "--mode",
		"--kv-blocks 1":                           "raise --kv-blocks",
		"--max-body 0":                            "--max-body",
		"--max-body 1MB":                          `invalid size "1MB"`,
		"--max-connections -1":                    "--max-connections",
		"--fail-rate 1.5":                         "--fail-rate",
		"--port 70000":                            "--port",
		"--itl fast":                              "invalid argument",
		"--max-num-seqs 0 --seed 1":               "--max-num-seqs",
		"--model-speed slow":                      "MODEL=NUMBER",
		"--model a --model-speed b=2":             "no model \"b\"",
		"--model a,b --model-fail-rate b=2":       "[0, 1]",
		"--model a,a":                             "twice",
		"--log-format xml":                        "--log-format",
		"--log-level loud":                        "--log-level",
		"--upstream http://x:1 --model-speed a=2": "--model-speed set the simulated engine",
	} {
		_, _, err := run(t, append([]string{"serve"}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve %s: err = %v, want it to mention %q", args, err, want)
		}
	}
}

// serve starts through Run, answers, and returns nil once its context is
// cancelled (what SIGTERM does in Main).
func TestServeRunsUntilCancelled(t *testing.T) {
	port := testenv.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut},
			[]string{"serve", "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--itl", "1ms"})
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	testenv.Eventually(t, 10*time.Second, "serve answers /health", func() error {
		resp, err := http.Get(url + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
	resp, err := http.Post(url+"/v1/completions", "application/json",
		strings.NewReader(`{"model":"llmmon-sim","prompt":"hi","max_tokens":3}`))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("completion: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel, want nil (exit 0)", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	if !strings.Contains(out.String(), fmt.Sprintf("127.0.0.1:%d", port)) || !strings.Contains(out.String(), "stopped") {
		t.Errorf("output: %q", out.String())
	}
	// The access log, flushed on the way out: the completion at Info; the
	// health checks only at Debug.
	if log := errOut.String(); !strings.Contains(log, "msg=request") || !strings.Contains(log, "route=/v1/completions") ||
		!strings.Contains(log, "status=200") || strings.Contains(log, "route=/health") {
		t.Errorf("access log on stderr: %q", log)
	}
}
