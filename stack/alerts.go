package stack

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Alert is one alert as `llmmon alerts` and status show it: what
// Prometheus evaluates, and what Alertmanager does with it.
type Alert struct {
	Name     string            `json:"name"`
	Severity string            `json:"severity"`
	State    string            `json:"state"` // firing, pending
	Labels   map[string]string `json:"labels"`
	Summary  string            `json:"summary"`
	// Description and RunbookURL come from the rule's annotations.
	Description string    `json:"description,omitempty"`
	RunbookURL  string    `json:"runbook_url,omitempty"`
	ActiveSince time.Time `json:"active_since"`
	Value       string    `json:"value"`
	// Delivery is what Alertmanager does with a firing alert: "notified"
	// (routed to Receivers), "nobody" (routed to no receiver),
	// "silenced", "inhibited", "not in alertmanager" (Prometheus has not
	// sent it, or cannot), or "unknown" when Alertmanager does not answer.
	Delivery    string   `json:"delivery,omitempty"`
	Receivers   []string `json:"receivers,omitempty"`
	SilencedBy  []string `json:"silenced_by,omitempty"`
	InhibitedBy []string `json:"inhibited_by,omitempty"`
}

// Target is the job and instance the alert is about, as far as it says.
func (a Alert) Target() string {
	j, i := a.Labels["job"], a.Labels["instance"]
	switch {
	case j != "" && i != "":
		return j + " " + i
	case j != "":
		return j
	}
	return i
}

// AlertsReport is every pending or firing alert of the stack.
type AlertsReport struct {
	Stack           string  `json:"stack"`
	PrometheusURL   string  `json:"prometheus_url"`
	AlertmanagerURL string  `json:"alertmanager_url"`
	Alerts          []Alert `json:"alerts"`
	// AlertmanagerError says why Delivery is unknown.
	AlertmanagerError string `json:"alertmanager_error,omitempty"`
}

// ListAlerts asks Prometheus which alerts fire (and, with pending, which
// are about to), and Alertmanager what it does with each. Prometheus is
// the source: an alert that never reached Alertmanager is listed too.
func ListAlerts(ctx context.Context, promURL, amURL string, pending bool) (AlertsReport, error) {
	r := AlertsReport{PrometheusURL: promURL, AlertmanagerURL: amURL, Alerts: []Alert{}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	evaluated, err := prometheus.NewClient(promURL).Alerts(pctx)
	if err != nil {
		return r, fmt.Errorf("prometheus at %s does not answer (%v): is the stack up? (llmmon status)", promURL, err)
	}
	held := map[string]alertmanager.Alert{}
	actx, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if ams, err := alertmanager.NewClient(amURL).Alerts(actx); err != nil {
		r.AlertmanagerError = err.Error()
	} else {
		for _, a := range ams {
			held[labelKey(a.Labels)] = a
		}
	}
	for _, e := range evaluated {
		if e.State != "firing" && !(pending && e.State == "pending") {
			continue
		}
		a := Alert{Name: e.Labels["alertname"], Severity: e.Labels["severity"], State: e.State, Labels: e.Labels,
			Summary: e.Annotations["summary"], Description: e.Annotations["description"], RunbookURL: e.Annotations["runbook_url"],
			ActiveSince: e.ActiveAt, Value: e.Value}
		if e.State == "firing" {
			a.Delivery = delivery(held, e.Labels, r.AlertmanagerError != "", &a)
		}
		r.Alerts = append(r.Alerts, a)
	}
	sort.SliceStable(r.Alerts, func(i, j int) bool {
		x, y := r.Alerts[i], r.Alerts[j]
		if sx, sy := severityRank(x.Severity), severityRank(y.Severity); sx != sy {
			return sx < sy
		}
		if x.State != y.State {
			return x.State == "firing"
		}
		if x.Name != y.Name {
			return x.Name < y.Name
		}
		return x.Target() < y.Target()
	})
	return r, nil
}

// delivery says what Alertmanager does with a firing alert.
func delivery(held map[string]alertmanager.Alert, labels map[string]string, unknown bool, a *Alert) string {
	if unknown {
		return "unknown"
	}
	h, ok := held[labelKey(labels)]
	switch {
	case !ok:
		return "not in alertmanager"
	case len(h.SilencedBy) > 0:
		a.SilencedBy = h.SilencedBy
		return "silenced"
	case len(h.InhibitedBy) > 0:
		a.InhibitedBy = h.InhibitedBy
		return "inhibited"
	}
	for _, rc := range h.Receivers {
		if rc != NobodyReceiver {
			a.Receivers = append(a.Receivers, rc)
		}
	}
	if len(a.Receivers) == 0 {
		return "nobody"
	}
	return "notified"
}

func severityRank(s string) int {
	if i := slices.Index(Severities(), s); i >= 0 {
		return i
	}
	return len(Severities())
}

func labelKey(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "\x00" + l[k] + "\x00")
	}
	return b.String()
}

// AlertingStatus is the alerting path as status reports it.
type AlertingStatus struct {
	// Notified names the receivers; empty when nobody is notified.
	Notified []string `json:"notified"`
	// Prometheus is "ok" when Prometheus sends to the stack's
	// Alertmanager (/api/v1/alertmanagers), else why not.
	Prometheus string  `json:"prometheus"`
	Firing     []Alert `json:"firing"`
	FiringErr  string  `json:"firing_error,omitempty"`
	// Notifications is how each integration fared since Alertmanager started.
	Notifications    []alertmanager.Integration `json:"notifications"`
	NotificationsErr string                     `json:"notifications_error,omitempty"`
}

// alertingStatus asks Prometheus and Alertmanager about the alerting
// path, skipping what is not up.
func alertingStatus(ctx context.Context, a Alerting, promURL, amURL string, promUp, amUp bool) *AlertingStatus {
	s := &AlertingStatus{Notified: a.Notified(), Prometheus: "unknown: prometheus is not up", Firing: []Alert{}}
	if promUp {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		active, _, err := prometheus.NewClient(promURL).Alertmanagers(pctx)
		cancel()
		switch {
		case err != nil:
			s.Prometheus = "unknown: " + err.Error()
		case len(active) == 0:
			s.Prometheus = "prometheus sends alerts to no Alertmanager (its config has no alerting block): run llmmon up"
		case !slices.ContainsFunc(active, func(u string) bool { return strings.Contains(u, "//"+AlertmanagerAddress+"/") }):
			s.Prometheus = "prometheus sends alerts to " + strings.Join(active, ", ") + ", not to " + AlertmanagerURL
		default:
			s.Prometheus = "ok"
		}
		rep, err := ListAlerts(ctx, promURL, amURL, false)
		if err != nil {
			s.FiringErr = err.Error()
		}
		s.Firing = rep.Alerts
	}
	if amUp {
		nctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := alertmanager.NewClient(amURL).Notifications(nctx)
		cancel()
		if err != nil {
			s.NotificationsErr = err.Error()
		}
		s.Notifications = n
	} else {
		s.NotificationsErr = "alertmanager is not up"
	}
	return s
}
