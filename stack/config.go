// Package stack describes an llmmon monitoring stack (LLM server →
// Prometheus → Grafana) and brings it up, reports on it and takes it down
// through a narrow container Engine. Settings resolve as the defaults,
// then what the last up recorded in --dir, then llmmon.yaml, then flags
// (Resolve). Up is a pipeline of named steps, one file each; it reports
// what it does as Events and never writes to a terminal.
package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults that mirror the seed's hand-run setup.
const (
	DefaultDir               = "./llm_monitor"
	DefaultScrapeInterval    = 15 * time.Second
	DefaultLLMJob            = "llm-server"
	DefaultLLMTarget         = "host.docker.internal:8000"
	DefaultMetricsPath       = "/metrics"
	DefaultPrometheusPort    = 9090
	DefaultGrafanaPort       = 3000
	DefaultAlertmanagerPort  = 9093
	DefaultBind              = "127.0.0.1"
	DefaultPrometheusImage   = "prom/prometheus:v3.13.2"
	DefaultGrafanaImage      = "grafana/grafana:12.4.3"
	DefaultAlertmanagerImage = "prom/alertmanager:v0.35.0"
	defaultP95LatencySeconds = 10.0
	defaultTTFTP95Seconds    = 2.0
	defaultQueueBacklog      = 10
	defaultErrorRatio        = 0.05
	defaultKVCacheRatio      = 0.9
	defaultMinRequests       = 10
	defaultAlertWindow       = 5 * time.Minute
	// DefaultRunbookURL is docs/runbooks.md of llmmon's repository; each
	// rule's runbook_url is a section of it (alerts.runbook_url moves it).
	DefaultRunbookURL = "https://github.com/llmmon/llmmon/blob/main/docs/runbooks.md"
)

// Duration is a time.Duration that reads and writes Go duration strings
// ("15s") in llmmon.yaml.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// PromString renders the duration in Prometheus' own syntax (15s, 1m30s, 500ms).
func (d Duration) PromString() string {
	t := time.Duration(d)
	if t%time.Second != 0 {
		return strconv.FormatInt(t.Milliseconds(), 10) + "ms"
	}
	s := int64(t / time.Second)
	var b strings.Builder
	for _, u := range []struct {
		n   int64
		sfx string
	}{{3600, "h"}, {60, "m"}, {1, "s"}} {
		if s >= u.n {
			b.WriteString(strconv.FormatInt(s/u.n, 10) + u.sfx)
			s %= u.n
		}
	}
	return b.String()
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: invalid duration %q (use Go syntax such as 15s or 1m)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// Target is one Prometheus scrape job: NAME=HOST:PORT[/PATH].
type Target struct {
	Name    string `yaml:"name" json:"name"`
	Address string `yaml:"address" json:"address"`
	Path    string `yaml:"path,omitempty" json:"path,omitempty"`
}

func (t Target) String() string {
	return t.Name + "=" + t.Address + t.MetricsPath()
}

// MetricsPath is the path Prometheus scrapes, /metrics unless given.
func (t Target) MetricsPath() string {
	if t.Path == "" {
		return DefaultMetricsPath
	}
	return t.Path
}

// ParseTarget reads the --target flag form NAME=HOST:PORT[/PATH].
func ParseTarget(s string) (Target, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return Target{}, fmt.Errorf("invalid target %q: want NAME=HOST:PORT[/PATH], e.g. vllm=host.docker.internal:8001", s)
	}
	t := Target{Name: name, Address: rest}
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		t.Address, t.Path = rest[:i], rest[i:]
	}
	return t, nil
}

// Alerts holds the thresholds the alert rules render from.
type Alerts struct {
	P95LatencySeconds float64 `yaml:"p95_latency_seconds" json:"p95_latency_seconds"`
	TTFTP95Seconds    float64 `yaml:"ttft_p95_seconds" json:"ttft_p95_seconds"`
	QueueBacklog      int     `yaml:"queue_backlog" json:"queue_backlog"`
	ErrorRatio        float64 `yaml:"error_ratio" json:"error_ratio"`
	KVCacheRatio      float64 `yaml:"kv_cache_ratio" json:"kv_cache_ratio"`
	// MinRequests is the traffic a ratio alert needs in its window before
	// it may fire, so one failed request on an idle server pages nobody.
	MinRequests int `yaml:"min_requests" json:"min_requests"`
	// Window is the rate window of the threshold alerts (error ratio, p95
	// latency, TTFT p95), and For how long a threshold must hold (queue
	// backlog too) before the alert fires.
	Window Duration `yaml:"window" json:"window"`
	For    Duration `yaml:"for" json:"for"`
	// RunbookURL is the runbook every rule links to, one section per alert.
	RunbookURL string `yaml:"runbook_url" json:"runbook_url"`
}

