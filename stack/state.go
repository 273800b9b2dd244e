package stack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// StateFile is where up records the stack in --dir, next to the
// rendered configuration.
const StateFile = "llmmon-state.json"

// ErrNoState means up has never recorded a stack in this --dir.
var ErrNoState = errors.New("no stack recorded in this folder")

// State is what up records, so status, doctor and down need only --dir.
type State struct {
	Config    Config    `json:"config"`
	UpdatedAt time.Time `json:"updated_at"`
	// Written by up: the object names, where the stack answers from this
	// machine, the engine it runs on, and the dashboard version llmmon
	// last imported (0 when none).
	Names            Names  `json:"names"`
	PrometheusURL    string `json:"prometheus_url"`
	GrafanaURL       string `json:"grafana_url"`
	AlertmanagerURL  string `json:"alertmanager_url,omitempty"`
	AdminUser        string `json:"grafana_admin_user"`
	EngineHost       string `json:"engine_host"`
	DashboardVersion int    `json:"dashboard_version,omitempty"`
	// GrafanaFilesHash is the content last copied into the Grafana
	// container GrafanaContainerID (see LabelFilesHash).
	GrafanaContainerID string `json:"grafana_container_id,omitempty"`
	GrafanaFilesHash   string `json:"grafana_files_hash,omitempty"`
	// The same for Prometheus, whose files up and `llmmon target` deliver.
	PrometheusContainerID string `json:"prometheus_container_id,omitempty"`
	PrometheusFilesHash   string `json:"prometheus_files_hash,omitempty"`
}

// SaveState records s in dir atomically.
func SaveState(dir string, s State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	_, err = writeAtomic(filepath.Join(dir, StateFile), append(b, '\n'), 0o644)
	return err
}

// Delivered is the files hash the container id of component last got
// from llmmon ("" when the state does not know).
func (s State) Delivered(component, id string) string {
	switch {
	case component == ComponentGrafana && s.GrafanaContainerID == id:
		return s.GrafanaFilesHash
	case component == ComponentPrometheus && s.PrometheusContainerID == id:
		return s.PrometheusFilesHash
	}
	return ""
}

// LoadState reads what up recorded in dir; ErrNoState when nothing was.
func LoadState(dir string) (State, error) {
	path := filepath.Join(dir, StateFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, fmt.Errorf("%w (%s): run `llmmon up --dir %s` first", ErrNoState, path, dir)
	}
	if err != nil {
		return State{}, fmt.Errorf("read state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, fmt.Errorf("read %s: %w (delete it and run `llmmon up` again)", path, err)
	}
	return s, nil
}
