package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

type renderOptions struct {
	IO       IOStreams
	Globals  *Globals
	Settings stack.Settings // defaults, what up recorded in --dir, llmmon.yaml, then the flags set
	Export   exportOptions
	Output   string
}

func newRenderCmd(f *Factory, runF func(*renderOptions) error) *cobra.Command {
	opts := &renderOptions{IO: f.IO, Globals: f.Globals}
	var flags *stackFlags
	var export *exportFlags
	cmd := &cobra.Command{
		Use:   "render",
		Short: "Write prometheus.yml, alert rules and Grafana provisioning into --dir",
		Long: `render writes the stack's configuration from llmmon's embedded templates.
It is what up runs first; use it alone to inspect or version the files.
Writing is atomic, and a file whose content is unchanged is left alone.

Like up, render starts from the settings the last up recorded in --dir;
llmmon.yaml overrides them, and the flags you pass override both.

--kubernetes DIR writes a kustomize base for a cluster that runs
kube-prometheus-stack instead: PodMonitors (or ServiceMonitors) for llmmon's
gateway, vLLM, llama.cpp, TGI, SGLang and dcgm-exporter, a PrometheusRule with
the same alert rules, the dashboard as a ConfigMap for Grafana's sidecar, and
with --gateway-upstream the gateway itself. Its settings are the kubernetes:
section of llmmon.yaml.

--compose DIR writes the stack up would create as a Compose project instead:
DIR/docker-compose.yml, the configuration it mounts, and Grafana's admin
password in DIR/secrets.`,
		Example: `  llmmon render --dir ./llm_monitor
  llmmon render --target vllm=host.docker.internal:8001 --scrape-interval 5s
  llmmon render --kubernetes ./k8s --release prometheus --namespace monitoring
  llmmon render --kubernetes ./k8s --gateway-upstream http://vllm.ai.svc:8000/v1
  llmmon render --compose ./compose && cd compose && docker-compose up -d`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ov, err := flags.overrides(opts.Globals)
			if err != nil {
				return err
			}
			if err := export.overrides(&ov); err != nil {
				return err
			}
			if opts.Settings, err = stack.Resolve(opts.Globals.Dir, ov); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRender(opts)
		},
	}
	flags = addStackFlags(cmd)
	export = addExportFlags(cmd, &opts.Export)
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

func runRender(opts *renderOptions) error {
	rep := &renderJSON{Files: []fileJSON{}}
	var err error
	if opts.Export.any() {
		err = runExport(opts.IO.Out, opts.Settings, opts.Export, rep, opts.Output == "json")
	} else {
		var r stack.Rendered
		if r, err = opts.Settings.Render(); err != nil {
			return userSettingsError(err)
		}
		var results []stack.WriteResult
		results, err = stack.WriteFiles(opts.Globals.Dir, r.All())
		rep.Files = appendWritten(rep.Files, results)
		if opts.Output != "json" {
			printWritten(opts.IO.Out, results)
		}
	}
	if err == nil && opts.Output == "json" {
		return writeJSON(opts.IO.Out, rep)
	}
	return err
}

// printWritten says, per file, whether a render wrote it or found it
// already right.
func printWritten(out io.Writer, results []stack.WriteResult) {
	for _, res := range results {
		verb := "wrote    "
		if !res.Changed {
			verb = "unchanged"
		}
		fmt.Fprintf(out, "%s %s\n", verb, res.Path)
	}
}
