package kubernetes

import (
	"encoding/json"
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
)

// alertingSettings are the receivers, routes and timings of llmmon.yaml's
// alerting: section, as `up` gives them to Alertmanager, with each secret
// the key of the receivers' Secret (see SecretCommand) instead of a file.
func alertingSettings(cfg stack.Config) alertmanager.Settings {
	return stack.AlertmanagerSettings(cfg.Alerting, func(r stack.SecretRef) string { return r.Name })
}

// secretName names the Secret the AlertmanagerConfig reads the receivers'
// secrets from. render never writes it: the base holds no secret.
func secretName(cfg stack.Config) string { return objectPrefix(cfg) + "alert-receivers" }

// SecretCommand is the kubectl command that creates the receivers' Secret
// from the files llmmon.yaml names, or "" when no receiver has a secret.
// render prints it for the user to run (or to redo with their own secret
// tooling) before kubectl apply -k.
func SecretCommand(cfg stack.Config) string {
	refs := cfg.Alerting.Secrets()
	if len(refs) == 0 {
		return ""
	}
	args := []string{"kubectl", "create", "secret", "generic", secretName(cfg), "--namespace", or(cfg.Kubernetes.Namespace, DefaultNamespace)}
	for _, r := range refs {
		args = append(args, "--from-file="+r.Name+"="+r.HostPath)
	}
	for i, a := range args {
		if strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
			args[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(args, " ")
}

// alertmanagerConfig routes llmmon's alerts as alertmanager.yml does:
// grouped per alert and job, each receiver sent the severities it asked
// for, the rest to a receiver that notifies nobody, and the same
// inhibitions. Alertmanager's global resolve_timeout is the cluster's own.
//
// The operator adds a namespace="<this namespace>" matcher to the route
// unless the Alertmanager's alertmanagerConfigMatcherStrategy is None; most
// llmmon alerts aggregate the namespace away, so the README tells
// kube-prometheus-stack users to set it.
func (b *builder) alertmanagerConfig() (*monitoringv1alpha1.AlertmanagerConfig, error) {
	s := b.o.Alerting
	d := func(s string) *monitoringv1.NonEmptyDuration { v := monitoringv1.NonEmptyDuration(s); return &v }
	route := &monitoringv1alpha1.Route{
		Receiver:       s.Nobody,
		GroupBy:        s.GroupBy(),
		GroupWait:      d(s.GroupWait),
		GroupInterval:  d(s.GroupInterval),
		RepeatInterval: d(s.RepeatInterval),
	}
	receivers := []monitoringv1alpha1.Receiver{{Name: s.Nobody}}
	for _, r := range s.Receivers {
		child, err := json.Marshal(monitoringv1alpha1.Route{Receiver: r.Name, Matchers: []monitoringv1alpha1.Matcher{matcher(r.Matcher())}, Continue: true})
		if err != nil {
			return nil, fmt.Errorf("encode the route of receiver %s: %w", r.Name, err)
		}
		route.Routes = append(route.Routes, apiextensionsv1.JSON{Raw: child})
		receivers = append(receivers, b.receiver(r))
	}
	var inhibit []monitoringv1alpha1.InhibitRule
	for _, i := range s.Inhibitions() {
		inhibit = append(inhibit, monitoringv1alpha1.InhibitRule{
			SourceMatch: []monitoringv1alpha1.Matcher{matcher(i.Source)},
			TargetMatch: []monitoringv1alpha1.Matcher{matcher(i.Target)},
			Equal:       i.Equal,
		})
	}
	return &monitoringv1alpha1.AlertmanagerConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1alpha1.SchemeGroupVersion.String(), Kind: monitoringv1alpha1.AlertmanagerConfigKind},
		ObjectMeta: b.meta("alerts", componentAlerts, true),
		Spec: monitoringv1alpha1.AlertmanagerConfigSpec{
			Route:        route,
			Receivers:    receivers,
			InhibitRules: inhibit,
		},
	}, nil
}

func matcher(m alertmanager.Matcher) monitoringv1alpha1.Matcher {
	t := monitoringv1alpha1.MatchEqual
	if m.Regexp {
		t = monitoringv1alpha1.MatchRegexp
	}
	return monitoringv1alpha1.Matcher{Name: m.Name, Value: m.Value, MatchType: t}
}

// receiver is one receiver in the operator's types; its secrets are keys
// of the receivers' Secret, never values.
func (b *builder) receiver(r alertmanager.Receiver) monitoringv1alpha1.Receiver {
	secret := func(key string) *corev1.SecretKeySelector {
		if key == "" {
			return nil
		}
		return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secretName(b.cfg)}, Key: key}
	}
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	yes := true
	t := alertmanager.Texts
	out := monitoringv1alpha1.Receiver{Name: r.Name}
	switch {
	case r.Webhook != nil:
		w := monitoringv1alpha1.WebhookConfig{SendResolved: &yes, URLSecret: secret(r.Webhook.URLFile)}
		if w.URLSecret == nil {
			w.URL = opt(r.Webhook.URL)
		}
		out.WebhookConfigs = []monitoringv1alpha1.WebhookConfig{w}
	case r.Slack != nil:
		out.SlackConfigs = []monitoringv1alpha1.SlackConfig{{SendResolved: &yes, APIURL: secret(r.Slack.APIURLFile),
			Channel: opt(r.Slack.Channel), Title: opt(t.SlackTitle), Text: opt(t.SlackText)}}
	case r.Email != nil:
		e := r.Email
		c := monitoringv1alpha1.EmailConfig{SendResolved: &yes, To: opt(e.To), From: opt(e.From), Smarthost: opt(e.Smarthost), RequireTLS: &e.RequireTLS}
		if e.AuthUsername != "" {
			c.AuthUsername, c.AuthPassword = opt(e.AuthUsername), secret(e.AuthPasswordFile)
		}
		out.EmailConfigs = []monitoringv1alpha1.EmailConfig{c}
	case r.PagerDuty != nil:
		p := monitoringv1alpha1.PagerDutyConfig{SendResolved: &yes, RoutingKey: secret(r.PagerDuty.RoutingKeyFile),
			PagerDutyLinkConfigs: []monitoringv1alpha1.PagerDutyLinkConfig{{Href: opt(t.PagerDutyRunbookHref), Text: opt(t.PagerDutyRunbookText)}}}
		if p.RoutingKey == nil {
			p.ServiceKey = secret(r.PagerDuty.ServiceKeyFile)
		}
		out.PagerDutyConfigs = []monitoringv1alpha1.PagerDutyConfig{p}
	}
	return out
}
