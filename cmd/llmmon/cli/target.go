package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type targetOptions struct {
	IO      IOStreams
	Globals *Globals
	Engine  func() (stack.Engine, error)
	// Remove: rm rather than add.
	Remove    bool
	Job       string
	Addresses []string
	Labels    []string
	Output    string // ls only
	// add and rm hold --dir's lock, as up and down do.
	LockWait time.Duration
	Command  string
}

func newTargetCmd(f *Factory, runF func(context.Context, *targetOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "target",
		Short: "Add, remove and list scrape targets of a running stack, live",
		Long: `target changes which addresses Prometheus scrapes while it runs: each job's
addresses live in a file-based service discovery file (targets/JOB.json)
inside the Prometheus container, which Prometheus re-reads within seconds
(10s at most). Adding or removing a whole job also reloads prometheus.yml
(SIGHUP). Nothing restarts and no sample is lost.

The change is recorded in --dir, so the next llmmon up keeps it (unless
llmmon.yaml or --target set the targets: put the change there too).`,
		Example: `  llmmon target add vllm gpu3:8000 gpu4:8000 --label model=llama-3.1-8b
  llmmon target add dcgm gpu3:9400
  llmmon target rm vllm gpu4:8000
  llmmon target rm dcgm
  llmmon target ls -o json`,
		Args: cobra.NoArgs,
	}
	for _, sub := range []func(*Factory, func(context.Context, *targetOptions) error) *cobra.Command{newTargetAddCmd, newTargetRmCmd, newTargetLsCmd} {
		cmd.AddCommand(sub(f, runF))
	}
	return cmd
}

func newTargetAddCmd(f *Factory, runF func(context.Context, *targetOptions) error) *cobra.Command {
	opts := &targetOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "add JOB ADDRESS...",
		Short: "Add addresses to a job (creating it), without restarting Prometheus",
		Long: `add puts each ADDRESS ([https://]HOST:PORT[/PATH]) into job JOB's targets and
sets the --label values on the job. A new JOB is scraped like the others
(http unless an address says https). Use llmmon.yaml for auth and TLS.`,
		Example: `  llmmon target add llm-server gpu2:8000
  llmmon target add vllm gpu3:8000 gpu4:8000 --label model=llama-3.1-8b`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job, opts.Addresses, opts.Command = args[0], args[1:], strings.Join(append([]string{commandLine(cmd)}, args...), " ")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTargetChange(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVar(&opts.Labels, "label", nil, "label NAME=VALUE on every series of the job (repeatable)")
	addLockFlag(cmd, &opts.LockWait)
	return cmd
}

func newTargetRmCmd(f *Factory, runF func(context.Context, *targetOptions) error) *cobra.Command {
	opts := &targetOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine, Remove: true}
	cmd := &cobra.Command{
		Use:   "rm JOB [ADDRESS...]",
		Short: "Remove addresses from a job, or the whole job, without restarting Prometheus",
		Example: `  llmmon target rm vllm gpu4:8000
  llmmon target rm dcgm`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Job, opts.Addresses, opts.Command = args[0], args[1:], strings.Join(append([]string{commandLine(cmd)}, args...), " ")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTargetChange(cmd.Context(), opts)
		},
	}
	addLockFlag(cmd, &opts.LockWait)
	return cmd
}

func newTargetLsCmd(f *Factory, runF func(context.Context, *targetOptions) error) *cobra.Command {
	opts := &targetOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List each job's addresses, their health in Prometheus and the engine each job runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runTargetLs(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

func runTargetChange(ctx context.Context, opts *targetOptions) error {
	labels, err := parseLabels("--label", opts.Labels)
	if err != nil {
		return err
	}
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	c := stack.TargetChange{Dir: opts.Globals.Dir, Job: opts.Job, Addresses: opts.Addresses, Labels: labels,
		Lock: lockOptions(opts.Command, opts.Globals.Dir, opts.LockWait, opts.IO.ErrOut)}
	change := stack.AddTarget
	if opts.Remove {
		change = stack.RemoveTarget
	}
	res, err := change(ctx, eng, c)
	if err != nil {
		return userSettingsError(err)
	}
	how := "targets file rewritten; Prometheus picks it up within 10s, no restart"
	if res.Reloaded {
		how = "prometheus.yml reloaded (SIGHUP), no restart"
	}
	switch {
	case opts.Remove && res.Target.Name == "":
		fmt.Fprintf(opts.IO.Out, "removed job %s from stack %s (%s)\n", opts.Job, res.Stack, how)
	default:
		fmt.Fprintf(opts.IO.Out, "job %s of stack %s now scrapes %s (%s)\n", opts.Job, res.Stack, strings.Join(res.Target.ScrapeURLs(), ", "), how)
	}
	return nil
}

func runTargetLs(ctx context.Context, opts *targetOptions) error {
	l, err := stack.ListTargets(ctx, opts.Globals.Dir)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, l)
	}
	printTargetList(opts.IO.Out, l, opts.IO.DecorateOut())
	return nil
}

func printTargetList(out io.Writer, l stack.TargetList, decorated bool) {
	if l.PrometheusError != "" {
		fmt.Fprintf(out, "health unknown: %s\n", l.PrometheusError)
	}
	for _, j := range l.Jobs {
		engine := j.Engine
		if engine == "" {
			engine = "not known yet (no scrape)"
		}
		fmt.Fprintf(out, "%s  (%s)\n", j.Name, engine)
		if len(j.Rows) > 0 {
			fmt.Fprintf(out, "  dashboard rows: %s\n", strings.Join(j.Rows, ", "))
		}
		if len(j.Labels) > 0 {
			var kv []string
			for _, k := range sortedKeys(j.Labels) {
				kv = append(kv, k+"="+j.Labels[k])
			}
			fmt.Fprintf(out, "  labels: %s\n", strings.Join(kv, ", "))
		}
		for _, a := range j.Targets {
			mark := ""
			if decorated {
				mark = map[string]string{"up": markOK + " ", "down": markFail + " "}[a.Health]
				if mark == "" {
					mark = "… "
				}
			}
			line := fmt.Sprintf("  %s%-7s %s", mark, a.Health, a.ScrapeURL)
			if a.LastError != "" {
				line += "  " + a.LastError
			}
			fmt.Fprintln(out, line)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
