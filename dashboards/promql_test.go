package dashboards

import (
	"fmt"
	"regexp"
	"sort"
)

// Test-only helpers: the tests turn the dashboard's queries into PromQL a
// real Prometheus runs. llmmon itself sends the JSON to Grafana untouched.

var varRef = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// Substitute replaces Grafana variable references ($name, ${name},
// ${name:fmt}, [[name]], and built-ins such as $__rate_interval) with the
// given values. Unknown references are left as they are, so a query that
// still holds one fails to parse as PromQL.
func Substitute(expr string, values map[string]string) string {
	return varRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRef.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := values[name]; ok {
			return v
		}
		return m
	})
}

// References lists the variable names an expression refers to, sorted.
func References(expr string) []string {
	seen := map[string]bool{}
	for _, sub := range varRef.FindAllStringSubmatch(expr, -1) {
		seen[sub[1]+sub[2]+sub[3]] = true
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*(\w+)\s*\)\s*$`)
	queryResultRE = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// VariablePromQL turns a Prometheus query variable into the PromQL that
// returns its values, so tests can run it against a real Prometheus:
// label_values(SELECTOR, LABEL) becomes count by (LABEL) (SELECTOR), and
// query_result(EXPR) is EXPR (the variable's regex then picks a label).
func VariablePromQL(query string) (string, bool) {
	if m := labelValuesRE.FindStringSubmatch(query); m != nil {
		return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), true
	}
	if m := queryResultRE.FindStringSubmatch(query); m != nil {
		return m[1], true
	}
	return "", false
}
