package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type renderOptions struct {
	IO       IOStreams
	Globals  *Globals
	Settings stack.Settings // defaults, llmmon.yaml, then the flags set
}

func newRenderCmd(f *Factory, runF func(*renderOptions) error) *cobra.Command {
	opts := &renderOptions{IO: f.IO, Globals: f.Globals}
	var flags *stackFlags
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write prometheus.yml, alert rules and Grafana provisioning into --dir",
		Long: `render writes the stack's configuration from llmmon's embedded templates.
It is what up runs first; use it alone to inspect or version the files.
Writing is atomic, and a file whose content is unchanged is left alone.`,
		Example: `  llmmon render --dir ./llm_monitor
  llmmon render --target vllm=host.docker.internal:8001 --scrape-interval 5s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ov, err := flags.overrides(opts.Globals)
			if err != nil {
				return err
			}
			if opts.Settings, err = stack.Resolve("", ov); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRender(opts)
		},
	}
	flags = addStackFlags(cmd)
	return cmd
}

func runRender(opts *renderOptions) error {
	r, err := opts.Settings.Render()
	if err != nil {
		return userSettingsError(err)
	}
	results, err := stack.WriteFiles(opts.Globals.Dir, r.All())
	for _, res := range results {
		verb := "wrote    "
		if !res.Changed {
			verb = "unchanged"
		}
		fmt.Fprintf(opts.IO.Out, "%s %s\n", verb, res.Path)
	}
	return err
}
