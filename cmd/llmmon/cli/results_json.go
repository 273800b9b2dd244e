package cli

import (
	"time"

	"github.com/llmmon/llmmon/stack"
)

// The -o json reports of up, down and render: one object each, snake_case
// keys like every other llmmon report. Progress goes to stderr meanwhile.

type objectJSON struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
}

type targetJSON struct {
	Job        string    `json:"job"`
	ScrapeURL  string    `json:"scrape_url"`
	Health     string    `json:"health"`
	LastError  string    `json:"last_error,omitempty"`
	LastScrape time.Time `json:"last_scrape"`
}

type engineJSON struct {
	Job     string   `json:"job"`
	Engines []string `json:"engines"` // vLLM, llama.cpp, ...; empty: none recognised
	Gateway bool     `json:"llmmon_gateway"`
	GPU     bool     `json:"gpu"`
	Rows    []string `json:"dashboard_rows"`
}

type upJSON struct {
	Stack           string            `json:"stack"`
	Dir             string            `json:"dir"`
	Objects         []objectJSON      `json:"objects"`
	Containers      map[string]string `json:"container_ids"`
	PrometheusURL   string            `json:"prometheus_url"`
	AlertmanagerURL string            `json:"alertmanager_url"`
	GrafanaURL      string            `json:"grafana_url"`
	PasswordFile    string            `json:"grafana_password_file"`
	// Notified is who Alertmanager notifies; empty: nobody.
	Notified  []string `json:"notified"`
	Dashboard *struct {
		UID     string `json:"uid"`
		Action  string `json:"action"`
		Folder  string `json:"folder"`
		Version int    `json:"version"`
		URL     string `json:"url"`
		Reason  string `json:"reason,omitempty"`
	} `json:"dashboard"` // null with --no-dashboard or --wait 0
	Targets         []targetJSON `json:"targets"`
	TargetsError    string       `json:"targets_error,omitempty"`
	Engines         []engineJSON `json:"engines"`
	DurationSeconds float64      `json:"duration_seconds"`
}

func newUpJSON(dir string, r *stack.UpResult, took time.Duration) upJSON {
	j := upJSON{Stack: r.Names.Stack, Dir: dir, Containers: r.ContainerIDs, PrometheusURL: r.PrometheusURL,
		AlertmanagerURL: r.AlertmanagerURL, GrafanaURL: r.GrafanaURL, Notified: append([]string{}, r.Notified...), PasswordFile: r.PasswordFile, Objects: []objectJSON{}, Targets: []targetJSON{},
		Engines: []engineJSON{}, DurationSeconds: took.Seconds()}
	for _, a := range r.Actions {
		j.Objects = append(j.Objects, objectJSON{string(a.Kind), a.Name, a.Verb})
	}
	if d := r.Dashboard; d != nil {
		j.Dashboard = &struct {
			UID     string `json:"uid"`
			Action  string `json:"action"`
			Folder  string `json:"folder"`
			Version int    `json:"version"`
			URL     string `json:"url"`
			Reason  string `json:"reason,omitempty"`
		}{d.UID, string(d.Action), d.Folder, d.Version, d.URL, d.Reason}
	}
	for _, t := range r.Targets {
		j.Targets = append(j.Targets, targetJSON{t.Job, t.ScrapeURL, t.Health, t.LastError, t.LastScrape})
	}
	if r.TargetsErr != nil {
		j.TargetsError = r.TargetsErr.Error()
	}
	for _, e := range r.Engines {
		ej := engineJSON{Job: e.Job, Gateway: e.Detection.Gateway, GPU: e.Detection.GPU, Engines: []string{}, Rows: []string{}}
		for _, en := range e.Detection.Engines {
			ej.Engines = append(ej.Engines, en.Name)
			ej.Rows = append(ej.Rows, en.Row)
		}
		j.Engines = append(j.Engines, ej)
	}
	return j
}

type downJSON struct {
	Stack       string       `json:"stack"`
	Removed     []objectJSON `json:"removed"`
	VolumesKept bool         `json:"volumes_kept"`
}

func newDownJSON(r stack.DownResult, volumes bool) downJSON {
	j := downJSON{Stack: r.Stack, Removed: []objectJSON{}, VolumesKept: !volumes}
	for _, o := range r.Removed {
		j.Removed = append(j.Removed, objectJSON{string(o.Kind), o.Name, "removed"})
	}
	return j
}

type fileJSON struct {
	Path   string `json:"path"`
	Action string `json:"action"` // written, unchanged or removed
}

type renderJSON struct {
	Files []fileJSON `json:"files"`
	// Install is the command that applies a Kubernetes export.
	Install string `json:"install,omitempty"`
}

func appendWritten(files []fileJSON, results []stack.WriteResult) []fileJSON {
	for _, r := range results {
		a := "written"
		if !r.Changed {
			a = "unchanged"
		}
		files = append(files, fileJSON{r.Path, a})
	}
	return files
}

// statusJSON is the status report with its targets in snake_case (the
// report's own Target type mirrors Prometheus' camelCase API).
type statusJSON struct {
	stack.StatusReport
	Targets []targetJSON `json:"targets"`
}

func newStatusJSON(r stack.StatusReport) statusJSON {
	j := statusJSON{StatusReport: r, Targets: []targetJSON{}}
	for _, t := range r.Targets {
		j.Targets = append(j.Targets, targetJSON{t.Job, t.ScrapeURL, t.Health, t.LastError, t.LastScrape})
	}
	return j
}
