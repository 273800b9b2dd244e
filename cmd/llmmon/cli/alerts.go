package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type alertsOptions struct {
	IO              IOStreams
	Globals         *Globals
	Output          string
	Pending         bool
	PrometheusURL   string
	AlertmanagerURL string
}

func newAlertsCmd(f *Factory, runF func(context.Context, *alertsOptions) error) *cobra.Command {
	opts := &alertsOptions{IO: f.IO, Globals: f.Globals}
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List the alerts that are firing, with their summary and runbook",
		Long: `alerts lists what fires now, worst first: each alert's severity, name,
target, summary and runbook link, and what Alertmanager does with it (the
receivers it notifies, "nobody" when no receiver takes it, silenced,
inhibited, or "not in alertmanager" when Prometheus could not send it).

Prometheus is asked which alerts fire, so an alert that never reached
Alertmanager is listed too. The stack is the one up recorded in --dir;
--prometheus-url and --alertmanager-url point at any other.`,
		Example: `  llmmon alerts
  llmmon alerts --pending        # also the alerts waiting out their "for"
  llmmon alerts -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAlerts(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.Output)
	fl := cmd.Flags()
	fl.BoolVar(&opts.Pending, "pending", false, "also list pending alerts (true, but not yet for their whole \"for\")")
	fl.StringVar(&opts.PrometheusURL, "prometheus-url", "", "Prometheus to ask (default: the stack recorded in --dir)")
	fl.StringVar(&opts.AlertmanagerURL, "alertmanager-url", "", "Alertmanager to ask (default: the stack recorded in --dir)")
	return cmd
}

func runAlerts(ctx context.Context, opts *alertsOptions) error {
	prom, am := opts.PrometheusURL, opts.AlertmanagerURL
	stackName := ""
	if prom == "" || am == "" {
		st, err := stack.LoadState(opts.Globals.Dir)
		if err != nil && (!errors.Is(err, stack.ErrNoState) || prom == "") {
			return err
		}
		if err == nil {
			stackName = stack.NamesFor(st.Config.Name).Stack
			if prom == "" {
				prom = st.PrometheusURL
			}
			if am == "" {
				am = st.AlertmanagerURL
			}
		}
	}
	r, err := stack.ListAlerts(ctx, prom, am, opts.Pending)
	if err != nil {
		return err
	}
	r.Stack = stackName
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, r)
	}
	printAlerts(opts.IO.Out, r, opts.IO.DecorateOut(), opts.Pending)
	return nil
}

func printAlerts(out io.Writer, r stack.AlertsReport, decorated, pending bool) {
	if len(r.Alerts) == 0 {
		what := "firing"
		if pending {
			what = "firing or pending"
		}
		fmt.Fprintf(out, "no alerts %s (Prometheus %s)\n", what, r.PrometheusURL)
		return
	}
	for i, a := range r.Alerts {
		if i > 0 {
			fmt.Fprintln(out)
		}
		sev := a.Severity
		if decorated && a.State == "firing" && a.Severity == stack.SeverityCritical {
			sev = markFail + " " + sev
		}
		fmt.Fprintf(out, "%-9s %s  %s  %s, active since %s\n", sev, a.Name, a.Target(), a.State, since(a.ActiveSince))
		if a.Summary != "" {
			fmt.Fprintf(out, "  summary  %s\n", a.Summary)
		}
		if a.RunbookURL != "" {
			fmt.Fprintf(out, "  runbook  %s\n", a.RunbookURL)
		}
		switch a.Delivery {
		case "":
		case "notified":
			fmt.Fprintf(out, "  sent to  %s\n", strings.Join(a.Receivers, ", "))
		case "nobody":
			fmt.Fprintln(out, "  sent to  nobody (no receiver takes this severity; it shows in Alertmanager and Grafana)")
		case "silenced":
			fmt.Fprintf(out, "  sent to  nobody: silenced (%s)\n", strings.Join(a.SilencedBy, ", "))
		case "inhibited":
			fmt.Fprintln(out, "  sent to  nobody: inhibited by a critical alert on the same target")
		default:
			fmt.Fprintf(out, "  sent to  %s\n", a.Delivery)
		}
	}
	if r.AlertmanagerError != "" {
		fmt.Fprintf(out, "\nalertmanager does not answer, so delivery is unknown: %s\n", r.AlertmanagerError)
	}
}

func since(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.Local().Format("15:04:05") + " (" + time.Since(t).Round(time.Second).String() + " ago)"
}
