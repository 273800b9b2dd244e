package stack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
)

const receiversYAML = `alerting:
  webhook: http://host.docker.internal:9095/alerts
  receivers:
    - name: oncall
      pagerduty: {routing_key_file: secrets/pd-key}
    - name: team
      severities: [critical, warning, info]
      slack: {api_url_file: /etc/llmmon/slack-url, channel: "#llm-alerts"}
    - name: ops-mail
      email: {to: ops@example.com, from: llmmon@example.com, smarthost: "smtp.example.com:587", auth_username: llmmon, auth_password_file: smtp-pw}
    - name: hook
      webhook: {url: "https://hooks.example.com/llm"}
`

// Receivers read from llmmon.yaml: secret files relative to it become
// absolute, each kind keeps its defaults, and who is notified is said.
func TestReceiversFromSettingsFile(t *testing.T) {
	file := writeSettings(t, receiversYAML)
	s, err := Resolve("", Overrides{File: file})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	a := s.Config.Alerting
	base := filepath.Dir(file)
	if got := a.Receivers[0].PagerDuty.RoutingKeyFile; got != filepath.Join(base, "secrets/pd-key") {
		t.Errorf("relative secret path: %q", got)
	}
	if got := a.Receivers[1].Slack.APIURLFile; got != "/etc/llmmon/slack-url" {
		t.Errorf("absolute secret path moved: %q", got)
	}
	refs := a.Secrets()
	if len(refs) != 3 || refs[0].Name != "oncall-pagerduty-routing-key" || refs[1].Name != "team-slack-api-url" ||
		refs[2].Setting != "alerting.receivers[2].email.auth_password_file" {
		t.Errorf("secrets: %+v", refs)
	}
	want := []string{"alert-webhook (webhook http://host.docker.internal:9095/alerts)", "oncall (pagerduty: critical)",
		"team (slack: critical, warning, info)", "ops-mail (email: critical, warning)", "hook (webhook: critical, warning)"}
	if got := a.Notified(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("notified %q", got)
	}
}

