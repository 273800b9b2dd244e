package stack

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// File is one rendered configuration file, relative to --dir.
type File struct {
	Path    string
	Content []byte
	Mode    os.FileMode
}

// Rendered is the stack's configuration, split by the container that reads it.
type Rendered struct {
	Prometheus   []File
	Grafana      []File
	Alertmanager []File
	// Secrets are the files from this machine Prometheus' configuration
	// names (passwords, tokens, CAs): up copies them into the container;
	// they are never written to --dir.
	Secrets []SecretFile
}

// All returns every file, in a stable order.
func (r Rendered) All() []File {
	return append(append(append([]File{}, r.Prometheus...), r.Alertmanager...), r.Grafana...)
}

// Of returns the files a component's container reads.
func (r Rendered) Of(component string) []File {
	switch component {
	case ComponentPrometheus:
		return r.Prometheus
	case ComponentAlertmanager:
		return r.Alertmanager
	case ComponentGrafana:
		return r.Grafana
	}
	return nil
}

// Render validates c and builds every file from the embedded templates;
// it touches no disk.
func Render(c Config) (Rendered, error) {
	if err := c.Validate(); err != nil {
		return Rendered{}, err
	}
	return render(c)
}

// AlertmanagerJob is the job of Prometheus scraping Alertmanager, whose
// metrics say whether notifications fail.
const AlertmanagerJob = "alertmanager"

// ScrapeJobs are every job of the rendered prometheus.yml: Prometheus
// itself, Alertmanager, the LLM server and the extra targets.
func (c Config) ScrapeJobs() []Target {
	s := prometheus.SelfScrape()
	return append([]Target{
		{Name: s.Name, Address: s.Address, Path: s.MetricsPath},
		{Name: AlertmanagerJob, Address: AlertmanagerAddress, Path: DefaultMetricsPath},
	}, c.AllTargets()...)
}

// render is Render for settings already validated.
func render(c Config) (Rendered, error) {
	jobs, secrets := scrapeJobs(c)
	rws, rwSecrets := remoteWrites(c)
	// Prometheus itself and Alertmanager are static targets; the others
	// read theirs from their targets files.
	var promJobs []prometheus.Job
	for _, t := range c.ScrapeJobs()[:2] {
		promJobs = append(promJobs, prometheus.Job{Name: t.Name, Address: t.Address, MetricsPath: t.MetricsPath()})
	}
	promYML, err := prometheus.RenderConfig(prometheus.Settings{
		ScrapeInterval:     c.ScrapeInterval.PromString(),
		EvaluationInterval: c.EvaluationInterval.PromString(),
		ExternalLabels:     externalLabels(c),
		Jobs:               append(promJobs, jobs...),
		RemoteWrite:        rws,
		Alertmanagers:      []string{AlertmanagerAddress},
	})
	if err != nil {
		return Rendered{}, err
	}
	promFiles := []File{{Path: prometheus.ConfigFile, Content: promYML, Mode: 0o644}}
	a := c.Alerts
	rules, err := prometheus.RenderRules(prometheus.Rules{
		LLMJob:            c.LLMServer.Name,
		AlertmanagerJob:   AlertmanagerJob,
		P95LatencySeconds: a.P95LatencySeconds,
		TTFTP95Seconds:    a.TTFTP95Seconds,
		QueueBacklog:      a.QueueBacklog,
		ErrorRatio:        a.ErrorRatio,
		KVCacheRatio:      a.KVCacheRatio,
		MinRequests:       a.MinRequests,
		Window:            a.Window.PromString(),
		For:               a.For.PromString(),
		RunbookURL:        a.RunbookURL,
		Availability:      c.SLO.Availability / 100,
		TTFTSeconds:       c.SLO.TTFTSeconds,
		TTFTObjective:     c.SLO.TTFTTarget / 100,
		RecordWindow:      Duration(max(time.Minute, 4*time.Duration(c.ScrapeInterval))).PromString(),
	})
	if err != nil {
		return Rendered{}, err
	}
	amYML, err := alertmanager.RenderConfig(AlertmanagerSettings(c.Alerting, func(r SecretRef) string { return SecretContainerPath(r.Name) }))
	if err != nil {
		return Rendered{}, err
	}
	ds, err := grafana.RenderDatasource(grafana.ProvisionedDatasource{
		Name:         DatasourceName,
		UID:          DatasourceUID,
		URL:          DatasourceURL,
		TimeInterval: c.ScrapeInterval.PromString(),
	})
	if err != nil {
		return Rendered{}, err
	}
	amDS, err := grafana.RenderAlertmanagerDatasource(grafana.AlertmanagerDatasource{
		Name: AlertmanagerDatasourceName, UID: AlertmanagerDatasourceUID, URL: AlertmanagerURL,
	})
	if err != nil {
		return Rendered{}, err
	}
	provider, err := grafana.RenderDashboardProvider(grafana.DefaultFolder)
	if err != nil {
		return Rendered{}, err
	}
	promFiles = append(promFiles, File{Path: prometheus.RulesFile, Content: rules, Mode: 0o644})
	for _, j := range jobs {
		sd, err := prometheus.RenderTargets(j)
		if err != nil {
			return Rendered{}, err
		}
		promFiles = append(promFiles, File{Path: prometheus.TargetsFile(j.Name), Content: sd, Mode: 0o644})
	}
	return Rendered{
		Secrets:    append(secrets, rwSecrets...),
		Prometheus: promFiles,
		Alertmanager: []File{
			{Path: alertmanager.ConfigFile, Content: amYML, Mode: 0o644},
		},
		Grafana: []File{
			{Path: grafana.DatasourceFile, Content: ds, Mode: 0o644},
			{Path: grafana.AlertmanagerDatasourceFile, Content: amDS, Mode: 0o644},
			{Path: grafana.DashboardProviderFile, Content: provider, Mode: 0o644},
		},
	}, nil
}

