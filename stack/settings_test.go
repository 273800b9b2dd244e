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

// recordIn saves a state whose config is cfg, as up does.
func recordIn(t *testing.T, dir string, cfg Config) {
	t.Helper()
	if err := SaveState(dir, State{Config: cfg, DashboardVersion: 4}); err != nil {
		t.Fatal(err)
	}
}

// Precedence: defaults < what up recorded in --dir < llmmon.yaml < flags.
func TestResolveLayers(t *testing.T) {
	dir := t.TempDir()
	rec := Default()
	rec.Name = "s1"
	rec.ScrapeInterval = Duration(5 * time.Second)
	rec.Grafana = Component{Image: "grafana/grafana:11.0.0", Port: 13000}
	rec.Targets = []Target{{Name: "vllm", Address: "gpu:8001"}}
	recordIn(t, dir, rec)
	file := writeSettings(t, "grafana:\n  port: 13001\nalerts:\n  queue_backlog: 7\n")

	flagged := Config{Name: "s1", Prometheus: PrometheusSettings{Component: Component{Port: 19091}}}
	s, err := Resolve(dir, Overrides{File: file, Flags: flagged, Set: []string{"name", "prometheus.port"}})
	if err != nil {
		t.Fatal(err)
	}
	c := s.Config
	if c.ScrapeInterval != rec.ScrapeInterval || c.Grafana.Image != rec.Grafana.Image || !reflect.DeepEqual(c.Targets, rec.Targets) {
		t.Errorf("recorded settings lost: %+v", c)
	}
	if c.Grafana.Port != 13001 || c.Alerts.QueueBacklog != 7 {
		t.Errorf("llmmon.yaml does not override the record: %+v", c)
	}
	if c.Prometheus.Port != 19091 || c.Prometheus.Image != DefaultPrometheusImage {
		t.Errorf("flags: %+v", c.Prometheus)
	}
	if s.Recorded == nil || s.Recorded.DashboardVersion != 4 || len(s.Notes) != 0 {
		t.Errorf("recorded state: %+v, notes %q", s.Recorded, s.Notes)
	}
	for path, want := range map[string]Origin{
		"scrape_interval":    {Kind: FromRecorded, File: filepath.Join(dir, StateFile)},
		"targets[0].name":    {Kind: FromRecorded, File: filepath.Join(dir, StateFile)},
		"grafana.port":       {Kind: FromFile, File: file, Line: 2},
		"prometheus.port":    {Kind: FromFlag},
		"alerts.error_ratio": {Kind: FromRecorded, File: filepath.Join(dir, StateFile)},
	} {
		if got := s.Origin(path); got != want {
			t.Errorf("origin of %s = %+v, want %+v", path, got, want)
		}
	}

	// Nothing recorded: defaults under the file and flags.
	s, err = Resolve(t.TempDir(), Overrides{File: file})
	if err != nil || s.Config.Grafana.Port != 13001 || s.Config.ScrapeInterval != Duration(DefaultScrapeInterval) || s.Recorded != nil {
		t.Errorf("no record: %+v %v", s.Config, err)
	}
	if got := s.Origin("scrape_interval"); got.Kind != FromDefault {
		t.Errorf("default origin %+v", got)
	}
}

