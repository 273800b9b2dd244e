package prometheus

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Rules is what the rules file renders from: the alert thresholds and
// timings, the service level objectives and where the runbook lives.
type Rules struct {
	// LLMJob is the LLM server's job (LLMServerDown); SelfJob and
	// AlertmanagerJob are the stack's own, which LLMTargetDown leaves to
	// their own rules.
	LLMJob, AlertmanagerJob string

	P95LatencySeconds float64
	TTFTP95Seconds    float64
	QueueBacklog      int
	ErrorRatio        float64
	KVCacheRatio      float64
	// MinRequests guards the alerts computed from a share or percentile
	// of requests: they need that many requests in their window.
	MinRequests int
	// Window is the rate window of the threshold alerts and For their
	// hold, in Prometheus' duration syntax.
	Window, For string
	// RunbookURL is the runbook's address; each alert links to its section.
	RunbookURL string

	// Objectives as ratios (0.995), and the TTFT threshold in seconds (a
	// bucket boundary).
	Availability  float64
	TTFTSeconds   float64
	TTFTObjective float64

	// RecordWindow is the rate window of the dashboard's recording rules.
	RecordWindow string

	// Filled by RenderRules.
	Windows      []string
	Page, Ticket []Burn
}

// GatewayHistograms are llmmon's own histograms whose percentiles the
// dashboard shows, ModelHistograms the per-model OpenTelemetry GenAI
// ones, and EngineHistograms vLLM's.
func (Rules) GatewayHistograms() []string {
	return []string{"llm_request_duration_seconds", "llm_request_size_bytes", "llm_time_to_first_token_seconds", "llm_time_per_output_token_seconds"}
}

func (Rules) ModelHistograms() []string {
	return []string{"gen_ai_server_request_duration_seconds", "gen_ai_server_time_to_first_token_seconds", "gen_ai_server_time_per_output_token_seconds"}
}

// EngineHistogram is one vLLM histogram: its metric name and the name
// its recording rule spells it by (a colon cannot sit inside that part).
type EngineHistogram struct{ Metric, Record string }

func (Rules) EngineHistograms() []EngineHistogram {
	var out []EngineHistogram
	for _, m := range []string{"time_to_first_token_seconds", "inter_token_latency_seconds", "e2e_request_latency_seconds",
		"request_queue_time_seconds", "request_prefill_time_seconds", "request_decode_time_seconds"} {
		out = append(out, EngineHistogram{Metric: "vllm:" + m, Record: "vllm_" + m})
	}
	return out
}

// Burn is one multi-window burn-rate condition: the error ratio over both
// windows exceeds Factor times the error budget.
type Burn struct {
	Long, Short string
	Factor      float64
	// LongSeconds turns the long window's request rate into a count, for
	// the minimum-traffic guard.
	LongSeconds int
}

// The SRE workbook's windows for a 30-day objective (chapter 5, table
// 5-8): page when 2% of the budget burns in an hour or 5% in six hours;
// open a ticket when 10% burns in a day or in three days. Each long
// window has a short one, 1/12 of it, so the alert stops soon after the
// burn does.
var (
	pageBurns   = []Burn{{"1h", "5m", 14.4, 3600}, {"6h", "30m", 6, 6 * 3600}}
	ticketBurns = []Burn{{"1d", "2h", 3, 86400}, {"3d", "6h", 1, 3 * 86400}}
	sloWindows  = []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
)

// SLOPeriod is the period the objectives are met over.
const SLOPeriod = "30d"

// Runbook is the runbook's section for an alert: GitHub's anchor of its
// heading, the alert's name in lower case.
func (r Rules) Runbook(alert string) string {
	return r.RunbookURL + "#" + strings.ToLower(alert)
}

// OtherJobs matches, as a regex, the jobs that have their own down
// rule: the LLM server's, Prometheus' and Alertmanager's.
func (r Rules) OtherJobs() string {
	return regexp.QuoteMeta(r.LLMJob) + "|" + SelfJob + "|" + regexp.QuoteMeta(r.AlertmanagerJob)
}

// AvailabilityBudget and TTFTBudget are the error budgets: the share of
// requests allowed to fail, or to be slow.
func (r Rules) AvailabilityBudget() string { return ratio(1 - r.Availability) }
func (r Rules) TTFTBudget() string         { return ratio(1 - r.TTFTObjective) }

// AvailabilityBudgetPercent and TTFTBudgetPercent word the budgets for people.
func (r Rules) AvailabilityBudgetPercent() string { return ratio((1-r.Availability)*100) + "%" }
func (r Rules) TTFTBudgetPercent() string         { return ratio((1-r.TTFTObjective)*100) + "%" }

// AvailabilityPercent and TTFTPercent word the objectives for people.
func (r Rules) AvailabilityPercent() string { return ratio(r.Availability*100) + "%" }
func (r Rules) TTFTPercent() string         { return ratio(r.TTFTObjective*100) + "%" }

// TTFTLe matches the TTFT threshold's bucket in a PromQL regex (written
// inside a YAML block): Go clients write le="1", Python ones and
// Prometheus 3 le="1.0".
func (r Rules) TTFTLe() string {
	s := strconv.FormatFloat(r.TTFTSeconds, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		return s + `(\\.0)?`
	}
	return strings.ReplaceAll(s, ".", `\\.`)
}

// ratio prints a float without binary noise (0.005, not 0.0050000000000000044).
func ratio(v float64) string {
	return strconv.FormatFloat(math.Round(v*1e9)/1e9, 'f', -1, 64)
}

// Period is SLOPeriod, for the template.
func (Rules) Period() string { return SLOPeriod }

// BurnExpr is what one burn-rate alert's expression is built from.
type BurnExpr struct {
	SLI, Rate, Budget string
	MinRequests       int
	Burns             []Burn
}

// Burn gathers a burn-rate alert's parts for the template: the SLI's
// ratio record (without its window), the request-rate record for the
// traffic guard, the error budget and the window pairs.
func (r Rules) Burn(sli, rate, budget string, burns []Burn) BurnExpr {
	return BurnExpr{SLI: sli, Rate: rate, Budget: budget, MinRequests: r.MinRequests, Burns: burns}
}