// Component is the per-container part of the settings.
type Component struct {
	Image string `yaml:"image" json:"image"`
	Port  int    `yaml:"port" json:"port"`
}

// Config is the whole resolved description of a stack.
type Config struct {
	// Name prefixes every Docker object, so two stacks can coexist.
	Name               string    `yaml:"name" json:"name"`
	ScrapeInterval     Duration  `yaml:"scrape_interval" json:"scrape_interval"`
	EvaluationInterval Duration  `yaml:"evaluation_interval" json:"evaluation_interval"`
	LLMServer          Target    `yaml:"llm_server" json:"llm_server"`
	Targets            []Target  `yaml:"targets" json:"targets"`
	Bind               string    `yaml:"bind" json:"bind"`
	Prometheus         Component `yaml:"prometheus" json:"prometheus"`
	Grafana            Component `yaml:"grafana" json:"grafana"`
	Alertmanager       Component `yaml:"alertmanager" json:"alertmanager"`
	Alerts             Alerts    `yaml:"alerts" json:"alerts"`
	// Kubernetes is read only by render --kubernetes (stack/kubernetes).
	Kubernetes KubernetesSettings `yaml:"kubernetes,omitempty" json:"kubernetes,omitzero"`
	SLO        SLO                `yaml:"slo" json:"slo"`
	Alerting   Alerting           `yaml:"alerting" json:"alerting"`
}

// Default returns the seed's settings.
func Default() Config {
	return Config{
		ScrapeInterval:     Duration(DefaultScrapeInterval),
		EvaluationInterval: Duration(DefaultScrapeInterval),
		LLMServer:          Target{Name: DefaultLLMJob, Address: DefaultLLMTarget, Path: DefaultMetricsPath},
		Bind:               DefaultBind,
		Prometheus:         Component{Image: DefaultPrometheusImage, Port: DefaultPrometheusPort},
		Grafana:            Component{Image: DefaultGrafanaImage, Port: DefaultGrafanaPort},
		Alertmanager:       Component{Image: DefaultAlertmanagerImage, Port: DefaultAlertmanagerPort},
		Alerts: Alerts{
			P95LatencySeconds: defaultP95LatencySeconds,
			TTFTP95Seconds:    defaultTTFTP95Seconds,
			QueueBacklog:      defaultQueueBacklog,
			ErrorRatio:        defaultErrorRatio,
			KVCacheRatio:      defaultKVCacheRatio,
			MinRequests:       defaultMinRequests,
			Window:            Duration(defaultAlertWindow),
			For:               Duration(defaultAlertWindow),
			RunbookURL:        DefaultRunbookURL,
		},
		SLO:      DefaultSLO(),
		Alerting: DefaultAlerting(),
	}
}

// decodeStrict overlays llmmon.yaml onto cfg. Unknown keys are an error
// naming the key and its line, so a typo never silently does nothing.
func decodeStrict(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file is just defaults
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s", strings.Join(cleanYAMLErrors(te.Errors), "; "))
		}
		return err
	}
	return nil
}

// yaml.v3 says "field foo not found in type stack.Config"; users know keys, not Go types.
var unknownField = regexp.MustCompile(`^line (\d+): field (\S+) not found in type \S+$`)

func cleanYAMLErrors(errs []string) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		if m := unknownField.FindStringSubmatch(e); m != nil {
			out[i] = fmt.Sprintf("line %s: unknown key %q", m[1], m[2])
			continue
		}
		out[i] = e
	}
	return out
}

// AllTargets is the LLM server job followed by the extra targets.
func (c Config) AllTargets() []Target {
	return append([]Target{c.LLMServer}, c.Targets...)
}
