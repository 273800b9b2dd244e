package dashboards

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
)

func embedded(t *testing.T) Dashboard {
	t.Helper()
	d, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// walk calls f for every key/value pair anywhere in the JSON tree.
func walk(v any, path string, f func(path, key string, val any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			f(path, k, val)
			walk(val, path+"."+k, f)
		}
	case []any:
		for i, val := range x {
			walk(val, fmt.Sprintf("%s[%d]", path, i), f)
		}
	}
}

func rawTree(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(JSON(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIdentity(t *testing.T) {
	d := embedded(t)
	if d.UID != UID || UID == "" {
		t.Errorf("uid = %q, want the stable %q", d.UID, UID)
	}
	if d.Title == "" || !slices.Contains(d.Tags, "llmmon") {
		t.Errorf("title %q, tags %v: want a title and the llmmon tag", d.Title, d.Tags)
	}
	if d.Revision < 1 {
		t.Errorf("revision = %d: the importer compares revisions, it must be >= 1", d.Revision)
	}
	if d.TimeFrom != "now-1h" || d.Refresh == "" {
		t.Errorf("default range %q refresh %q: want now-1h and an auto-refresh", d.TimeFrom, d.Refresh)
	}
	if _, ok := rawTree(t)["id"]; ok {
		t.Error("dashboard JSON carries an id; Grafana assigns ids")
	}
}

func TestVariables(t *testing.T) {
	d := embedded(t)
	var dsVars []Variable
	for _, v := range d.Variables {
		if v.Type == "datasource" {
			dsVars = append(dsVars, v)
		}
	}
	if len(dsVars) != 1 || dsVars[0].Name != "datasource" || dsVars[0].Query != "prometheus" {
		t.Fatalf("datasource variables = %+v, want exactly one named datasource of type prometheus", dsVars)
	}
	for _, name := range []string{"job", "instance", "model"} {
		v, ok := d.Variable(name)
		if !ok {
			t.Errorf("no %s variable", name)
			continue
		}
		if v.Type != "query" || !isDSRef(v.Datasource) {
			t.Errorf("%s: type %q datasource %v, want a query variable on ${datasource}", name, v.Type, v.Datasource)
		}
		if !v.Multi || !v.IncludeAll || v.AllValue != ".+" {
			t.Errorf("%s: multi=%v includeAll=%v allValue=%q, want multi, All, allValue .+", name, v.Multi, v.IncludeAll, v.AllValue)
		}
		if v.Refresh != 2 {
			t.Errorf("%s: refresh = %d, want 2 (on time range change)", name, v.Refresh)
		}
		if _, ok := VariablePromQL(v.Query); !ok {
			t.Errorf("%s: query %q is not label_values(selector, label)", name, v.Query)
		}
	}
	inst, _ := d.Variable("instance")
	if !strings.Contains(inst.Query, `job=~"$job"`) {
		t.Errorf("instance query %q does not follow $job", inst.Query)
	}
	// model offers the served models and the engines' own names: one
	// variable for every row with a model label.
	model, _ := d.Variable("model")
	for _, want := range []string{llmmetrics.LabelRequestModel, "model_name", `job=~"$job"`, `instance=~"$instance"`} {
		if !strings.Contains(model.Query, want) {
			t.Errorf("model query %q lacks %s", model.Query, want)
		}
	}
	if re, err := regexp.Compile(strings.Trim(model.Regex, "/")); err != nil || re.FindStringSubmatch(`{model="a/b-8B"} 1 1700000000000`)[1] != "a/b-8B" {
		t.Errorf("model regex %q does not pick the model label of a query_result line: %v", model.Regex, err)
	}
}

func isDSRef(v any) bool {
	switch x := v.(type) {
	case string:
		return x == "${datasource}" || x == "$datasource"
	case map[string]any:
		return x["uid"] == "${datasource}" && x["type"] == "prometheus"
	}
	return false
}

func TestNoInputsNoHardCodedDatasource(t *testing.T) {
	if strings.Contains(string(JSON()), "${DS_") {
		t.Error("dashboard refers to ${DS_...} import inputs, which provisioning cannot fill")
	}
	walk(rawTree(t), "", func(path, key string, val any) {
		if key == "__inputs" || key == "__requires" {
			t.Errorf("%s.%s: import inputs must not exist", path, key)
		}
		if key == "datasource" && !isDSRef(val) {
			t.Errorf("%s.datasource = %v, want ${datasource}", path, val)
		}
		if key == "datasourceUid" || key == "datasourceUID" {
			t.Errorf("%s.%s: hard-coded datasource uid", path, key)
		}
	})
}

var (
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	rangeRE    = regexp.MustCompile(`\[([^\]]*)\]`)
	groupingRE = regexp.MustCompile(`\b(by|without)\s*\(([^)]*)\)`)
	identRE    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	onRE       = regexp.MustCompile(`\b(on|ignoring)\s*\(([^)]*)\)`)
	stringRE   = regexp.MustCompile(`"[^"]*"`)
	numberRE   = regexp.MustCompile(`\b\d+(\.\d+)?\b`)
	keywords   = []string{"sum", "avg", "max", "min", "count", "by", "rate", "increase", "histogram_quantile",
		"or", "group_left"}
	// counters that don't end in _total (TGI's).
	bareCounters = []string{"tgi_request_count", "tgi_request_success"}
)

func isCounter(name string) bool {
	for _, s := range []string{"_total", "_bucket", "_count", "_sum"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return slices.Contains(bareCounters, name)
}

// checkExpr applies the dashboard's query rules to one expression.
func checkExpr(expr string) []string {
	var errs []string
	sels := selectorRE.FindAllStringSubmatchIndex(expr, -1)
	if len(sels) == 0 {
		errs = append(errs, "no metric selector with matchers")
	}
	for _, s := range sels {
		name, matchers := expr[s[2]:s[3]], expr[s[4]:s[5]]
		for _, want := range []string{`job=~"$job"`, `instance=~"$instance"`} {
			if !strings.Contains(matchers, want) {
				errs = append(errs, fmt.Sprintf("%s does not select %s", name, want))
			}
		}
		if isCounter(name) {
			before := strings.TrimRight(expr[:s[0]], " ")
			if !strings.HasSuffix(before, "rate(") && !strings.HasSuffix(before, "increase(") {
				errs = append(errs, fmt.Sprintf("counter %s outside rate/increase", name))
			}
		}
	}
	for _, r := range rangeRE.FindAllStringSubmatch(expr, -1) {
		if r[1] != "$__rate_interval" {
			errs = append(errs, fmt.Sprintf("range [%s], want [$__rate_interval]", r[1]))
		}
	}
	if (strings.Contains(expr, "rate(") || strings.Contains(expr, "increase(")) && !strings.Contains(expr, "[$__rate_interval]") {
		errs = append(errs, "rate/increase without $__rate_interval")
	}
	// Nothing may select a metric without matchers: after removing
	// selectors, strings, groupings and ranges, only keywords remain.
	rest := selectorRE.ReplaceAllString(expr, " ")
	rest = groupingRE.ReplaceAllString(rest, " ")
	rest = onRE.ReplaceAllString(rest, " ")
	rest = rangeRE.ReplaceAllString(rest, " ")
	rest = stringRE.ReplaceAllString(rest, " ")
	rest = numberRE.ReplaceAllString(rest, " ")
	for _, id := range identRE.FindAllString(rest, -1) {
		if !slices.Contains(keywords, id) {
			errs = append(errs, fmt.Sprintf("bare identifier %q (a metric without job/instance matchers?)", id))
		}
	}
	return errs
}

func TestCheckExprCatchesBadQueries(t *testing.T) {
	for _, bad := range []string{
		`rate(llm_requests_total[5m])`,
		`rate(llm_requests_total{job=~"$job", instance=~"$instance"}[5m])`,
		`llm_requests_total{job=~"$job", instance=~"$instance"}`,
		`sum(llm_active_requests{job=~"$job"})`,
		`llm_active_requests`,
		`sum(rate(llm_requests_total{job=~"$job", instance=~"$instance"}[$__rate_interval])) / sum(llm_requests_total)`,
	} {
		if len(checkExpr(bad)) == 0 {
			t.Errorf("checkExpr accepted %s", bad)
		}
	}
	good := `histogram_quantile(0.95, sum by (le) (rate(llm_request_duration_seconds_bucket{job=~"$job", instance=~"$instance"}[$__rate_interval])))`
	if errs := checkExpr(good); len(errs) != 0 {
		t.Errorf("checkExpr rejected %s: %v", good, errs)
	}
}

func TestQueries(t *testing.T) {
	d := embedded(t)
	n := 0
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			n++
			if tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: missing or repeated refId %q", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if !isDSRef(tg.Datasource) {
				t.Errorf("panel %q target %s: datasource %v, want ${datasource}", p.Title, tg.RefID, tg.Datasource)
			}
			for _, e := range checkExpr(tg.Expr) {
				t.Errorf("panel %q target %s: %s\n  %s", p.Title, tg.RefID, e, tg.Expr)
			}
			for _, ref := range References(tg.Expr) {
				if !slices.Contains([]string{"job", "instance", "model", "__rate_interval"}, ref) {
					t.Errorf("panel %q: unknown variable $%s", p.Title, ref)
				}
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d queries; the dashboard lost panels", n)
	}
}

// wantUnit infers the unit a panel's queries call for.
func wantUnit(p Panel) string {
	e := p.Targets[0].Expr
	switch {
	case p.Type == "heatmap":
		return "short"
	case strings.Contains(e, "DCGM_FI_DEV_GPU_UTIL"):
		return "percent"
	case strings.Contains(e, "DCGM_FI_DEV_FB_USED"):
		return "mbytes"
	case strings.Contains(e, "_bytes_bucket"):
		return "bytes"
	case strings.HasPrefix(e, "histogram_quantile(") && (strings.Contains(e, "_seconds_bucket") || strings.Contains(e, "duration_bucket")):
		return "s"
	case strings.Contains(e, " / ") || strings.Contains(e, "kv_cache_usage_perc") || strings.Contains(e, "sglang:token_usage"):
		return "percentunit"
	case strings.Contains(e, "rate(") && regexp.MustCompile(`request(s_total|_count|_success(_total)?|_duration_seconds_count)\{`).MatchString(e):
		return "reqps"
	case strings.Contains(e, "rate(") && strings.Contains(e, "_total{") && !strings.Contains(e, "token"):
		return "ops" // events per second
	case strings.Contains(e, "token_usage_sum"):
		return "suffix: tok/s"
	case strings.Contains(e, "tokens") || strings.Contains(e, "tokens_predicted") || strings.Contains(e, "_length_sum"):
		return "suffix: tok/s"
	}
	return "short"
}

func TestPanels(t *testing.T) {
	d := embedded(t)
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if p.Title == "" || len(p.Description) < 20 {
			t.Errorf("panel %d %q: needs a title and a real description", p.ID, p.Title)
		}
		if ids[p.ID] || p.ID == 0 {
			t.Errorf("panel %q: id %d missing or repeated", p.Title, p.ID)
		}
		ids[p.ID] = true
		if !isDSRef(p.Datasource) {
			t.Errorf("panel %q: datasource %v, want ${datasource}", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			continue
		}
		if want := wantUnit(p); p.Unit != want {
			t.Errorf("panel %q: unit %q, want %q", p.Title, p.Unit, want)
		}
	}
}

// expandedRows are the rows open by default; the rest are engines that
// may be absent.
var expandedRows = []string{"Overview", "Models", "Gateway latency", "Replicas", "Engine (vLLM)"}

func TestRows(t *testing.T) {
	d := embedded(t)
	var got []string
	for _, r := range d.Rows {
		got = append(got, r.Title)
		other := !slices.Contains(expandedRows, r.Title)
		if r.Collapsed != other {
			t.Errorf("row %q collapsed=%v, want %v", r.Title, r.Collapsed, other)
		}
	}
	want := []string{"Overview", "Models", "Gateway latency", "Replicas", "Engine (vLLM)", "llama.cpp", "TGI", "SGLang", "GPU (dcgm-exporter)"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows = %q, want %q", got, want)
	}
	metrics := map[string][]string{}
	heatmaps := map[string]int{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range selectorRE.FindAllStringSubmatch(tg.Expr, -1) {
				metrics[p.Row] = append(metrics[p.Row], m[1])
			}
			if p.Type == "heatmap" {
				if tg.Format != "heatmap" {
					t.Errorf("heatmap %q: target format %q, want heatmap", p.Title, tg.Format)
				}
				heatmaps[p.Row]++
			}
		}
		if !slices.Contains(expandedRows, p.Row) && p.NoValue == "" {
			t.Errorf("panel %q in %q: set noValue so an absent engine shows a clear 'no data'", p.Title, p.Row)
		}
	}
	required := map[string][]string{
		"Overview": {"llm_requests_total", "llm_request_duration_seconds_bucket", "llm_tokens_generated_total",
			"llm_active_requests", "llm_request_size_bytes_bucket"},
		"Models": {llmmetrics.GenAIRequestDuration + "_count", llmmetrics.GenAITTFT + "_bucket", llmmetrics.GenAITPOT + "_bucket",
			llmmetrics.GenAITokenUsage + "_sum", llmmetrics.ModelActive},
		"Gateway latency": {llmmetrics.GenAITTFT + "_bucket", llmmetrics.GenAITPOT + "_bucket",
			"llm_time_to_first_token_seconds_bucket", "llm_time_per_output_token_seconds_bucket", "llm_prompt_tokens_total"},
		"Replicas": {"llm_request_duration_seconds_bucket", "llm_requests_total", "up"},
		"Engine (vLLM)": {"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
			llmmetrics.VLLMKVCacheUsageOld, llmmetrics.VLLMInterTokenLatencyOld + "_bucket", llmmetrics.VLLMPrefixCacheHits,
			llmmetrics.VLLMPrefixCacheQueries, llmmetrics.VLLMPrefixCacheHitsOld, llmmetrics.VLLMPrefixCacheQueriesOld,
			llmmetrics.VLLMPrefixCacheHitRateV0, llmmetrics.VLLMPreemptions,
			"vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_bucket", "vllm:e2e_request_latency_seconds_bucket",
			"vllm:request_queue_time_seconds_bucket", "vllm:request_prefill_time_seconds_bucket", "vllm:request_decode_time_seconds_bucket",
			"vllm:request_prompt_tokens_bucket", "vllm:request_generation_tokens_bucket", "vllm:request_success_total",
			"vllm:prompt_tokens_total", "vllm:generation_tokens_total"},
		"llama.cpp":           {"llamacpp:requests_processing", "llamacpp:tokens_predicted_total"},
		"TGI":                 {"tgi_queue_size", "tgi_request_duration_bucket"},
		"SGLang":              {"sglang:num_running_reqs", "sglang:time_to_first_token_seconds_bucket"},
		"GPU (dcgm-exporter)": {"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED"},
	}
	for row, names := range required {
		for _, n := range names {
			if !slices.Contains(metrics[row], n) {
				t.Errorf("row %q has no panel on %s", row, n)
			}
		}
	}
	if heatmaps["Engine (vLLM)"] != 2 {
		t.Errorf("engine row has %d heatmaps, want prompt and generation length", heatmaps["Engine (vLLM)"])
	}
	// The seed's own query for errors must be there, adapted.
	found := false
	for _, e := range d.Expressions() {
		if strings.Contains(e, `llm_requests_total{job=~"$job", instance=~"$instance", status="error"}`) {
			found = true
		}
	}
	if !found {
		t.Error("no query on the seed's error series llm_requests_total{status=\"error\"}")
	}
}

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"job": ".+", "__rate_interval": "1m"}
	got := Substitute(`rate(x{job=~"$job", a="${job}", b="[[job]]", c="$jobs"}[$__rate_interval])`, vals)
	want := `rate(x{job=~".+", a=".+", b=".+", c="$jobs"}[1m])`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// TestPromQLParsesWithPromtool hands every query, with its variables
// substituted, to the real promtool as recording rules.
func TestPromQLParsesWithPromtool(t *testing.T) {
	d := embedded(t)
	vals := map[string]string{"job": ".+", "instance": ".+", "model": ".+", "__rate_interval": "1m"}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	add := func(expr string) {
		n++
		q, _ := json.Marshal(Substitute(expr, vals))
		fmt.Fprintf(&b, "      - record: llmmon_dashboard_check_%d\n        expr: %s\n", n, q)
	}
	for _, e := range d.Expressions() {
		add(e)
	}
	for _, a := range d.Annotations {
		add(a.Expr)
	}
	for _, v := range d.Variables {
		if q, ok := VariablePromQL(v.Query); ok {
			add(q)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.Promtool(t, "check", "rules", path)
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s\n%s", err, out, b.String())
	}
	if !strings.Contains(out, fmt.Sprintf("%d rules found", n)) {
		t.Errorf("promtool checked a different number of rules than the %d queries:\n%s", n, out)
	}
}

// TestModelFilter: every selector of a metric with a model label filters
// on $model, and the Models row draws one line per model.
func TestModelFilter(t *testing.T) {
	d := embedded(t)
	modelLabel := func(metric string) string {
		switch {
		case strings.HasPrefix(metric, "gen_ai_"), metric == llmmetrics.ModelActive:
			return llmmetrics.LabelRequestModel
		case strings.HasPrefix(metric, "vllm:"), strings.HasPrefix(metric, "sglang:"):
			return "model_name"
		}
		return ""
	}
	n := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range selectorRE.FindAllStringSubmatch(tg.Expr, -1) {
				if l := modelLabel(m[1]); l != "" {
					n++
					if !strings.Contains(m[2], l+`=~"$model"`) {
						t.Errorf("panel %q: %s does not filter %s=~\"$model\"", p.Title, m[1], l)
					}
				}
			}
			if p.Row == "Models" && !strings.Contains(tg.Expr, "by ("+llmmetrics.LabelRequestModel) {
				t.Errorf("Models panel %q is not per model: %s", p.Title, tg.Expr)
			}
		}
	}
	if n < 30 {
		t.Errorf("only %d selectors with a model label", n)
	}
}

