// Package cli is llmmon's command line. Each command fills an Options
// struct from flags and hands it to one call into stack/...; nothing here
// writes to os.Stdout or exits, so Run drives the whole CLI in tests.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/internal/buildinfo"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/docker"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitWarning = 2 // doctor: only warnings
)

// Globals are the flags every command shares.
type Globals struct {
	Dir        string
	ConfigPath string
	Verbose    bool
}

// Factory hands commands what they need, like gh's cmdutil.Factory.
type Factory struct {
	IO      IOStreams
	Globals *Globals
	// Engine connects to the container engine. Commands call it only when
	// they run, so --help and flag errors never need a daemon.
	Engine func() (stack.Engine, error)
}

// dockerEngine is the engine DOCKER_HOST names (or the local socket); it
// does not contact the engine.
func dockerEngine() (stack.Engine, error) { return docker.New() }

// ExitCodeError lets a command choose its exit code after printing its
// own output (doctor's "warnings only" is 2), without calling os.Exit.
type ExitCodeError struct{ Code int }

func (e ExitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Main runs llmmon with the process's arguments and streams, and returns the exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	streams := SystemStreams()
	err := Run(ctx, streams, os.Args[1:])
	return exitCode(streams, err)
}

func exitCode(streams IOStreams, err error) int {
	if err == nil {
		return ExitOK
	}
	var ec ExitCodeError
	if errors.As(err, &ec) {
		return ec.Code
	}
	fmt.Fprintln(streams.ErrOut, "Error:", err)
	return ExitError
}

// Run executes one llmmon command line in-process, against the Docker
// engine.
func Run(ctx context.Context, streams IOStreams, args []string) error {
	return execute(ctx, &Factory{IO: streams, Globals: &Globals{}, Engine: dockerEngine}, args)
}

// execute runs one command line with what f hands out.
func execute(ctx context.Context, f *Factory, args []string) error {
	streams := f.IO
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	return root.ExecuteContext(ctx)
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "llmmon",
		Short: "Production monitoring for any LLM inference server, in one command",
		Long: `llmmon gives an LLM inference server Prometheus scraping, alert rules that
reach someone through Alertmanager, and a Grafana dashboard, started through
the Docker Engine API with no manual steps.

  LLM server (:8000 /metrics) → Prometheus (:9090) → Grafana (:3000)
                                     ↓ alerts
                               Alertmanager (:9093) → webhook, Slack, e-mail, PagerDuty`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// --version, as docker and kubectl users expect, besides llmmon version.
	info := buildinfo.Get()
	root.Version = info.Version
	root.SetVersionTemplate(fmt.Sprintf("llmmon version %s, commit %s\n", info.Version, info.Commit))
	defDir := stack.DefaultDir
	if env := os.Getenv("LLMMON_DIR"); env != "" {
		defDir = env
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.Globals.Dir, "dir", defDir, "the stack's working folder (env LLMMON_DIR)")
	pf.StringVar(&f.Globals.ConfigPath, "config", "", "settings file (default ./llmmon.yaml when it exists)")
	pf.BoolVarP(&f.Globals.Verbose, "verbose", "v", false, "print more detail")

	for _, add := range commands {
		root.AddCommand(add(f))
	}
	registerCompletions(root, f)
	return root
}

// commands lists each command's constructor, in the order help shows them.
var commands = []func(*Factory) *cobra.Command{
	newVersionCmd,
	newCompletionCmd,
	func(f *Factory) *cobra.Command { return newRenderCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newUpCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newDownCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newStatusCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newTargetCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newLsCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newAlertsCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newServeCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newLoadCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newDoctorCmd(f, nil) },
	func(f *Factory) *cobra.Command { return newImportCmd(f, nil) },
}
