// Package alertmanager renders Alertmanager's configuration for the
// stack (receivers, routes by severity, inhibition) and talks to
// Alertmanager's HTTP API: readiness, the alerts it holds, and whether
// its notifications fail.
package alertmanager

import (
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
func (r Receiver) Matcher() string {
	return `severity=~"` + strings.Join(r.Severities, "|") + `"`
}

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
