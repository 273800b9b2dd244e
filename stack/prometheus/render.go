// Package prometheus renders Prometheus' configuration and alert rules for
// the stack, and talks to Prometheus' HTTP API.
package prometheus

import (
	"encoding/json"
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
	// TargetsDir holds one file_sd file per job, which `llmmon target`
	// rewrites in the running container.
	TargetsDir = "prometheus/targets"
	// SecretsDir holds the password and token files, copied into the
	// container only (mode 0400), never written to --dir. It is beside
	// prometheus/, not in it: render --compose mounts that folder
	// read-only, and Docker cannot create a secret's mount point there.
	SecretsDir = "prometheus-secrets"
	// SDRefreshInterval bounds how long Prometheus takes to see a changed
	// targets file when it misses the file's change notification.
	SDRefreshInterval = "10s"
)

// TargetsFile is the file_sd file of a job, relative to --dir.
func TargetsFile(job string) string { return TargetsDir + "/" + job + ".json" }

// relToConfig is a path under prometheus/ as prometheus.yml names it:
// Prometheus resolves it against the config file's folder.
func relToConfig(p string) string { return p[len("prometheus/"):] }

// Job is one scrape job.
type Job struct {
	Name        string
	MetricsPath string
	// Address is a static single target (Prometheus' own job only); other
	// jobs read Addresses from their targets file.
	Address   string
	Addresses []string
	Scheme    string // "" for http
	Labels    map[string]string
	// TLS and auth; the files are paths under --dir (prometheus/...).
	InsecureSkipVerify bool
	CAFile             string
	Username           string
	PasswordFile       string
	BearerTokenFile    string
}

// SDFile is the job's targets file as prometheus.yml names it.
func (j Job) SDFile() string { return relToConfig(TargetsFile(j.Name)) }

// Auth is how Prometheus authenticates to a remote endpoint; the files
// are paths under --dir (prometheus/...).
type Auth struct {
	Username        string
	PasswordFile    string
	BearerTokenFile string
}

// RemoteWrite is one remote_write endpoint.
type RemoteWrite struct {
	URL     string
	Auth    Auth
	Headers map[string]string
	// Queue holds queue_config's fields as Prometheus names them, already
	// in its syntax (numbers, durations); empty leaves Prometheus' defaults.
	Queue []KeyValue
}

// KeyValue is one rendered YAML field, in order.
type KeyValue struct{ Key, Value string }

// Settings is what prometheus.yml renders from.
type Settings struct {
	ScrapeInterval     string // Prometheus duration syntax
	EvaluationInterval string
	ExternalLabels     []KeyValue // sorted by key
	// Jobs are every scrape job, SelfScrape first; jobs with Addresses
	// read them from their targets file.
	Jobs        []Job
	RemoteWrite []RemoteWrite
	// Alertmanagers are the host:port addresses alerts are sent to.
	Alertmanagers []string
}

// RenderConfig returns prometheus.yml; Jobs must start with SelfScrape.
func RenderConfig(s Settings) ([]byte, error) {
	rel := func(p string) string {
		if p == "" {
			return ""
		}
		// Beside prometheus/: /etc/prometheus-secrets in the container.
		return "../" + p
	}
	for i, j := range s.Jobs {
		j.CAFile, j.PasswordFile, j.BearerTokenFile = rel(j.CAFile), rel(j.PasswordFile), rel(j.BearerTokenFile)
		s.Jobs[i] = j
	}
	for i, r := range s.RemoteWrite {
		r.Auth.PasswordFile, r.Auth.BearerTokenFile = rel(r.Auth.PasswordFile), rel(r.Auth.BearerTokenFile)
		s.RemoteWrite[i] = r
	}
	return templates.Render("prometheus.yml.tmpl", struct {
		Settings
		RuleFiles, SDRefresh string
	}{s, RuleFilesGlob, SDRefreshInterval})
}

// targetGroup is one entry of a file_sd file, as Prometheus reads it.
type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels,omitempty"`
}

// RenderTargets returns the job's file_sd file: its addresses and labels.
func RenderTargets(j Job) ([]byte, error) {
	groups := []targetGroup{}
	if len(j.Addresses) > 0 {
		groups = append(groups, targetGroup{Targets: j.Addresses, Labels: j.Labels})
	}
	b, err := json.MarshalIndent(groups, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// RenderRules returns the llmmon rules file: recording rules, then the
// alert rules.
func RenderRules(r Rules) ([]byte, error) {
	r.Windows = sloWindows
	r.Page, r.Ticket = pageBurns, ticketBurns
	return templates.Render("llmmon.rules.yml.tmpl", r)
}
