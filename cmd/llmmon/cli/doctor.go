package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/docker"
	"github.com/llmmon/llmmon/stack/doctor"
)

type doctorOptions struct {
	IO      IOStreams
	Globals *Globals
	Output  string
	// Config is the stack from flags, llmmon.yaml and defaults; used when
	// up recorded nothing in --dir (or recorded another --name).
	Config     stack.Config
	NameSet    bool
	MetricsURL string
	// Timeout bounds the whole run.
	Timeout time.Duration
	Engine  func() (stack.Engine, error)
	Getenv  func(string) string
}

func newDoctorCmd(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	opts := &doctorOptions{IO: f.IO, Globals: f.Globals, Engine: doctorEngine, Getenv: os.Getenv}
	var flags *stackFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose the stack: every classic failure, with its cause and the exact fix",
		Long: `doctor checks what the troubleshooting page asks you to check by hand
("Prometheus can't scrape the LLM server", "Grafana can't connect to
Prometheus", "metrics not appearing") and prints one line per check:
✓ passed, ! warning, ✗ failed (OK / WARN / FAIL when not on a terminal).
Each problem comes with its cause and the exact command that fixes it.

It checks the Docker daemon and host-gateway; the containers (ours, running,
restarts, a crashed one's last log lines); the network and Grafana's path to
Prometheus; Prometheus' readiness, loaded config and every scrape target
(a down target's error is explained: not running or bound to 127.0.0.1, no
host-gateway, a firewall, a wrong path or port); the LLM server's /metrics
from this machine (the seed's five metrics, and whether it has served any
requests); Grafana's health, the stored admin password, the datasource and
the dashboard; ports taken by other programs; and whether the files in --dir
are what the containers run.

doctor reads what up recorded in --dir (pass the same --dir, and --name if
up was given one). When nothing was started it checks the defaults (or
llmmon.yaml and the settings flags) and says so. Every check has a timeout,
so doctor finishes within seconds even when everything is down.

Exit status: 0 all passed, 1 a check failed, 2 only warnings.`,
		Example: `  llmmon doctor
  llmmon doctor --dir ./llm_monitor --name staging
  llmmon doctor -o json | jq '.checks[] | select(.status != "ok")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Output != "text" && opts.Output != "json" {
				return fmt.Errorf("invalid --output %q: want text or json", opts.Output)
			}
			cfg, err := flags.resolve(opts.Globals)
			if err != nil {
				return err
			}
			opts.Config = cfg
			opts.NameSet = cmd.Flags().Changed("name")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDoctor(cmd.Context(), opts)
		},
	}
	flags = addStackFlags(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	fl.StringVar(&opts.MetricsURL, "metrics-url", "", "the LLM server's /metrics as this machine reaches it (default: from --llm-target, host.docker.internal → 127.0.0.1)")
	fl.DurationVar(&opts.Timeout, "timeout", 9*time.Second, "upper bound for the whole run")
	return cmd
}

// doctorEngine makes the Docker client; it does not contact the engine.
func doctorEngine() (stack.Engine, error) { return docker.New() }

func runDoctor(ctx context.Context, opts *doctorOptions) error {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	dopts, note, err := doctorSettings(opts)
	if err != nil {
		return err
	}
	if opts.Engine != nil {
		dopts.Engine, dopts.EngineErr = opts.Engine()
		if dopts.EngineErr != nil {
			dopts.Engine = nil
		}
	}
	if c, ok := dopts.Engine.(interface{ Close() error }); ok {
		defer c.Close()
	}
	report := doctor.Run(ctx, doctor.Checks(ctx, dopts))
	names := stack.NamesFor(dopts.Config.Name)
	if opts.Output == "json" {
		if err := report.WriteJSON(opts.IO.Out, doctor.JSONMeta{Stack: names.Stack, Dir: opts.Globals.Dir, Started: dopts.State != nil}); err != nil {
			return err
		}
	} else {
		header := fmt.Sprintf("llmmon doctor: stack %q in %s", names.Stack, opts.Globals.Dir)
		if dopts.State != nil && !dopts.State.UpdatedAt.IsZero() {
			header += fmt.Sprintf(" (up recorded it %s)", dopts.State.UpdatedAt.Local().Format("2006-01-02 15:04"))
		}
		if note != "" {
			header += "\n" + note
		}
		if err := report.WriteText(opts.IO.Out, doctor.TextOptions{Terminal: opts.IO.IsTerminal, Header: header}); err != nil {
			return err
		}
	}
	if code := report.ExitCode(); code != ExitOK {
		return ExitCodeError{Code: code}
	}
	return nil
}

// doctorSettings picks the stack to check: the one up recorded in --dir,
// unless --name asks for another; else flags, llmmon.yaml and defaults.
func doctorSettings(opts *doctorOptions) (doctor.Options, string, error) {
	dir := opts.Globals.Dir
	d := doctor.Options{Dir: dir, Config: opts.Config, Getenv: opts.Getenv, MetricsURL: opts.MetricsURL}
	st, err := stack.LoadState(dir)
	switch {
	case errors.Is(err, stack.ErrNoState):
		return d, fmt.Sprintf("Nothing was started from %s (no %s): checking the default settings. Start the stack with `llmmon up`.",
			dir, stack.StateFile), nil
	case err != nil:
		return d, "", err
	case opts.NameSet && st.Config.Name != opts.Config.Name:
		return d, fmt.Sprintf("%s records stack %q, not %q: checking %q with the default settings.",
			dir, stack.NamesFor(st.Config.Name).Stack, stack.NamesFor(opts.Config.Name).Stack, stack.NamesFor(opts.Config.Name).Stack), nil
	}
	d.Config, d.State = st.Config, &st
	d.PrometheusURL, d.GrafanaURL = st.PrometheusURL, st.GrafanaURL
	return d, "", nil
}
