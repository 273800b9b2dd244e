package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// printEngines says, for each target Prometheus has scraped, what it looks
// like (vLLM, llama.cpp, TGI, SGLang, the llmmon gateway, or nothing
// known) and which dashboard rows it feeds; a target answering 404 has no
// metrics at all (Ollama). Targets not scraped yet are left out: `llmmon
// doctor` says the same later.
func printEngines(ctx context.Context, out io.Writer, res *stack.UpResult) {
	if res == nil || res.TargetsErr != nil || res.PrometheusURL == "" {
		return
	}
	client := prometheus.NewClient(res.PrometheusURL)
	var lines []string
	for _, t := range res.Targets {
		if t.Job == "prometheus" {
			continue
		}
		if t.Health == "down" && strings.Contains(t.LastError, "404") {
			// No /metrics at all: Ollama, or an engine started without them.
			lines = append(lines, prometheus.DetectEngine(nil).Describe(t.Job))
			continue
		}
		if t.Health != "up" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		det, err := client.DetectJob(cctx, t.Job)
		cancel()
		if err != nil || det.Metrics == 0 {
			continue
		}
		lines = append(lines, det.Describe(t.Job))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(out, "\nDashboard rows:")
	for _, l := range lines {
		fmt.Fprintln(out, "  "+l)
	}
}
