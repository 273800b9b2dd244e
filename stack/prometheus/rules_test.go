package prometheus_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
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
	var testFiles []string
	for _, name := range []string{"rules_test.yml", "rules_slow_test.yml"} {
		tests, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		testFiles = append(testFiles, filepath.Join(dir, name))
		if err := os.WriteFile(testFiles[len(testFiles)-1], tests, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, err := testenv.Promtool(t, "check", "rules", rules)
	if err != nil || !strings.Contains(out, "SUCCESS: 66 rules found") {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	out, err = testenv.Promtool(t, append([]string{"test", "rules"}, testFiles...)...)
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Log(out)

	// The unit tests must be able to fail: against rules that never fire
	// they do.
	if err := os.WriteFile(rules, []byte("groups:\n  - name: llmmon\n    rules: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := testenv.Promtool(t, append([]string{"test", "rules"}, testFiles...)...); err == nil {
		t.Fatalf("promtool test rules passed against empty rules:\n%s", out)
	}
}

func TestAlertRulesCoverEveryAlertWithSeverityAndAnnotations(t *testing.T) {
	var rf ruleFile
	if err := yaml.Unmarshal(renderedRules(t, stack.Default()), &rf); err != nil {
		t.Fatal(err)
	}
	// Each alert with its hold and its severities (burn-rate alerts come
	// as a critical and a warning rule of one name).
	want := map[string]struct {
		hold       string
		severities string
	}{
		"LLMServerDown": {"2m", "critical"}, "LLMTargetDown": {"5m", "warning"}, "PrometheusSelfScrapeDown": {"5m", "warning"},
		"AlertmanagerDown": {"2m", "critical"}, "PrometheusErrorSendingAlerts": {"5m", "critical"},
		"AlertmanagerFailedToSendAlerts": {"5m", "warning"},
		"LLMHighErrorRatio":              {"5m", "critical"}, "LLMHighP95Latency": {"5m", "warning"}, "LLMHighTimeToFirstToken": {"5m", "warning"},
		"LLMQueueBacklog": {"5m", "warning"}, "LLMKVCacheNearlyFull": {"10m", "warning"}, "LLMNoTraffic": {"15m", "info"},
		"LLMErrorBudgetBurn": {"", "critical,warning"}, "LLMTTFTBudgetBurn": {"", "critical,warning"},
	}
	got := map[string][]string{}
	records := 0
	runbook, err := os.ReadFile("../../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records++
				continue
			}
			got[r.Alert] = append(got[r.Alert], r.Labels["severity"])
			w, ok := want[r.Alert]
			if !ok {
				t.Errorf("unexpected alert %q", r.Alert)
			} else if r.For != w.hold {
				t.Errorf("%s: for %q, want %q", r.Alert, r.For, w.hold)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("%s: needs summary and description annotations", r.Alert)
			}
			// The runbook link points at a section of docs/runbooks.md
			// that says what it means, how to confirm it, what to do.
			anchor := strings.ToLower(r.Alert)
			if r.Annotations["runbook_url"] != stack.DefaultRunbookURL+"#"+anchor {
				t.Errorf("%s: runbook_url %q", r.Alert, r.Annotations["runbook_url"])
			}
			section := runbookSection(string(runbook), r.Alert)
			for _, part := range []string{"**Means**", "**Confirm**", "**Do**"} {
				if !strings.Contains(section, part) {
					t.Errorf("docs/runbooks.md: section %q lacks %s", r.Alert, part)
				}
			}
		}
	}
	for a, w := range want {
		if strings.Join(got[a], ",") != w.severities {
			t.Errorf("alert %s: severities %v, want %s", a, got[a], w.severities)
		}
	}
	if records < 30 {
		t.Errorf("%d recording rules", records)
	}
}

// runbookSection is the text under "## name" in the runbook.
func runbookSection(doc, name string) string {
	i := strings.Index(doc, "\n## "+name+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(name)+5:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestAlertThresholdsRenderFromSettings changes every threshold and finds
// each new value in its rule.
func TestAlertThresholdsRenderFromSettings(t *testing.T) {
	cfg := stack.Default()
	cfg.LLMServer.Name = "my-llm"
	cfg.Alerts = stack.Alerts{P95LatencySeconds: 7.5, TTFTP95Seconds: 1.25, QueueBacklog: 42, ErrorRatio: 0.125, KVCacheRatio: 0.85,
		MinRequests: 3, Window: stack.Duration(30 * time.Second), For: stack.Duration(10 * time.Second), RunbookURL: "https://wiki.example.com/llm/runbook"}
	cfg.SLO = stack.SLO{Availability: 99.9, TTFTSeconds: 1, TTFTTarget: 95}
	var rf ruleFile
	content := renderedRules(t, cfg)
	if err := yaml.Unmarshal(content, &rf); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"LLMServerDown": {`up{job="my-llm"} == 0`}, "LLMTargetDown": {`up{job!~"my-llm|prometheus|alertmanager"}`},
		"LLMHighErrorRatio": {"> 0.125", "[30s]", ">= 3"}, "LLMHighP95Latency": {"> 7.5", "[30s]", ">= 3"},
		"LLMHighTimeToFirstToken": {"> 1.25", ">= 3"}, "LLMQueueBacklog": {"> 42"}, "LLMKVCacheNearlyFull": {"> 0.85"},
		"LLMErrorBudgetBurn": {" * 0.001)", ">= 3"}, "LLMTTFTBudgetBurn": {" * 0.05)", ">= 3"},
		"job:llm_ttft_slow:ratio_rate1h":            {`le=~"1(\\.0)?"`},
		"job:llm_ttft_error_budget:remaining_ratio": {"/ 0.05"},
	}
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := r.Alert + r.Record
			for _, w := range want[name] {
				if !strings.Contains(r.Expr, w) {
					t.Errorf("%s: expr %q does not contain %q", name, r.Expr, w)
				}
			}
			seen[name] = true
			if r.Alert == "LLMHighErrorRatio" && r.For != "10s" {
				t.Errorf("LLMHighErrorRatio: for %q", r.For)
			}
			if r.Alert != "" && !strings.HasPrefix(r.Annotations["runbook_url"], "https://wiki.example.com/llm/runbook#") {
				t.Errorf("%s: runbook_url %q", r.Alert, r.Annotations["runbook_url"])
			}
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no rule %s", name)
		}
	}
	path := filepath.Join(t.TempDir(), "r.yml")
	os.WriteFile(path, content, 0o644)
	if out, err := testenv.Promtool(t, "check", "rules", path); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
