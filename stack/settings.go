package stack

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Overrides are the settings given on one run, over what up recorded:
// llmmon.yaml, then the flags the user set.
type Overrides struct {
	// File is the llmmon.yaml to read; "" when there is none.
	File string
	// Flags holds the values of the settings in Set.
	Flags Config
	// Set lists the settings the flags set, by path (SettingPaths).
	Set []string
}

// Given overrides every setting with c, whatever was recorded: the stack
// is exactly c.
func Given(c Config) Overrides { return Overrides{Flags: c, Set: SettingPaths()} }

// OriginKind is the layer a setting's value came from.
type OriginKind int

// Layers, lowest first.
const (
	FromDefault OriginKind = iota
	FromRecorded
	FromFile
	FromFlag
)

// Origin is where one setting's value came from.
type Origin struct {
	Kind OriginKind
	// File is the llmmon.yaml (FromFile) or the state file (FromRecorded).
	File string
	// Line is the setting's line in llmmon.yaml, 0 when unknown.
	Line int
}

// Settings is a resolved Config and where each setting came from.
type Settings struct {
	Config Config
	// Recorded is what up recorded in the folder, when it describes this
	// stack; nil otherwise.
	Recorded *State
	// Notes are what the user should know about the resolution (another
	// stack's record replaced, an unreadable state file ignored).
	Notes []string

	origins   map[string]Origin // by setting path; absent: a default
	fileLines map[string]int    // every path llmmon.yaml sets, with its line
}

// setting is one path a layer sets, as llmmon.yaml spells it, and how it
// is copied from one Config to another.
type setting struct {
	path string
	copy func(dst, src *Config)
}

