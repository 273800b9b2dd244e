package cli

import (
	"context"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmmon/llmmon/internal/load"
)

type loadOptions struct {
	IO            IOStreams
	Load          load.Options
	Output        string
	MaxErrorRatio float64
}

func newLoadCmd(f *Factory, runF func(context.Context, *loadOptions) error) *cobra.Command {
	opts := &loadOptions{IO: f.IO, Load: load.DefaultOptions(), MaxErrorRatio: 0.05}
	var promptTokens string
	var progressEvery time.Duration
	var maxConcurrency, inputLen, outputLen int
	var dataset load.DatasetOptions
	var datasetPath string
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Drive traffic at an OpenAI-compatible server and report TTFT, ITL and latency percentiles",
		Long: `load sends chat or completion requests to any OpenAI-compatible server
(llmmon serve, vLLM, llama.cpp, TGI, SGLang, Ollama's /v1) and reports what
users feel: time to first token (TTFT), inter-token latency (ITL) and
end-to-end latency at p50/p90/p95/p99, requests/s and output tokens/s, and
errors by status. It is also how metrics appear on a new dashboard: they
only exist after requests.

Two ways to load a server:
  --rate R          open loop: Poisson arrivals at R requests/s, sent on time
                    however slowly the server answers (the honest way to find
                    a server's limits); more than --max-in-flight at once are
                    dropped and counted
  --concurrency C   closed loop: C requests always in flight (default 4)

It stops after --requests N (default 100) or --duration D, whichever comes
first; Ctrl-C stops early and still reports. --duration bounds the whole
run: requests still in flight at its end are abandoned and reported as
cancelled, not waited for. Percentiles are exact: every
sample is kept and sorted, and ITL is over every gap between tokens of every
request. TTFT and ITL need a streamed answer (the default).

Prompts are random words of --prompt-tokens (or --input-len) tokens, one
fixed --prompt, or come from --dataset: a JSONL file with one {"prompt": ...}
or {"messages": [...]} per line (and an optional "max_tokens"), or a ShareGPT
JSON file, whose replies give each request's max_tokens as in vLLM's
benchmark. --output-len fixes every request's max_tokens; --ignore-eos asks
the engine (vLLM's ignore_eos) to generate all of them.

--slo-ttft and --slo-tpot report goodput: the requests per second that
succeeded within both (time to first token; time per output token after
the first).

For people who know vllm bench serve: --base-url, --request-rate (inf sends
every request at once), --max-concurrency (with --request-rate, arrivals over
it wait for a slot) and --num-prompts work as there.

The exit status is non-zero when more than --max-error-ratio of the
requests failed, or when no request finished at all (Ctrl-C before the
first answer, or answers longer than --duration).`,
		Example: `  llmmon load                                   # 100 chat requests, 4 at a time, to :8000
  llmmon load --rate 5 --duration 1m            # Poisson arrivals, 5 req/s
  llmmon load --url http://gpu1:8000/v1 --model meta-llama/Llama-3.1-8B-Instruct \
      --concurrency 32 --prompt-tokens 256-1024 --max-tokens 256 --duration 2m
  llmmon load --endpoint completions --stream=false -o json > run.json
  llmmon load --base-url http://gpu1:8000/v1 --dataset ShareGPT_V3.json --num-prompts 500 \
      --request-rate 8 --max-concurrency 64 --slo-ttft 500ms --slo-tpot 50ms`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fl := cmd.Flags()
			if fl.Changed("rate") && fl.Changed("concurrency") {
				return fmt.Errorf("--rate (open loop) and --concurrency (closed loop) exclude each other; pass one")
			}
			if fl.Changed("rate") && opts.Load.Rate <= 0 {
				return fmt.Errorf("invalid --rate %g: want requests per second above 0", opts.Load.Rate)
			}
			if err := opts.applyVLLMStyle(fl.Changed, maxConcurrency); err != nil {
				return err
			}
			if fl.Changed("duration") && !fl.Changed("requests") {
				opts.Load.Requests = 0 // the duration alone stops the run
			}
			if fl.Changed("requests") && opts.Load.Requests < 1 {
				return fmt.Errorf("invalid --requests %d: want at least 1", opts.Load.Requests)
			}
			if fl.Changed("duration") && opts.Load.Duration <= 0 {
				return fmt.Errorf("invalid --duration %s: want a positive duration like 30s", opts.Load.Duration)
			}
			if fl.Changed("prompt") && fl.Changed("prompt-tokens") {
				return fmt.Errorf("--prompt (a fixed text) and --prompt-tokens (random words) exclude each other; pass one")
			}
			r, err := load.ParseRange(promptTokens)
			if err != nil {
				return fmt.Errorf("--prompt-tokens: %w", err)
			}
			opts.Load.PromptTokens = r
			if err := opts.applyLengths(fl.Changed, inputLen, outputLen, datasetPath != ""); err != nil {
				return err
			}
			if datasetPath != "" {
				if fl.Changed("prompt") || fl.Changed("prompt-tokens") {
					return fmt.Errorf("--dataset gives the prompts; drop --prompt and --prompt-tokens")
				}
				dataset.InputLen, dataset.OutputLen, dataset.Seed = inputLen, outputLen, opts.Load.Seed
				if opts.Load.Dataset, err = load.LoadDataset(datasetPath, dataset); err != nil {
					return err
				}
			}
			if opts.MaxErrorRatio < 0 || opts.MaxErrorRatio > 1 {
				return fmt.Errorf("invalid --max-error-ratio %g: want a fraction from 0 to 1, like 0.05", opts.MaxErrorRatio)
			}
			if progressEvery <= 0 {
				progressEvery = 5 * time.Second
				if opts.IO.DecorateErr() {
					progressEvery = 500 * time.Millisecond
				}
			}
			opts.Load.ProgressEvery = progressEvery
			if err := opts.Load.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLoad(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	lo := &opts.Load
	fl.StringVar(&lo.URL, "url", lo.URL, "the server's OpenAI API base URL")
	fl.StringVar(&lo.Model, "model", "", "model to request (default: the first one /models lists)")
	fl.StringVar(&lo.APIKey, "api-key", os.Getenv("OPENAI_API_KEY"), "Bearer token for the server (default $OPENAI_API_KEY)")
	fl.StringVar(&lo.Endpoint, "endpoint", lo.Endpoint, "chat (/chat/completions) or completions (/completions)")
	fl.BoolVar(&lo.Stream, "stream", lo.Stream, "ask for streamed answers (needed for TTFT and ITL)")
	fl.IntVar(&lo.MaxTokens, "max-tokens", lo.MaxTokens, "max_tokens of each request")
	fl.StringVar(&promptTokens, "prompt-tokens", lo.PromptTokens.String(), "prompt length in tokens: a count like 128, or a range like 64-256 drawn uniformly")
	fl.StringVar(&lo.Prompt, "prompt", "", "send this prompt in every request instead of random words (servers may cache a repeated prompt)")
	fl.Float64Var(&lo.Rate, "rate", 0, "open loop: Poisson arrivals at this many requests/s")
	fl.IntVarP(&lo.Concurrency, "concurrency", "c", lo.Concurrency, "closed loop: requests kept in flight")
	fl.IntVar(&lo.MaxInFlight, "max-in-flight", lo.MaxInFlight, "open loop: arrivals beyond this many in flight are dropped and counted")
	fl.IntVarP(&lo.Requests, "requests", "n", lo.Requests, "stop after this many requests")
	fl.DurationVarP(&lo.Duration, "duration", "d", 0, "stop sending after this long, like 30s or 5m")
	fl.DurationVar(&lo.Timeout, "timeout", lo.Timeout, "give up on one request after this long")
	fl.Float64Var(&opts.MaxErrorRatio, "max-error-ratio", opts.MaxErrorRatio, "exit non-zero when more than this fraction of requests fail")
	fl.Uint64Var(&lo.Seed, "seed", 0, "seed the open loop's arrival times, for repeatable runs (0: random)")
	fl.DurationVar(&progressEvery, "progress-every", 0, "progress line interval (default 500ms when stderr is a terminal, else 5s)")
	fl.MarkHidden("progress-every")
	fl.StringVar(&datasetPath, "dataset", "", "take prompts (and their max_tokens) from this JSONL or ShareGPT JSON file")
	fl.StringVar(&dataset.Format, "dataset-format", load.FormatAuto, "auto, jsonl or sharegpt")
	fl.IntVar(&inputLen, "input-len", 0, "prompt length in tokens: random prompts of this length, or the dataset's cut or repeated to it")
	fl.IntVar(&outputLen, "output-len", 0, "max_tokens of every request, whatever the dataset says")
	fl.BoolVar(&lo.IgnoreEOS, "ignore-eos", false, "send vLLM's ignore_eos, so answers run to max_tokens")
	fl.DurationVar(&lo.SLOTTFT, "slo-ttft", 0, "goodput: a request is good only with a time to first token within this")
	fl.DurationVar(&lo.SLOTPOT, "slo-tpot", 0, "goodput: a request is good only with a time per output token within this")
	fl.IntVar(&maxConcurrency, "max-concurrency", 0, "vllm bench serve's: requests in flight at most (alone: --concurrency; with --request-rate, arrivals wait for a slot)")
	// vllm bench serve's names for flags load already has.
	fl.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		switch name {
		case "base-url":
			name = "url"
		case "request-rate":
			name = "rate"
		case "num-prompts":
			name = "requests"
		}
		return pflag.NormalizedName(name)
	})
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

