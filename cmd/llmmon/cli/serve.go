package cli

import (
	"context"
	"fmt"
	"net"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/llmserver"
)

type serveOptions struct {
	IO     IOStreams
	Server llmserver.Options
}

func newServeCmd(f *Factory, runF func(context.Context, *serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO, Server: llmserver.DefaultOptions()}
	o := &opts.Server
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an instrumented OpenAI-compatible LLM server (simulated engine) on :8000",
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

/metrics carries the seed's llm_* metrics (llm_requests_total,
llm_request_duration_seconds, llm_tokens_generated_total,
llm_request_size_bytes, llm_active_requests), gateway latency
(llm_time_to_first_token_seconds, llm_time_per_output_token_seconds,
llm_prompt_tokens_total), and the simulated engine's vLLM-compatible vllm:*
metrics, so a vLLM dashboard works unchanged.

--host defaults to 0.0.0.0 on purpose: Prometheus runs in a Docker container
and reaches this server through host-gateway (host.docker.internal), which
arrives on the docker0 interface. A server bound to 127.0.0.1 refuses those
connections, and the scrape target shows "connection refused".

On SIGTERM or Ctrl-C, serve stops accepting, lets in-flight requests finish
for up to --shutdown-timeout, and exits 0.`,
		Example: `  llmmon serve
  llmmon serve --port 8001 --model my-model --api-key secret
  llmmon serve --itl 0 --prefill-overhead 0 --prefill-per-token 0   # no simulated delay
  llmmon serve --max-num-seqs 8 --max-queue 32 --fail-rate 0.05     # see queueing, 429s and errors
  curl -N localhost:8000/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"stream":true}'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Host, "host", o.Host, "address to listen on; 0.0.0.0 so Prometheus in Docker can scrape it via host-gateway (127.0.0.1 cannot be reached from a container)")
	fl.IntVar(&o.Port, "port", o.Port, "port to listen on")
	fl.StringVar(&o.Model, "model", o.Model, "served model name (the model_name label of vllm:* metrics)")
	fl.StringVar(&o.APIKey, "api-key", "", "require \"Authorization: Bearer KEY\" on /v1/* (/metrics and /health stay open)")
	fl.Int64Var(&o.MaxBody, "max-body", o.MaxBody, "largest request body in bytes (413 beyond)")
	fl.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long in-flight requests may finish after SIGTERM/SIGINT")

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
	return cmd
}

func runServe(ctx context.Context, opts *serveOptions) error {
	srv, err := llmserver.New(opts.Server)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", opts.Server.Addr())
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen on %s: %w (is another server using the port? pass --port)", opts.Server.Addr(), err)
	}
	fmt.Fprintf(opts.IO.Out, "llmmon serve: model %q (simulated engine) on http://%s  (metrics: /metrics, health: /health)\n",
		opts.Server.Model, ln.Addr())
	err = srv.Serve(ctx, ln)
	if err == nil {
		fmt.Fprintln(opts.IO.Out, "llmmon serve: stopped")
	}
	return err
}
