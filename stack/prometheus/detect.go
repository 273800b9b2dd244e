package prometheus

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// Engine detection: what is behind a scrape target, told from the metric
// names it exposes, and which rows of the llmmon dashboard it feeds.

// Dashboard row titles (dashboards/llm-server.json).
const (
	RowOverview       = "Overview"
	RowModels         = "Models"
	RowGatewayLatency = "Gateway latency"
	RowReplicas       = "Replicas"
	RowVLLM           = "Engine (vLLM)"
	RowLlamaCpp       = "llama.cpp"
	RowTGI            = "TGI"
	RowSGLang         = "SGLang"
	RowGPU            = "GPU (dcgm-exporter)"
)

// Engine is an inference engine recognised by the prefix of its own
// metrics.
type Engine struct {
	Name   string // vLLM, llama.cpp, TGI, SGLang
	Prefix string // vllm:, llamacpp:, tgi_, sglang:
	Row    string // the dashboard row its metrics feed
}

// Engines are the engines recognised, in the order they are reported.
var Engines = []Engine{
	{Name: "vLLM", Prefix: "vllm:", Row: RowVLLM},
	{Name: "llama.cpp", Prefix: "llamacpp:", Row: RowLlamaCpp},
	{Name: "TGI", Prefix: "tgi_", Row: RowTGI},
	{Name: "SGLang", Prefix: "sglang:", Row: RowSGLang},
}

// gatewayMetric is the seed's request counter: present on llmmon serve (the
// simulated engine or --upstream), the seed's server, and any server
// instrumented the seed's way.
const gatewayMetric = llmmetrics.Requests

// genAIMetric is OpenTelemetry's GenAI request duration, which llmmon serve
// exports per model once it has served one.
const genAIMetric = llmmetrics.GenAIRequestDuration

// Detection is what a target's metric names say about it.
type Detection struct {
	// Engines whose own metrics are present (usually one).
	Engines []Engine
	// Gateway: the seed's llm_* metrics are present.
	Gateway bool
	// GenAI: OpenTelemetry's GenAI server metrics are present (per model).
	GenAI bool
	// GPU: dcgm-exporter's DCGM_* metrics are present.
	GPU bool
	// Metrics is how many metric names were looked at; 0 means the target
	// serves none (Ollama has no /metrics at all).
	Metrics int
}

// DetectEngine classifies a target from its metric names (as exposed,
// or as Prometheus stored them: histogram _bucket/_sum/_count and
// counter _total suffixes do not matter).
func DetectEngine(names []string) Detection {
	d := Detection{Metrics: len(names)}
	found := map[string]bool{}
	for _, n := range names {
		for _, e := range Engines {
			if strings.HasPrefix(n, e.Prefix) {
				found[e.Name] = true
			}
		}
		switch {
		case n == gatewayMetric || n == strings.TrimSuffix(gatewayMetric, "_total"):
			d.Gateway = true
		case strings.HasPrefix(n, genAIMetric):
			d.GenAI = true
		case strings.HasPrefix(n, "DCGM_"):
			d.GPU = true
		}
	}
	for _, e := range Engines {
		if found[e.Name] {
			d.Engines = append(d.Engines, e)
		}
	}
	return d
}

// Kind names the target for people: "vLLM", "llama.cpp", "llmmon gateway",
// "vLLM + llmmon gateway" (llmmon serve's simulated engine), "GPU exporter",
// or "no engine metrics (Ollama or unknown)".
func (d Detection) Kind() string {
	var parts []string
	for _, e := range d.Engines {
		parts = append(parts, e.Name)
	}
	if d.Gateway {
		parts = append(parts, "llmmon gateway")
	}
	if d.GPU {
		parts = append(parts, "GPU exporter")
	}
	if len(parts) == 0 {
		return "no engine metrics (Ollama or unknown)"
	}
	return strings.Join(parts, " + ")
}

// Rows are the dashboard rows this target feeds.
func (d Detection) Rows() []string {
	var rows []string
	if d.Gateway {
		rows = append(rows, RowOverview)
	}
	if d.GenAI {
		rows = append(rows, RowModels)
	}
	if d.Gateway {
		rows = append(rows, RowGatewayLatency, RowReplicas)
	}
	for _, e := range d.Engines {
		rows = append(rows, e.Row)
	}
	if d.GPU {
		rows = append(rows, RowGPU)
	}
	return rows
}

// Describe is one line for doctor and up: what the target looks like and
// which rows apply, or what to do when none does.
func (d Detection) Describe(target string) string {
	rows := d.Rows()
	if len(rows) == 0 {
		return fmt.Sprintf("target %s has no engine or llm_* metrics (Ollama serves none): no dashboard row applies; put `llmmon serve --upstream URL` in front of it for the Overview, Models, Gateway latency and Replicas rows", target)
	}
	verb := "rows apply"
	if len(rows) == 1 {
		verb = "row applies"
	}
	return fmt.Sprintf("target %s looks like %s: %s %s", target, d.Kind(), strings.Join(rows, ", "), verb)
}

// JobMetricNames lists the metric names Prometheus holds for a scrape job.
func (c *Client) JobMetricNames(ctx context.Context, job string) ([]string, error) {
	var names []string
	q := url.Values{"match[]": {fmt.Sprintf(`{job=%q}`, job)}}
	if err := c.Get(ctx, "/api/v1/label/__name__/values?"+q.Encode(), &names); err != nil {
		return nil, fmt.Errorf("metric names of job %q: %w", job, err)
	}
	return names, nil
}

// DetectJob classifies a scrape job from what Prometheus has stored.
func (c *Client) DetectJob(ctx context.Context, job string) (Detection, error) {
	names, err := c.JobMetricNames(ctx, job)
	if err != nil {
		return Detection{}, err
	}
	return DetectEngine(names), nil
}
