package cli

import (
	"fmt"
	"io"
	"os"

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
	opts             *exportOptions
	namespace        string
	release          string
	monitor          string
	gatewayUpstreams []string
	gatewayImage     string
	grafanaOperator  bool
}

func addExportFlags(cmd *cobra.Command, opts *exportOptions) *exportFlags {
	e := &exportFlags{opts: opts}
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

// apply puts the flags the user set over llmmon.yaml's kubernetes: section.
func (e *exportFlags) apply(cmd *cobra.Command, cfg *stack.Config) error {
	set := cmd.Flags().Changed
	if e.opts.KubernetesDir == "" {
		for _, f := range []string{"namespace", "release", "monitor", "gateway-upstream", "gateway-image", "grafana-operator"} {
			if set(f) {
				return fmt.Errorf("--%s is a setting of --kubernetes: pass --kubernetes DIR too", f)
			}
		}
	}
	k := &cfg.Kubernetes
	if set("namespace") {
		k.Namespace = e.namespace
	}
	if set("release") {
		k.Release = e.release
	}
	if set("monitor") {
		k.Monitor = e.monitor
	}
	if set("gateway-upstream") {
		k.Gateway.Upstreams = e.gatewayUpstreams
	}
	if set("gateway-image") {
		k.Gateway.Image = e.gatewayImage
	}
	if set("grafana-operator") {
		k.Grafana.Operator = e.grafanaOperator
	}
	return nil
}

// runExport writes each asked-for output; settings are checked for all of
// them before anything is written.
func runExport(out io.Writer, cfg stack.Config, e exportOptions) error {
	var kfiles []stack.File
	if e.KubernetesDir != "" {
		o, err := kubernetes.Resolve(cfg, buildinfo.Get().Version)
		if err != nil {
			return fmt.Errorf("invalid kubernetes settings:\n%w", err)
		}
		objs, err := kubernetes.Build(cfg, o)
		if err != nil {
			return err
		}
		if kfiles, err = kubernetes.Files(objs); err != nil {
			return err
		}
	}
	if e.ComposeDir != "" {
		results, err := compose.Write(e.ComposeDir, cfg)
		printWritten(out, results)
		if err != nil {
			return err
		}
	}
	if e.KubernetesDir != "" {
		stale, err := kubernetes.Stale(e.KubernetesDir, kfiles)
		if err != nil {
			return err
		}
		results, err := stack.WriteTree(e.KubernetesDir, kfiles)
		printWritten(out, results)
		if err != nil {
			return err
		}
		for _, path := range stale {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("remove %s, which the settings no longer produce: %w", path, err)
			}
			fmt.Fprintf(out, "removed   %s\n", path)
		}
		fmt.Fprintf(out, "install with: kubectl apply -k %s\n", e.KubernetesDir)
	}
	return nil
}

func printWritten(out io.Writer, results []stack.WriteResult) {
	for _, res := range results {
		verb := "wrote    "
		if !res.Changed {
			verb = "unchanged"
		}
		fmt.Fprintf(out, "%s %s\n", verb, res.Path)
	}
}
