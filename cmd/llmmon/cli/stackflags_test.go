package cli

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// A setting is named as the user gave it: its flag, its llmmon.yaml key
// and line, or where up recorded it.
func TestSettingName(t *testing.T) {
	state := filepath.Join("D", stack.StateFile)
	tests := []struct {
		path   string
		origin stack.Origin
		want   string
	}{
		{"grafana.port", stack.Origin{Kind: stack.FromFlag}, "--grafana-port"},
		{"grafana.port", stack.Origin{Kind: stack.FromFile, File: "llmmon.yaml", Line: 4}, "grafana.port (llmmon.yaml line 4)"},
		{"grafana.port", stack.Origin{Kind: stack.FromFile, File: "llmmon.yaml"}, "grafana.port (llmmon.yaml)"},
		{"grafana.port", stack.Origin{Kind: stack.FromRecorded, File: state}, "grafana.port (recorded in " + state + ")"},
		{"grafana.port", stack.Origin{Kind: stack.FromDefault}, "--grafana-port"},
		{"bind", stack.Origin{Kind: stack.FromFlag}, "--bind"},
		{"name", stack.Origin{Kind: stack.FromFlag}, "--name"},
		{"llm_server.path", stack.Origin{Kind: stack.FromFlag}, "--llm-target"},
		{"llm_server.name", stack.Origin{Kind: stack.FromFlag}, "--llm-job"},
		{"targets[1].address", stack.Origin{Kind: stack.FromFlag}, "--target"},
		{"targets[1].address", stack.Origin{Kind: stack.FromFile, File: "s.yaml", Line: 7}, "targets[1].address (s.yaml line 7)"},
		{"alerts.error_ratio", stack.Origin{Kind: stack.FromDefault}, "alerts.error_ratio"},
		{"alerts.error_ratio", stack.Origin{Kind: stack.FromFile, File: "s.yaml", Line: 2}, "alerts.error_ratio (s.yaml line 2)"},
		{"kubernetes.namespace", stack.Origin{Kind: stack.FromFlag}, "--namespace"},
		{"kubernetes.gateway.upstreams[1]", stack.Origin{Kind: stack.FromFlag}, "--gateway-upstream"},
		{"kubernetes.engines[0].kind", stack.Origin{Kind: stack.FromFile, File: "s.yaml", Line: 9}, "kubernetes.engines[0].kind (s.yaml line 9)"},
		{"kubernetes.engines[0].kind", stack.Origin{Kind: stack.FromDefault}, "kubernetes.engines[0].kind"},
	}
	for _, tt := range tests {
		if got := settingName(tt.path, tt.origin); got != tt.want {
			t.Errorf("settingName(%s, %+v) = %q, want %q", tt.path, tt.origin, got, tt.want)
		}
	}
	// Every setting a flag sets is named by that flag; llmmon.yaml alone
	// sets the alerts and these.
	fileOnly := []string{"kubernetes.model_label", "kubernetes.engines", "kubernetes.gateway.replicas", "kubernetes.gateway.selector",
		"kubernetes.gateway.namespaces", "kubernetes.gateway.api_key_secret", "kubernetes.gateway.upstream_api_key_secret",
		"kubernetes.grafana.folder_annotation", "kubernetes.grafana.instance_selector",
		"llm_server.labels", "llm_server.tls.insecure_skip_verify", "llm_server.tls.ca_file", "llm_server.basic_auth.username",
		"llm_server.basic_auth.password_file", "llm_server.bearer_token_file"}
	for _, p := range stack.SettingPaths() {
		if strings.HasPrefix(p, "alerts.") || slices.Contains(fileOnly, p) {
			continue
		}
		if settingFlags[p] == "" {
			t.Errorf("setting %s has no flag", p)
		}
	}
	// The flags named are real: up's and render's (which has them all).
	render := newRenderCmd(&Factory{Globals: &Globals{}}, nil)
	for p, flag := range settingFlags {
		if render.Flags().Lookup(strings.TrimPrefix(flag, "--")) == nil {
			t.Errorf("setting %s: render has no %s flag", p, flag)
		}
	}
}

// `llmmon up --dir D --name N` with no other flag keeps the stack's
// recorded images, ports and targets, and changes nothing.
func TestUpKeepsRecordedStack(t *testing.T) {
	eng := fakeFor(stack.Config{Prometheus: stack.PrometheusSettings{Component: stack.Component{Image: "my/prometheus:2"}}, Grafana: stack.Component{Image: "my/grafana:2"}})
	dir := t.TempDir()
	promPort, grafPort := testenv.FreePort(t), testenv.FreePort(t)
	first := []string{"up", "--dir", dir, "--name", "kept", "--wait", "0", "--prometheus-image", "my/prometheus:2", "--grafana-image", "my/grafana:2",
		"--prometheus-port", strconv.Itoa(promPort), "--grafana-port", strconv.Itoa(grafPort),
		"--target", "vllm=gpu:8001", "--scrape-interval", "5s", "--llm-target", "host.docker.internal:8100/stats"}
	if out, errOut, err := runFake(t, eng, first...); err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	want, err := stack.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := snapshotFiles(t, dir)
	eng.Calls()

	out, errOut, err := runFake(t, eng, "up", "--dir", dir, "--name", "kept", "--wait", "0")
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	got, _ := stack.LoadState(dir)
	if !reflect.DeepEqual(got.Config, want.Config) {
		t.Errorf("settings moved:\n%+v\nwant\n%+v", got.Config, want.Config)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("up changed the stack: %q", calls)
	}
	if after := snapshotFiles(t, dir); !reflect.DeepEqual(after, files) {
		t.Errorf("rendered files changed")
	}
	if !strings.Contains(out, "Prometheus  http://127.0.0.1:"+strconv.Itoa(promPort)) || strings.Contains(out, "created") {
		t.Errorf("output:\n%s", out)
	}
}

// snapshotFiles reads the rendered files of dir.
func snapshotFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range []string{"prometheus/prometheus.yml", "prometheus/rules/llmmon.rules.yml",
		"grafana/provisioning/datasources/prometheus.yml", "grafana/provisioning/dashboards/llmmon.yml"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(b)
	}
	return out
}

// An invalid setting read from llmmon.yaml is named by its key and line;
// given as a flag, by the flag.
func TestUserSettingsError(t *testing.T) {
	file := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(file, []byte("scrape_interval: 5s\nbind: localhost\n"), 0o644)
	s, err := stack.Resolve("", stack.Overrides{File: file, Flags: stack.Config{Grafana: stack.Component{Port: 70000}}, Set: []string{"grafana.port"}})
	if err != nil {
		t.Fatal(err)
	}
	got := userSettingsError(s.Validate()).Error()
	for _, want := range []string{
		"invalid settings:\n",
		`invalid address "localhost" for bind (` + file + ` line 2): want an IP`,
		"invalid port 70000 for --grafana-port: must be 1-65535",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("error lacks %q:\n%s", want, got)
		}
	}
	if err := userSettingsError(context.Canceled); err != context.Canceled {
		t.Errorf("other errors pass through: %v", err)
	}
}
