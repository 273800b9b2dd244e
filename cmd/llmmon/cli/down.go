package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type downOptions struct {
	IO      IOStreams
	Globals *Globals
	Name    string
	NameSet bool
	Volumes bool
	Output  string
	Engine  func() (stack.Engine, error)
	// LockWait bounds the wait for another up or down on --dir.
	LockWait time.Duration
	// Command is this command line, for another llmmon that waits on it.
	Command string
}

func newDownCmd(f *Factory, runF func(context.Context, *downOptions) error) *cobra.Command {
	opts := &downOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the stack's containers and network (volumes are kept)",
		Long: `down removes the Prometheus, Alertmanager and Grafana containers and the
monitoring network that llmmon created, found by their dev.llmmon.stack label;
an object without that label is never touched, whatever its name. The data
volumes are kept, so a later up finds the metrics, silences and dashboards
again, unless --volumes is given.

The stack is the one recorded in --dir by up, or --name. Running down twice
is fine. Like up, down holds --dir's lock (see llmmon up --help).`,
		Example: `  llmmon down
  llmmon down --volumes          # also delete the metrics, silences and Grafana data
  llmmon down --name staging`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.NameSet = cmd.Flags().Changed("name")
			if opts.LockWait < 0 {
				return fmt.Errorf("invalid --lock-timeout %s: must not be negative", opts.LockWait)
			}
			opts.Command = commandLine(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDown(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "the stack's --name (default: the one recorded in --dir)")
	cmd.Flags().BoolVar(&opts.Volumes, "volumes", false, "also remove the stack's data volumes (metrics, silences and Grafana data are lost)")
	addOutputFlag(cmd, &opts.Output)
	addLockFlag(cmd, &opts.LockWait)
	return cmd
}

func runDown(ctx context.Context, opts *downOptions) error {
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	res, err := stack.Down(ctx, eng, stack.DownOptions{Dir: opts.Globals.Dir, Name: opts.Name, NameGiven: opts.NameSet, Volumes: opts.Volumes,
		Lock: lockOptions(opts.Command, opts.Globals.Dir, opts.LockWait, opts.IO.ErrOut)})
	if opts.Output == "json" {
		if err != nil {
			return err
		}
		return writeJSON(opts.IO.Out, newDownJSON(res, opts.Volumes))
	}
	out := opts.IO.Out
	for _, o := range res.Removed {
		fmt.Fprintf(out, "removed %s %s\n", o.Kind, o.Name)
	}
	if err != nil {
		return err
	}
	switch {
	case len(res.Removed) == 0:
		fmt.Fprintf(out, "nothing to remove: no llmmon objects of stack %q\n", res.Stack)
	case !opts.Volumes:
		fmt.Fprintln(out, "volumes kept (the data survives); llmmon down --volumes removes them")
	}
	return nil
}
