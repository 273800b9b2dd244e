package prometheus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

func renderedRules(t *testing.T, cfg stack.Config) []byte {
	t.Helper()
	r, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Prometheus {
		if f.Path == prometheus.RulesFile {
			return f.Content
		}
	}
	t.Fatalf("render produced no %s", prometheus.RulesFile)
	return nil
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRulesWithPromtool runs promtool check rules and the unit tests
// in testdata/rules_test.yml against the rules as llmmon renders them.
func TestAlertRulesWithPromtool(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "llmmon.rules.yml")
	if err := os.WriteFile(rules, renderedRules(t, stack.Default()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile("testdata/rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	testFile := filepath.Join(dir, "rules_test.yml")
	if err := os.WriteFile(testFile, tests, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.Promtool(t, "check", "rules", rules)
	if err != nil || !strings.Contains(out, "SUCCESS: 7 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	out, err = testenv.Promtool(t, "test", "rules", testFile)
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Log(out)

	// The unit tests must be able to fail: against rules that never fire
	// they do.
	if err := os.WriteFile(rules, []byte("groups:\n  - name: llmmon\n    rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testenv.Promtool(t, "test", "rules", testFile); err == nil {
		t.Fatalf("promtool test rules passed against empty rules:\n%s", out)
	}
}

func TestAlertRulesCoverEveryAlertWithSeverityAndAnnotations(t *testing.T) {
	var rf ruleFile
	if err := yaml.Unmarshal(renderedRules(t, stack.Default()), &rf); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"LLMServerDown": "2m", "LLMHighErrorRatio": "5m", "LLMHighP95Latency": "5m", "LLMHighTimeToFirstToken": "5m",
		"LLMQueueBacklog": "5m", "LLMKVCacheNearlyFull": "10m", "LLMNoTraffic": "15m",
	}
	got := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			got[r.Alert] = true
			if f, ok := want[r.Alert]; !ok {
				t.Errorf("unexpected alert %q", r.Alert)
			} else if r.For != f {
				t.Errorf("%s: for %q, want %q", r.Alert, r.For, f)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity %q", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", r.Alert)
			}
		}
	}
	for a := range want {
		if !got[a] {
			t.Errorf("alert %s missing", a)
		}
	}
}

// TestAlertThresholdsRenderFromSettings changes every threshold and finds
// each new value in its rule.
func TestAlertThresholdsRenderFromSettings(t *testing.T) {
	cfg := stack.Default()
	cfg.LLMServer.Name = "my-llm"
	cfg.Alerts = stack.Alerts{P95LatencySeconds: 7.5, TTFTP95Seconds: 1.25, QueueBacklog: 42, ErrorRatio: 0.125, KVCacheRatio: 0.85}
	var rf ruleFile
	content := renderedRules(t, cfg)
	if err := yaml.Unmarshal(content, &rf); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"LLMServerDown": `up{job="my-llm"} == 0`, "LLMHighErrorRatio": "> 0.125", "LLMHighP95Latency": "> 7.5",
		"LLMHighTimeToFirstToken": "> 1.25", "LLMQueueBacklog": "> 42", "LLMKVCacheNearlyFull": "> 0.85",
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if w, ok := want[r.Alert]; ok && !strings.Contains(r.Expr, w) {
				t.Errorf("%s: expr %q does not contain %q", r.Alert, r.Expr, w)
			}
		}
	}
	path := filepath.Join(t.TempDir(), "r.yml")
	os.WriteFile(path, content, 0o644)
	if out, err := testenv.Promtool(t, "check", "rules", path); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
