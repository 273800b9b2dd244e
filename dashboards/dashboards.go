// Package dashboards embeds llmmon's Grafana dashboard and reads its
// structure (variables, panels, queries), so the importer and the tests walk
// the same JSON Grafana receives.
package dashboards

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
)

// UID is the dashboard's stable uid: re-imports find and update it, and
// links to it survive.
const UID = "llmmon-llm-server"

//go:embed llm-server.json
var llmServer []byte

// JSON returns a copy of the embedded dashboard, exactly as written, so it
// can be sent to Grafana without a lossy round trip through a Go struct.
func JSON() []byte { return bytes.Clone(llmServer) }

// Dashboard is the part of a dashboard llmmon reasons about.
type Dashboard struct {
	UID       string
	Title     string
	Tags      []string
	Revision  int
	TimeFrom  string
	Refresh   string
	Variables []Variable
	// Panels holds every non-row panel in display order, including those
	// nested in collapsed rows.
	Panels []Panel
	// Rows are the row titles in display order.
	Rows []Row
}

// Row is a dashboard row and the titles of the panels under it.
type Row struct {
	Title     string
	Collapsed bool
	Panels    []string
}

// Variable is one templating variable.
type Variable struct {
	Name       string
	Type       string
	Query      string // the query text, whichever form Grafana stored it in
	Datasource any
	Multi      bool
	IncludeAll bool
	AllValue   string
	Refresh    int
}

// Panel is one visualisation.
type Panel struct {
	ID          int
	Type        string
	Title       string
	Description string
	Row         string
	Unit        string
	NoValue     string
	Datasource  any
	Targets     []Target
}

// Target is one query of a panel.
type Target struct {
	RefID        string
	Expr         string
	Format       string
	LegendFormat string
	Datasource   any
}

type rawPanel struct {
	ID          int             `json:"id"`
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Description string          `json:"description"`
	Collapsed   bool            `json:"collapsed"`
	Datasource  any             `json:"datasource"`
	Panels      []rawPanel      `json:"panels"`
	Targets     []rawTarget     `json:"targets"`
	FieldConfig json.RawMessage `json:"fieldConfig"`
}

type rawTarget struct {
	RefID        string `json:"refId"`
	Expr         string `json:"expr"`
	Format       string `json:"format"`
	LegendFormat string `json:"legendFormat"`
	Datasource   any    `json:"datasource"`
}

type rawDashboard struct {
	UID      string   `json:"uid"`
	Title    string   `json:"title"`
	Tags     []string `json:"tags"`
	Revision int      `json:"revision"`
	Refresh  string   `json:"refresh"`
	Time     struct {
		From string `json:"from"`
	} `json:"time"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Datasource any    `json:"datasource"`
			Multi      bool   `json:"multi"`
			IncludeAll bool   `json:"includeAll"`
			AllValue   string `json:"allValue"`
			Refresh    int    `json:"refresh"`
		} `json:"list"`
	} `json:"templating"`
	Panels []rawPanel `json:"panels"`
}

// Embedded parses the embedded dashboard.
func Embedded() (Dashboard, error) { return Parse(llmServer) }

// Parse reads a dashboard's JSON model.
func Parse(data []byte) (Dashboard, error) {
	var raw rawDashboard
	if err := json.Unmarshal(data, &raw); err != nil {
		return Dashboard{}, fmt.Errorf("parse dashboard: %w", err)
	}
	d := Dashboard{UID: raw.UID, Title: raw.Title, Tags: raw.Tags, Revision: raw.Revision,
		TimeFrom: raw.Time.From, Refresh: raw.Refresh}
	for _, v := range raw.Templating.List {
		q := ""
		switch x := v.Query.(type) {
		case string:
			q = x
		case map[string]any:
			q, _ = x["query"].(string)
		}
		d.Variables = append(d.Variables, Variable{Name: v.Name, Type: v.Type, Query: q, Datasource: v.Datasource,
			Multi: v.Multi, IncludeAll: v.IncludeAll, AllValue: v.AllValue, Refresh: v.Refresh})
	}
	row := ""
	var addPanel func(p rawPanel) error
	addPanel = func(p rawPanel) error {
		if p.Type == "row" {
			row = p.Title
			d.Rows = append(d.Rows, Row{Title: p.Title, Collapsed: p.Collapsed})
			for _, c := range p.Panels {
				if err := addPanel(c); err != nil {
					return err
				}
			}
			return nil
		}
		var fc struct {
			Defaults struct {
				Unit    string `json:"unit"`
				NoValue string `json:"noValue"`
			} `json:"defaults"`
		}
		if len(p.FieldConfig) > 0 {
			if err := json.Unmarshal(p.FieldConfig, &fc); err != nil {
				return fmt.Errorf("panel %q: fieldConfig: %w", p.Title, err)
			}
		}
		out := Panel{ID: p.ID, Type: p.Type, Title: p.Title, Description: p.Description, Row: row,
			Unit: fc.Defaults.Unit, NoValue: fc.Defaults.NoValue, Datasource: p.Datasource}
		for _, t := range p.Targets {
			out.Targets = append(out.Targets, Target(t))
		}
		d.Panels = append(d.Panels, out)
		if n := len(d.Rows); n > 0 {
			d.Rows[n-1].Panels = append(d.Rows[n-1].Panels, p.Title)
		}
		return nil
	}
	for _, p := range raw.Panels {
		if err := addPanel(p); err != nil {
			return Dashboard{}, err
		}
	}
	return d, nil
}

// Variable returns the named variable, if the dashboard has it.
func (d Dashboard) Variable(name string) (Variable, bool) {
	for _, v := range d.Variables {
		if v.Name == name {
			return v, true
		}
	}
	return Variable{}, false
}

// Expressions returns every query expression of every panel, in order.
func (d Dashboard) Expressions() []string {
	var out []string
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, t.Expr)
		}
	}
	return out
}

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

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*(\w+)\s*\)\s*$`)

// VariablePromQL turns a Prometheus query variable's label_values(SELECTOR,
// LABEL) into the PromQL that returns the same label values, so tests can
// run it against a real Prometheus.
func VariablePromQL(query string) (string, bool) {
	m := labelValuesRE.FindStringSubmatch(query)
	if m == nil {
		return "", false
	}
	return fmt.Sprintf("count by (%s) (%s)", m[2], m[1]), true
}
