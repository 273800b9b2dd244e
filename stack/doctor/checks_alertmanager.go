package doctor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
)

// alertmanagerChecks follow an alert's path: Alertmanager answers,
// Prometheus sends to it, someone is notified, what fires now, and
// whether notifications fail.
func (d *doctor) alertmanagerChecks() []Check {
	return []Check{
		{Group: "Alertmanager", Name: "ready", Timeout: httpTimeout + dockerTimeout, Run: d.checkAlertmanagerReady},
		{Group: "Alertmanager", Name: "prometheus sends alerts", Timeout: 2 * httpTimeout, Run: d.checkPrometheusSendsAlerts},
		{Group: "Alertmanager", Name: "receivers", Timeout: httpTimeout, Run: d.checkReceivers},
		{Group: "Alertmanager", Name: "firing alerts", Timeout: 3 * httpTimeout, Run: d.checkFiring},
		{Group: "Alertmanager", Name: "notifications", Timeout: 2*httpTimeout + dockerTimeout, Run: d.checkNotifications},
	}
}

func (d *doctor) checkAlertmanagerReady(ctx context.Context) Result {
	_, err := d.amReady.get(ctx)
	if err == nil {
		return Pass("Alertmanager is ready at %s", d.o.AlertmanagerURL)
	}
	name := d.names.Alertmanager
	res := Fail(fmt.Sprintf("Alertmanager does not answer at %s: %v", d.o.AlertmanagerURL, shortErr(err)),
		"", d.upCmd())
	switch obj, cres := d.container(ctx, d.objs[stack.ComponentAlertmanager], name); {
	case cres != nil && cres.Status == StatusSkip:
		res.Cause = "Alertmanager does not answer, and with Docker unreachable doctor cannot tell whether its container runs (see Docker › daemon)"
		res.Fix = "start Docker, then " + d.upCmd()
	case cres != nil:
		res.Cause = cres.Message + " (see Containers); no alert reaches anyone"
	case obj.Container != nil && !obj.Container.Running():
		res.Cause = fmt.Sprintf("%s is %s (see Containers); no alert reaches anyone", name, obj.Container.Status)
		res.Fix = d.upCmd() + " starts it again" + logHint(name)
	case errors.Is(err, syscall.ECONNREFUSED):
		res.Cause = fmt.Sprintf("%s is running, but nothing is published on %s: it was started with another --alertmanager-port or --bind", name, d.o.AlertmanagerURL)
	default:
		res.Cause = fmt.Sprintf("%s is running but not ready (still starting, or its configuration does not load)", name)
		res.Fix = "look at `docker logs " + name + "`; " + d.upCmd() + " renders and loads the configuration again"
	}
	return res
}

// checkPrometheusSendsAlerts reads /api/v1/alertmanagers: the stack's
// Alertmanager must be among the active ones.
func (d *doctor) checkPrometheusSendsAlerts(ctx context.Context) Result {
	if _, err := d.promReady.get(ctx); err != nil {
		return Skip("Prometheus does not answer (see Prometheus › ready)")
	}
	active, dropped, err := d.prom.Alertmanagers(ctx)
	if err != nil {
		return Fail("cannot ask Prometheus where it sends alerts: "+err.Error(), "", "")
	}
	ours := func(u string) bool { return strings.Contains(u, "//"+stack.AlertmanagerAddress+"/") }
	switch {
	case slices.ContainsFunc(active, ours):
		return Pass("Prometheus sends alerts to %s", strings.Join(active, ", "))
	case len(active) == 0 && len(dropped) == 0:
		return Fail("Prometheus sends alerts to no Alertmanager",
			"the config Prometheus runs has no alerting block: it was started by an llmmon before Alertmanager joined the stack, or edited by hand",
			d.upCmd()+" renders prometheus.yml with the alerting block and recreates Prometheus")
	}
	return Fail(fmt.Sprintf("Prometheus sends alerts to %s, not to %s", strings.Join(append(active, dropped...), ", "), stack.AlertmanagerURL),
		"the config Prometheus runs is not the one llmmon renders", d.upCmd())
}

func (d *doctor) checkReceivers(ctx context.Context) Result {
	who := d.o.Config.Alerting.Notified()
	if len(who) == 0 {
		return Warn("nobody is notified: alerts reach Alertmanager and Grafana, and go no further",
			"llmmon.yaml has no alerting.receivers and up had no --alert-webhook",
			"add a receiver: "+d.upCmd("--alert-webhook URL")+", or alerting.receivers (webhook, slack, email, pagerduty) in llmmon.yaml")
	}
	return Pass("alerts go to %s", strings.Join(who, "; "))
}

