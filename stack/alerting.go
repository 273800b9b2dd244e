package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Severities the rules give their alerts, worst first. Receivers get
// critical and warning unless they say otherwise; info reaches nobody
// unless a receiver asks for it.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Severities lists every severity, worst first.
func Severities() []string { return []string{SeverityCritical, SeverityWarning, SeverityInfo} }

// SLO are the service level objectives the burn-rate alerts defend, in
// percent, over a 30-day period (Google's SRE workbook, chapter 5).
type SLO struct {
	// Availability is the share of requests that must succeed.
	Availability float64 `yaml:"availability" json:"availability"`
	// TTFTSeconds is the time to first token a request must beat, and
	// TTFTTarget the share of streamed requests that must beat it. The
	// share is counted from histogram buckets, so TTFTSeconds must be
	// one of their boundaries (llmmetrics.GenAITTFTBuckets).
	TTFTSeconds float64 `yaml:"ttft_seconds" json:"ttft_seconds"`
	TTFTTarget  float64 `yaml:"ttft_target" json:"ttft_target"`
}

// DefaultSLO is 99.5% of requests succeed, and 99% of streams see their
// first token within 2.5 s (a bucket boundary of vLLM's and llmmon's
// TTFT histograms; 2 s is not one).
func DefaultSLO() SLO { return SLO{Availability: 99.5, TTFTSeconds: 2.5, TTFTTarget: 99} }

// Alerting is who Alertmanager notifies, and how it groups and repeats.
type Alerting struct {
	// Webhook is a plain webhook that gets every critical and warning
	// alert (--alert-webhook).
	Webhook   string     `yaml:"webhook" json:"webhook"`
	Receivers []Receiver `yaml:"receivers" json:"receivers"`
	// GroupWait is how long a new group of alerts waits for more before
	// its first notification; GroupInterval how long before a changed
	// group is notified again; RepeatInterval how long before an
	// unchanged firing group is notified again.
	GroupWait      Duration `yaml:"group_wait" json:"group_wait"`
	GroupInterval  Duration `yaml:"group_interval" json:"group_interval"`
	RepeatInterval Duration `yaml:"repeat_interval" json:"repeat_interval"`
	// ResolveTimeout resolves an alert its sender stopped repeating.
	ResolveTimeout Duration `yaml:"resolve_timeout" json:"resolve_timeout"`
}

// DefaultAlerting notifies nobody, with Alertmanager's usual timings.
func DefaultAlerting() Alerting {
	return Alerting{
		GroupWait:      Duration(30 * time.Second),
		GroupInterval:  Duration(5 * time.Minute),
		RepeatInterval: Duration(4 * time.Hour),
		ResolveTimeout: Duration(5 * time.Minute),
	}
}

// AlertWebhookReceiver is the name --alert-webhook's receiver gets.
const AlertWebhookReceiver = "alert-webhook"

// NobodyReceiver takes whatever no receiver asked for: the alerts are in
// Alertmanager and Grafana, and nobody is notified.
const NobodyReceiver = "nobody"

// Receiver is one destination for alerts: exactly one of Webhook, Slack,
// Email and PagerDuty. Secrets are never written in llmmon.yaml: each is
// a file on this machine (*_file), copied into Alertmanager's container
// readable by its user only.
type Receiver struct {
	Name string `yaml:"name" json:"name"`
	// Severities it is sent; default critical and warning (critical only
	// for PagerDuty, which pages).
	Severities []string           `yaml:"severities,omitempty" json:"severities,omitempty"`
	Webhook    *WebhookReceiver   `yaml:"webhook,omitempty" json:"webhook,omitempty"`
	Slack      *SlackReceiver     `yaml:"slack,omitempty" json:"slack,omitempty"`
	Email      *EmailReceiver     `yaml:"email,omitempty" json:"email,omitempty"`
	PagerDuty  *PagerDutyReceiver `yaml:"pagerduty,omitempty" json:"pagerduty,omitempty"`
}

