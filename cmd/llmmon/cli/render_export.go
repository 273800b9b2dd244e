package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/internal/buildinfo"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/compose"
	"github.com/llmmon/llmmon/stack/kubernetes"
)

// exportOptions are render's other outputs: a kustomize base for
// kube-prometheus-stack and a Compose project.
type exportOptions struct {
	KubernetesDir string
	ComposeDir    string
}

func (e exportOptions) any() bool { return e.KubernetesDir != "" || e.ComposeDir != "" }

// exportFlags are the flags for the common kubernetes: settings; the rest
// are in llmmon.yaml.
type exportFlags struct {
	cmd              *cobra.Command
	opts             *exportOptions
	namespace        string
	release          string
	monitor          string
	gatewayUpstreams []string
	gatewayImage     string
	grafanaOperator  bool
}

func addExportFlags(cmd *cobra.Command, opts *exportOptions) *exportFlags {
	e := &exportFlags{cmd: cmd, opts: opts}
	fl := cmd.Flags()
	fl.StringVar(&opts.KubernetesDir, "kubernetes", "", "write a kustomize base for kube-prometheus-stack into this folder instead (kubectl apply -k DIR)")
	fl.StringVar(&opts.ComposeDir, "compose", "", "write the stack as a Compose project into this folder instead (docker-compose up -d)")
	fl.StringVar(&e.namespace, "namespace", "", "with --kubernetes: namespace of every object (kubernetes.namespace, default "+kubernetes.DefaultNamespace+")")
	fl.StringVar(&e.release, "release", "", "with --kubernetes: the release label kube-prometheus-stack selects (kubernetes.release, default "+kubernetes.DefaultRelease+")")
	fl.StringVar(&e.monitor, "monitor", "", "with --kubernetes: PodMonitor or ServiceMonitor (kubernetes.monitor)")
	fl.StringArrayVar(&e.gatewayUpstreams, "gateway-upstream", nil, "with --kubernetes: also run llmmon's gateway in front of this engine URL, as serve --upstream takes it (repeatable)")
	fl.StringVar(&e.gatewayImage, "gateway-image", "", "with --kubernetes: the gateway's image, as make image builds it (default llmmon:VERSION)")
	fl.BoolVar(&e.grafanaOperator, "grafana-operator", false, "with --kubernetes: also write a GrafanaDashboard for grafana-operator")
	return e
}

// overrides adds the kubernetes: settings the user set by flag to o, over
// llmmon.yaml's. They are settings of --kubernetes alone.
func (e *exportFlags) overrides(o *stack.Overrides) error {
	fl := e.cmd.Flags()
	if e.opts.KubernetesDir == "" {
		for _, f := range []string{"namespace", "release", "monitor", "gateway-upstream", "gateway-image", "grafana-operator"} {
			if fl.Changed(f) {
				return fmt.Errorf("--%s is a setting of --kubernetes: pass --kubernetes DIR too", f)
			}
		}
		return nil
	}
	k := &o.Flags.Kubernetes
	set := func(path string) { o.Set = append(o.Set, path) }
	if fl.Changed("namespace") {
		k.Namespace = e.namespace
		set("kubernetes.namespace")
	}
	if fl.Changed("release") {
		k.Release = e.release
		set("kubernetes.release")
	}
	if fl.Changed("monitor") {
		k.Monitor = e.monitor
		set("kubernetes.monitor")
	}
	if fl.Changed("gateway-upstream") {
		k.Gateway.Upstreams = e.gatewayUpstreams
		set("kubernetes.gateway.upstreams")
	}
	if fl.Changed("gateway-image") {
		k.Gateway.Image = e.gatewayImage
		set("kubernetes.gateway.image")
	}
	if fl.Changed("grafana-operator") {
		k.Grafana.Operator = e.grafanaOperator
		set("kubernetes.grafana.operator")
	}
	return nil
}

// runExport writes each output asked for. Nothing is written unless every
// setting is valid: kubernetes.Render checks them all, and compose.Write
// checks the stack's before it writes.
// runExport writes the exports; quiet leaves the lines out (-o json),
// and rep collects what was written either way.
func runExport(out io.Writer, s stack.Settings, e exportOptions, rep *renderJSON, quiet bool) error {
	if quiet {
		out = io.Discard
	}
	var base []stack.File
	if e.KubernetesDir != "" {
		var err error
		if base, err = kubernetes.Render(s, buildinfo.Get().Version); err != nil {
			return userSettingsError(err)
		}
	}
	if e.ComposeDir != "" {
		results, notes, err := compose.Write(e.ComposeDir, s)
		rep.Files = appendWritten(rep.Files, results)
		printWritten(out, results)
		for _, n := range notes {
			fmt.Fprintf(out, "note: %s\n", n)
		}
		if err != nil {
			return userSettingsError(err)
		}
	}
	if e.KubernetesDir != "" {
		results, removed, err := kubernetes.Write(e.KubernetesDir, base)
		rep.Files = appendWritten(rep.Files, results)
		printWritten(out, results)
		for _, path := range removed {
			rep.Files = append(rep.Files, fileJSON{path, "removed"})
			fmt.Fprintf(out, "removed   %s\n", path)
		}
		if err != nil {
			return err
		}
		if cmd := kubernetes.SecretCommand(s.Config); cmd != "" {
			fmt.Fprintf(out, "the receivers' secrets go in a Secret the base only names; create it first with:\n  %s\n", cmd)
		}
		rep.Install = "kubectl apply -k " + e.KubernetesDir
		fmt.Fprintf(out, "install with: %s\n", rep.Install)
	}
	return nil
}