func TestAlertingValidation(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"inline slack URL", "alerting:\n  receivers:\n    - name: a\n      slack: {api_url: https://hooks.slack.com/services/T/B/X}\n",
			[]string{"alerting.receivers[0].slack.api_url", "write it into a file (mode 0600) and give api_url_file"}},
		{"inline pagerduty key", "alerting:\n  receivers:\n    - name: a\n      pagerduty: {routing_key: abc}\n",
			[]string{"alerting.receivers[0].pagerduty.routing_key", "routing_key_file"}},
		{"inline smtp password", "alerting:\n  receivers:\n    - name: a\n      email: {to: a@b.c, from: d@e.f, smarthost: 'm:25', auth_username: u, auth_password: p}\n",
			[]string{"auth_password holds a secret"}},
		{"two kinds in one receiver", "alerting:\n  receivers:\n    - name: a\n      webhook: {url: 'http://x:1/'}\n      slack: {api_url_file: f}\n",
			[]string{"needs exactly one of webhook, slack, email or pagerduty (it has 2)"}},
		{"duplicate and reserved names", "alerting:\n  receivers:\n    - name: a\n      webhook: {url: 'http://x:1/'}\n    - name: a\n      webhook: {url: 'http://x:1/'}\n    - name: nobody\n      webhook: {url: 'http://x:1/'}\n",
			[]string{"each receiver needs its own name", `"nobody" is llmmon's own receiver`}},
		{"bad severity and url", "alerting:\n  webhook: ftp://x\n  receivers:\n    - name: a\n      severities: [page]\n      webhook: {url: 'http://x:1/'}\n",
			[]string{`unknown severity "page"`, "invalid webhook URL \"ftp://x\" for alerting.webhook"}},
		{"email fields", "alerting:\n  receivers:\n    - name: a\n      email: {to: nobody, from: d@e.f, smarthost: smtp.example.com}\n",
			[]string{"invalid e-mail address \"nobody\"", "alerting.receivers[0].email.smarthost"}},
		{"timings", "alerting:\n  group_interval: 5m\n  repeat_interval: 1m\n  group_wait: 0s\n",
			[]string{"alerting.group_wait", "shorter than alerting.group_interval"}},
		{"ttft threshold between buckets", "slo:\n  ttft_seconds: 2\n",
			[]string{"slo.ttft_seconds is 2: it must be a bucket boundary", "use 1 or 2.5"}},
		// 20 is one of vLLM's boundaries, not one of the GenAI histogram's.
		{"ttft threshold past the last shared bucket", "slo:\n  ttft_seconds: 20\n",
			[]string{"slo.ttft_seconds is 20: it must be a bucket boundary of the TTFT histograms (..., 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)", "use 10"}},
		{"objectives", "slo:\n  availability: 100\n  ttft_target: 0\n", []string{"slo.availability is 100", "slo.ttft_target is 0"}},
		{"alert timings", "scrape_interval: 15s\nalerts:\n  window: 20s\n  min_requests: 0\n  runbook_url: 'https://x.example.com/r.md#a'\n",
			[]string{"alerts.window (20s) must be at least twice scrape_interval", "alerts.min_requests is 0", "alerts.runbook_url"}},
		{"reserved job", "targets:\n  - {name: alertmanager, address: 'h:1'}\n", []string{"one of the stack's own jobs"}},
		{"port clash with alertmanager", "alertmanager:\n  port: 9090\n", []string{"prometheus.port and alertmanager.port are both 9090"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Resolve("", Overrides{File: writeSettings(t, tt.yaml)})
			if err == nil {
				err = s.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

// The rendered alertmanager.yml names only container paths for secrets,
// never their content, and passes amtool check-config (Debian's, 0.25)
// for every kind of receiver; without a receiver, alerts go to nobody.
func TestAlertmanagerConfigWithAmtool(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs amtool")
	}
	s, err := Resolve("", Overrides{File: writeSettings(t, receiversYAML)})
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{"receivers": s.Config, "default": Default()} {
		r, err := Render(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, err := WriteFiles(dir, r.All()); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "alertmanager", "alertmanager.yml")
		out, err := amtool(t, "check-config", path)
		if err != nil || !strings.Contains(out, "SUCCESS") {
			t.Fatalf("%s: amtool check-config: %v\n%s", name, err, out)
		}
		body, _ := os.ReadFile(path)
		switch name {
		case "receivers":
			for _, want := range []string{`routing_key_file: "/etc/alertmanager-secrets/oncall-pagerduty-routing-key"`,
				`api_url_file: "/etc/alertmanager-secrets/team-slack-api-url"`, `auth_password_file: "/etc/alertmanager-secrets/ops-mail-email-auth-password"`,
				`matchers: ["severity=~\"critical\""]`, `matchers: ["severity=~\"critical|warning|info\""]`, `url: "http://host.docker.internal:9095/alerts"`,
				"require_tls: true", "- 6 receivers"} {
				if !strings.Contains(string(body)+out, want) {
					t.Errorf("alertmanager.yml lacks %s:\n%s", want, body)
				}
			}
		case "default":
			if !strings.Contains(out, "1 receivers") || strings.Contains(string(body), "routes:") {
				t.Errorf("without receivers:\n%s\n%s", body, out)
			}
		}
		// amtool checks the routing too: a critical LLMServerDown goes to
		// the pager and every other receiver, info only to "team".
		if name == "receivers" {
			out, err := amtool(t, "config", "routes", "test", "--config.file="+path, "--verify.receivers=alert-webhook,oncall,team,ops-mail,hook", "severity=critical", "alertname=LLMServerDown")
			if err != nil {
				t.Errorf("critical route: %v\n%s", err, out)
			}
			out, err = amtool(t, "config", "routes", "test", "--config.file="+path, "--verify.receivers=team", "severity=info", "alertname=LLMNoTraffic")
			if err != nil {
				t.Errorf("info route: %v\n%s", err, out)
			}
		}
	}
	// Webhook url_file needs Alertmanager 0.26 (the default image is 0.35;
	// Debian's amtool is 0.25, which refuses the field).
	hook := Default()
	hook.Alerting.Receivers = []Receiver{{Name: "h", Webhook: &WebhookReceiver{URLFile: "/x"}}}
	r, err := Render(hook)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(r.Alertmanager[0].Content), `url_file: "/etc/alertmanager-secrets/h-webhook-url"`) {
		t.Errorf("webhook url_file:\n%s", r.Alertmanager[0].Content)
	}
}

func amtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return testenv.Amtool(t, args...)
}