// settings are every setting, in llmmon.yaml's order.
var settings = []setting{
	{"name", func(d, s *Config) { d.Name = s.Name }},
	{"scrape_interval", func(d, s *Config) { d.ScrapeInterval = s.ScrapeInterval }},
	{"evaluation_interval", func(d, s *Config) { d.EvaluationInterval = s.EvaluationInterval }},
	{"llm_server.name", func(d, s *Config) { d.LLMServer.Name = s.LLMServer.Name }},
	// Either form of the addresses replaces both: a layer gives the job's
	// addresses one way or the other.
	{"llm_server.address", copyLLMAddrs},
	{"llm_server.addresses", copyLLMAddrs},
	{"llm_server.path", func(d, s *Config) { d.LLMServer.Path = s.LLMServer.Path }},
	{"llm_server.scheme", func(d, s *Config) { d.LLMServer.Scheme = s.LLMServer.Scheme }},
	{"llm_server.labels", func(d, s *Config) { d.LLMServer.Labels = maps.Clone(s.LLMServer.Labels) }},
	{"llm_server.tls.insecure_skip_verify", func(d, s *Config) { d.LLMServer.TLS.InsecureSkipVerify = s.LLMServer.TLS.InsecureSkipVerify }},
	{"llm_server.tls.ca_file", func(d, s *Config) { d.LLMServer.TLS.CAFile = s.LLMServer.TLS.CAFile }},
	{"llm_server.basic_auth.username", func(d, s *Config) { d.LLMServer.BasicAuth.Username = s.LLMServer.BasicAuth.Username }},
	{"llm_server.basic_auth.password_file", func(d, s *Config) { d.LLMServer.BasicAuth.PasswordFile = s.LLMServer.BasicAuth.PasswordFile }},
	{"llm_server.bearer_token_file", func(d, s *Config) { d.LLMServer.BearerTokenFile = s.LLMServer.BearerTokenFile }},
	{"targets", func(d, s *Config) { d.Targets = cloneTargets(s.Targets) }},
	{"bind", func(d, s *Config) { d.Bind = s.Bind }},
	{"prometheus.image", func(d, s *Config) { d.Prometheus.Image = s.Prometheus.Image }},
	{"prometheus.port", func(d, s *Config) { d.Prometheus.Port = s.Prometheus.Port }},
	{"prometheus.retention", func(d, s *Config) { d.Prometheus.Retention = s.Prometheus.Retention }},
	{"prometheus.retention_size", func(d, s *Config) { d.Prometheus.RetentionSize = s.Prometheus.RetentionSize }},
	{"grafana.image", func(d, s *Config) { d.Grafana.Image = s.Grafana.Image }},
	{"grafana.port", func(d, s *Config) { d.Grafana.Port = s.Grafana.Port }},
	{"alertmanager.image", func(d, s *Config) { d.Alertmanager.Image = s.Alertmanager.Image }},
	{"alertmanager.port", func(d, s *Config) { d.Alertmanager.Port = s.Alertmanager.Port }},
	{"alerts.p95_latency_seconds", func(d, s *Config) { d.Alerts.P95LatencySeconds = s.Alerts.P95LatencySeconds }},
	{"alerts.ttft_p95_seconds", func(d, s *Config) { d.Alerts.TTFTP95Seconds = s.Alerts.TTFTP95Seconds }},
	{"alerts.queue_backlog", func(d, s *Config) { d.Alerts.QueueBacklog = s.Alerts.QueueBacklog }},
	{"alerts.error_ratio", func(d, s *Config) { d.Alerts.ErrorRatio = s.Alerts.ErrorRatio }},
	{"alerts.kv_cache_ratio", func(d, s *Config) { d.Alerts.KVCacheRatio = s.Alerts.KVCacheRatio }},
	{"remote_write", func(d, s *Config) { d.RemoteWrite = cloneRemoteWrite(s.RemoteWrite) }},
	{"external_labels", func(d, s *Config) { d.ExternalLabels = maps.Clone(s.ExternalLabels) }},
	{"alerts.min_requests", func(d, s *Config) { d.Alerts.MinRequests = s.Alerts.MinRequests }},
	{"alerts.window", func(d, s *Config) { d.Alerts.Window = s.Alerts.Window }},
	{"alerts.for", func(d, s *Config) { d.Alerts.For = s.Alerts.For }},
	{"alerts.runbook_url", func(d, s *Config) { d.Alerts.RunbookURL = s.Alerts.RunbookURL }},
	{"slo.availability", func(d, s *Config) { d.SLO.Availability = s.SLO.Availability }},
	{"slo.ttft_seconds", func(d, s *Config) { d.SLO.TTFTSeconds = s.SLO.TTFTSeconds }},
	{"slo.ttft_target", func(d, s *Config) { d.SLO.TTFTTarget = s.SLO.TTFTTarget }},
	{"alerting.webhook", func(d, s *Config) { d.Alerting.Webhook = s.Alerting.Webhook }},
	{"alerting.receivers", func(d, s *Config) { d.Alerting.Receivers = slices.Clone(s.Alerting.Receivers) }},
	{"alerting.group_wait", func(d, s *Config) { d.Alerting.GroupWait = s.Alerting.GroupWait }},
	{"alerting.group_interval", func(d, s *Config) { d.Alerting.GroupInterval = s.Alerting.GroupInterval }},
	{"alerting.repeat_interval", func(d, s *Config) { d.Alerting.RepeatInterval = s.Alerting.RepeatInterval }},
	{"alerting.resolve_timeout", func(d, s *Config) { d.Alerting.ResolveTimeout = s.Alerting.ResolveTimeout }},
	{"kubernetes.namespace", func(d, s *Config) { d.Kubernetes.Namespace = s.Kubernetes.Namespace }},
	{"kubernetes.release", func(d, s *Config) { d.Kubernetes.Release = s.Kubernetes.Release }},
	{"kubernetes.monitor", func(d, s *Config) { d.Kubernetes.Monitor = s.Kubernetes.Monitor }},
	{"kubernetes.model_label", func(d, s *Config) { d.Kubernetes.ModelLabel = s.Kubernetes.ModelLabel }},
	{"kubernetes.engines", func(d, s *Config) { d.Kubernetes.Engines = cloneEngines(s.Kubernetes.Engines) }},
	{"kubernetes.gateway.upstreams", func(d, s *Config) { d.Kubernetes.Gateway.Upstreams = slices.Clone(s.Kubernetes.Gateway.Upstreams) }},
	{"kubernetes.gateway.image", func(d, s *Config) { d.Kubernetes.Gateway.Image = s.Kubernetes.Gateway.Image }},
	{"kubernetes.gateway.replicas", func(d, s *Config) { d.Kubernetes.Gateway.Replicas = s.Kubernetes.Gateway.Replicas }},
	{"kubernetes.gateway.selector", func(d, s *Config) { d.Kubernetes.Gateway.Selector = maps.Clone(s.Kubernetes.Gateway.Selector) }},
	{"kubernetes.gateway.namespaces", func(d, s *Config) { d.Kubernetes.Gateway.Namespaces = slices.Clone(s.Kubernetes.Gateway.Namespaces) }},
	{"kubernetes.gateway.api_key_secret", func(d, s *Config) { d.Kubernetes.Gateway.APIKeySecret = s.Kubernetes.Gateway.APIKeySecret }},
	{"kubernetes.gateway.upstream_api_key_secret", func(d, s *Config) {
		d.Kubernetes.Gateway.UpstreamAPIKeySecret = s.Kubernetes.Gateway.UpstreamAPIKeySecret
	}},
	{"kubernetes.grafana.folder_annotation", func(d, s *Config) { d.Kubernetes.Grafana.FolderAnnotation = s.Kubernetes.Grafana.FolderAnnotation }},
	{"kubernetes.grafana.operator", func(d, s *Config) { d.Kubernetes.Grafana.Operator = s.Kubernetes.Grafana.Operator }},
	{"kubernetes.grafana.instance_selector", func(d, s *Config) {
		d.Kubernetes.Grafana.InstanceSelector = maps.Clone(s.Kubernetes.Grafana.InstanceSelector)
	}},
}

