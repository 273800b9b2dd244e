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

// Files that up keeps in --dir next to the rendered configuration.
const (
	StateFile         = "llmmon-state.json"
	AdminPasswordFile = "grafana-admin-password"
)

// ErrNoState means up has never recorded a stack in this --dir.
var ErrNoState = errors.New("no stack recorded in this folder")

// State is what up records, so status, doctor and down need only --dir.
type State struct {
	Config         Config    `json:"config"`
	PrometheusHash string    `json:"prometheus_config_hash"`
	GrafanaHash    string    `json:"grafana_config_hash"`
	UpdatedAt      time.Time `json:"updated_at"`
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
