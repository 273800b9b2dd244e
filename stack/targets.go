package stack

import (
	"context"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// TargetEngine is what one scrape target looks like from its metric
// names (vLLM, llama.cpp, TGI, SGLang, the llmmon gateway, or nothing
// known) and so which dashboard rows it feeds; Detection.Describe(Job)
// says it in one line.
type TargetEngine struct {
	Job       string
	Detection prometheus.Detection
}

// scrapeTargets lists Prometheus' targets, with the configured jobs it
// does not list yet.
func scrapeTargets(ctx context.Context, prom *prometheus.Client, cfg Config) ([]prometheus.Target, error) {
	ts, err := prom.Targets(ctx)
	if err != nil {
		return nil, err
	}
	return withPendingTargets(ts, cfg), nil
}

// withPendingTargets adds the configured jobs Prometheus does not list
// yet (it syncs targets a few seconds after start) as health "unknown".
func withPendingTargets(ts []prometheus.Target, cfg Config) []prometheus.Target {
	have := map[string]bool{}
	for _, t := range ts {
		have[t.Job] = true
	}
	for _, j := range cfg.ScrapeJobs() {
		if !have[j.Name] {
			ts = append(ts, prometheus.Target{Job: j.Name, ScrapeURL: "http://" + j.Address + j.MetricsPath(), Health: "unknown"})
		}
	}
	return ts
}

// detectEngines says, for each target Prometheus has scraped, what it
// looks like, from the metric names Prometheus stored. A target answering
// 404 has no metrics at all (Ollama). Targets not scraped yet, and
// Prometheus' own job, are left out: `llmmon doctor` tells them later.
func detectEngines(ctx context.Context, prom *prometheus.Client, targets []prometheus.Target) []TargetEngine {
	var out []TargetEngine
	for _, t := range targets {
		if t.Job == prometheus.SelfJob || t.Job == AlertmanagerJob {
			continue
		}
		if t.Health == "down" && strings.Contains(t.LastError, "404") {
			// No /metrics at all: Ollama, or an engine started without them.
			out = append(out, TargetEngine{Job: t.Job, Detection: prometheus.DetectEngine(nil)})
			continue
		}
		if t.Health != "up" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		det, err := prom.DetectJob(cctx, t.Job)
		cancel()
		if err != nil || det.Metrics == 0 {
			continue
		}
		out = append(out, TargetEngine{Job: t.Job, Detection: det})
	}
	return out
}
