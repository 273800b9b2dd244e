package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/doctor"
)

type doctorOptions struct {
	IO      IOStreams
	Globals *Globals
	Output  string
	// Settings are the flags, llmmon.yaml and defaults; used when up
	// recorded nothing in --dir (or recorded another --name).
	Settings   stack.Settings
	NameSet    bool
	MetricsURL string
	// Timeout bounds the whole run.
	Timeout time.Duration
	Engine  func() (stack.Engine, error)
	Getenv  func(string) string
}

func newDoctorCmd(f *Factory, runF func(context.Context, *doctorOptions) error) *cobra.Command {
	opts := &doctorOptions{IO: f.IO, Globals: f.Globals, Engine: f.Engine, Getenv: os.Getenv}
	var flags *stackFlags
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Diagnose the stack: every classic failure, with its cause and the exact fix",
		Long: `doctor checks by itself what you would check by hand when Prometheus
can't scrape the LLM server, Grafana can't connect to Prometheus, or
metrics don't appear, and prints one line per check: ✓ passed, ! warning,
✗ failed (OK / WARN / FAIL when not on a terminal, or with NO_COLOR or
TERM=dumb). Each problem comes with its cause and the exact command that
fixes it.

It checks the Docker daemon and host-gateway; the containers (ours, running,
restarts, a crashed one's last log lines); the network and Grafana's path to
Prometheus; Prometheus' readiness, loaded config and every scrape target
(a down target's error is explained: not running or bound to 127.0.0.1, no
host-gateway, a firewall, a wrong path or port); the LLM server's /metrics
from this machine (llm_requests_total, llm_request_duration_seconds and
the other llm_* metrics the dashboard's Overview row is built on, and whether
it has served any requests); Grafana's health, the stored admin password, the datasource and
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
			ov, err := flags.overrides(opts.Globals)
			if err != nil {
				return err
			}
			if opts.Settings, err = stack.Resolve("", ov); err != nil {
				return err
			}
			if err := opts.Settings.Validate(); err != nil {
				return userSettingsError(err)
			}
			opts.NameSet = cmd.Flags().Changed("name")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDoctor(cmd.Context(), opts)
		},
	}
	flags = addStackFlags(cmd)
	fl := cmd.Flags()
	addOutputFlag(cmd, &opts.Output)
	fl.StringVar(&opts.MetricsURL, "metrics-url", "", "the LLM server's /metrics as this machine reaches it (default: from --llm-target, host.docker.internal → 127.0.0.1)")
	fl.DurationVar(&opts.Timeout, "timeout", 9*time.Second, "upper bound for the whole run")
	return cmd
}

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
		if err := writeJSON(opts.IO.Out, newDoctorJSON(report, names.Stack, opts.Globals.Dir, dopts.State != nil)); err != nil {
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
		if err := writeDoctorText(opts.IO.Out, report, header, opts.IO.DecorateOut()); err != nil {
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
	cfg := opts.Settings.Config
	d := doctor.Options{Dir: dir, Config: cfg, Getenv: opts.Getenv, MetricsURL: opts.MetricsURL}
	st, err := stack.LoadState(dir)
	switch {
	case errors.Is(err, stack.ErrNoState):
		return d, fmt.Sprintf("Nothing was started from %s (no %s): checking the default settings. Start the stack with `llmmon up`.",
			dir, stack.StateFile), nil
	case err != nil:
		return d, "", err
	case opts.NameSet && st.Config.Name != cfg.Name:
		return d, fmt.Sprintf("%s records stack %q, not %q: checking %q with the default settings.",
			dir, stack.NamesFor(st.Config.Name).Stack, stack.NamesFor(cfg.Name).Stack, stack.NamesFor(cfg.Name).Stack), nil
	}
	d.Config, d.State = st.Config, &st
	d.PrometheusURL, d.GrafanaURL, d.AlertmanagerURL = st.PrometheusURL, st.GrafanaURL, st.AlertmanagerURL
	return d, "", nil
}
