package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

// capture runs one command built by build with args and returns the
// options its runF received (argv → options).
func capture[T any](t *testing.T, build func(*Factory, func(context.Context, *T) error) *cobra.Command, args ...string) (*T, error) {
	t.Helper()
	var got *T
	f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
	root := NewRootCmd(f)
	cmd := build(f, func(_ context.Context, o *T) error { got = o; return nil })
	for _, c := range root.Commands() {
		if c.Name() == cmd.Name() {
			root.RemoveCommand(c)
		}
	}
	root.AddCommand(cmd)
	root.SetArgs(args)
	err := root.Execute()
	return got, err
}

func TestUpOptions(t *testing.T) {
	o, err := capture(t, newUpCmd, "up", "--dir", t.TempDir(), "--name", "s1", "--pull", "never", "--wait", "30s",
		"--prometheus-image", "p:1", "--grafana-port", "13000", "--bind", "0.0.0.0", "--no-dashboard", "--force-dashboard")
	if err != nil {
		t.Fatal(err)
	}
	if o.Pull != stack.PullNever || o.Wait != 30*time.Second || !o.Dashboard.Skip || !o.Dashboard.Force {
		t.Errorf("options %+v", o)
	}
	f := o.Settings.Flags
	if f.Name != "s1" || f.Prometheus.Image != "p:1" || f.Grafana.Port != 13000 || f.Bind != "0.0.0.0" {
		t.Errorf("flags %+v", f)
	}
	if want := []string{"name", "bind", "grafana.port", "prometheus.image"}; !slices.Equal(o.Settings.Set, want) {
		t.Errorf("flags set %q, want %q", o.Settings.Set, want)
	}
	o, err = capture(t, newUpCmd, "up", "--dir", t.TempDir())
	if err != nil || o.Pull != stack.PullMissing || o.Wait != 2*time.Minute || len(o.Settings.Set) != 0 {
		t.Errorf("defaults: %+v %v", o, err)
	}
	if s, err := stack.Resolve("", o.Settings); err != nil || s.Config.Bind != "127.0.0.1" {
		t.Errorf("default bind: %+v %v", s.Config, err)
	}
	for args, want := range map[string]string{
		"--pull sometimes": `invalid --pull "sometimes": want missing, always or never`,
		"--wait -1s":       "invalid --wait -1s",
	} {
		_, err := capture(t, newUpCmd, append([]string{"up", "--dir", t.TempDir()}, strings.Fields(args)...)...)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", args, err, want)
		}
	}
}

func TestDownAndStatusOptions(t *testing.T) {
	d, err := capture(t, newDownCmd, "down", "--volumes", "--name", "s1")
	if err != nil || !d.Volumes || d.Name != "s1" || !d.NameSet {
		t.Errorf("down: %+v %v", d, err)
	}
	d, _ = capture(t, newDownCmd, "down")
	if d.Volumes || d.NameSet {
		t.Errorf("down defaults: %+v", d)
	}
	s, err := capture(t, newStatusCmd, "status", "-o", "json", "--show-password")
	if err != nil || s.Output != "json" || !s.ShowPassword {
		t.Errorf("status: %+v %v", s, err)
	}
	if _, err := capture(t, newStatusCmd, "status", "-o", "yaml"); err == nil || !strings.Contains(err.Error(), `invalid --output "yaml"`) {
		t.Errorf("bad output: %v", err)
	}
}

func fakeFor(cfg stack.Config) *enginetest.Fake {
	f := enginetest.New()
	f.Images[cfg.Prometheus.Image] = "sha256:p"
	f.Images[cfg.Grafana.Image] = "sha256:g"
	if cfg.Alertmanager.Image == "" {
		cfg.Alertmanager.Image = stack.DefaultAlertmanagerImage
	}
	f.Images[cfg.Alertmanager.Image] = "sha256:a"
	return f
}

