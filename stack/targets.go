package stack

import (
	"context"
	"encoding/json"
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

// MarshalJSON says it as status -o json shows it.
func (e TargetEngine) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Job    string   `json:"job"`
		Engine string   `json:"engine"`
		Rows   []string `json:"rows"`
	}{e.Job, e.Detection.Kind(), e.Detection.Rows()})
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
		have[t.ScrapeURL] = true
	}
	for _, j := range cfg.ScrapeJobs() {
		for i, u := range j.ScrapeURLs() {
			if !have[u] {
				ts = append(ts, prometheus.Target{Job: j.Name, Instance: j.Addrs()[i], ScrapeURL: u, Health: "unknown"})
			}
		}
	}
	return ts
}

// detectEngines says, for each target Prometheus has scraped, what it
// looks like, from the metric names Prometheus stored. A target answering
// 404 has no metrics at all (Ollama). Targets not scraped yet, and
// Prometheus' own job, are left out: `llmmon doctor` tells them later.
//
// Detection is per job: the replicas of one job run one engine, so the
// first of its targets that tells is asked.
func detectEngines(ctx context.Context, prom *prometheus.Client, targets []prometheus.Target) []TargetEngine {
	var out []TargetEngine
	done := map[string]bool{}
	for _, t := range targets {
		if t.Job == prometheus.SelfJob || t.Job == AlertmanagerJob || done[t.Job] {
			continue
		}
		if t.Health == "down" && strings.Contains(t.LastError, "404") {
			// No /metrics at all: Ollama, or an engine started without them.
			out = append(out, TargetEngine{Job: t.Job, Detection: prometheus.DetectEngine(nil)})
			done[t.Job] = true
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
		done[t.Job] = true
	}
	return out
}
