package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A stored password is kept; none (no file, or an empty one) gets a new
// one, which the caller stores.
func TestStoredOrNewAdminPassword(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pw")
	first, isNew, err := StoredOrNewAdminPassword(path)
	if err != nil || !isNew || len(first) != 24 {
		t.Fatalf("no file: %q new=%v %v", first, isNew, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a new password was stored: %v", err)
	}
	if again, _, _ := StoredOrNewAdminPassword(path); again == first {
		t.Error("two new passwords are the same")
	}
	os.WriteFile(path, []byte("\n"), 0o600)
	if _, isNew, err := StoredOrNewAdminPassword(path); err != nil || !isNew {
		t.Errorf("empty file: new=%v %v", isNew, err)
	}
	os.WriteFile(path, []byte("s3cret\n"), 0o600)
	if pw, isNew, err := StoredOrNewAdminPassword(path); pw != "s3cret" || isNew || err != nil {
		t.Errorf("stored: %q new=%v %v", pw, isNew, err)
	}

	// up stores a new one in --dir, mode 0600, and keeps it.
	pw, err := ensureAdminPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(AdminPasswordPath(dir)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("stored password file: %v", err)
	}
	if again, err := ensureAdminPassword(dir); err != nil || again != pw {
		t.Errorf("second up: %q %v, want %q", again, err, pw)
	}
	if read, err := ReadAdminPassword(dir); err != nil || read != pw {
		t.Errorf("ReadAdminPassword = %q %v, want %q", read, err, pw)
	}
}
