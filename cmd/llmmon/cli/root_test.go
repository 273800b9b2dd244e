package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/llmmon/llmmon/internal/buildinfo"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

// run drives the CLI in-process, as Main does, and returns its streams.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return out.String(), errOut.String(), err
}

func TestVersion(t *testing.T) {
	out, _, err := run(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "llmmon ") || !strings.Contains(out, "commit: ") || !strings.Contains(out, runtime.Version()) {
		t.Fatalf("unexpected version output:\n%s", out)
	}
}

// --version, as docker and kubectl have it, agrees with llmmon version.
func TestVersionFlag(t *testing.T) {
	out, _, err := run(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	info := buildinfo.Get()
	if want := "llmmon version " + info.Version + ", commit " + info.Commit + "\n"; out != want {
		t.Fatalf("--version printed %q, want %q", out, want)
	}
}

// JSON meant for people keeps > and & as they are.
func TestWriteJSONDoesNotEscapeHTML(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSON(&b, map[string]string{"expr": "p95 > 2 && x < 1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"p95 > 2 && x < 1"`) {
		t.Fatalf("escaped: %s", b.String())
	}
}

func TestVersionJSON(t *testing.T) {
	out, _, err := run(t, "version", "--output", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"version", "commit", "go_version"} {
		if v[k] == "" {
			t.Errorf("missing %q in %v", k, v)
		}
	}
	if v["go_version"] != runtime.Version() {
		t.Errorf("go_version = %q", v["go_version"])
	}
}

func TestVersionBadOutput(t *testing.T) {
	_, _, err := run(t, "version", "-o", "yaml")
	if err == nil || !strings.Contains(err.Error(), `invalid --output "yaml"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestCompletion(t *testing.T) {
	out, _, err := run(t, "completion", "bash")
	if err != nil || !strings.Contains(out, "llmmon") {
		t.Fatalf("completion bash: %v\n%.200s", err, out)
	}
	if _, _, err := run(t, "completion", "tcsh"); err == nil {
		t.Fatal("unsupported shell accepted")
	}
}

func TestRenderWritesFilesAndReportsThem(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run(t, "render", "--dir", dir, "--target", "vllm=host.docker.internal:8001", "--scrape-interval", "5s")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"prometheus/prometheus.yml", "prometheus/rules/llmmon.rules.yml", "alertmanager/alertmanager.yml",
		"grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/datasources/alertmanager.yml", "grafana/provisioning/dashboards/llmmon.yml"} {
		p := filepath.Join(dir, f)
		if !strings.Contains(out, "wrote     "+p) {
			t.Errorf("output does not report %s:\n%s", p, out)
		}
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	prom, _ := os.ReadFile(filepath.Join(dir, "prometheus/prometheus.yml"))
	if !strings.Contains(string(prom), `job_name: "vllm"`) || !strings.Contains(string(prom), "scrape_interval: 5s") {
		t.Errorf("flags not applied:\n%s", prom)
	}
	if st, err := os.Stat(filepath.Join(dir, "grafana/dashboards")); err != nil || !st.IsDir() {
		t.Errorf("user dashboards folder not created: %v", err)
	}

	out, _, err = run(t, "render", "--dir", dir, "--target", "vllm=host.docker.internal:8001", "--scrape-interval", "5s")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "wrote ") || strings.Count(out, "unchanged") != 8 {
		t.Errorf("second render must change nothing:\n%s", out)
	}
}

// Flags override llmmon.yaml, which overrides defaults (argv → options).
func TestRenderOptionsPrecedence(t *testing.T) {
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("scrape_interval: 30s\nevaluation_interval: 20s\ntargets:\n  - name: tgi\n    address: h:3000\n"), 0o644)

	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, c stack.Config)
	}{
		{"defaults", nil, func(t *testing.T, c stack.Config) {
			if c.ScrapeInterval.String() != "15s" || c.LLMServer.Address != "host.docker.internal:8000" || c.LLMServer.Name != "llm-server" {
				t.Errorf("defaults wrong: %+v", c)
			}
		}},
		{"file over defaults", []string{"--config", settings}, func(t *testing.T, c stack.Config) {
			if c.ScrapeInterval.String() != "30s" || c.EvaluationInterval.String() != "20s" || len(c.Targets) != 1 || c.Targets[0].Name != "tgi" {
				t.Errorf("file not applied: %+v", c)
			}
		}},
		{"flags over file", []string{"--config", settings, "--scrape-interval", "5s", "--target", "vllm=h:8001/m"}, func(t *testing.T, c stack.Config) {
			if c.ScrapeInterval.String() != "5s" {
				t.Errorf("flag did not win: %s", c.ScrapeInterval)
			}
			if c.EvaluationInterval.String() != "20s" {
				t.Errorf("unset flag overrode the file: %s", c.EvaluationInterval)
			}
			if len(c.Targets) != 1 || !reflect.DeepEqual(c.Targets[0], stack.Target{Name: "vllm", Address: "h:8001", Path: "/m"}) {
				t.Errorf("--target must replace the file's targets: %+v", c.Targets)
			}
		}},
		{"llm target with path", []string{"--llm-target", "10.0.0.1:9000/stats", "--llm-job", "gw"}, func(t *testing.T, c stack.Config) {
			if !reflect.DeepEqual(c.LLMServer, stack.Target{Name: "gw", Address: "10.0.0.1:9000", Path: "/stats"}) {
				t.Errorf("llm server = %+v", c.LLMServer)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *renderOptions
			f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
			root := NewRootCmd(f)
			// Swap render for one whose runF captures the options.
			for _, c := range root.Commands() {
				if c.Name() == "render" {
					root.RemoveCommand(c)
				}
			}
			root.AddCommand(newRenderCmd(f, func(o *renderOptions) error { got = o; return nil }))
			root.SetArgs(append([]string{"render", "--dir", t.TempDir()}, tt.args...))
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, got.Settings.Config)
		})
	}
}

func TestRenderBadSettings(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--grafana-port", "0"}, "invalid port 0 for --grafana-port"},
		{[]string{"--target", "vllm"}, "--target: invalid target \"vllm\""},
		{[]string{"--target", "a=h:1", "--target", "a=h:2"}, `duplicate job name "a"`},
		{[]string{"--scrape-interval", "soon"}, `invalid argument "soon"`},
		{[]string{"--config", "/nonexistent/llmmon.yaml"}, "settings file /nonexistent/llmmon.yaml does not exist"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			_, _, err := run(t, append([]string{"render", "--dir", dir}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("bad settings still wrote files: %v", entries)
			}
		})
	}
}

func TestMainPrintsErrorAndExitCode(t *testing.T) {
	var errOut bytes.Buffer
	code := exitCode(IOStreams{ErrOut: &errOut}, ExitCodeError{Code: 2})
	if code != 2 || errOut.Len() != 0 {
		t.Fatalf("ExitCodeError: code %d, printed %q", code, errOut.String())
	}
	code = exitCode(IOStreams{ErrOut: &errOut}, os.ErrNotExist)
	if code != 1 || !strings.Contains(errOut.String(), "Error: file does not exist") {
		t.Fatalf("plain error: code %d, printed %q", code, errOut.String())
	}
}