// TestBothVLLMGenerations: wherever a query reads a metric vLLM renamed, it
// reads the old name too (vllm-project/vllm#27133, #29330).
func TestBothVLLMGenerations(t *testing.T) {
	d := embedded(t)
	pairs := [][2]string{
		{llmmetrics.VLLMKVCacheUsage, llmmetrics.VLLMKVCacheUsageOld},
		{llmmetrics.VLLMInterTokenLatency, llmmetrics.VLLMInterTokenLatencyOld},
		{llmmetrics.VLLMPrefixCacheHits, llmmetrics.VLLMPrefixCacheHitsOld},
		{llmmetrics.VLLMPrefixCacheQueries, llmmetrics.VLLMPrefixCacheQueriesOld},
	}
	seen := map[string]bool{}
	for _, e := range d.Expressions() {
		for _, p := range pairs {
			if strings.Contains(e, p[0]+"{") || strings.Contains(e, p[0]+"_bucket{") {
				seen[p[0]] = true
				if !strings.Contains(e, " or ") || !strings.Contains(e, p[1]) {
					t.Errorf("reads %s but not, after or, %s: %s", p[0], p[1], e)
				}
			}
		}
	}
	for _, p := range pairs {
		if !seen[p[0]] {
			t.Errorf("no query reads %s", p[0])
		}
	}
}

