package compose

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmmon/llmmon/stack"
)

// Write renders the configuration and the Compose file into dir, and
// creates Grafana's admin password there unless one is already stored:
// Grafana applies it only when it first creates its database, so it must
// not change under an existing volume.
func Write(dir string, cfg stack.Config) ([]stack.WriteResult, error) {
	rendered, err := stack.Render(cfg)
	if err != nil {
		return nil, err
	}
	password, err := adminPassword(dir)
	if err != nil {
		return nil, err
	}
	p, secrets, err := Build(cfg, rendered, password)
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

// adminPassword returns the stored password, or makes one, with the
// secrets folder closed to everyone but its owner.
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
	path := filepath.Join(dir, filepath.FromSlash(AdminPasswordFile))
	b, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(b)); pw != "" {
			return pw, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read the Grafana admin password: %w", err)
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}
