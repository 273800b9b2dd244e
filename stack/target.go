package stack

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// TargetChange is one `llmmon target add` or `rm`.
type TargetChange struct {
	Dir string
	// Lock says how to wait while an up, a down or another change holds
	// Dir: the change reads and records the settings up keeps there.
	Lock LockOptions
	// Job is the scrape job; Addresses are [SCHEME://]HOST:PORT[/PATH].
	Job       string
	Addresses []string
	// Labels (add only) are set on the job, over those it has.
	Labels map[string]string
}

// TargetResult is what a change did.
type TargetResult struct {
	Stack string
	// Target is the job as it is now; zero when rm removed it.
	Target Target
	// Reloaded: prometheus.yml changed (a job came or went), so Prometheus
	// reloaded it (HUP); otherwise only the job's targets file changed.
	Reloaded    bool
	ContainerID string
}

// AddTarget adds addresses (and labels) to a job of the stack recorded
// in Dir, creating the job when it is new, without restarting Prometheus.
func AddTarget(ctx context.Context, eng Engine, c TargetChange) (TargetResult, error) {
	return changeTargets(ctx, eng, c, func(cfg *Config) (Target, error) {
		if len(c.Addresses) == 0 {
			return Target{}, fmt.Errorf("target add %s: give at least one address, e.g. llmmon target add %s gpu3:8000", c.Job, c.Job)
		}
		t, at := findJob(cfg, c.Job)
		if at < 0 {
			t = Target{Name: c.Job}
		}
		addrs, err := ParseAddresses(&t, c.Addresses)
		if err != nil {
			return Target{}, fmt.Errorf("target add %s: %w", c.Job, err)
		}
		all := slices.Clone(t.Addrs())
		for _, a := range addrs {
			if !slices.Contains(all, a) {
				all = append(all, a)
			}
		}
		t = t.WithAddrs(all)
		if len(c.Labels) > 0 {
			t.Labels = maps.Clone(t.Labels)
			if t.Labels == nil {
				t.Labels = map[string]string{}
			}
			maps.Copy(t.Labels, c.Labels)
		}
		setJob(cfg, at, t)
		return t, nil
	})
}

// RemoveTarget removes addresses from a job, or the whole job when no
// address is given or none is left. The LLM server's job stays: the
// alert rules are written for it.
func RemoveTarget(ctx context.Context, eng Engine, c TargetChange) (TargetResult, error) {
	return changeTargets(ctx, eng, c, func(cfg *Config) (Target, error) {
		t, at := findJob(cfg, c.Job)
		if at < 0 {
			return Target{}, fmt.Errorf("target rm: no job %q in %s (llmmon target ls lists them)", c.Job, c.Dir)
		}
		var keep []string
		if len(c.Addresses) > 0 {
			probe := t
			rm, err := ParseAddresses(&probe, c.Addresses)
			if err != nil {
				return Target{}, fmt.Errorf("target rm %s: %w", c.Job, err)
			}
			for _, a := range rm {
				if !slices.Contains(t.Addrs(), a) {
					return Target{}, fmt.Errorf("target rm: job %q has no address %s (it has %v)", c.Job, a, t.Addrs())
				}
			}
			keep = slices.DeleteFunc(slices.Clone(t.Addrs()), func(a string) bool { return slices.Contains(rm, a) })
		}
		if at == 0 && len(keep) == 0 {
			return Target{}, fmt.Errorf("target rm: %q is the LLM server's job, which the alert rules watch: it keeps at least one address "+
				"(change it with llmmon up --llm-target)", c.Job)
		}
		if len(keep) == 0 {
			cfg.Targets = slices.Delete(slices.Clone(cfg.Targets), at-1, at)
			return Target{}, nil
		}
		t = t.WithAddrs(keep)
		setJob(cfg, at, t)
		return t, nil
	})
}

// findJob is the job named job and its index in AllTargets (-1: none).
func findJob(cfg *Config, job string) (Target, int) {
	for i, t := range cfg.AllTargets() {
		if t.Name == job {
			return t, i
		}
	}
	return Target{}, -1
}

// setJob puts t at index at of AllTargets, appending it when at < 0.
func setJob(cfg *Config, at int, t Target) {
	switch {
	case at == 0:
		cfg.LLMServer = t
	case at > 0:
		cfg.Targets = slices.Clone(cfg.Targets)
		cfg.Targets[at-1] = t
	default:
		cfg.Targets = append(slices.Clone(cfg.Targets), t)
	}
}

