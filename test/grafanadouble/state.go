package grafanadouble

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Files the double keeps in the data dir, its stand-in for grafana.db.
const (
	StateFile = "grafana-double.json"
	AdminFile = "grafana-double-admin.json"
)

// state is everything Grafana keeps in its database, except the admin user.
type state struct {
	NextID               int64             `json:"nextId"` // dashboards and folders share ids
	NextDatasourceID     int64             `json:"nextDatasourceId"`
	NextServiceAccountID int64             `json:"nextServiceAccountId"`
	NextTokenID          int64             `json:"nextTokenId"`
	Folders              []*folder         `json:"folders"`
	Dashboards           []*dashboard      `json:"dashboards"`
	Datasources          []*datasource     `json:"datasources"`
	ServiceAccounts      []*serviceAccount `json:"serviceAccounts"`
}

// adminFile is the admin user. It is its own file so that
// `grafana-double reset-admin-password` takes effect in a running double,
// as `grafana cli admin reset-admin-password` does on a running Grafana.
type adminFile struct {
	User    string    `json:"user"`
	Salt    string    `json:"salt"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
}

type serviceAccount struct {
	ID       int64    `json:"id"`
	Name     string   `json:"name"`
	Login    string   `json:"login"`
	Role     string   `json:"role"`
	Disabled bool     `json:"isDisabled"`
	Tokens   []*token `json:"tokens"`
}

type token struct {
	ID      int64     `json:"id"`
	Name    string    `json:"name"`
	Hash    string    `json:"hash"`
	Expires time.Time `json:"expires"`
}

func hashSecret(secret, salt string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + secret))
	return hex.EncodeToString(sum[:])
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func newAdmin(user, password string) adminFile {
	salt := randomString(10)
	return adminFile{User: user, Salt: salt, Hash: hashSecret(password, salt), Created: time.Now().UTC()}
}

// loadOrInit reads the data dir. With no admin file yet, this is the first
// start: the admin user comes from cfg, exactly once.
func loadOrInit(cfg Config) (*state, adminFile, error) {
	st := &state{NextID: 1, NextDatasourceID: 1, NextServiceAccountID: 2, NextTokenID: 1}
	if cfg.DataDir == "" {
		return st, newAdmin(cfg.AdminUser, cfg.AdminPassword), nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, adminFile{}, fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	admin, err := readAdmin(cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		admin = newAdmin(cfg.AdminUser, cfg.AdminPassword)
		if err := writeAdmin(cfg.DataDir, &admin); err != nil {
			return nil, adminFile{}, err
		}
	} else if err != nil {
		return nil, adminFile{}, err
	}
	data, err := os.ReadFile(filepath.Join(cfg.DataDir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return st, admin, nil
	}
	if err != nil {
		return nil, adminFile{}, err
	}
	if err := unmarshalNumbers(data, st); err != nil {
		return nil, adminFile{}, fmt.Errorf("data dir %s: corrupt %s: %w", cfg.DataDir, StateFile, err)
	}
	return st, admin, nil
}

func readAdmin(dir string) (adminFile, error) {
	p := filepath.Join(dir, AdminFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return adminFile{}, err
	}
	var a adminFile
	if err := json.Unmarshal(data, &a); err != nil {
		return adminFile{}, fmt.Errorf("corrupt %s: %w", p, err)
	}
	return a, nil
}

func writeAdmin(dir string, a *adminFile) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, AdminFile), b, 0o600)
}

// ResetAdminPassword rewrites the stored admin password in dataDir, like
// `grafana cli admin reset-admin-password`. A running double sees the new
// password on its next request. With no state yet, it creates the admin
// user (named user) with this password.
func ResetAdminPassword(dataDir, user, password string) error {
	if password == "" {
		return errors.New("new password is empty")
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	a, err := readAdmin(dataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if user == "" {
			user = "admin"
		}
		a = newAdmin(user, password)
	case err != nil:
		return err
	default:
		a.Salt = randomString(10)
		a.Hash = hashSecret(password, a.Salt)
	}
	return writeAdmin(dataDir, &a)
}

// currentAdmin returns the admin user, re-reading the admin file when it
// changed on disk (a reset-admin-password while running).
func (s *Server) currentAdmin() adminFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.DataDir != "" {
		// Read it every time: it is tiny, and an mtime check can miss a
		// reset within the file system's timestamp granularity.
		if a, err := readAdmin(s.cfg.DataDir); err == nil {
			s.admin = a
		}
	}
	return s.admin
}

func (s *Server) checkPassword(user, password string) bool {
	a := s.currentAdmin()
	okUser := subtle.ConstantTimeCompare([]byte(user), []byte(a.User)) == 1
	okPass := subtle.ConstantTimeCompare([]byte(hashSecret(password, a.Salt)), []byte(a.Hash)) == 1
	return okUser && okPass
}

func (s *Server) adminCreated() string {
	return s.currentAdmin().Created.Format(time.RFC3339)
}

func (s *Server) setPassword(password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.admin.Salt = randomString(10)
	s.admin.Hash = hashSecret(password, s.admin.Salt)
	if s.cfg.DataDir == "" {
		return nil
	}
	return writeAdmin(s.cfg.DataDir, &s.admin)
}

// saveLocked persists state atomically. Callers hold s.mu (or own s alone).
func (s *Server) saveLocked() error {
	if s.cfg.DataDir == "" {
		return nil
	}
	b, err := json.MarshalIndent(s.st, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.cfg.DataDir, StateFile), b, 0o600)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}

// unmarshalNumbers decodes JSON keeping numbers inside free-form values
// (dashboards, jsonData) exact, as json.Number.
func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
