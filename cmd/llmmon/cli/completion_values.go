package cli

import (
	"context"
	"sort"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmmon/llmmon/internal/load"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// flagValues are the fixed values a flag takes, wherever it appears; the
// completion script offers them after the flag.
var flagValues = map[string][]cobra.Completion{
	"pull":     {string(stack.PullMissing), string(stack.PullAlways), string(stack.PullNever)},
	"output":   {"text", "json"},
	"endpoint": {load.EndpointChat, load.EndpointCompletions},
	"mode":     {sim.ModeRandom, sim.ModeEcho},
}

// registerCompletions walks the command tree once it is built, so each
// command keeps defining its flags alone and gets value completion here:
// the fixed values above, and for --name the stacks on the Docker engine.
func registerCompletions(root *cobra.Command, f *Factory) {
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(fl *pflag.Flag) {
			if vals, ok := flagValues[fl.Name]; ok {
				_ = c.RegisterFlagCompletionFunc(fl.Name, cobra.FixedCompletions(vals, cobra.ShellCompDirectiveNoFileComp))
			}
			if fl.Name == "name" {
				_ = c.RegisterFlagCompletionFunc(fl.Name, func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
					return stackNames(cmd.Context(), f), cobra.ShellCompDirectiveNoFileComp
				})
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// stackNames lists the --name of every stack whose objects are on the
// engine, as their labels say. A slow or absent daemon completes nothing
// rather than hanging the shell.
func stackNames(ctx context.Context, f *Factory) []cobra.Completion {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	eng, err := f.Engine()
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	for _, kind := range []stack.Kind{stack.KindContainer, stack.KindVolume, stack.KindNetwork} {
		objs, err := eng.List(ctx, kind, nil)
		if err != nil {
			return nil
		}
		for _, o := range objs {
			// The stack started without --name needs none.
			if n := o.Labels[stack.LabelStack]; n != "" && n != stack.DefaultStackName {
				seen[n] = true
			}
		}
	}
	names := make([]cobra.Completion, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
