// Package dashboards embeds llmmon's Grafana dashboard. The importer sends
// its JSON to Grafana as written; Embedded reads its structure (variables,
// panels, queries) for the tests, which check the very JSON Grafana receives.
package dashboards

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
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
	// Annotations are the dashboard's annotation queries.
	Annotations []Annotation
}

// Annotation is one annotation query: events drawn on the time axis.
type Annotation struct {
	Name       string
	Enable     bool
	Datasource any
	Expr       string
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
	// Regex picks the values out of the query's results.
	Regex string
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
			Regex      string `json:"regex"`
		} `json:"list"`
	} `json:"templating"`
	Panels      []rawPanel `json:"panels"`
	Annotations struct {
		List []struct {
			Name       string `json:"name"`
			Enable     bool   `json:"enable"`
			Datasource any    `json:"datasource"`
			Expr       string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// Embedded parses the embedded dashboard.
func Embedded() (Dashboard, error) { return parse(llmServer) }

// parse reads a dashboard's JSON model.
func parse(data []byte) (Dashboard, error) {
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
			Multi: v.Multi, IncludeAll: v.IncludeAll, AllValue: v.AllValue, Refresh: v.Refresh, Regex: v.Regex})
	}
	for _, a := range raw.Annotations.List {
		d.Annotations = append(d.Annotations, Annotation(a))
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
