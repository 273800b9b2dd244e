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
	Prometheus []File
	Grafana    []File
	// Secrets are the files from this machine Prometheus' configuration
	// names (passwords, tokens, CAs): up copies them into the container;
	// they are never written to --dir.
	Secrets []SecretFile
}

// All returns every file, in a stable order.
func (r Rendered) All() []File { return append(append([]File{}, r.Prometheus...), r.Grafana...) }

// Render validates c and builds every file from the embedded templates;
// it touches no disk.
func Render(c Config) (Rendered, error) {
	if err := c.Validate(); err != nil {
		return Rendered{}, err
	}
	return render(c)
}

// render is Render for settings already validated.
func render(c Config) (Rendered, error) {
	jobs, secrets := scrapeJobs(c)
	rws, rwSecrets := remoteWrites(c)
	promYML, err := prometheus.RenderConfig(prometheus.Settings{
		ScrapeInterval:     c.ScrapeInterval.PromString(),
		EvaluationInterval: c.EvaluationInterval.PromString(),
		ExternalLabels:     externalLabels(c),
		Jobs:               jobs,
		RemoteWrite:        rws,
	})
	if err != nil {
		return Rendered{}, err
	}
	promFiles := []File{{Path: prometheus.ConfigFile, Content: promYML, Mode: 0o644}}
	rules, err := prometheus.RenderRules(prometheus.Thresholds{
		LLMJob:            c.LLMServer.Name,
		P95LatencySeconds: c.Alerts.P95LatencySeconds,
		TTFTP95Seconds:    c.Alerts.TTFTP95Seconds,
		QueueBacklog:      c.Alerts.QueueBacklog,
		ErrorRatio:        c.Alerts.ErrorRatio,
		KVCacheRatio:      c.Alerts.KVCacheRatio,
	})
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
		Grafana: []File{
			{Path: grafana.DatasourceFile, Content: ds, Mode: 0o644},
			{Path: grafana.DashboardProviderFile, Content: provider, Mode: 0o644},
		},
	}, nil
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