func copyLLMAddrs(d, s *Config) {
	d.LLMServer.Address, d.LLMServer.Addresses = s.LLMServer.Address, slices.Clone(s.LLMServer.Addresses)
}

func cloneTargets(ts []Target) []Target {
	out := slices.Clone(ts)
	for i := range out {
		out[i].Addresses = slices.Clone(out[i].Addresses)
		out[i].Labels = maps.Clone(out[i].Labels)
	}
	return out
}

func cloneRemoteWrite(rws []RemoteWrite) []RemoteWrite {
	out := slices.Clone(rws)
	for i := range out {
		out[i].Headers = maps.Clone(out[i].Headers)
	}
	return out
}

func cloneEngines(engines []KubernetesEngine) []KubernetesEngine {
	out := slices.Clone(engines)
	for i := range out {
		out[i].Selector = maps.Clone(out[i].Selector)
		out[i].Namespaces = slices.Clone(out[i].Namespaces)
	}
	return out
}

// SettingPaths lists every setting a layer can set.
func SettingPaths() []string {
	out := make([]string, len(settings))
	for i, s := range settings {
		out[i] = s.path
	}
	return out
}

// recordedPaths are the settings up records: all but the kubernetes:
// section, which describes no Docker object (render --kubernetes alone
// reads it), so it comes from llmmon.yaml and the flags only.
func recordedPaths() []string {
	return slices.DeleteFunc(SettingPaths(), func(p string) bool { return strings.HasPrefix(p, "kubernetes.") })
}

// overlay copies the settings in paths from src onto dst and records
// their origin.
func (s *Settings) overlay(src *Config, paths []string, o func(path string) Origin) error {
	for _, p := range paths {
		i := slices.IndexFunc(settings, func(x setting) bool { return x.path == p })
		if i < 0 {
			return fmt.Errorf("unknown setting %q", p)
		}
		settings[i].copy(&s.Config, src)
		s.origins[p] = o(p)
	}
	return nil
}

// Resolve layers a stack's settings, lowest first: the defaults; what up
// recorded in dir ("" for none), when it records the same stack; then
// llmmon.yaml; then the flags. The stack's name decides which record
// applies: the flags' --name, else llmmon.yaml's, else the recorded one.
// A folder records one stack, so a run for another name starts from the
// defaults and its up records that stack instead (Notes says so).
func Resolve(dir string, o Overrides) (Settings, error) {
	s := Settings{Config: Default(), origins: map[string]Origin{}}
	file, fileSet, err := readSettingsFile(o.File)
	if err != nil {
		return s, err
	}
	s.fileLines = fileSet

	var recorded *State
	statePath := filepath.Join(dir, StateFile)
	if dir != "" {
		st, err := LoadState(dir)
		switch {
		case err == nil:
			recorded = &st
		case !errors.Is(err, ErrNoState):
			s.Notes = append(s.Notes, fmt.Sprintf("ignoring %s, which cannot be read (%v); up records the stack there anew", statePath, err))
		}
	}
	name := ""
	switch {
	case slices.Contains(o.Set, "name"):
		name = o.Flags.Name
	case fileSet["name"] > 0:
		name = file.Name
	case recorded != nil:
		name = recorded.Config.Name
	}
	if recorded != nil && recorded.Config.Name == name {
		s.Recorded = recorded
		if err := s.overlay(&recorded.Config, recordedPaths(), func(string) Origin { return Origin{Kind: FromRecorded, File: statePath} }); err != nil {
			return s, err
		}
	} else if recorded != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("%s recorded stack %q; it now records stack %q (a folder records one stack). "+
			"Stack %q is left as it is: llmmon down --name %s removes it",
			statePath, NamesFor(recorded.Config.Name).Stack, NamesFor(name).Stack, NamesFor(recorded.Config.Name).Stack, NamesFor(recorded.Config.Name).Stack))
	}
	var filePaths []string
	for _, p := range SettingPaths() {
		if fileSet[p] > 0 {
			filePaths = append(filePaths, p)
		}
	}
	if err := s.overlay(&file, filePaths, func(p string) Origin { return Origin{Kind: FromFile, File: o.File, Line: fileSet[p]} }); err != nil {
		return s, err
	}
	if err := s.overlay(&o.Flags, o.Set, func(string) Origin { return Origin{Kind: FromFlag} }); err != nil {
		return s, err
	}
	return s, nil
}

