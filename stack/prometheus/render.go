// Package prometheus renders Prometheus' configuration and alert rules for
// the stack, and talks to Prometheus' HTTP API.
package prometheus

import (
	"strconv"

	"github.com/llmmon/llmmon/templates"
)

// Port is where Prometheus listens in its container: the image's port,
// the one Grafana's datasource and the self-scrape job use.
const Port = 9090

// SelfJob is the job of Prometheus scraping its own metrics, first in
// every rendered config.
const SelfJob = "prometheus"

// SelfScrape is that job as the rendered config has it.
func SelfScrape() Job {
	return Job{Name: SelfJob, Address: "localhost:" + strconv.Itoa(Port), MetricsPath: "/metrics"}
}

// Paths of the rendered files, relative to --dir. Inside the container the
// prometheus/ folder becomes /etc/prometheus, so rule_files stays relative.
const (
	ConfigFile = "prometheus/prometheus.yml"
	RulesFile  = "prometheus/rules/llmmon.rules.yml"
	// RuleFilesGlob is relative to prometheus.yml, so the same file works in
	// the container and for a local prometheus process.
	RuleFilesGlob = "rules/*.yml"
)

// Job is one scrape job.
type Job struct {
	Name        string
	Address     string
	MetricsPath string
}

// Settings is what prometheus.yml renders from.
type Settings struct {
	ScrapeInterval     string // Prometheus duration syntax
	EvaluationInterval string
	// Jobs are every scrape job, SelfScrape first.
	Jobs []Job
	// Alertmanagers are the host:port addresses alerts are sent to.
	Alertmanagers []string
}

// RenderConfig returns prometheus.yml; Jobs must start with SelfScrape.
func RenderConfig(s Settings) ([]byte, error) {
	return templates.Render("prometheus.yml.tmpl", struct {
		Settings
		RuleFiles string
	}{s, RuleFilesGlob})
}

// RenderRules returns the llmmon rules file: recording rules, then the
// alert rules.
func RenderRules(r Rules) ([]byte, error) {
	r.Windows = sloWindows
	r.Page, r.Ticket = pageBurns, ticketBurns
	return templates.Render("llmmon.rules.yml.tmpl", r)
}