// WebhookReceiver posts Alertmanager's JSON to a URL; URLFile holds a
// URL that carries a token (Alertmanager 0.26 or later).
type WebhookReceiver struct {
	URL     string `yaml:"url,omitempty" json:"url,omitempty"`
	URLFile string `yaml:"url_file,omitempty" json:"url_file,omitempty"`
}

// SlackReceiver posts to a Slack incoming webhook, whose URL is a secret.
type SlackReceiver struct {
	APIURLFile string `yaml:"api_url_file" json:"api_url_file"`
	Channel    string `yaml:"channel,omitempty" json:"channel,omitempty"`
	// APIURL is refused: a secret in llmmon.yaml would be recorded in --dir.
	APIURL string `yaml:"api_url,omitempty" json:"-"`
}

// EmailReceiver sends mail through an SMTP server.
type EmailReceiver struct {
	To               string `yaml:"to" json:"to"`
	From             string `yaml:"from" json:"from"`
	Smarthost        string `yaml:"smarthost" json:"smarthost"` // HOST:PORT
	AuthUsername     string `yaml:"auth_username,omitempty" json:"auth_username,omitempty"`
	AuthPasswordFile string `yaml:"auth_password_file,omitempty" json:"auth_password_file,omitempty"`
	// RequireTLS defaults to true, as in Alertmanager.
	RequireTLS *bool `yaml:"require_tls,omitempty" json:"require_tls,omitempty"`
	// AuthPassword is refused, like SlackReceiver.APIURL.
	AuthPassword string `yaml:"auth_password,omitempty" json:"-"`
}

// PagerDutyReceiver pages through PagerDuty: RoutingKeyFile for an Events
// API v2 integration, ServiceKeyFile for a v1 one.
type PagerDutyReceiver struct {
	RoutingKeyFile string `yaml:"routing_key_file,omitempty" json:"routing_key_file,omitempty"`
	ServiceKeyFile string `yaml:"service_key_file,omitempty" json:"service_key_file,omitempty"`
	// RoutingKey and ServiceKey are refused, like SlackReceiver.APIURL.
	RoutingKey string `yaml:"routing_key,omitempty" json:"-"`
	ServiceKey string `yaml:"service_key,omitempty" json:"-"`
}

// Kind is which integration the receiver uses, as Alertmanager names it.
func (r Receiver) Kind() string {
	switch {
	case r.Webhook != nil:
		return "webhook"
	case r.Slack != nil:
		return "slack"
	case r.Email != nil:
		return "email"
	case r.PagerDuty != nil:
		return "pagerduty"
	}
	return ""
}

// SeveritiesOrDefault is what the receiver is sent.
func (r Receiver) SeveritiesOrDefault() []string {
	if len(r.Severities) > 0 {
		return r.Severities
	}
	if r.PagerDuty != nil {
		return []string{SeverityCritical}
	}
	return []string{SeverityCritical, SeverityWarning}
}

// SecretRef is one secret a receiver reads from a file on this machine:
// the setting that names it, the file, and where Alertmanager reads it.
type SecretRef struct {
	Setting  string // alerting.receivers[0].slack.api_url_file
	HostPath string
	// Name is the file's name in Alertmanager's secrets folder.
	Name string
}

// Secrets lists every secret file the receivers read, in settings order.
func (a Alerting) Secrets() []SecretRef {
	var out []SecretRef
	for i, r := range a.Receivers {
		at := fmt.Sprintf("alerting.receivers[%d]", i)
		add := func(key, path string) {
			if path != "" {
				out = append(out, SecretRef{Setting: at + "." + r.Kind() + "." + key, HostPath: path,
					Name: r.Name + "-" + r.Kind() + "-" + strings.ReplaceAll(strings.TrimSuffix(key, "_file"), "_", "-")})
			}
		}
		switch {
		case r.Webhook != nil:
			add("url_file", r.Webhook.URLFile)
		case r.Slack != nil:
			add("api_url_file", r.Slack.APIURLFile)
		case r.Email != nil:
			add("auth_password_file", r.Email.AuthPasswordFile)
		case r.PagerDuty != nil:
			add("routing_key_file", r.PagerDuty.RoutingKeyFile)
			add("service_key_file", r.PagerDuty.ServiceKeyFile)
		}
	}
	return out
}