func runLoad(ctx context.Context, opts *loadOptions) error {
	errOut := opts.IO.ErrOut
	// The live line is redrawn in place, on stderr, only when stderr is a
	// terminal that takes escapes; elsewhere each progress is a line.
	live := opts.IO.DecorateErr()
	opts.Load.Progress = func(p load.Progress) {
		if live {
			fmt.Fprintf(errOut, "\r\033[K%s", p)
		} else {
			fmt.Fprintln(errOut, p)
		}
	}
	rep, err := load.Run(ctx, opts.Load)
	if live {
		fmt.Fprint(errOut, "\r\033[K")
	}
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		err = writeJSON(opts.IO.Out, rep)
	} else {
		err = rep.WriteText(opts.IO.Out)
	}
	if err != nil {
		return err
	}
	if rep.Requests.Dropped > 0 {
		fmt.Fprintf(errOut, "warning: %d arrivals were dropped with --max-in-flight %d requests in flight; the server cannot keep up with --rate %g\n",
			rep.Requests.Dropped, opts.Load.MaxInFlight, opts.Load.Rate)
	}
	if finished := rep.Requests.Succeeded + rep.Requests.Failed; finished == 0 {
		// Nothing measured is never a pass, whatever the error ratio.
		why := "no request finished"
		switch {
		case rep.Interrupted:
			why = "interrupted before any request finished"
		case opts.Load.Duration > 0 && rep.Requests.Cancelled > 0:
			why = fmt.Sprintf("no request finished within --duration %s; the server's answers take longer: raise --duration or lower --max-tokens", opts.Load.Duration)
		}
		fmt.Fprintf(errOut, "FAILED: %s (%d cancelled in flight): nothing was measured\n", why, rep.Requests.Cancelled)
		return ExitCodeError{Code: ExitError}
	}
	if rep.ErrorRatio > opts.MaxErrorRatio {
		fmt.Fprintf(errOut, "FAILED: %.1f%% of requests failed (%d of %d), above --max-error-ratio %.1f%%\n",
			100*rep.ErrorRatio, rep.Requests.Failed, rep.Requests.Succeeded+rep.Requests.Failed, 100*opts.MaxErrorRatio)
		return ExitCodeError{Code: ExitError}
	}
	return nil
}

