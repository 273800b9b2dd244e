package stack

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidateErrors(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
		paths  []string // the settings the error names
	}{
		{"zero scrape interval", func(c *Config) { c.ScrapeInterval = 0 }, "scrape interval must be positive", []string{"scrape_interval"}},
		{"negative evaluation interval", func(c *Config) { c.EvaluationInterval = Duration(-time.Second) }, "evaluation interval must be positive", []string{"evaluation_interval"}},
		{"port zero", func(c *Config) { c.Grafana.Port = 0 }, "invalid port 0 for grafana.port: must be 1-65535", []string{"grafana.port"}},
		{"port too big", func(c *Config) { c.Prometheus.Port = 70000 }, "invalid port 70000 for prometheus.port: must be 1-65535", []string{"prometheus.port"}},
		{"same ports", func(c *Config) { c.Prometheus.Port = 3000 }, "prometheus.port and grafana.port are both 3000", []string{"prometheus.port", "grafana.port"}},
		{"no port in target", func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: "localhost"}} }, `target "vllm": invalid address "localhost": want HOST:PORT`, []string{"targets[0].address"}},
		{"empty host", func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: ":8000"}} }, `invalid address ":8000"`, []string{"targets[0].address"}},
		{"target port range", func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: "h:0"}} }, `invalid port "0" in "h:0"`, []string{"targets[0].address"}},
		{"target port not a number", func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: "h:http"}} }, `invalid port "http" in "h:http"`, []string{"targets[0].address"}},
		{"duplicate job", func(c *Config) {
			c.Targets = []Target{{Name: "vllm", Address: "a:1"}, {Name: "vllm", Address: "b:2"}}
		}, `duplicate job name "vllm"`, []string{"targets[0].name", "targets[1].name"}},
		{"duplicate of the llm job", func(c *Config) { c.Targets = []Target{{Name: "llm-server", Address: "a:1"}} }, `duplicate job name "llm-server"`, []string{"llm_server.name", "targets[0].name"}},
		{"duplicate of the self job", func(c *Config) { c.Targets = []Target{{Name: "prometheus", Address: "a:1"}} }, `duplicate job name "prometheus"`, []string{"targets[0].name"}},
		{"job with space", func(c *Config) { c.Targets = []Target{{Name: "my job", Address: "a:1"}} }, `invalid job name "my job": it must be a valid Prometheus label value`, []string{"targets[0].name"}},
		{"job not utf8", func(c *Config) { c.Targets = []Target{{Name: "bad\xff", Address: "a:1"}} }, `invalid job name`, []string{"targets[0].name"}},
		{"empty job", func(c *Config) { c.LLMServer.Name = "" }, `invalid job name ""`, []string{"llm_server.name"}},
		{"path without slash", func(c *Config) { c.LLMServer.Path = "metrics" }, `metrics path "metrics" must start with /`, []string{"llm_server.path"}},
		{"bind", func(c *Config) { c.Bind = "localhost" }, `invalid address "localhost" for bind`, []string{"bind"}},
		{"stack name", func(c *Config) { c.Name = "My Stack" }, `invalid stack name "My Stack"`, []string{"name"}},
		{"reserved stack name", func(c *Config) { c.Name = "default" }, `name "default" is reserved for the stack started without --name`, []string{"name"}},
		{"empty image", func(c *Config) { c.Grafana.Image = "" }, "grafana.image must not be empty", []string{"grafana.image"}},
		{"error ratio", func(c *Config) { c.Alerts.ErrorRatio = 2 }, "alert ratios must be between 0 and 1", []string{"alerts.error_ratio"}},
		{"latency threshold", func(c *Config) { c.Alerts.TTFTP95Seconds = 0 }, "alert latency thresholds must be positive", []string{"alerts.ttft_p95_seconds"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %q, want it to contain %q", err, tt.want)
			}
			se := SettingErrors(err)
			if len(se) != 1 || !slices.Equal(se[0].Paths, tt.paths) {
				t.Fatalf("setting errors %+v, want one naming %q", se, tt.paths)
			}
		})
	}
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Grafana.Port = 0
	c.ScrapeInterval = 0
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "grafana.port") || !strings.Contains(err.Error(), "scrape interval") || len(SettingErrors(err)) != 2 {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    Target
		wantErr string
	}{
		{in: "vllm=host.docker.internal:8001", want: Target{Name: "vllm", Address: "host.docker.internal:8001"}},
		{in: "tgi=10.0.0.5:80/custom/metrics", want: Target{Name: "tgi", Address: "10.0.0.5:80", Path: "/custom/metrics"}},
		{in: "vllm=gpu1:8000,gpu2:8000", want: Target{Name: "vllm", Addresses: []string{"gpu1:8000", "gpu2:8000"}}},
		{in: "vllm=https://gpu1:8443/m,gpu2:8443", want: Target{Name: "vllm", Addresses: []string{"gpu1:8443", "gpu2:8443"}, Scheme: "https", Path: "/m"}},
		{in: "api=https://llm.example.com", want: Target{Name: "api", Address: "llm.example.com:443", Scheme: "https"}},
		{in: "a=http://h:1", want: Target{Name: "a", Address: "h:1"}},
		{in: "a=https://h:1,http://g:1", wantErr: "one job has one scheme"},
		{in: "a=h:1/x,g:1/y", wantErr: "one job has one metrics path"},
		{in: "a=h:1,,g:1", wantErr: "address 2 is empty"},
		{in: "novalue", wantErr: "want NAME=HOST:PORT[/PATH]"},
		{in: "=h:1", wantErr: "want NAME=HOST:PORT[/PATH]"},
		{in: "a=", wantErr: "want NAME=HOST:PORT[/PATH]"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTarget(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTarget(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("ParseTarget(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPromString(t *testing.T) {
	for in, want := range map[time.Duration]string{
		15 * time.Second:        "15s",
		time.Minute:             "1m",
		90 * time.Second:        "1m30s",
		2 * time.Hour:           "2h",
		500 * time.Millisecond:  "500ms",
		1500 * time.Millisecond: "1500ms",
	} {
		if got := Duration(in).PromString(); got != want {
			t.Errorf("PromString(%s) = %q, want %q", in, got, want)
		}
	}
}

func writeSettings(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "llmmon.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFile(t *testing.T) {
	cfg, _, err := readSettingsFile("testdata/llmmon-targets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(cfg.ScrapeInterval); got != 5*time.Second {
		t.Errorf("scrape_interval = %s, want 5s", got)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[0].Name != "vllm" || cfg.Targets[1].Path != "/stats/metrics" {
		t.Errorf("targets = %+v", cfg.Targets)
	}
	if cfg.Grafana.Port != DefaultGrafanaPort {
		t.Errorf("unset keys must keep defaults, grafana port = %d", cfg.Grafana.Port)
	}
}

func TestLoadFileErrors(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{"unknown top-level key", "scrape_interval: 5s\nscrape_intervall: 10s\n", `line 2: unknown key "scrape_intervall"`},
		{"unknown nested key", "grafana:\n  port: 3001\n  passwd: x\n", `line 3: unknown key "passwd"`},
		{"bad duration", "scrape_interval: fast\n", `line 1: invalid duration "fast"`},
		{"bad type", "grafana:\n  port: three\n", "line 2"},
		{"not yaml", "targets: [\n", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readSettingsFile(writeSettings(t, tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("readSettingsFile error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadFileEmptyKeepsDefaults(t *testing.T) {
	cfg, _, err := readSettingsFile(writeSettings(t, "# nothing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ScrapeInterval != Default().ScrapeInterval {
		t.Fatal("empty settings file changed defaults")
	}
}

func TestNamesFor(t *testing.T) {
	n := NamesFor("")
	if n.Stack != "default" || n.Network != "monitoring" || n.Prometheus != "llm-prometheus" || n.GrafanaData != "llm-grafana-data" {
		t.Errorf("seed names wrong: %+v", n)
	}
	n = NamesFor("staging")
	if n.Stack != "staging" || n.Grafana != "staging-llm-grafana" || n.PrometheusData != "staging-llm-prometheus-data" {
		t.Errorf("prefixed names wrong: %+v", n)
	}
}