// Notified names who gets alerts: each receiver with its kind, or none.
func (a Alerting) Notified() []string {
	var out []string
	if a.Webhook != "" {
		out = append(out, AlertWebhookReceiver+" (webhook "+a.Webhook+")")
	}
	for _, r := range a.Receivers {
		out = append(out, fmt.Sprintf("%s (%s: %s)", r.Name, r.Kind(), strings.Join(r.SeveritiesOrDefault(), ", ")))
	}
	return out
}

// resolveSecretPaths makes the receivers' secret files absolute, relative
// to base (llmmon.yaml's folder) and with ~ as the home folder, so the
// recorded settings work from any working folder.
func (a *Alerting) resolveSecretPaths(base string) {
	fix := func(p *string) {
		switch {
		case *p == "":
		case *p == "~" || strings.HasPrefix(*p, "~/"):
			if home, err := os.UserHomeDir(); err == nil {
				*p = filepath.Join(home, strings.TrimPrefix(*p, "~"))
			}
		case !filepath.IsAbs(*p):
			*p = filepath.Join(base, *p)
		}
	}
	for i := range a.Receivers {
		r := &a.Receivers[i]
		switch {
		case r.Webhook != nil:
			fix(&r.Webhook.URLFile)
		case r.Slack != nil:
			fix(&r.Slack.APIURLFile)
		case r.Email != nil:
			fix(&r.Email.AuthPasswordFile)
		case r.PagerDuty != nil:
			fix(&r.PagerDuty.RoutingKeyFile)
			fix(&r.PagerDuty.ServiceKeyFile)
		}
	}
}

// alertSecretsDir is where Alertmanager reads the receivers' secrets (see
// containerPath): beside its configuration folder, not in it, so render
// --compose can mount the folder read-only and each secret on its own.
const alertSecretsDir = "alertmanager-secrets"

// SecretContainerPath is where Alertmanager reads the secret file name.
func SecretContainerPath(name string) string { return containerPath(alertSecretsDir + "/" + name) }

// ReadReceiverSecrets reads each receiver's secret file from this
// machine, as files for Alertmanager's secrets folder (SpecInput's
// AlertSecrets). up copies them into the container only, never into
// --dir. A file others may read is named in a note.
func ReadReceiverSecrets(a Alerting) ([]File, []string, error) {
	var files []File
	var notes []string
	for _, s := range a.Secrets() {
		b, err := os.ReadFile(s.HostPath)
		if err != nil {
			return nil, nil, fmt.Errorf("cannot read the secret file %s of %s: %w; write the secret into it (mode 0600), or fix the path in llmmon.yaml", s.HostPath, s.Setting, err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return nil, nil, fmt.Errorf("the secret file %s of %s is empty: write the secret into it", s.HostPath, s.Setting)
		}
		if st, err := os.Stat(s.HostPath); err == nil && st.Mode().Perm()&0o077 != 0 {
			notes = append(notes, fmt.Sprintf("the secret file %s (%s) can be read by other users (mode %04o): chmod 600 %s", s.HostPath, s.Setting, st.Mode().Perm(), s.HostPath))
		}
		files = append(files, File{Path: alertSecretsDir + "/" + s.Name, Content: b, Mode: 0o400})
	}
	return files, notes, nil
}

// SecretPlaceholders are the receivers' secret files without their
// content: what a spec's hash sees of them, for doctor, which never reads
// secrets.
func SecretPlaceholders(a Alerting) []File {
	var files []File
	for _, s := range a.Secrets() {
		files = append(files, File{Path: alertSecretsDir + "/" + s.Name, Mode: 0o400})
	}
	return files
}
