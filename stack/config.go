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
	"slices"
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

// Target is one Prometheus scrape job: a name and the addresses of its
// replicas, scraped alike (one scheme, path, auth). The --target flag
// form is NAME=[SCHEME://]HOST:PORT[/PATH][,...].
type Target struct {
	Name string `yaml:"name" json:"name"`
	// Address is the one-address form, as older llmmon.yaml files and
	// recorded settings have it; Addresses is the fleet form. A target
	// sets one of them (Addrs).
	Address   string   `yaml:"address,omitempty" json:"address,omitempty"`
	Addresses []string `yaml:"addresses,omitempty" json:"addresses,omitempty"`
	Path      string   `yaml:"path,omitempty" json:"path,omitempty"`
	// Scheme is http (the default) or https.
	Scheme string `yaml:"scheme,omitempty" json:"scheme,omitempty"`
	// Labels are added to every series scraped from the job (model, gpu, zone).
	Labels map[string]string `yaml:"labels,omitempty" json:"labels,omitempty"`
	TLS    TLS               `yaml:"tls,omitempty" json:"tls,omitzero"`
	// BasicAuth and BearerTokenFile name files on this machine; their
	// content reaches Prometheus only as files in its container.
	BasicAuth       BasicAuth `yaml:"basic_auth,omitempty" json:"basic_auth,omitzero"`
	BearerTokenFile string    `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
}

// TLS is how Prometheus checks an https target's certificate.
type TLS struct {
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	CAFile             string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
}

// BasicAuth is a user and the file on this machine holding the password.
type BasicAuth struct {
	Username     string `yaml:"username,omitempty" json:"username,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty" json:"password_file,omitempty"`
}

// Addrs are the job's HOST:PORT addresses, in either form.
func (t Target) Addrs() []string {
	if len(t.Addresses) > 0 {
		return t.Addresses
	}
	if t.Address == "" {
		return nil
	}
	return []string{t.Address}
}

// FirstAddress is the job's first address ("" when it has none): the one
// doctor checks from this machine.
func (t Target) FirstAddress() string {
	if a := t.Addrs(); len(a) > 0 {
		return a[0]
	}
	return ""
}

// WithAddrs is t with exactly these addresses, in the one-address form
// when there is one (so recorded settings stay as older llmmon wrote them).
func (t Target) WithAddrs(addrs []string) Target {
	t.Address, t.Addresses = "", nil
	if len(addrs) == 1 {
		t.Address = addrs[0]
	} else if len(addrs) > 1 {
		t.Addresses = slices.Clone(addrs)
	}
	return t
}

// SchemeOrDefault is the scheme Prometheus scrapes with.
func (t Target) SchemeOrDefault() string {
	if t.Scheme == "" {
		return "http"
	}
	return t.Scheme
}

func (t Target) String() string {
	var b strings.Builder
	b.WriteString(t.Name + "=")
	for i, a := range t.Addrs() {
		if i > 0 {
			b.WriteByte(',')
		}
		if t.Scheme != "" && t.Scheme != "http" {
			b.WriteString(t.Scheme + "://")
		}
		b.WriteString(a)
	}
	b.WriteString(t.MetricsPath())
	return b.String()
}

// ScrapeURLs are the URLs Prometheus scrapes, one per address.
func (t Target) ScrapeURLs() []string {
	var out []string
	for _, a := range t.Addrs() {
		out = append(out, t.SchemeOrDefault()+"://"+a+t.MetricsPath())
	}
	return out
}

// MetricsPath is the path Prometheus scrapes, /metrics unless given.
func (t Target) MetricsPath() string {
	if t.Path == "" {
		return DefaultMetricsPath
	}
	return t.Path
}

// ParseTarget reads the --target flag form
// NAME=[SCHEME://]HOST:PORT[/PATH][,[SCHEME://]HOST:PORT[/PATH]...]:
// the addresses of one job share its scheme and path. https://HOST
// without a port means port 443.
func ParseTarget(s string) (Target, error) {
	name, rest, ok := strings.Cut(s, "=")
	if !ok || name == "" || rest == "" {
		return Target{}, fmt.Errorf("invalid target %q: want NAME=HOST:PORT[/PATH][,HOST:PORT...], e.g. vllm=gpu1:8000,gpu2:8000", s)
	}
	t := Target{Name: name}
	addrs, err := ParseAddresses(&t, strings.Split(rest, ","))
	if err != nil {
		return Target{}, fmt.Errorf("invalid target %q: %w", s, err)
	}
	return t.WithAddrs(addrs), nil
}

// ParseAddresses reads [SCHEME://]HOST:PORT[/PATH] addresses into t's
// scheme and path, which they share (an address that names none takes
// the job's), and returns the HOST:PORT parts. https://HOST without a
// port means port 443.
func ParseAddresses(t *Target, args []string) ([]string, error) {
	var addrs []string
	for i, a := range args {
		scheme, path := "", ""
		if before, after, ok := strings.Cut(a, "://"); ok {
			scheme, a = strings.ToLower(before), after
		}
		if j := strings.IndexByte(a, '/'); j >= 0 {
			a, path = a[:j], a[j:]
		}
		if a == "" {
			return nil, fmt.Errorf("address %d is empty", i+1)
		}
		if scheme == "https" && !strings.Contains(a, ":") {
			a += ":443"
		}
		if scheme != "" {
			if t.Scheme != "" && t.Scheme != scheme {
				return nil, fmt.Errorf("%s uses %s but the job uses %s: one job has one scheme (give the others another job name)", a, scheme, t.Scheme)
			}
			t.Scheme = scheme
		}
		if path != "" {
			if t.Path != "" && t.Path != path {
				return nil, fmt.Errorf("%s uses path %s but the job uses %s: one job has one metrics path", a, path, t.Path)
			}
			t.Path = path
		}
		addrs = append(addrs, a)
	}
	if t.Scheme == "http" {
		t.Scheme = "" // the default, left unsaid as before
	}
	return addrs, nil
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

// PrometheusSettings are Prometheus' container and its storage.
type PrometheusSettings struct {
	Component `yaml:",inline"`
	// Retention (15d) and RetentionSize (10GB) become Prometheus'
	// --storage.tsdb.retention.time and .size; "" keeps its defaults.
	Retention     string `yaml:"retention,omitempty" json:"retention,omitempty"`
	RetentionSize string `yaml:"retention_size,omitempty" json:"retention_size,omitempty"`
}

// RemoteWrite is one Prometheus-compatible store every sample is sent to
// (Mimir, Thanos Receive, VictoriaMetrics, Cortex, Grafana Cloud).
type RemoteWrite struct {
	URL string `yaml:"url" json:"url"`
	// BasicAuth and BearerTokenFile name files on this machine, as for targets.
	BasicAuth       BasicAuth         `yaml:"basic_auth,omitempty" json:"basic_auth,omitzero"`
	BearerTokenFile string            `yaml:"bearer_token_file,omitempty" json:"bearer_token_file,omitempty"`
	Headers         map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	QueueConfig     QueueConfig       `yaml:"queue_config,omitempty" json:"queue_config,omitzero"`
}

// QueueConfig tunes remote_write's queue; zero fields keep Prometheus' defaults.
type QueueConfig struct {
	Capacity          int      `yaml:"capacity,omitempty" json:"capacity,omitempty"`
	MinShards         int      `yaml:"min_shards,omitempty" json:"min_shards,omitempty"`
	MaxShards         int      `yaml:"max_shards,omitempty" json:"max_shards,omitempty"`
	MaxSamplesPerSend int      `yaml:"max_samples_per_send,omitempty" json:"max_samples_per_send,omitempty"`
	BatchSendDeadline Duration `yaml:"batch_send_deadline,omitempty" json:"batch_send_deadline,omitempty"`
	MinBackoff        Duration `yaml:"min_backoff,omitempty" json:"min_backoff,omitempty"`
	MaxBackoff        Duration `yaml:"max_backoff,omitempty" json:"max_backoff,omitempty"`
}

// Config is the whole resolved description of a stack.
type Config struct {
	// Name prefixes every Docker object, so two stacks can coexist.
	Name               string             `yaml:"name" json:"name"`
	ScrapeInterval     Duration           `yaml:"scrape_interval" json:"scrape_interval"`
	EvaluationInterval Duration           `yaml:"evaluation_interval" json:"evaluation_interval"`
	LLMServer          Target             `yaml:"llm_server" json:"llm_server"`
	Targets            []Target           `yaml:"targets" json:"targets"`
	Bind               string             `yaml:"bind" json:"bind"`
	Prometheus         PrometheusSettings `yaml:"prometheus" json:"prometheus"`
	Grafana            Component          `yaml:"grafana" json:"grafana"`
	Alertmanager       Component          `yaml:"alertmanager" json:"alertmanager"`
	Alerts             Alerts             `yaml:"alerts" json:"alerts"`
	// RemoteWrite ships every sample to long-term stores as well;
	// ExternalLabels (cluster, replica) tell this stack's samples apart there.
	RemoteWrite    []RemoteWrite     `yaml:"remote_write,omitempty" json:"remote_write,omitempty"`
	ExternalLabels map[string]string `yaml:"external_labels,omitempty" json:"external_labels,omitempty"`
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
		Prometheus:         PrometheusSettings{Component: Component{Image: DefaultPrometheusImage, Port: DefaultPrometheusPort}},
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