// AlertmanagerSettings are the receivers, routes and timings the
// settings give Alertmanager. Each secret is where locate says it is: a
// file in Alertmanager's container for up and render, the key of a
// Kubernetes Secret for render --kubernetes.
func AlertmanagerSettings(a Alerting, locate func(SecretRef) string) alertmanager.Settings {
	s := alertmanager.Settings{
		ResolveTimeout: a.ResolveTimeout.PromString(),
		GroupWait:      a.GroupWait.PromString(),
		GroupInterval:  a.GroupInterval.PromString(),
		RepeatInterval: a.RepeatInterval.PromString(),
		Nobody:         NobodyReceiver,
	}
	if a.Webhook != "" {
		s.Receivers = append(s.Receivers, alertmanager.Receiver{Name: AlertWebhookReceiver,
			Severities: []string{SeverityCritical, SeverityWarning}, Webhook: &alertmanager.Webhook{URL: a.Webhook}})
	}
	secrets := map[string]string{} // setting → where the secret is
	for _, ref := range a.Secrets() {
		secrets[ref.Setting] = locate(ref)
	}
	for i, r := range a.Receivers {
		at := fmt.Sprintf("alerting.receivers[%d].%s.", i, r.Kind())
		out := alertmanager.Receiver{Name: r.Name, Severities: r.SeveritiesOrDefault()}
		switch {
		case r.Webhook != nil:
			out.Webhook = &alertmanager.Webhook{URL: r.Webhook.URL, URLFile: secrets[at+"url_file"]}
		case r.Slack != nil:
			out.Slack = &alertmanager.Slack{APIURLFile: secrets[at+"api_url_file"], Channel: r.Slack.Channel}
		case r.Email != nil:
			e := r.Email
			out.Email = &alertmanager.Email{To: e.To, From: e.From, Smarthost: e.Smarthost, AuthUsername: e.AuthUsername,
				AuthPasswordFile: secrets[at+"auth_password_file"], RequireTLS: e.RequireTLS == nil || *e.RequireTLS}
		case r.PagerDuty != nil:
			out.PagerDuty = &alertmanager.PagerDuty{RoutingKeyFile: secrets[at+"routing_key_file"], ServiceKeyFile: secrets[at+"service_key_file"]}
		}
		s.Receivers = append(s.Receivers, out)
	}
	return s
}

// WriteResult says what WriteTree did with one file.
type WriteResult struct {
	Path    string // as written, joined with dir
	Changed bool
}

// WriteFiles is WriteTree for a stack's --dir: it also creates the user's
// dashboards folder, which Grafana's file provider loads.
func WriteFiles(dir string, files []File) ([]WriteResult, error) {
	if err := os.MkdirAll(filepath.Join(dir, grafana.UserDashboardsDir), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	return WriteTree(dir, files)
}

// WriteTree writes files under dir atomically (temp file + rename) and
// leaves a file alone when its content is already right, so a second
// render changes nothing on disk.
func WriteTree(dir string, files []File) ([]WriteResult, error) {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var out []WriteResult
	for _, f := range sorted {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		changed, err := writeAtomic(path, f.Content, f.Mode)
		if err != nil {
			return out, err
		}
		out = append(out, WriteResult{Path: path, Changed: changed})
	}
	return out, nil
}

func writeAtomic(path string, content []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		if st, err := os.Stat(path); err == nil && st.Mode().Perm() == mode.Perm() {
			return false, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return false, fmt.Errorf("write %s: %w", path, err)
	}
	return true, nil
}

// ReadUserDashboards returns the dashboard JSON the user dropped into
// DIR/grafana/dashboards, which Grafana's file provider loads.
func ReadUserDashboards(dir string) ([]File, error) {
	root := filepath.Join(dir, filepath.FromSlash(grafana.UserDashboardsDir))
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", root, err)
	}
	var files []File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: grafana.UserDashboardsDir + "/" + e.Name(), Content: b, Mode: 0o644})
	}
	return files, nil
}