// A folder records one stack: the record applies to the stack it names.
func TestResolveRecordBelongsToItsStack(t *testing.T) {
	dir := t.TempDir()
	rec := Default()
	rec.Name = "s1"
	rec.Grafana.Port = 13000
	recordIn(t, dir, rec)

	// No --name: the recorded stack, with its settings.
	s, err := Resolve(dir, Overrides{})
	if err != nil || s.Config.Name != "s1" || s.Config.Grafana.Port != 13000 {
		t.Errorf("no --name: %+v %v", s.Config, err)
	}
	// Another --name: that stack, from the defaults; the note says what
	// happens to the recorded one.
	s, err = Resolve(dir, Overrides{Flags: Config{Name: "s2"}, Set: []string{"name"}})
	if err != nil || s.Config.Name != "s2" || s.Config.Grafana.Port != DefaultGrafanaPort || s.Recorded != nil {
		t.Errorf("other --name: %+v %v", s.Config, err)
	}
	if len(s.Notes) != 1 || !strings.Contains(s.Notes[0], `recorded stack "s1"; it now records stack "s2"`) || !strings.Contains(s.Notes[0], "llmmon down --name s1") {
		t.Errorf("notes %q", s.Notes)
	}
	// The name from llmmon.yaml counts as the user's too.
	s, _ = Resolve(dir, Overrides{File: writeSettings(t, "name: s1\n")})
	if s.Recorded == nil || s.Config.Grafana.Port != 13000 {
		t.Errorf("llmmon.yaml name: %+v", s.Config)
	}
	// An unreadable record is ignored, and said so.
	os.WriteFile(filepath.Join(dir, StateFile), []byte("{not json"), 0o644)
	s, err = Resolve(dir, Overrides{})
	if err != nil || s.Recorded != nil || len(s.Notes) != 1 || !strings.Contains(s.Notes[0], "cannot be read") {
		t.Errorf("broken record: %+v %q %v", s.Config, s.Notes, err)
	}
}

// The kubernetes: section layers key by key like the rest (llmmon.yaml,
// then the flags), but never from what up recorded: it describes no
// Docker object, so a record's copy, if any, is not the user's.
func TestResolveKubernetesSettings(t *testing.T) {
	dir := t.TempDir()
	rec := Default()
	rec.Kubernetes = KubernetesSettings{Namespace: "recorded", Monitor: "ServiceMonitor"}
	recordIn(t, dir, rec)
	file := writeSettings(t, "kubernetes:\n  release: prom\n  engines:\n    - kind: vllm\n      selector: {app: vllm}\n")
	flags := Config{Kubernetes: KubernetesSettings{Namespace: "obs"}}
	s, err := Resolve(dir, Overrides{File: file, Flags: flags, Set: []string{"kubernetes.namespace"}})
	if err != nil {
		t.Fatal(err)
	}
	k := s.Config.Kubernetes
	if k.Namespace != "obs" || k.Release != "prom" || k.Monitor != "" || len(k.Engines) != 1 || k.Engines[0].Selector["app"] != "vllm" {
		t.Errorf("kubernetes settings %+v", k)
	}
	for path, want := range map[string]Origin{
		"kubernetes.namespace":                 {Kind: FromFlag},
		"kubernetes.release":                   {Kind: FromFile, File: file, Line: 2},
		"kubernetes.engines[0].selector":       {Kind: FromFile, File: file, Line: 5},
		"kubernetes.monitor":                   {Kind: FromDefault},
		"kubernetes.grafana.instance_selector": {Kind: FromDefault},
	} {
		if got := s.Origin(path); got != want {
			t.Errorf("origin of %s = %+v, want %+v", path, got, want)
		}
	}
	// Errors found outside Validate get their origins too.
	err = s.WithOrigins(NewSettingError([]string{"kubernetes.engines[0].selector", "kubernetes.namespace"}, "{} clashes with {}"))
	if se := SettingErrors(err); len(se) != 1 || se[0].Origins[0].Line != 5 || se[0].Origins[1].Kind != FromFlag ||
		err.Error() != "kubernetes.engines[0].selector clashes with kubernetes.namespace" {
		t.Errorf("%v: %+v", err, se)
	}
}

