package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/load"
)

// openAIDouble answers /v1/models and streamed or plain completions; every
// failEvery-th completion answers 500.
func openAIDouble(t *testing.T, failEvery int64) (url string, calls *atomic.Int64) {
	t.Helper()
	calls = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"double"}]}`)
	})
	complete := func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		var req struct {
			Stream bool `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if failEvery > 0 && n%failEvery == 0 {
			http.Error(w, "overloaded", http.StatusServiceUnavailable)
			return
		}
		if !req.Stream {
			fmt.Fprint(w, `{"choices":[{"index":0,"text":"a b","message":{"content":"a b"}}],"usage":{"prompt_tokens":2,"completion_tokens":2}}`)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for range 3 {
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"text\":\"x\"}]}\n\n")
			w.(http.Flusher).Flush()
			time.Sleep(2 * time.Millisecond)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	}
	mux.HandleFunc("POST /v1/chat/completions", complete)
	mux.HandleFunc("POST /v1/completions", complete)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", calls
}

// argv → options.
func TestLoadOptions(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, o *loadOptions)
	}{
		{"defaults", nil, func(t *testing.T, o *loadOptions) {
			l := o.Load
			if l.URL != "http://127.0.0.1:8000/v1" || l.Endpoint != "chat" || !l.Stream || l.Concurrency != 4 || l.Rate != 0 ||
				l.Requests != 100 || l.Duration != 0 || l.PromptTokens != (load.Range{Min: 128, Max: 128}) || o.MaxErrorRatio != 0.05 || o.Output != "text" {
				t.Errorf("defaults: %+v %+v", l, o)
			}
		}},
		{"open loop for a duration", []string{"--rate", "2.5", "--duration", "1m", "--prompt-tokens", "64-256", "--stream=false",
			"--endpoint", "completions", "--model", "m", "--api-key", "k", "--max-tokens", "7", "-o", "json"}, func(t *testing.T, o *loadOptions) {
			l := o.Load
			if l.Rate != 2.5 || l.Duration != time.Minute || l.Requests != 0 || l.PromptTokens != (load.Range{Min: 64, Max: 256}) ||
				l.Stream || l.Endpoint != "completions" || l.Model != "m" || l.APIKey != "k" || l.MaxTokens != 7 || o.Output != "json" || l.Mode() != "rate" {
				t.Errorf("options: %+v", l)
			}
		}},
		{"requests and duration", []string{"-c", "16", "-n", "50", "-d", "10s", "--prompt", "Say hi."}, func(t *testing.T, o *loadOptions) {
			if o.Load.Concurrency != 16 || o.Load.Requests != 50 || o.Load.Duration != 10*time.Second || o.Load.Prompt != "Say hi." {
				t.Errorf("options: %+v", o.Load)
			}
		}},
		{"vllm bench serve's names", []string{"--base-url", "http://gpu1:8000/v1", "--num-prompts", "50", "--request-rate", "4", "--max-concurrency", "8"}, func(t *testing.T, o *loadOptions) {
			l := o.Load
			if l.URL != "http://gpu1:8000/v1" || l.Requests != 50 || l.Rate != 4 || l.MaxInFlight != 8 || !l.WaitForSlot {
				t.Errorf("options: %+v", l)
			}
		}},
		{"request rate inf", []string{"--request-rate", "inf", "--num-prompts", "20"}, func(t *testing.T, o *loadOptions) {
			if l := o.Load; l.Rate != 0 || l.Concurrency != 20 || l.Requests != 20 {
				t.Errorf("options: %+v", l)
			}
		}},
		{"request rate inf, capped", []string{"--request-rate", "inf", "--max-concurrency", "5", "-n", "20"}, func(t *testing.T, o *loadOptions) {
			if l := o.Load; l.Rate != 0 || l.Concurrency != 5 || l.WaitForSlot {
				t.Errorf("options: %+v", l)
			}
		}},
		{"max concurrency alone is the closed loop", []string{"--max-concurrency", "16"}, func(t *testing.T, o *loadOptions) {
			if l := o.Load; l.Concurrency != 16 || l.Rate != 0 {
				t.Errorf("options: %+v", l)
			}
		}},
		{"input and output length", []string{"--input-len", "64", "--output-len", "32", "--ignore-eos", "--slo-ttft", "500ms", "--slo-tpot", "40ms"}, func(t *testing.T, o *loadOptions) {
			if l := o.Load; l.PromptTokens != (load.Range{Min: 64, Max: 64}) || l.MaxTokens != 32 || !l.IgnoreEOS || l.SLOTTFT != 500*time.Millisecond || l.SLOTPOT != 40*time.Millisecond {
				t.Errorf("options: %+v", l)
			}
		}},
		{"progress interval on a pipe", nil, func(t *testing.T, o *loadOptions) {
			if o.Load.ProgressEvery != 5*time.Second {
				t.Errorf("progress every %s", o.Load.ProgressEvery)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *loadOptions
			f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
			cmd := newLoadCmd(f, func(_ context.Context, o *loadOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestLoadBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--rate", "1", "--concurrency", "2"}, "--rate (open loop) and --concurrency (closed loop) exclude each other"},
		{[]string{"--rate", "0"}, "invalid --rate 0"},
		{[]string{"--rate", "1e9"}, "invalid --rate 1e+09: at most 1e+06 requests/s can be scheduled; to load a server as hard as it goes, use --concurrency"},
		{[]string{"--rate", "NaN"}, "invalid --rate NaN: want requests per second above 0"},
		{[]string{"--rate", "fast"}, `invalid argument "fast" for "--rate" flag`},
		{[]string{"--concurrency", "0"}, "invalid --concurrency 0: want at least 1"},
		{[]string{"--requests", "0"}, "invalid --requests 0"},
		{[]string{"--duration", "-1s"}, "invalid --duration -1s"},
		{[]string{"--prompt", "hi", "--prompt-tokens", "5"}, "--prompt (a fixed text) and --prompt-tokens (random words) exclude each other"},
		{[]string{"--prompt-tokens", "256-64"}, `--prompt-tokens: invalid "256-64": want a positive count like 128 or a range like 64-256`},
		{[]string{"--max-tokens", "0"}, "invalid --max-tokens 0"},
		{[]string{"--endpoint", "embeddings"}, `invalid --endpoint "embeddings": want chat or completions`},
		{[]string{"--url", "127.0.0.1:8000"}, `invalid --url "127.0.0.1:8000"`},
		{[]string{"--max-error-ratio", "5"}, "invalid --max-error-ratio 5"},
		{[]string{"-o", "yaml"}, `invalid --output "yaml"`},
		{[]string{"--request-rate", "inf"}, "--request-rate inf sends every request at once: give --num-prompts"},
		{[]string{"--max-concurrency", "2", "--concurrency", "3"}, "--max-concurrency and --concurrency say the same"},
		{[]string{"--max-concurrency", "0"}, "invalid --max-concurrency 0"},
		{[]string{"--rate", "2", "--max-concurrency", "2", "--max-in-flight", "9"}, "exclude each other"},
		{[]string{"--output-len", "5", "--max-tokens", "6"}, "--output-len and --max-tokens say the same"},
		{[]string{"--input-len", "5", "--prompt-tokens", "6"}, "--input-len and --prompt-tokens say the same"},
		{[]string{"--input-len", "0"}, "invalid --input-len 0"},
		{[]string{"--dataset", "/nonexistent/d.jsonl"}, "--dataset: open /nonexistent/d.jsonl"},
		{[]string{"--dataset", "x.jsonl", "--prompt", "hi"}, "--dataset gives the prompts"},
		{[]string{"--slo-ttft", "1s", "--stream=false"}, "need streamed answers"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := run(t, append([]string{"load"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

// options → output, through the real command line.
func TestLoadReportsTextAndProgress(t *testing.T) {
	url, calls := openAIDouble(t, 0)
	out, errOut, err := run(t, "load", "--url", url, "-n", "12", "-c", "3", "--max-tokens", "3", "--prompt-tokens", "8", "--progress-every", "5ms")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	for _, want := range []string{"target      " + url + "  model double  (chat, streamed, closed loop, concurrency 3)",
		"requests    12 sent: 12 ok, 0 failed in ", "latency (ms)", "TTFT", "ITL", "E2E"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if calls.Load() != 12 {
		t.Errorf("server saw %d requests", calls.Load())
	}
	// Not a terminal: plain lines, no carriage returns or escapes.
	if !strings.Contains(errOut, "done ") || !strings.Contains(errOut, "/12  ") || strings.ContainsAny(errOut, "\r\033") {
		t.Errorf("progress on a pipe: %q", errOut)
	}
}

func TestLoadLiveProgressOnTerminal(t *testing.T) {
	url, _ := openAIDouble(t, 0)
	var out, errOut bytes.Buffer
	err := Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut, ErrTerminal: true},
		[]string{"load", "--url", url, "-n", "30", "-c", "1", "--progress-every", "5ms"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "\r\033[K") || strings.Count(errOut.String(), "\n") != 0 {
		t.Errorf("terminal progress must rewrite one line: %q", errOut.String())
	}
}

func TestLoadJSONOutput(t *testing.T) {
	url, _ := openAIDouble(t, 0)
	out, _, err := run(t, "load", "--url", url, "-n", "4", "--stream=false", "--endpoint", "completions", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rep load.Report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, out)
	}
	if rep.Requests.Succeeded != 4 || rep.OutputTokens != 8 || rep.TTFT != nil || rep.E2E == nil || rep.Endpoint != "completions" {
		t.Errorf("report %+v", rep)
	}
}

func TestLoadExitsNonZeroOverMaxErrorRatio(t *testing.T) {
	url, _ := openAIDouble(t, 4) // 25% fail
	out, errOut, err := run(t, "load", "--url", url, "-n", "20", "-c", "1")
	var ec ExitCodeError
	if !errors.As(err, &ec) || ec.Code != ExitError {
		t.Fatalf("err = %v, want exit code %d", err, ExitError)
	}
	if !strings.Contains(out, "503") || !strings.Contains(errOut, "FAILED: 25.0% of requests failed (5 of 20), above --max-error-ratio 5.0%") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	// The same run passes with a looser threshold.
	if _, _, err := run(t, "load", "--url", url, "-n", "20", "-c", "1", "--max-error-ratio", "0.3"); err != nil {
		t.Errorf("--max-error-ratio 0.3: %v", err)
	}
}

func TestLoadUnreachableIsOneLine(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/v1"
	srv.Close()
	var errOut bytes.Buffer
	err := Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &bytes.Buffer{}, ErrOut: &errOut}, []string{"load", "--url", url})
	code := exitCode(IOStreams{ErrOut: &errOut}, err)
	want := "Error: cannot reach " + url + ": connection refused; start the server or pass --url\n"
	if code != ExitError || errOut.String() != want {
		t.Fatalf("exit %d, stderr %q\nwant %q", code, errOut.String(), want)
	}
}

// Ctrl-C (the context cli.Main cancels on SIGINT) stops the run early and
// still prints the report.
func TestLoadInterruptedStillReports(t *testing.T) {
	url, calls := openAIDouble(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for calls.Load() < 5 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	var out, errOut bytes.Buffer
	err := Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, []string{"load", "--url", url, "-d", "1h", "-c", "2"})
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "(interrupted)") || !strings.Contains(out.String(), "latency (ms)") {
		t.Errorf("no report after the interrupt:\n%s", out.String())
	}
}

// endlessDouble begins a stream on every completion and never ends it
// until its client leaves; begun counts the streams.
func endlessDouble(t *testing.T) (url string, begun *atomic.Int64) {
	t.Helper()
	begun = new(atomic.Int64)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"object":"list","data":[{"id":"endless"}]}`)
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		begun.Add(1)
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			fmt.Fprint(w, "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", begun
}

// A run in which no request finished measured nothing: it fails, after its
// report, whether Ctrl-C or --duration ended it; -d ends it on time even
// when the server's streams never end.
func TestLoadNothingFinishedFails(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		args       []string
		interrupt  bool
	}{
		{"Ctrl-C", "FAILED: interrupted before any request finished (2 cancelled in flight): nothing was measured", []string{"-d", "1h", "-c", "2"}, true},
		{"--duration", "FAILED: no request finished within --duration 300ms; the server's answers take longer: raise --duration or lower --max-tokens (2 cancelled in flight)", []string{"-d", "300ms", "-c", "2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, begun := endlessDouble(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.interrupt {
				go func() {
					for begun.Load() < 2 {
						time.Sleep(5 * time.Millisecond)
					}
					cancel()
				}()
			}
			var out, errOut bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- Run(ctx, IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, append([]string{"load", "--url", url}, tc.args...))
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("load still runs after a minute")
			}
			var ec ExitCodeError
			if !errors.As(err, &ec) || ec.Code != ExitError {
				t.Fatalf("err = %v, want exit code %d\nstderr:\n%s", err, ExitError, errOut.String())
			}
			if !strings.Contains(errOut.String(), tc.want) || !strings.Contains(out.String(), "2 cancelled") {
				t.Errorf("stdout:\n%s\nstderr:\n%s\nwant %q", out.String(), errOut.String(), tc.want)
			}
		})
	}
}