// TestAlertAnnotations: firing alerts are drawn on the time axis, from the
// dashboard's Prometheus datasource.
func TestAlertAnnotations(t *testing.T) {
	d := embedded(t)
	if len(d.Annotations) != 1 {
		t.Fatalf("annotations %+v, want one", d.Annotations)
	}
	a := d.Annotations[0]
	if !a.Enable || !isDSRef(a.Datasource) || !strings.HasPrefix(a.Expr, `ALERTS{alertstate="firing"`) {
		t.Errorf("annotation %+v: want enabled, on ${datasource}, ALERTS{alertstate=\"firing\"}", a)
	}
	for _, e := range checkExpr(a.Expr) {
		t.Errorf("annotation: %s", e)
	}
}

// revisionHashes pins the dashboard JSON of each revision. up and import
// upgrade a Grafana copy only when its revision is older, so a changed
// dashboard needs a new revision.
var revisionHashes = map[int]string{
	1: "7bd166c37a5abae528b1e42bcc26eff3ad9a7bab41f0a3758b3d66d2cd1379e9",
	2: "6a824fbd4743e23ff72ac297780f1a9be28e0a5edd7e0dabf3cee53bca8bf878",
}

func TestRevisionBumpedWhenDashboardChanges(t *testing.T) {
	d := embedded(t)
	sum := sha256.Sum256(JSON())
	got := hex.EncodeToString(sum[:])
	want, ok := revisionHashes[d.Revision]
	switch {
	case !ok:
		t.Fatalf("revision %d is not pinned: add %d: %q to revisionHashes", d.Revision, d.Revision, got)
	case got != want:
		t.Fatalf("llm-server.json changed but its revision is still %d: set \"revision\": %d and pin %d: %q in revisionHashes",
			d.Revision, d.Revision+1, d.Revision+1, got)
	}
}