// Every setting of llmmon.yaml can be set by a layer, and only those.
func TestSettingPathsCoverConfig(t *testing.T) {
	leaves := yamlLeaves(reflect.TypeFor[Config](), "")
	slices.Sort(leaves)
	paths := SettingPaths()
	slices.Sort(paths)
	if !slices.Equal(leaves, paths) {
		t.Errorf("llmmon.yaml keys %q\nsetting paths  %q", leaves, paths)
	}
	// Each path copies exactly its own setting.
	src := Config{Name: "x", ScrapeInterval: 1, EvaluationInterval: 2,
		LLMServer: Target{Name: "a", Address: "b:1", Addresses: []string{"b:2"}, Path: "/c", Scheme: "https", Labels: map[string]string{"g": "h"},
			TLS: TLS{InsecureSkipVerify: true, CAFile: "ca"}, BasicAuth: BasicAuth{Username: "u", PasswordFile: "p"}, BearerTokenFile: "b"},
		Targets: []Target{{Name: "t", Address: "h:2"}}, Bind: "::",
		Prometheus: PrometheusSettings{Component: Component{Image: "p", Port: 3}, Retention: "1d", RetentionSize: "1GB"}, Grafana: Component{Image: "g", Port: 4},
		RemoteWrite: []RemoteWrite{{URL: "http://x", Headers: map[string]string{"a": "b"}}}, ExternalLabels: map[string]string{"cluster": "c"},
		Alerts: Alerts{P95LatencySeconds: 5, TTFTP95Seconds: 6, QueueBacklog: 7, ErrorRatio: 0.5, KVCacheRatio: 0.6},
		Kubernetes: KubernetesSettings{Namespace: "n", Release: "r", Monitor: "m", ModelLabel: "l",
			Engines: []KubernetesEngine{{Kind: "vllm", Name: "v", Selector: map[string]string{"a": "b"}, Namespaces: []string{"ai"}, Port: "p", Path: "/m"}},
			Gateway: KubernetesGateway{Upstreams: []string{"http://u"}, Image: "i", Replicas: 2, Selector: map[string]string{"c": "d"}, Namespaces: []string{"gw"}},
			Grafana: KubernetesGrafana{FolderAnnotation: "f", Operator: true, InstanceSelector: map[string]string{"e": "f"}}}}
	s := Settings{origins: map[string]Origin{}}
	if err := s.overlay(&src, SettingPaths(), func(string) Origin { return Origin{} }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s.Config, src) {
		t.Errorf("copied %+v\nwant   %+v", s.Config, src)
	}
	// What up records is every setting but the kubernetes: section.
	for _, p := range SettingPaths() {
		if slices.Contains(recordedPaths(), p) == strings.HasPrefix(p, "kubernetes.") {
			t.Errorf("recorded paths %q: %s", recordedPaths(), p)
		}
	}
}

// yamlLeaves lists the keys of llmmon.yaml that hold a value, from typ's
// yaml tags: sections (structs) are descended into; a list or a map is
// one setting.
func yamlLeaves(typ reflect.Type, prefix string) []string {
	var out []string
	for f := range typ.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if strings.Contains(opts, "inline") {
			out = append(out, yamlLeaves(f.Type, prefix)...)
			continue
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		if f.Type.Kind() == reflect.Struct {
			out = append(out, yamlLeaves(f.Type, name)...)
			continue
		}
		out = append(out, name)
	}
	return out
}

// Settings.Validate tells each error where its settings came from.
func TestSettingsValidateFillsOrigins(t *testing.T) {
	s, err := Resolve("", Overrides{File: writeSettings(t, "targets:\n  - name: a\n    address: nope\n"),
		Flags: Config{Grafana: Component{Port: 0}}, Set: []string{"grafana.port"}})
	if err != nil {
		t.Fatal(err)
	}
	bad := SettingErrors(s.Validate())
	if len(bad) != 2 {
		t.Fatalf("errors %v", bad)
	}
	for _, e := range bad {
		switch e.Paths[0] {
		case "targets[0].address":
			if e.Origins[0].Kind != FromFile || e.Origins[0].Line != 3 {
				t.Errorf("target origin %+v", e.Origins)
			}
		case "grafana.port":
			if e.Origins[0].Kind != FromFlag {
				t.Errorf("port origin %+v", e.Origins)
			}
		default:
			t.Errorf("unexpected %v", e)
		}
	}
}
