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
	if o.Pull != stack.PullNever || o.Wait != 30*time.Second || !o.NoDashboard || !o.ForceDashboard {
		t.Errorf("options %+v", o)
	}
	if o.Config.Name != "s1" || o.Config.Prometheus.Image != "p:1" || o.Config.Grafana.Port != 13000 || o.Config.Bind != "0.0.0.0" {
		t.Errorf("config %+v", o.Config)
	}
	o, err = capture(t, newUpCmd, "up", "--dir", t.TempDir())
	if err != nil || o.Pull != stack.PullMissing || o.Wait != 2*time.Minute || o.Config.Bind != "127.0.0.1" {
		t.Errorf("defaults: %+v %v", o, err)
	}
	for args, want := range map[string]string{
		"--pull sometimes": `invalid --pull "sometimes": want missing, always or never`,
		"--wait -1s":       "invalid --wait -1s",
		"--grafana-port 0": "invalid port 0 for --grafana-port",
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
	return f
}

// options → output: up, status and down against the in-memory engine.
func TestUpStatusDownOutput(t *testing.T) {
	dir := t.TempDir()
	cfg := stack.Default()
	cfg.Name = "clitest"
	cfg.Prometheus.Port, cfg.Grafana.Port = testenv.FreePort(t), testenv.FreePort(t)
	eng := fakeFor(cfg)
	engine := func() (stack.Engine, error) { return eng, nil }
	var out, errOut bytes.Buffer
	io := IOStreams{Out: &out, ErrOut: &errOut}
	g := &Globals{Dir: dir}

	// --wait 0: nothing answers HTTP behind the in-memory engine.
	if err := runUp(context.Background(), &upOptions{IO: io, Globals: g, Config: cfg, Pull: stack.PullNever, Engine: engine}); err != nil {
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
	if report.Stack != "clitest" || len(report.Components) != 2 || report.Components[0].State != "running" || report.Password != "" {
		t.Errorf("report %+v", report)
	}
	if err != nil {
		t.Errorf("status of a running stack: %v", err)
	}

	out.Reset()
	if err := runStatus(context.Background(), &statusOptions{IO: io, Globals: g, Output: "text", ShowPassword: true, Engine: engine}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "grafana password ") {
		t.Errorf("--show-password did not show it:\n%s", out.String())
	}

	out.Reset()
	if err := runDown(context.Background(), &downOptions{IO: io, Globals: g, Engine: engine}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"removed container clitest-llm-prometheus", "removed network clitest-monitoring", "volumes kept"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("down output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	errOut.Reset()
	err = runStatus(context.Background(), &statusOptions{IO: io, Globals: g, Output: "text", Engine: engine})
	var ec ExitCodeError
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