func (d *doctor) checkFiring(ctx context.Context) Result {
	if _, err := d.promReady.get(ctx); err != nil {
		return Skip("Prometheus does not answer (see Prometheus › ready)")
	}
	rep, err := stack.ListAlerts(ctx, d.o.PrometheusURL, d.o.AlertmanagerURL, false)
	if err != nil {
		return Fail("cannot list the firing alerts: "+err.Error(), "", "")
	}
	if len(rep.Alerts) == 0 {
		return Pass("no alert is firing")
	}
	var lines []string
	undelivered := 0
	for _, a := range rep.Alerts {
		lines = append(lines, fmt.Sprintf("%s %s %s: %s (%s)", a.Severity, a.Name, a.Target(), a.Summary, a.Delivery))
		if a.Delivery == "not in alertmanager" {
			undelivered++
		}
	}
	res := Warn(fmt.Sprintf("%s firing", plural(len(rep.Alerts), "alert", "alerts")),
		"what the alerts say is wrong with the LLM service (or the stack); each has a runbook",
		"`llmmon alerts` shows each with its summary and runbook link")
	if undelivered > 0 {
		res.Status = StatusFail
		res.Cause = fmt.Sprintf("%d of them never reached Alertmanager, so nobody was notified", undelivered)
		res.Fix = "see Alertmanager › prometheus sends alerts; `llmmon alerts` lists them"
	}
	res.Details = lines
	return res
}

// failuresWindow is how far back a failed notification counts as recent.
const failuresWindow = "15m"

// checkNotifications reads Alertmanager's own counters
// (alertmanager_notifications_failed_total): a failure in the last
// failuresWindow fails, an older one warns. The cause is Alertmanager's
// last "Notify" error from its log.
func (d *doctor) checkNotifications(ctx context.Context) Result {
	if _, err := d.amReady.get(ctx); err != nil {
		return Skip("Alertmanager does not answer (see Alertmanager › ready)")
	}
	integ, err := alertmanager.NewClient(d.o.AlertmanagerURL).Notifications(ctx)
	if err != nil {
		return Fail("cannot read Alertmanager's metrics: "+err.Error(), "", "")
	}
	var failed []alertmanager.Integration
	attempts := 0.0
	for _, i := range integ {
		attempts += i.Attempts
		if i.Failed > 0 {
			failed = append(failed, i)
		}
	}
	if len(failed) == 0 {
		if attempts == 0 {
			return Pass("no notification sent yet")
		}
		return Pass("%.0f notification attempts since Alertmanager started, none failed", attempts)
	}
	var parts []string
	for _, i := range failed {
		parts = append(parts, fmt.Sprintf("%s: %.0f of %.0f attempts failed", i.Name, i.Failed, i.Attempts))
	}
	msg := strings.Join(parts, "; ") + " since Alertmanager started"
	recent, known := d.recentFailures(ctx)
	lastErr := d.lastNotifyError(ctx)
	cause := "the receiver does not accept the notifications (down, unreachable from the container, or refusing the credentials)"
	if lastErr != "" {
		cause = "Alertmanager's last error: " + lastErr
	}
	fix := "make the receiver reachable from the container (a service on this machine must listen on 0.0.0.0 and be addressed as host.docker.internal), " +
		"or fix its URL or secret file in llmmon.yaml and run " + d.upCmd() + "; Alertmanager retries meanwhile. See `docker logs " + d.names.Alertmanager + "`"
	if known && recent == 0 {
		return Warn(msg+", none in the last "+failuresWindow, cause, "nothing, if the receiver works again; else "+fix)
	}
	if known {
		msg += fmt.Sprintf(" (%.0f in the last %s)", recent, failuresWindow)
	}
	return Fail(msg, cause, fix)
}

// recentFailures asks Prometheus (which scrapes Alertmanager) how many
// notifications failed in the last failuresWindow; known is false when
// it cannot say.
func (d *doctor) recentFailures(ctx context.Context) (float64, bool) {
	s, err := d.prom.Query(ctx, "sum(increase(alertmanager_notifications_failed_total{job=\""+stack.AlertmanagerJob+"\"}["+failuresWindow+"]))")
	if err != nil || len(s) == 0 {
		return 0, false
	}
	return s[0].Value, true
}

// lastNotifyError is the last line of Alertmanager's log about a failed
// notification, as docker logs shows it.
func (d *doctor) lastNotifyError(ctx context.Context) string {
	obj, err := d.objs[stack.ComponentAlertmanager].get(ctx)
	if err != nil || d.o.Engine == nil {
		return ""
	}
	logs, err := d.o.Engine.Logs(ctx, obj.ID, 200)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.Contains(l, "Notify") && (strings.Contains(l, "failed") || strings.Contains(l, "level=error") || strings.Contains(l, "level=warn")) {
			if j := strings.Index(l, "err="); j >= 0 {
				return strings.TrimSpace(l[j+4:])
			}
			return strings.TrimSpace(l)
		}
	}
	return ""
}
