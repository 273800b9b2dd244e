package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/llmmon/llmmon/stack"
)

// Write checks the settings, then renders the configuration and the
// Compose file into dir, keeping the admin password stored there (or
// creating one): Grafana applies it only when it first creates its
// database, so it must not change under an existing volume. The
// receivers' secret files are read and copied into SecretsDir, as up
// copies them into Alertmanager; notes name a secret file others may read.
func Write(dir string, s stack.Settings) (results []stack.WriteResult, notes []string, err error) {
	rendered, err := s.Render()
	if err != nil {
		return nil, nil, err
	}
	alertSecrets, notes, err := stack.ReadReceiverSecrets(s.Config.Alerting)
	if err != nil {
		return nil, nil, err
	}
	password, err := adminPassword(dir)
	if err != nil {
		return nil, notes, err
	}
	promSecrets, err := stack.ReadSecretFiles(rendered.Secrets)
	if err != nil {
		return nil, notes, s.WithOrigins(err)
	}
	p, secrets, err := build(s.Config, rendered, password, promSecrets, alertSecrets)
	if err != nil {
		return nil, notes, err
	}
	file, err := p.Marshal()
	if err != nil {
		return nil, notes, err
	}
	files := append(rendered.All(), stack.File{Path: ComposeFile, Content: file, Mode: 0o644})
	results, err = stack.WriteFiles(dir, append(files, secrets...))
	return results, notes, err
}

// adminPassword returns the project's stored password, or a new one that
// Write stores with the other secrets, in a folder closed to everyone but
// its owner.
func adminPassword(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	secrets := filepath.Join(dir, SecretsDir)
	if err := os.Mkdir(secrets, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create %s: %w", secrets, err)
	}
	if err := os.Chmod(secrets, 0o700); err != nil {
		return "", fmt.Errorf("close %s to other users: %w", secrets, err)
	}
	pw, _, err := stack.StoredOrNewAdminPassword(filepath.Join(dir, filepath.FromSlash(AdminPasswordFile)))
	return pw, err
}
