package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/docker"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// newEngine connects to the Docker engine named by the environment
// (DOCKER_HOST, ...). Commands call it only when they run, so --help and
// flag errors never need a daemon. doctor uses it too.
var newEngine = func() (stack.Engine, error) { return docker.New() }

type upOptions struct {
	IO      IOStreams
	Globals *Globals
	Config  stack.Config
	Pull    stack.PullPolicy
	Wait    time.Duration
	// NoDashboard skips the dashboard import; ForceDashboard replaces a
	// dashboard edited in Grafana.
	NoDashboard    bool
	ForceDashboard bool
	Engine         func() (stack.Engine, error)
}

func newUpCmd(f *Factory, runF func(context.Context, *upOptions) error) *cobra.Command {
	opts := &upOptions{IO: f.IO, Globals: f.Globals, Engine: newEngine}
	var flags *stackFlags
	var pull string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start Prometheus and Grafana through the Docker Engine API, ready to use",
		Long: `up renders the configuration into --dir (as render does), then creates the
monitoring network, the two data volumes and the Prometheus and Grafana
containers through the Docker Engine API, copying the rendered files in (so a
remote DOCKER_HOST works too), and waits until Prometheus is ready and Grafana
can query it.

Before creating anything it checks that Docker answers, that the host ports
are free and that no object with one of its names exists that llmmon did not
create. Prometheus reaches servers on the host as host.docker.internal.

Grafana's admin password is generated on the first up and kept in
DIR/grafana-admin-password (mode 0600); it is never printed (see
"llmmon status --show-password").

up is idempotent: a second run with the same settings changes nothing, and a
changed setting recreates only the container it concerns; the volumes are
always kept. The resolved settings are recorded in --dir, so status, doctor
and down need only --dir (and --name).`,
		Example: `  llmmon up
  llmmon up --target vllm=host.docker.internal:8001 --scrape-interval 5s
  llmmon up --name staging --prometheus-port 19090 --grafana-port 13000
  llmmon up --pull never --prometheus-image my/prometheus:local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.resolve(opts.Globals)
			if err != nil {
				return err
			}
			opts.Config = cfg
			if opts.Pull, err = stack.ParsePullPolicy(pull); err != nil {
				return err
			}
			if opts.Wait < 0 {
				return fmt.Errorf("invalid --wait %s: must not be negative", opts.Wait)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUp(cmd.Context(), opts)
		},
	}
	flags = addStackFlags(cmd)
	fl := cmd.Flags()
	fl.StringVar(&pull, "pull", string(stack.PullMissing), "when to pull images: missing, always or never")
	fl.DurationVar(&opts.Wait, "wait", stack.DefaultWait, "how long to wait for Prometheus and Grafana to be ready (0: do not wait)")
	fl.BoolVar(&opts.NoDashboard, "no-dashboard", false, "do not import llmmon's dashboard into Grafana")
	fl.BoolVar(&opts.ForceDashboard, "force-dashboard", false, "replace llmmon's dashboard even when it was edited in Grafana")
	return cmd
}

func runUp(ctx context.Context, opts *upOptions) error {
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	out := opts.IO.Out
	start := time.Now()
	up := stack.UpOptions{
		Dir: opts.Globals.Dir, Config: opts.Config, Pull: opts.Pull, Wait: opts.Wait,
		Out: out, Terminal: opts.IO.IsTerminal, Verbose: opts.Globals.Verbose,
	}
	if !opts.NoDashboard {
		up.ImportDashboard = importDashboard(opts.ForceDashboard)
	}
	res, err := stack.Up(ctx, eng, up)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted (%v): whatever was created is labelled; run llmmon up again to finish, or llmmon down to remove it", ctx.Err())
	}
	if err != nil {
		return err
	}
	printUpSummary(out, opts, res, time.Since(start))
	if opts.Wait > 0 {
		printEngines(ctx, out, res)
	}
	return nil
}

// importDashboard wires up to the dashboard importer (stack/grafana).
func importDashboard(force bool) func(context.Context, *grafana.Client, int) (stack.DashboardImport, error) {
	return func(ctx context.Context, g *grafana.Client, last int) (stack.DashboardImport, error) {
		r, err := g.ImportDashboard(ctx, grafana.ImportOptions{
			Folder: grafana.DefaultFolder, DatasourceUID: stack.DatasourceUID, LastWrittenVersion: last, Force: force,
		})
		if err != nil {
			return stack.DashboardImport{}, err
		}
		summary := fmt.Sprintf("dashboard %q %s (version %d)", r.Title, r.Action, r.Version)
		if r.Reason != "" {
			summary += ": " + r.Reason
		}
		return stack.DashboardImport{Summary: summary, URL: r.URL, Version: r.TrackedVersion}, nil
	}
}

func printUpSummary(out io.Writer, opts *upOptions, res *stack.UpResult, took time.Duration) {
	changed := 0
	for _, a := range res.Actions {
		if a.Verb != "unchanged" {
			changed++
		}
	}
	if opts.Wait <= 0 {
		fmt.Fprintf(out, "\nstack %s started in %.1fs (not waiting for readiness: --wait 0)\n", res.Names.Stack, took.Seconds())
	} else if changed == 0 {
		fmt.Fprintf(out, "\nstack %s is up to date and ready (%.1fs)\n", res.Names.Stack, took.Seconds())
	} else {
		fmt.Fprintf(out, "\nstack %s is ready (%.1fs)\n", res.Names.Stack, took.Seconds())
	}
	fmt.Fprintf(out, "  Prometheus  %s\n", res.PrometheusURL)
	fmt.Fprintf(out, "  Grafana     %s   user %s, password in %s\n", res.GrafanaURL, stack.AdminUser, res.PasswordFile)
	if res.Dashboard != nil {
		fmt.Fprintf(out, "  Dashboard   %s\n              %s\n", res.Dashboard.URL, res.Dashboard.Summary)
	}
	if opts.Wait <= 0 {
		return
	}
	fmt.Fprintln(out, "\nScrape targets:")
	if res.TargetsErr != nil {
		fmt.Fprintf(out, "  unknown: %v\n", res.TargetsErr)
		return
	}
	printTargets(out, res.Targets, opts.IO.IsTerminal)
}

func printTargets(out io.Writer, targets []prometheus.Target, tty bool) {
	if len(targets) == 0 {
		fmt.Fprintln(out, "  none")
		return
	}
	for _, t := range targets {
		health := t.Health
		if health == "" {
			health = "unknown"
		}
		mark := ""
		if tty {
			mark = map[string]string{"up": "✓ ", "down": "✗ "}[health]
			if mark == "" {
				mark = "… "
			}
		}
		line := fmt.Sprintf("  %s%-14s %-6s %s", mark, t.Job, health, t.ScrapeURL)
		if health == "unknown" {
			line += "  (not scraped yet)"
		}
		if t.LastError != "" {
			line += "\n      last error: " + strings.TrimSpace(t.LastError)
		}
		fmt.Fprintln(out, line)
	}
}