// options → output: up, status and down against the in-memory engine.
func TestUpStatusDownOutput(t *testing.T) {
	dir := t.TempDir()
	cfg := stack.Default()
	cfg.Name = "clitest"
	cfg.Prometheus.Port, cfg.Grafana.Port, cfg.Alertmanager.Port = testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	eng := fakeFor(cfg)
	engine := func() (stack.Engine, error) { return eng, nil }
	var out, errOut bytes.Buffer
	io := IOStreams{Out: &out, ErrOut: &errOut}
	g := &Globals{Dir: dir}

	// --wait 0: nothing answers HTTP behind the in-memory engine.
	if err := runUp(context.Background(), &upOptions{IO: io, Globals: g, Settings: stack.Given(cfg), Pull: stack.PullNever, Engine: engine}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"created   container clitest-llm-prometheus", "stack clitest started", "password in " + dir + "/grafana-admin-password"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("up output lacks %q:\n%s", want, out.String())
		}
	}

	// status finds the stack from --dir alone.
	out.Reset()
	err := runStatus(context.Background(), &statusOptions{IO: io, Globals: g, Output: "json", Engine: engine})
	var report stack.StatusReport
	if jerr := json.Unmarshal(out.Bytes(), &report); jerr != nil {
		t.Fatalf("not JSON: %v\n%s", jerr, out.String())
	}
	var raw map[string]any
	json.Unmarshal(out.Bytes(), &raw)
	snakeCase(t, raw, "")
	if report.Stack != "clitest" || len(report.Components) != 3 || report.Components[0].State != "running" || report.Components[1].Container != "clitest-llm-alertmanager" || report.Password != "" || !report.Up || report.OK {
		t.Errorf("report %+v", report)
	}
	// Running, but nothing answers HTTP behind the in-memory engine: not OK.
	var ec ExitCodeError
	if !errors.As(err, &ec) || ec.Code != 1 {
		t.Errorf("status of a stack whose containers run but do not answer: %v", err)
	}

	out.Reset()
	errOut.Reset()
	if err := runStatus(context.Background(), &statusOptions{IO: io, Globals: g, Output: "text", ShowPassword: true, Engine: engine}); !errors.As(err, &ec) {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), `llmmon stack "clitest" runs, but is not ready (see llmmon doctor)`) {
		t.Errorf("stderr: %s", errOut.String())
	}
	if !strings.Contains(out.String(), "grafana password ") {
		t.Errorf("--show-password did not show it:\n%s", out.String())
	}

	out.Reset()
	if err := runDown(context.Background(), &downOptions{IO: io, Globals: g, Engine: engine}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"removed container clitest-llm-prometheus", "removed container clitest-llm-alertmanager", "removed network clitest-monitoring", "volumes kept"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("down output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	errOut.Reset()
	err = runStatus(context.Background(), &statusOptions{IO: io, Globals: g, Output: "text", Engine: engine})
	if !errors.As(err, &ec) || ec.Code != 1 {
		t.Fatalf("status with nothing up: %v", err)
	}
	if !strings.Contains(errOut.String(), `nothing is up: llmmon stack "clitest" is not running`) {
		t.Errorf("stderr: %s", errOut.String())
	}

	out.Reset()
	if err := runDown(context.Background(), &downOptions{IO: io, Globals: g, Engine: engine}); err != nil || !strings.Contains(out.String(), "nothing to remove") {
		t.Errorf("second down: %v\n%s", err, out.String())
	}
}

// runFake drives the CLI in-process against an in-memory engine.
func runFake(t *testing.T, eng stack.Engine, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	f := &Factory{IO: IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, Globals: &Globals{},
		Engine: func() (stack.Engine, error) { return eng, nil }}
	err = execute(context.Background(), f, args)
	return out.String(), errOut.String(), err
}

// Invalid settings stop up before the engine is asked anything or --dir
// is written, and name each setting as the user gave it.
func TestUpBadSettings(t *testing.T) {
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("scrape_interval: 5s\nprometheus:\n  port: 3000\n"), 0o644)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--grafana-port", "0"}, "invalid port 0 for --grafana-port: must be 1-65535"},
		{[]string{"--config", settings}, "prometheus.port (" + settings + " line 3) and --grafana-port are both 3000: they must differ"},
		{[]string{"--config", settings, "--prometheus-port", "3000"}, "--prometheus-port and --grafana-port are both 3000"},
		{[]string{"--name", "default"}, `--name "default" is reserved for the stack started without --name`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			eng := enginetest.New()
			dir := filepath.Join(t.TempDir(), "d")
			_, _, err := runFake(t, eng, append([]string{"up", "--dir", dir}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
			if calls := eng.Calls(); len(calls) != 0 {
				t.Errorf("engine called: %q", calls)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("--dir was created: %v", err)
			}
		})
	}
}
