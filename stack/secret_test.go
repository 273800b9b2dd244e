package stack

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
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

// Whoever stores the admin password first wins; every other up reads it
// (it used to be written by rename, the last writer replacing it while
// Grafana had been given the first).
func TestAdminPasswordStoredOnce(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	got := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			pw, err := ensureAdminPassword(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = pw
		}()
	}
	close(start)
	wg.Wait()
	stored, err := ReadAdminPassword(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, pw := range got {
		if pw != stored {
			t.Errorf("up %d was given %q, the file holds %q", i, pw, stored)
		}
	}
	if st, err := os.Stat(AdminPasswordPath(dir)); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", st.Mode(), err)
	}
	// An empty file (an up that died before writing) is replaced.
	os.WriteFile(AdminPasswordPath(dir), nil, 0o600)
	pw, err := ensureAdminPassword(dir)
	if err != nil || len(pw) < 20 || strings.TrimSpace(pw) != pw {
		t.Fatalf("after an empty file: %q %v", pw, err)
	}
	if again, _ := ensureAdminPassword(dir); again != pw {
		t.Errorf("a stored password changed: %q then %q", pw, again)
	}
}
