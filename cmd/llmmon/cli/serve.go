package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmmon/llmmon/internal/openai"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

type serveOptions struct {
	IO     IOStreams
	Server llmserver.Options

	// Gateway mode (--upstream): see gatewayConfig.
	Upstreams       []string
	UpstreamAPIKey  string
	UpstreamTimeout time.Duration
	// What an upstream's answer may hold (proxy.Config).
	UpstreamSSE            openai.Limits
	UpstreamMaxHeaderBytes int64
	UpstreamMaxBody        int64
	// ModelSet is whether --model was given (in gateway mode it restricts
	// or renames the upstream's models; otherwise all are exposed).
	ModelSet bool
	// SimFlags are simulated-engine flags given, which --upstream refuses.
	SimFlags []string
	// ModelSpeed and ModelFailRate are --model-speed and --model-fail-rate
	// as given (NAME=VALUE); RunE reads them into Server.Sim.
	ModelSpeed, ModelFailRate []string
	// LogFormat and LogLevel are the access log's --log-format and
	// --log-level.
	LogFormat string
	LogLevel  slog.Level
}

func newServeCmd(f *Factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO, Server: llmserver.DefaultOptions()}
	o := &opts.Server
	var apiKeyFile, upstreamKeyFile string
	var logLevel string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an instrumented OpenAI-compatible LLM server on :8000 (simulated engine, or --upstream a real one)",
		Long: `serve runs an OpenAI-compatible LLM server: POST /v1/completions and
/v1/chat/completions (streamed as Server-Sent Events or not), GET /v1/models,
GET /health, and GET /metrics for Prometheus.

The tokens come from an embedded SIMULATED engine, not a model: a
continuous-batching scheduler with --max-num-seqs slots, a waiting queue
(--max-queue, then 429), a KV cache of --kv-blocks blocks of --block-size
tokens, and prefill/decode timings you set. Text is real BPE tokens
(cl100k_base): fluent sentences from an embedded corpus (--mode random) or
the prompt back (--mode echo). It lets the monitoring stack be exercised on a
machine without a GPU.

--model a,b,c serves several simulated models side by side, each with its
own engine (scheduler, queue, KV cache); --model-speed NAME=X makes one
faster (2) or slower (0.5), and --model-fail-rate NAME=R fails a share of
its requests, so per-model panels have something to tell apart.

/metrics carries the seed's llm_* metrics (llm_requests_total,
llm_request_duration_seconds, llm_tokens_generated_total,
llm_request_size_bytes, llm_active_requests), OpenTelemetry's GenAI metrics
per operation and model (gen_ai_server_request_duration_seconds with
error_type on failures, gen_ai_server_time_to_first_token_seconds,
gen_ai_server_time_per_output_token_seconds, gen_ai_client_token_usage),
llm_model_active_requests, http_server_request_duration_seconds for every
request (unknown paths as route "other", and only there), and the
simulated engine's vLLM-compatible vllm:* metrics, so a vLLM dashboard works
unchanged. llm_time_to_first_token_seconds and
llm_time_per_output_token_seconds are deprecated (the gen_ai_* ones carry
the model) and go away in the next release.

Every request gets one access log line on stderr (--log-format text or
json; --log-level debug also logs /metrics and /health): request id, route,
model, stream, status, error type, tokens, TTFT and duration. An incoming
X-Request-Id is echoed (and sent upstream), else one is generated.

--host defaults to 0.0.0.0 on purpose: Prometheus runs in a Docker container
and reaches this server through host-gateway (host.docker.internal), which
arrives on the docker0 interface. A server bound to 127.0.0.1 refuses those
connections, and the scrape target shows "connection refused".

With --upstream URL, serve is instead an instrumented gateway in front of a
real engine (vLLM, llama.cpp's llama-server, TGI, SGLang, Ollama's /v1): it
forwards /v1/completions, /v1/chat/completions and /v1/models and passes the
engine's answers through chunk by chunk, measuring the same llm_* metrics
(TTFT and TPOT as the client sees them). No vllm:* metrics are served then:
scrape the engine's own /metrics next to the gateway (llmmon up --target).
Repeat --upstream NAME=URL to route the model NAME to its own engine.
--model NAME[,NAME...] restricts what is exposed; NAME=UPSTREAM_MODEL renames.
Faults answer in OpenAI's error format: 502 when the engine cannot be
reached, 504 when it sends nothing within --upstream-timeout, the engine's
own status for its 4xx/5xx, and an error event when its stream breaks off.

serve listens on every interface with no key by default, so it bounds what
any client or engine can make it hold: request headers and body
(--max-header-bytes, --max-body), the time to send them
(--read-header-timeout, --body-timeout; 408 and the connection closed),
connections at once (--max-connections), and in gateway mode the engine's
answer (--upstream-max-sse-line, --upstream-max-sse-event,
--upstream-max-header-bytes, --upstream-max-body). Error answers close the
connection rather than read a body nobody wants. Only API requests count in
the llm_* metrics: unknown paths, a wrong method or a missing key do not.

On SIGTERM or Ctrl-C, serve stops accepting, lets in-flight requests finish
for up to --shutdown-timeout, and exits 0.

Unless GOGC or GOMEMLIMIT is set, serve runs Go's garbage collector with
GOGC=400 and a 38 MiB soft memory limit: fewer collections under load, and
bounded memory with many open streams.`,
		Example: `  llmmon serve
  llmmon serve --port 8001 --model my-model --api-key secret
  llmmon serve --itl 0 --prefill-overhead 0 --prefill-per-token 0   # no simulated delay
  llmmon serve --max-num-seqs 8 --max-queue 32 --fail-rate 0.05     # see queueing, 429s and errors
  llmmon serve --model fast,slow --model-speed slow=0.25 --model-fail-rate slow=0.1
  llmmon serve --log-format json 2> access.log
  llmmon serve --upstream http://127.0.0.1:8001/v1                  # gateway in front of vLLM on :8001
  llmmon serve --upstream http://127.0.0.1:11434/v1 --model llama3.2 # Ollama, one model exposed
  llmmon serve --upstream llama=http://gpu1:8080/v1 --upstream qwen=http://gpu2:8000/v1
  curl -N localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"stream":true}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.ModelSet = cmd.Flags().Changed("model")
			if err := apiKeySecret.resolve(cmd, &opts.Server.APIKey, apiKeyFile, opts.IO.ErrOut); err != nil {
				return err
			}
			if err := upstreamKeySecret.resolve(cmd, &opts.UpstreamAPIKey, upstreamKeyFile, opts.IO.ErrOut); err != nil {
				return err
			}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if strings.HasPrefix(f.Usage, "simulated engine:") {
					opts.SimFlags = append(opts.SimFlags, "--"+f.Name)
				}
			})
			var err error
			if opts.Server.Sim.Speed, err = sim.ParseModelValues("--model-speed", opts.ModelSpeed); err != nil {
				return err
			}
			if opts.Server.Sim.ModelFailRate, err = sim.ParseModelValues("--model-fail-rate", opts.ModelFailRate); err != nil {
				return err
			}
			if opts.LogLevel, err = llmserver.ParseLogLevel(logLevel); err != nil {
				return err
			}
			if _, err := llmserver.NewLogger(io.Discard, opts.LogFormat, opts.LogLevel); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.LogFormat, "log-format", llmserver.LogText, "access log format on stderr: text or json")
	fl.StringVar(&logLevel, "log-level", "info", "least level logged: debug (also /metrics and /health), info (every request), warn (5xx answers), error")
	fl.StringVar(&o.Host, "host", o.Host, "address to listen on; 0.0.0.0 so Prometheus in Docker can scrape it via host-gateway (127.0.0.1 cannot be reached from a container)")
	fl.IntVar(&o.Port, "port", o.Port, "port to listen on")
	fl.StringVar(&o.Model, "model", o.Model, "served model names, comma-separated (the model label of every per-model metric); with --upstream, the models to expose (NAME or NAME=UPSTREAM_MODEL)")
	fl.StringVar(&o.APIKey, "api-key", "", "require \"Authorization: Bearer KEY\" on /v1/* (/metrics and /health stay open); shows in ps: prefer --api-key-file or LLMMON_API_KEY")
	sizeVar(fl, &o.MaxBody, "max-body", "largest request body, in bytes or with KiB/MiB (413 beyond)")
	sizeVar(fl, &o.MaxHeaderBytes, "max-header-bytes", "largest request headers (431 beyond)")
	fl.IntVar(&o.MaxConnections, "max-connections", o.MaxConnections, "connections served at once; more wait for one to close (0: no limit)")
	fl.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", o.ReadHeaderTimeout, "longest a client may take to send its request headers")
	fl.DurationVar(&o.BodyReadTimeout, "body-timeout", o.BodyReadTimeout, "longest a client may take to send its request body (408 beyond, and the connection is closed)")
	fl.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "close a keep-alive connection idle this long")
	fl.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long in-flight requests may finish after SIGTERM/SIGINT")
	fl.StringArrayVar(&opts.Upstreams, "upstream", nil, "gateway mode: forward to this engine's OpenAI API (http://HOST:PORT/v1) instead of simulating; repeat as NAME=URL to route model NAME")
	fl.StringVar(&opts.UpstreamAPIKey, "upstream-api-key", "", "gateway mode: send \"Authorization: Bearer KEY\" upstream (else the client's own header is passed on when --api-key is unset)")
	addSecretFileFlags(cmd, &apiKeyFile, &upstreamKeyFile)
	opts.UpstreamTimeout = proxy.DefaultTimeout
	fl.DurationVar(&opts.UpstreamTimeout, "upstream-timeout", opts.UpstreamTimeout, "gateway mode: longest wait for the engine's first byte before answering 504 (0: no limit)")
	opts.UpstreamSSE = openai.Limits{MaxLine: openai.DefaultMaxLine, MaxEvent: openai.DefaultMaxEvent}
	opts.UpstreamMaxHeaderBytes, opts.UpstreamMaxBody = openai.DefaultMaxResponseHeaderBytes, proxy.DefaultMaxBody
	sizeVar(fl, &opts.UpstreamSSE.MaxLine, "upstream-max-sse-line", "gateway mode: longest line of the engine's event stream (the stream ends with an upstream_broken error beyond)")
	sizeVar(fl, &opts.UpstreamSSE.MaxEvent, "upstream-max-sse-event", "gateway mode: largest event of the engine's event stream (upstream_broken beyond)")
	sizeVar(fl, &opts.UpstreamMaxHeaderBytes, "upstream-max-header-bytes", "gateway mode: largest response headers from the engine (502 beyond)")
	sizeVar(fl, &opts.UpstreamMaxBody, "upstream-max-body", "gateway mode: largest non-streamed answer from the engine (502 \"response too large\" beyond)")

	s := &o.Sim
	fl.IntVar(&s.MaxNumSeqs, "max-num-seqs", s.MaxNumSeqs, "simulated engine: running sequences per batch")
	fl.IntVar(&s.MaxQueue, "max-queue", s.MaxQueue, "simulated engine: waiting requests before 429")
	fl.DurationVar(&s.PrefillOverhead, "prefill-overhead", s.PrefillOverhead, "simulated engine: fixed time of a step that prefills new requests")
	fl.DurationVar(&s.PrefillPerToken, "prefill-per-token", s.PrefillPerToken, "simulated engine: prefill time per prompt token")
	fl.DurationVar(&s.ITL, "itl", s.ITL, "simulated engine: decode step (inter-token latency) with a batch of one")
	fl.Float64Var(&s.BatchSlowdown, "batch-slowdown", s.BatchSlowdown, "simulated engine: each extra running sequence slows a decode step by this fraction of --itl")
	fl.DurationVar(&s.TTFT, "ttft", s.TTFT, "simulated engine: if set, every prefill takes exactly this long (replaces --prefill-*)")
	fl.Float64Var(&s.Jitter, "jitter", s.Jitter, "simulated engine: ± fraction of random variation on each step time")
	fl.Int64Var(&s.Seed, "seed", s.Seed, "simulated engine: seed for jitter, text and faults, so runs repeat")
	fl.IntVar(&s.BlockSize, "block-size", s.BlockSize, "simulated engine: tokens per KV-cache block")
	fl.IntVar(&s.KVBlocks, "kv-blocks", s.KVBlocks, "simulated engine: KV-cache blocks in total")
	fl.IntVar(&s.MaxModelLen, "max-model-len", s.MaxModelLen, "simulated engine: most prompt + completion tokens per request (400 context_length_exceeded beyond)")
	fl.StringVar(&s.Mode, "mode", s.Mode, "simulated engine: text to generate, random (fluent corpus text) or echo (the prompt)")
	fl.Float64Var(&s.FailRate, "fail-rate", s.FailRate, "simulated engine: fraction of requests to fail on purpose (0.05 = 5%) with OpenAI-style errors")
	fl.StringArrayVar(&opts.ModelSpeed, "model-speed", nil, "simulated engine: MODEL=FACTOR runs one of --model's models faster (2) or slower (0.5); repeat per model")
	fl.StringArrayVar(&opts.ModelFailRate, "model-fail-rate", nil, "simulated engine: MODEL=RATE fails that share of one model's requests instead of --fail-rate; repeat per model")
	return cmd
}

// gatewayConfig turns the --upstream* and --model flags into the proxy's
// configuration.
func gatewayConfig(opts *serveOptions) (proxy.Config, error) {
	cfg := proxy.Config{APIKey: opts.UpstreamAPIKey, Timeout: opts.UpstreamTimeout,
		ForwardClientAuth: opts.Server.APIKey == "",
		SSE:               opts.UpstreamSSE, MaxHeaderBytes: opts.UpstreamMaxHeaderBytes, MaxBody: opts.UpstreamMaxBody}
	if len(opts.SimFlags) > 0 {
		return cfg, fmt.Errorf("%s set the simulated engine, which --upstream replaces; drop them", strings.Join(opts.SimFlags, ", "))
	}
	for _, l := range []struct {
		flag string
		v    int64
	}{{"--upstream-max-sse-line", int64(cfg.SSE.MaxLine)}, {"--upstream-max-sse-event", int64(cfg.SSE.MaxEvent)},
		{"--upstream-max-header-bytes", cfg.MaxHeaderBytes}, {"--upstream-max-body", cfg.MaxBody}} {
		if l.v < 1 { // 0 would mean the default to the proxy, never "no limit"
			return cfg, fmt.Errorf("%s must be positive, got %d", l.flag, l.v)
		}
	}
	for _, s := range opts.Upstreams {
		u, err := proxy.ParseUpstream(s)
		if err != nil {
			return cfg, err
		}
		cfg.Upstreams = append(cfg.Upstreams, u)
	}
	if opts.ModelSet {
		m, err := proxy.ParseModels(opts.Server.Model)
		if err != nil {
			return cfg, err
		}
		cfg.Models = m
	}
	return cfg, cfg.Validate()
}

func runServe(ctx context.Context, opts *serveOptions) error {
	defer tuneGC(ctx)()
	// Lines are buffered and written out every 100 ms: one write(2) per
	// request would cost more than all the rest of its instrumentation.
	logs := llmserver.NewLogWriter(opts.IO.ErrOut, 100*time.Millisecond)
	defer logs.Close()
	logger, err := llmserver.NewLogger(logs, opts.LogFormat, opts.LogLevel)
	if err != nil {
		return err
	}
	opts.Server.Logger = logger
	what := "simulated engine"
	if len(opts.Upstreams) > 0 {
		cfg, err := gatewayConfig(opts)
		if err != nil {
			return err
		}
		p, err := proxy.New(cfg)
		if err != nil {
			return err
		}
		opts.Server.Backend = p
		var ups []string
		for _, u := range p.Upstreams() {
			if u.Name != "" {
				ups = append(ups, u.Name+"="+u.URL)
			} else {
				ups = append(ups, u.URL)
			}
		}
		what = "gateway to " + strings.Join(ups, ", ")
	}
	srv, err := llmserver.New(opts.Server)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Server.Addr())
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w (is another server using the port? pass --port)", opts.Server.Addr(), err)
	}
	if opts.Server.Backend == nil {
		what = fmt.Sprintf("model %q (%s)", opts.Server.Model, what)
	}
	printStart(opts.IO.Out, what, ln.Addr())
	if warn := exposedUpstreamKey(opts.Server.Host, opts.Server.Port, opts.Server.APIKey, opts.UpstreamAPIKey); warn != "" && len(opts.Upstreams) > 0 {
		fmt.Fprintln(opts.IO.ErrOut, warn)
	}
	err = srv.Serve(ctx, ln)
	if err == nil {
		fmt.Fprintln(opts.IO.Out, "llmmon serve: stopped")
	}
	return err
}