// Origin says where the setting at path (grafana.port, targets[1].name)
// came from.
func (s Settings) Origin(path string) Origin {
	base := path
	if i := strings.IndexByte(base, '['); i >= 0 {
		base = base[:i]
	}
	o, ok := s.origins[base]
	if !ok {
		return Origin{Kind: FromDefault}
	}
	if o.Kind == FromFile && s.fileLines[path] > 0 {
		o.Line = s.fileLines[path]
	}
	return o
}

// Validate is Config.Validate with each error's Origins filled in.
func (s Settings) Validate() error { return s.WithOrigins(s.Config.Validate()) }

// WithOrigins fills in where the settings of each *SettingError in err
// came from, so the CLI can name them as the user gave them; checks made
// outside Validate (render --kubernetes') need it too.
func (s Settings) WithOrigins(err error) error {
	for _, se := range SettingErrors(err) {
		se.Origins = make([]Origin, len(se.Paths))
		for i, p := range se.Paths {
			se.Origins[i] = s.Origin(p)
		}
	}
	return err
}

// Render validates the settings and renders them.
func (s Settings) Render() (Rendered, error) {
	if err := s.Validate(); err != nil {
		return Rendered{}, err
	}
	return render(s.Config)
}

// readSettingsFile decodes llmmon.yaml over the defaults and lists what
// it sets: every path (grafana.port, targets[1].name) with its line.
func readSettingsFile(path string) (Config, map[string]int, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, nil, fmt.Errorf("read settings file: %w", err)
	}
	if err := decodeStrict(data, &cfg); err != nil {
		return cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	// Secret files are named relative to llmmon.yaml, as Compose does; up
	// records them absolute.
	base, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return cfg, nil, fmt.Errorf("read settings file: %w", err)
	}
	cfg.Alerting.resolveSecretPaths(base)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, nil, fmt.Errorf("%s: %w", path, err)
	}
	lines := map[string]int{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, prefix)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := n.Content[i].Value
				if prefix != "" {
					p = prefix + "." + p
				}
				lines[p] = n.Content[i].Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", prefix, i)
				lines[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(&root, "")
	// The file's llm_server.addresses replace the default address.
	if lines["llm_server.addresses"] > 0 && lines["llm_server.address"] == 0 {
		cfg.LLMServer.Address = ""
	}
	absFilePaths(&cfg, filepath.Dir(path))
	return cfg, lines, nil
}

// absFilePaths makes the credential files llmmon.yaml names relative to
// its own folder, as Prometheus does for its config, and absolute, so
// the recorded settings work from any folder.
func absFilePaths(cfg *Config, base string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			if a, err := filepath.Abs(filepath.Join(base, *p)); err == nil {
				*p = a
			}
		}
	}
	fix := func(t *Target) {
		abs(&t.TLS.CAFile)
		abs(&t.BasicAuth.PasswordFile)
		abs(&t.BearerTokenFile)
	}
	fix(&cfg.LLMServer)
	for i := range cfg.Targets {
		fix(&cfg.Targets[i])
	}
	for i := range cfg.RemoteWrite {
		abs(&cfg.RemoteWrite[i].BasicAuth.PasswordFile)
		abs(&cfg.RemoteWrite[i].BearerTokenFile)
	}
}