// applyVLLMStyle gives --request-rate inf and --max-concurrency the meaning
// vllm bench serve gives them.
func (o *loadOptions) applyVLLMStyle(changed func(string) bool, maxConcurrency int) error {
	lo := &o.Load
	if changed("max-concurrency") && maxConcurrency < 1 {
		return fmt.Errorf("invalid --max-concurrency %d: want at least 1", maxConcurrency)
	}
	if changed("max-concurrency") && changed("concurrency") {
		return fmt.Errorf("--max-concurrency and --concurrency say the same; pass one")
	}
	if math.IsInf(lo.Rate, 1) {
		// Every request at once: a closed loop as wide as the cap, or as
		// the run.
		lo.Rate = 0
		switch {
		case changed("max-concurrency"):
			lo.Concurrency = maxConcurrency
		case changed("requests") && !changed("duration"):
			lo.Concurrency = lo.Requests
		default:
			return fmt.Errorf("--request-rate inf sends every request at once: give --num-prompts (or --requests), or cap it with --max-concurrency")
		}
		if changed("concurrency") {
			return fmt.Errorf("--request-rate inf and --concurrency exclude each other; use --max-concurrency")
		}
		return nil
	}
	if !changed("max-concurrency") {
		return nil
	}
	if changed("rate") {
		if changed("max-in-flight") {
			return fmt.Errorf("--max-concurrency (arrivals wait) and --max-in-flight (arrivals are dropped) exclude each other; pass one")
		}
		lo.MaxInFlight, lo.WaitForSlot = maxConcurrency, true
		return nil
	}
	lo.Concurrency = maxConcurrency
	return nil
}

// applyLengths maps --input-len and --output-len onto the random prompts'
// length and max_tokens; with a dataset, LoadDataset applies them.
func (o *loadOptions) applyLengths(changed func(string) bool, inputLen, outputLen int, dataset bool) error {
	lo := &o.Load
	switch {
	case changed("input-len") && inputLen < 1:
		return fmt.Errorf("invalid --input-len %d: want at least 1", inputLen)
	case changed("output-len") && outputLen < 1:
		return fmt.Errorf("invalid --output-len %d: want at least 1", outputLen)
	case changed("input-len") && changed("prompt-tokens"):
		return fmt.Errorf("--input-len and --prompt-tokens say the same; pass one")
	case changed("input-len") && changed("prompt"):
		return fmt.Errorf("--input-len and --prompt (one fixed text) exclude each other; pass one")
	case changed("output-len") && changed("max-tokens"):
		return fmt.Errorf("--output-len and --max-tokens say the same; pass one")
	}
	if outputLen > 0 {
		lo.MaxTokens = outputLen
	}
	if inputLen > 0 && !dataset {
		lo.PromptTokens = load.Range{Min: inputLen, Max: inputLen}
	}
	return nil
}