// changeTargets applies change to the recorded settings, delivers the
// new targets files (and prometheus.yml, when a job came or went) into
// the running Prometheus, then records the settings, so the next up
// keeps them. Nothing is recorded when the delivery fails.
func changeTargets(ctx context.Context, eng Engine, c TargetChange, change func(*Config) (Target, error)) (TargetResult, error) {
	dir := c.Dir
	if _, err := LoadState(dir); err != nil { // before the lock, which would create dir
		return TargetResult{}, err
	}
	lock, err := LockDir(ctx, dir, c.Lock)
	if err != nil {
		return TargetResult{}, err
	}
	defer lock.Unlock()
	st, err := LoadState(dir)
	if err != nil {
		return TargetResult{}, err
	}
	names := NamesFor(st.Config.Name)
	res := TargetResult{Stack: names.Stack}
	cfg := st.Config
	if res.Target, err = change(&cfg); err != nil {
		return res, err
	}
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	before, err := render(st.Config)
	if err != nil {
		return res, err
	}
	after, err := render(cfg)
	if err != nil {
		return res, err
	}
	secrets, err := ReadSecretFiles(after.Secrets)
	if err != nil {
		return res, err
	}
	obj, err := eng.Find(ctx, KindContainer, names.Prometheus)
	if err != nil || !obj.Owned(names.Stack) || !obj.Container.Running() {
		return res, fmt.Errorf("prometheus of stack %s is not running (%v): start it with llmmon up --dir %s, which also applies this change", names.Stack, describeMissing(err), dir)
	}
	res.ContainerID = obj.ID
	spec := BuildSpecs(SpecInput{Config: cfg, Rendered: after, PrometheusSecrets: secrets}).Prometheus
	var files []ContainerFile
	for _, f := range spec.Files {
		if !f.Secret {
			files = append(files, f)
		}
	}
	if err := eng.CopyFiles(ctx, obj.ID, spec.Dirs, files); err != nil {
		return res, err
	}
	if !bytes.Equal(fileContent(before.Prometheus, prometheus.ConfigFile), fileContent(after.Prometheus, prometheus.ConfigFile)) {
		if err := eng.SignalContainer(ctx, obj.ID, "HUP"); err != nil {
			return res, fmt.Errorf("reload prometheus: %w", err)
		}
		res.Reloaded = true
	}
	if _, err := WriteFiles(dir, after.All()); err != nil {
		return res, err
	}
	st.Config = cfg
	st.PrometheusContainerID, st.PrometheusFilesHash = obj.ID, spec.Labels[LabelFilesHash]
	st.UpdatedAt = time.Now().UTC()
	return res, SaveState(dir, st)
}

func describeMissing(err error) string {
	if err != nil {
		return err.Error()
	}
	return "its container is stopped or not the stack's"
}

func fileContent(files []File, p string) []byte {
	for _, f := range files {
		if f.Path == p {
			return f.Content
		}
	}
	return nil
}

// JobStatus is one job as `llmmon target ls` shows it.
type JobStatus struct {
	Name    string            `json:"name"`
	Scheme  string            `json:"scheme"`
	Path    string            `json:"path"`
	Labels  map[string]string `json:"labels,omitempty"`
	Targets []AddressStatus   `json:"targets"`
	// Engine is what the job's metrics say it runs (vLLM, llama.cpp, ...),
	// Rows the dashboard rows it feeds; empty before its first scrape.
	Engine string   `json:"engine,omitempty"`
	Rows   []string `json:"rows,omitempty"`
}

// AddressStatus is one address of a job and how Prometheus finds it.
type AddressStatus struct {
	Address    string    `json:"address"`
	ScrapeURL  string    `json:"scrape_url"`
	Health     string    `json:"health"` // up, down, unknown (not scraped yet)
	LastError  string    `json:"last_error,omitempty"`
	LastScrape time.Time `json:"last_scrape,omitzero"`
}

// TargetList is the stack's jobs with their health; PrometheusError says
// why health is unknown when Prometheus did not answer.
type TargetList struct {
	Stack           string      `json:"stack"`
	Jobs            []JobStatus `json:"jobs"`
	PrometheusError string      `json:"prometheus_error,omitempty"`
}

// ListTargets lists the recorded jobs and asks Prometheus how each
// address is and what each job runs.
func ListTargets(ctx context.Context, dir string) (TargetList, error) {
	st, err := LoadState(dir)
	if err != nil {
		return TargetList{}, err
	}
	l := TargetList{Stack: NamesFor(st.Config.Name).Stack}
	prom := prometheus.NewClient(st.PrometheusURL)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	active, perr := prom.Targets(tctx)
	cancel()
	if perr != nil {
		l.PrometheusError = perr.Error()
	}
	byURL := map[string]prometheus.Target{}
	for _, t := range active {
		byURL[t.Job+" "+t.ScrapeURL] = t
	}
	engines := map[string]prometheus.Detection{}
	if perr == nil {
		for _, e := range detectEngines(ctx, prom, active) {
			engines[e.Job] = e.Detection
		}
	}
	for _, t := range st.Config.AllTargets() {
		j := JobStatus{Name: t.Name, Scheme: t.SchemeOrDefault(), Path: t.MetricsPath(), Labels: t.Labels}
		for i, u := range t.ScrapeURLs() {
			a := AddressStatus{Address: t.Addrs()[i], ScrapeURL: u, Health: "unknown"}
			if pt, ok := byURL[t.Name+" "+u]; ok {
				a.Health, a.LastError, a.LastScrape = pt.Health, pt.LastError, pt.LastScrape
			}
			j.Targets = append(j.Targets, a)
		}
		if d, ok := engines[t.Name]; ok {
			j.Engine, j.Rows = d.Kind(), d.Rows()
		}
		l.Jobs = append(l.Jobs, j)
	}
	sort.SliceStable(l.Jobs, func(i, k int) bool { return l.Jobs[i].Name < l.Jobs[k].Name })
	return l, nil
}
