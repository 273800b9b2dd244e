package cli

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/internal/buildinfo"
)

type versionOptions struct {
	IO     IOStreams
	Output string
}

func newVersionCmd(f *Factory) *cobra.Command {
	opts := &versionOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print llmmon's version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVersion(opts)
		},
	}
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

func runVersion(opts *versionOptions) error {
	info := buildinfo.Get()
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, info)
	}
	fmt.Fprintf(opts.IO.Out, "llmmon %s\ncommit: %s\ngo: %s (%s)\n", info.Version, info.Commit, info.GoVersion, info.Platform)
	return nil
}

// addOutputFlag gives a command --output text|json, validated at parse time.
func addOutputFlag(cmd *cobra.Command, out *string) {
	cmd.Flags().StringVarP(out, "output", "o", "text", "output format: text or json")
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if *out != "text" && *out != "json" {
			return fmt.Errorf("invalid --output %q: want text or json", *out)
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // JSON for people and jq: "p95 > 2s", not "p95 \u003e 2s"
	return enc.Encode(v)
}
