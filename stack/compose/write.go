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
// database, so it must not change under an existing volume.
func Write(dir string, s stack.Settings) ([]stack.WriteResult, error) {
	rendered, err := s.Render()
	if err != nil {
		return nil, err
	}
	password, err := adminPassword(dir)
	if err != nil {
		return nil, err
	}
	promSecrets, err := stack.ReadSecretFiles(rendered.Secrets)
	if err != nil {
		return nil, s.WithOrigins(err)
	}
	p, secrets, err := build(s.Config, rendered, password, promSecrets...)
	if err != nil {
		return nil, err
	}
	file, err := p.Marshal()
	if err != nil {
		return nil, err
	}
	files := append(rendered.All(), stack.File{Path: ComposeFile, Content: file, Mode: 0o644})
	return stack.WriteFiles(dir, append(files, secrets...))
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
