package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type lsOptions struct {
	IO     IOStreams
	Output string
	Engine func() (stack.Engine, error)
}

func newLsCmd(f *Factory, runF func(context.Context, *lsOptions) error) *cobra.Command {
	opts := &lsOptions{IO: f.IO, Engine: f.Engine}
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the llmmon stacks on the Docker engine",
		Long: `ls lists every llmmon stack on the Docker engine, found by the labels llmmon
puts on what it creates (like docker compose ls or kind get clusters): its
--name, the folder up ran in, its state and its URLs. Pass the name to
status, down or doctor with --name.`,
		Example: `  llmmon ls
  llmmon ls -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLs(cmd.Context(), opts)
		},
	}
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

func runLs(ctx context.Context, opts *lsOptions) error {
	eng, err := opts.Engine()
	if err != nil {
		return err
	}
	stacks, err := stack.ListStacks(ctx, eng)
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, stacks)
	}
	if len(stacks) == 0 {
		fmt.Fprintln(opts.IO.Out, "no llmmon stack on this Docker engine (start one with llmmon up)")
		return nil
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tDIR\tURLS")
	for _, s := range stacks {
		var urls []string
		for _, c := range []string{stack.ComponentPrometheus, stack.ComponentAlertmanager, stack.ComponentGrafana} {
			if u := s.URLs[c]; u != "" {
				urls = append(urls, c+" "+u)
			}
		}
		dir := s.Dir
		if dir == "" {
			dir = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Name, s.State, dir, strings.Join(urls, ", "))
	}
	return tw.Flush()
}
