package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type upOptions struct {
	IO      IOStreams
	Globals *Globals
	// Settings are llmmon.yaml and the flags the user set; up layers them
	// over what the last up recorded in --dir.
	Settings  stack.Overrides
	Pull      stack.PullPolicy
	Wait      time.Duration
	Dashboard stack.DashboardOptions
	Output    string
	Engine    func() (stack.Engine, error)
	// LockWait bounds the wait for another up or down on --dir.
	LockWait time.Duration
	// Command is this command line, for another llmmon that waits on it.
	Command string
}

func newUpCmd(f *Factory, runF func(context.Context, *upOptions) error) *cobra.Command {
	opts := &upOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine}
	var flags *stackFlags
	var pull string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start Prometheus and Grafana through the Docker Engine API, ready to use",
		Long: `up checks that Docker answers, that the host ports are free, that the images
are there and that no object with one of its names exists that llmmon did not
create. Only then does it render the configuration into --dir (as render
does), and create the monitoring network, the two data volumes and the
Prometheus and Grafana containers through the Docker Engine API, copying the
rendered files in (so a remote DOCKER_HOST works too). It waits until
Prometheus is ready and Grafana can query it, imports the dashboard, and says
what each scrape target looks like (vLLM, llama.cpp, TGI, SGLang, the llmmon
gateway) and which dashboard rows it feeds. A failed check changes nothing,
in Docker or in --dir. Prometheus reaches servers on the host as
host.docker.internal.

up starts from the settings the last up recorded in --dir, so
"llmmon up --dir D" alone keeps the stack's images, ports and targets;
llmmon.yaml overrides them, and the flags you pass override both. A folder
records one stack: --name with another name starts that stack from the
defaults and records it instead.

Grafana's admin password is generated on the first up and kept in
DIR/grafana-admin-password (mode 0600); it is never printed (see
"llmmon status --show-password").

up is idempotent: a second run with the same settings changes nothing, and a
changed setting recreates only the container it concerns; the volumes are
always kept. status, doctor, import and down need only --dir.

up and down hold a lock on --dir while they run: a second one waits up to
--lock-timeout for the first to finish, saying who holds the folder (its
command, pid and since when), then goes on or fails naming it.`,
		Example: `  llmmon up
  llmmon up --target vllm=host.docker.internal:8001 --scrape-interval 5s
  llmmon up --name staging --prometheus-port 19090 --grafana-port 13000
  llmmon up --pull never --prometheus-image my/prometheus:local`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if opts.Settings, err = flags.overrides(opts.Globals); err != nil {
				return err
			}
			if opts.Pull, err = stack.ParsePullPolicy(pull); err != nil {
				return err
			}
			if opts.Wait < 0 {
				return fmt.Errorf("invalid --wait %s: must not be negative", opts.Wait)
			}
			if opts.LockWait < 0 {
				return fmt.Errorf("invalid --lock-timeout %s: must not be negative", opts.LockWait)
			}
			opts.Command = commandLine(cmd)
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
	fl.BoolVar(&opts.Dashboard.Skip, "no-dashboard", false, "do not import llmmon's dashboard into Grafana")
	fl.BoolVar(&opts.Dashboard.Force, "force-dashboard", false, "replace llmmon's dashboard even when it was edited in Grafana")
	addOutputFlag(cmd, &opts.Output)
	addLockFlag(cmd, &opts.LockWait)
	return cmd
}

func runUp(ctx context.Context, opts *upOptions) error {
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	out, decorate := opts.IO.Out, opts.IO.DecorateOut()
	if opts.Output == "json" { // stdout is the report; progress goes to stderr
		out, decorate = opts.IO.ErrOut, opts.IO.DecorateErr()
	}
	view := newUpView(out, decorate, opts.Globals.Verbose)
	start := time.Now()
	res, err := stack.Up(ctx, eng, stack.UpOptions{
		Dir: opts.Globals.Dir, Settings: opts.Settings, Pull: opts.Pull, Wait: opts.Wait, Dashboard: opts.Dashboard,
		Events:       view.event,
		PullProgress: stack.Progress{Out: out, Terminal: decorate},
		Lock:         lockOptions(opts.Command, opts.Globals.Dir, opts.LockWait, opts.IO.ErrOut),
		StackLocks:   stack.StackLockDir(),
		StackBusy: func(name string, h stack.LockHolder) {
			fmt.Fprintf(opts.IO.ErrOut, "stack %q is in use from another --dir by %s: waiting up to %s for it (--lock-timeout)\n", name, h, opts.LockWait)
		},
	})
	view.done()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted (%v): whatever was created is labelled; run llmmon up again to finish, or llmmon down to remove it", ctx.Err())
	}
	if err != nil {
		return userSettingsError(err)
	}
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, newUpJSON(opts.Globals.Dir, res, time.Since(start)))
	}
	view.summary(res, opts.Wait > 0, time.Since(start))
	return nil
}
