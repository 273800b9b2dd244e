package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type statusOptions struct {
	IO           IOStreams
	Globals      *Globals
	Name         string
	NameSet      bool
	Output       string
	ShowPassword bool
	Engine       func() (stack.Engine, error)
}

func newStatusCmd(f *Factory, runF func(context.Context, *statusOptions) error) *cobra.Command {
	opts := &statusOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the stack's containers, URLs, scrape targets and alerting path",
		Long: `status shows each container's state, health, ports and URL, whether Grafana
can query Prometheus, every scrape target with its health and last error, and
the alerting path: who is notified, whether Prometheus sends alerts to
Alertmanager, which alerts fire, and whether notifications fail.

It exits non-zero when the stack is not fully up: a container not running
or not ready, or Grafana unable to query Prometheus. Scrape targets are your
servers: they are shown, and do not change the exit status.

With --name, status finds the stack's folder from its containers' labels
when --dir does not record that stack, so it works from any directory. The
Grafana admin password is only printed with --show-password.`,
		Example: `  llmmon status
  llmmon status -o json
  llmmon status --show-password`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.NameSet = cmd.Flags().Changed("name")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "the stack's --name (default: the one recorded in --dir)")
	addOutputFlag(cmd, &opts.Output)
	fl.BoolVar(&opts.ShowPassword, "show-password", false, "print the Grafana admin password")
	return cmd
}

func runStatus(ctx context.Context, opts *statusOptions) error {
	name, err := stack.ResolveName(opts.Globals.Dir, opts.Name, opts.NameSet)
	if err != nil {
		return err
	}
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	r, err := stack.Status(ctx, eng, stack.StatusOptions{Dir: opts.Globals.Dir, Name: name, ShowPassword: opts.ShowPassword})
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		if err := writeJSON(opts.IO.Out, newStatusJSON(r)); err != nil {
			return err
		}
	} else {
		printStatus(opts.IO.Out, r, opts.IO.DecorateOut())
	}
	if !r.OK {
		if opts.Output == "text" {
			fmt.Fprintln(opts.IO.ErrOut, notUpMessage(r))
		}
		return ExitCodeError{Code: ExitError}
	}
	return nil
}

func notUpMessage(r stack.StatusReport) string {
	running, paused := 0, 0
	for _, c := range r.Components {
		switch c.State {
		case "running":
			running++
		case "paused":
			paused++
		}
	}
	switch {
	case paused > 0:
		return fmt.Sprintf("llmmon stack %q is paused (docker pause): run llmmon up to resume it", r.Stack)
	case running == 0:
		return fmt.Sprintf("nothing is up: llmmon stack %q is not running (start it with llmmon up)", r.Stack)
	case !r.Up:
		return fmt.Sprintf("llmmon stack %q is only partly up: run llmmon up to restore it, or llmmon doctor", r.Stack)
	case r.Datasource != "ok" && r.Datasource != "":
		return fmt.Sprintf("llmmon stack %q runs, but Grafana's datasource is %s (see llmmon doctor)", r.Stack, r.Datasource)
	}
	return fmt.Sprintf("llmmon stack %q runs, but is not ready (see llmmon doctor)", r.Stack)
}

func printStatus(out io.Writer, r stack.StatusReport, decorated bool) {
	fmt.Fprintf(out, "stack %s (%s)\n", r.Stack, r.Dir)
	if r.DirFromLabels {
		fmt.Fprintf(out, "  (--dir does not record this stack; its containers say up ran in %s)\n", r.Dir)
	}
	for _, c := range r.Components {
		mark := ""
		if decorated {
			mark = markFail + " "
			if c.Healthy {
				mark = markOK + " "
			}
		}
		fmt.Fprintf(out, "  %s%-12s %-16s %-8s %s\n", mark, c.Component, c.Container, c.State, c.Health)
		if c.URL != "" {
			fmt.Fprintf(out, "      url      %s\n", c.URL)
		}
		for _, p := range c.Ports {
			fmt.Fprintf(out, "      port     %s\n", p)
		}
		if c.RestartCount > 0 {
			fmt.Fprintf(out, "      restarts %d\n", c.RestartCount)
		}
	}
	if r.Datasource != "" {
		fmt.Fprintf(out, "  datasource   %s: %s\n", stack.DatasourceUID, r.Datasource)
	}
	fmt.Fprintf(out, "  grafana login %s, password in %s\n", r.AdminUser, r.PasswordFile)
	if r.Password != "" {
		fmt.Fprintf(out, "  grafana password %s\n", r.Password)
	}
	if len(r.Components) == 0 || r.Components[0].State != "running" {
		return
	}
	fmt.Fprintln(out, "Scrape targets:")
	if r.TargetsError != "" {
		fmt.Fprintf(out, "  unknown: %s\n", r.TargetsError)
	} else {
		printTargets(out, r.Targets, decorated)
		printEngines(out, r.Engines)
	}
	if r.Alerting != nil {
		printAlerting(out, r.Alerting, decorated)
	}
}

// printAlerting shows the alerting path: who is notified, whether
// Prometheus sends to Alertmanager, what fires, and failed notifications.
func printAlerting(out io.Writer, a *stack.AlertingStatus, decorated bool) {
	fmt.Fprintln(out, "Alerting:")
	mark := func(ok bool) string {
		if !decorated {
			return ""
		}
		if ok {
			return markOK + " "
		}
		return markFail + " "
	}
	if len(a.Notified) == 0 {
		fmt.Fprintf(out, "  %sreceivers     nobody is notified (add --alert-webhook URL, or alerting.receivers in llmmon.yaml)\n", mark(false))
	} else {
		fmt.Fprintf(out, "  %sreceivers     %s\n", mark(true), strings.Join(a.Notified, "; "))
	}
	fmt.Fprintf(out, "  %sprometheus →  alertmanager: %s\n", mark(a.Prometheus == "ok"), a.Prometheus)
	switch {
	case a.FiringErr != "":
		fmt.Fprintf(out, "  firing        unknown: %s\n", a.FiringErr)
	case len(a.Firing) == 0:
		fmt.Fprintf(out, "  %sfiring        none\n", mark(true))
	default:
		fmt.Fprintf(out, "  %sfiring        %d (llmmon alerts shows each with its runbook)\n", mark(false), len(a.Firing))
		for _, al := range a.Firing {
			fmt.Fprintf(out, "      %-8s %s %s (%s)\n", al.Severity, al.Name, al.Target(), al.Delivery)
		}
	}
	switch {
	case a.NotificationsErr != "":
		fmt.Fprintf(out, "  notifications unknown: %s\n", a.NotificationsErr)
	case len(a.Notifications) == 0:
		fmt.Fprintf(out, "  %snotifications none sent yet\n", mark(true))
	default:
		for _, n := range a.Notifications {
			fmt.Fprintf(out, "  %snotifications %s: %.0f attempts, %.0f failed (since Alertmanager started)\n", mark(n.Failed == 0), n.Name, n.Attempts, n.Failed)
		}
	}
}
