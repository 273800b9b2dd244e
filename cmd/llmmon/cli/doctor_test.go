package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/enginetest"
)

func doctorCmdOptions(t *testing.T, args ...string) (*doctorOptions, error) {
	t.Helper()
	var got *doctorOptions
	f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{Dir: t.TempDir()}}
	cmd := newDoctorCmd(f, func(_ context.Context, o *doctorOptions) error { got = o; return nil })
	root := &cobra.Command{Use: "llmmon", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(cmd)
	root.SetArgs(append([]string{"doctor"}, args...))
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	err := root.Execute()
	return got, err
}

func TestDoctorFlagsToOptions(t *testing.T) {
	o, err := doctorCmdOptions(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.Output != "text" || o.NameSet || o.Settings.Config.Name != "" || o.Timeout != 9*time.Second || o.MetricsURL != "" {
		t.Errorf("defaults: %+v", o)
	}
	o, err = doctorCmdOptions(t, "-o", "json", "--name", "staging", "--metrics-url", "http://10.0.0.5:8000/metrics",
		"--timeout", "3s", "--grafana-port", "13000", "--llm-target", "host.docker.internal:8001")
	if err != nil {
		t.Fatal(err)
	}
	if o.Output != "json" || !o.NameSet || o.Settings.Config.Name != "staging" || o.MetricsURL != "http://10.0.0.5:8000/metrics" ||
		o.Timeout != 3*time.Second || o.Settings.Config.Grafana.Port != 13000 || o.Settings.Config.LLMServer.Address != "host.docker.internal:8001" {
		t.Errorf("flags: %+v", o)
	}
	for _, bad := range [][]string{{"-o", "yaml"}, {"extra"}, {"--grafana-port", "0"}} {
		if _, err := doctorCmdOptions(t, bad...); err == nil {
			t.Errorf("doctor %v: no error", bad)
		}
	}
}

func TestRunDoctorDockerDownTextAndJSON(t *testing.T) {
	f := enginetest.New()
	f.Unreachable = true
	for _, output := range []string{"text", "json"} {
		t.Run(output, func(t *testing.T) {
			var out bytes.Buffer
			dir := t.TempDir()
			cfg := stack.Default()
			cfg.Name = "nothing-here"
			// Closed ports: nothing answers, as when nothing was started.
			cfg.Prometheus.Port, cfg.Grafana.Port = 1, 2
			cfg.LLMServer.Address = "host.docker.internal:3"
			err := runDoctor(context.Background(), &doctorOptions{
				IO: IOStreams{Out: &out, ErrOut: &out}, Globals: &Globals{Dir: dir}, Output: output, Settings: stack.Settings{Config: cfg},
				Timeout: 5 * time.Second, Engine: func() (stack.Engine, error) { return f, nil },
				Getenv: func(k string) string { return map[string]string{"DOCKER_HOST": "unix:///nonexistent.sock"}[k] },
			})
			var ec ExitCodeError
			if !errors.As(err, &ec) || ec.Code != ExitError {
				t.Fatalf("err = %v, want exit code 1", err)
			}
			s := out.String()
			if output == "text" {
				for _, want := range []string{
					`llmmon doctor: stack "nothing-here" in ` + dir,
					"Nothing was started from " + dir,
					"  FAIL daemon: cannot reach the Docker daemon via DOCKER_HOST=unix:///nonexistent.sock",
					"fix:   `unset DOCKER_HOST`",
					"  SKIP prometheus: Docker unreachable",
					"FAILED: ",
				} {
					if !strings.Contains(s, want) {
						t.Errorf("text lacks %q:\n%s", want, s)
					}
				}
				return
			}
			var r struct {
				Stack    string          `json:"stack"`
				Started  bool            `json:"started"`
				Checks   []doctor.Result `json:"checks"`
				ExitCode int             `json:"exit_code"`
			}
			if err := json.Unmarshal([]byte(s), &r); err != nil {
				t.Fatalf("%v\n%s", err, s)
			}
			if r.Stack != "nothing-here" || r.Started || r.ExitCode != 1 || len(r.Checks) < 20 || r.Checks[0].Status != doctor.StatusFail {
				t.Errorf("json: %+v", r)
			}
		})
	}
}

func TestDoctorReadsWhatUpRecorded(t *testing.T) {
	dir := t.TempDir()
	cfg := stack.Default()
	cfg.Name = "recorded"
	cfg.Prometheus.Port = 19090
	if err := stack.SaveState(dir, stack.State{Config: cfg, PrometheusURL: "http://10.1.2.3:19090", GrafanaURL: "http://10.1.2.3:3000"}); err != nil {
		t.Fatal(err)
	}
	flags := stack.Default()
	d, note, err := doctorSettings(&doctorOptions{Globals: &Globals{Dir: dir}, Settings: stack.Settings{Config: flags}})
	if err != nil || note != "" || d.State == nil || d.Config.Name != "recorded" || d.Config.Prometheus.Port != 19090 ||
		d.PrometheusURL != "http://10.1.2.3:19090" {
		t.Errorf("recorded stack: %+v, note %q, err %v", d, note, err)
	}
	flags.Name = "other"
	d, note, err = doctorSettings(&doctorOptions{Globals: &Globals{Dir: dir}, Settings: stack.Settings{Config: flags}, NameSet: true})
	if err != nil || d.State != nil || d.Config.Name != "other" || !strings.Contains(note, `records stack "recorded", not "other"`) {
		t.Errorf("other --name: %+v, note %q, err %v", d, note, err)
	}
	d, note, err = doctorSettings(&doctorOptions{Globals: &Globals{Dir: t.TempDir()}, Settings: stack.Settings{Config: stack.Default()}})
	if err != nil || d.State != nil || !strings.Contains(note, "Nothing was started") {
		t.Errorf("empty dir: %+v, note %q, err %v", d, note, err)
	}
}
