// Package alertmanager renders Alertmanager's configuration for the
// stack (receivers, routes by severity, inhibition) and talks to
// Alertmanager's HTTP API: readiness, the alerts it holds, and whether
// its notifications fail.
package alertmanager

import (
	"strconv"
	"strings"

	"github.com/llmmon/llmmon/templates"
)

// Port is where Alertmanager listens in its container (the image's port).
const Port = 9093

// ConfigFile is the rendered configuration, relative to --dir; in the
// container the alertmanager/ folder becomes /etc/alertmanager.
const ConfigFile = "alertmanager/alertmanager.yml"

// Settings is what alertmanager.yml renders from. Durations are in
// Prometheus' syntax (30s, 4h).
type Settings struct {
	ResolveTimeout, GroupWait, GroupInterval, RepeatInterval string
	// Nobody is the receiver of what no other receiver asked for.
	Nobody    string
	Receivers []Receiver
}

// Receiver is one rendered receiver: exactly one of the integrations,
// with secrets as files in the container (*File).
type Receiver struct {
	Name       string
	Severities []string
	Webhook    *Webhook
	Slack      *Slack
	Email      *Email
	PagerDuty  *PagerDuty
}

// Matcher is the route's matcher for the receiver's severities.
func (r Receiver) Matcher() Matcher {
	return Matcher{Name: "severity", Value: strings.Join(r.Severities, "|"), Regexp: true}
}

// Matcher matches a label's value, or a regular expression with Regexp.
type Matcher struct {
	Name, Value string
	Regexp      bool
}

// String is the matcher in Alertmanager's syntax: severity=~"critical|warning".
func (m Matcher) String() string {
	op := "="
	if m.Regexp {
		op = "=~"
	}
	return m.Name + op + strconv.Quote(m.Value)
}

// GroupBy puts alerts of one name and job into one notification.
func (Settings) GroupBy() []string { return []string{"alertname", "job"} }

// Inhibition silences the alerts Target matches while one that Source
// matches fires with the same Equal labels.
type Inhibition struct {
	Why            string
	Source, Target Matcher
	Equal          []string
}

// Inhibitions are the stack's inhibit rules, for alertmanager.yml and
// render --kubernetes' AlertmanagerConfig alike.
func (Settings) Inhibitions() []Inhibition {
	return []Inhibition{
		{
			Why:    "A critical alert silences the warning of the same alert on the same target.",
			Source: Matcher{Name: "severity", Value: "critical"}, Target: Matcher{Name: "severity", Value: "warning"},
			Equal: []string{"alertname", "job", "instance"},
		},
		{
			Why:    "A target that is down silences its own warnings and info: they are its symptoms.",
			Source: Matcher{Name: "alertname", Value: "LLMServerDown|LLMTargetDown", Regexp: true},
			Target: Matcher{Name: "severity", Value: "warning|info", Regexp: true},
			Equal:  []string{"job", "instance"},
		},
	}
}

// NotificationTexts are what Slack and PagerDuty notifications say, in
// Alertmanager's notification templates: each alert's severity, summary
// and runbook.
type NotificationTexts struct {
	SlackTitle, SlackText                      string
	PagerDutyRunbookHref, PagerDutyRunbookText string
}

// Texts are the stack's notification texts (see NotificationTexts).
var Texts = NotificationTexts{
	SlackTitle: `{{ template "slack.default.title" . }}`,
	SlackText: `{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}` +
		`{{ if .Annotations.runbook_url }} (<{{ .Annotations.runbook_url }}|runbook>){{ end }}` + "\n" + `{{ end }}`,
	PagerDutyRunbookHref: `{{ .CommonAnnotations.runbook_url }}`,
	PagerDutyRunbookText: "runbook",
}

// Texts gives the template the notification texts.
func (Settings) Texts() NotificationTexts { return Texts }

// Webhook posts Alertmanager's JSON payload to URL (or the URL in URLFile).
type Webhook struct{ URL, URLFile string }

// Slack posts to an incoming webhook whose URL is in APIURLFile.
type Slack struct{ APIURLFile, Channel string }

// Email sends through Smarthost, signing in when AuthUsername is set.
type Email struct {
	To, From, Smarthost, AuthUsername, AuthPasswordFile string
	RequireTLS                                          bool
}

// PagerDuty pages with an Events API v2 routing key or a v1 service key.
type PagerDuty struct{ RoutingKeyFile, ServiceKeyFile string }

// RenderConfig returns alertmanager.yml.
func RenderConfig(s Settings) ([]byte, error) {
	return templates.Render("alertmanager.yml.tmpl", s)
}
