package stack

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/prometheus"
)

var update = flag.Bool("update", false, "rewrite golden files")

// renderCases are the settings every render test covers: the seed's
// defaults, a settings file with extra targets, and a fleet (many
// addresses, https, auth, labels, remote_write, retention).
func renderCases(t *testing.T) map[string]Config {
	t.Helper()
	withTargets, _, err := readSettingsFile("testdata/llmmon-targets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fleet, _, err := readSettingsFile("testdata/llmmon-fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Config{"default": Default(), "targets": withTargets, "fleet": fleet}
}

// Passwords and tokens never appear in what render writes to --dir; they
// are listed as files for up to copy into the container.
func TestRenderKeepsSecretsOutOfFiles(t *testing.T) {
	cfg := renderCases(t)["fleet"]
	r, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := ReadSecretFiles(r.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 5 {
		t.Fatalf("want 5 files (CA, 2 passwords, 2 tokens), got %d: %+v", len(r.Secrets), r.Secrets)
	}
	for _, s := range secrets {
		if s.Mode != 0o400 {
			t.Errorf("%s mode %o, want 0400", s.Path, s.Mode)
		}
		for _, f := range r.All() {
			if bytes.Contains(f.Content, bytes.TrimSpace(s.Content)) {
				t.Errorf("%s holds the content of %s", f.Path, s.Path)
			}
		}
	}
}

func TestRenderGolden(t *testing.T) {
	for name, cfg := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			r, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range r.All() {
				golden := filepath.Join("testdata", "golden", name, filepath.FromSlash(f.Path))
				if *update {
					os.MkdirAll(filepath.Dir(golden), 0o755)
					if err := os.WriteFile(golden, f.Content, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./stack -run TestRenderGolden -update)", err)
				}
				if !bytes.Equal(f.Content, want) {
					t.Errorf("%s differs from %s:\n--- got\n%s\n--- want\n%s", f.Path, golden, f.Content, want)
				}
			}
		})
	}
}

func TestRenderIsDeterministicAndIdempotentOnDisk(t *testing.T) {
	cfg := renderCases(t)["targets"]
	dir := t.TempDir()
	r1, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	first, err := WriteFiles(dir, r1.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range first {
		if !res.Changed {
			t.Errorf("first write of %s reported unchanged", res.Path)
		}
	}
	mtimes := map[string]int64{}
	for _, res := range first {
		st, _ := os.Stat(res.Path)
		mtimes[res.Path] = st.ModTime().UnixNano()
	}
	r2, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := WriteFiles(dir, r2.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range second {
		if res.Changed {
			t.Errorf("second render rewrote %s", res.Path)
		}
		st, _ := os.Stat(res.Path)
		if st.ModTime().UnixNano() != mtimes[res.Path] {
			t.Errorf("second render touched %s", res.Path)
		}
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Error("two renders of the same settings differ")
	}
	// No temp files are left behind.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if strings.Contains(filepath.Base(p), ".tmp-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func TestRenderRefusesInvalidSettings(t *testing.T) {
	c := Default()
	c.Targets = []Target{{Name: "x", Address: "nope"}}
	if _, err := Render(c); err == nil {
		t.Fatal("Render accepted an invalid target")
	}
}

func TestWriteFilesKeepsOldFileWhenDirIsReadOnly(t *testing.T) {
	if os.Geteuid() == 0 {
		// root ignores permission bits; use a path whose parent is a file instead.
		dir := t.TempDir()
		blocker := filepath.Join(dir, "prometheus")
		os.WriteFile(blocker, []byte("keep me"), 0o644)
		r, _ := Render(Default())
		if _, err := WriteFiles(dir, r.All()); err == nil {
			t.Fatal("want an error when a folder cannot be created")
		}
		if b, _ := os.ReadFile(blocker); string(b) != "keep me" {
			t.Fatal("existing file was lost")
		}
		return
	}
	dir := t.TempDir()
	r, _ := Render(Default())
	if _, err := WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	promDir := filepath.Join(dir, "prometheus")
	os.Chmod(promDir, 0o555)
	defer os.Chmod(promDir, 0o755)
	c := Default()
	c.ScrapeInterval = Duration(5e9)
	r2, _ := Render(c)
	if _, err := WriteFiles(dir, r2.All()); err == nil {
		t.Fatal("want an error writing into a read-only folder")
	}
	got, _ := os.ReadFile(filepath.Join(dir, prometheus.ConfigFile))
	if !bytes.Equal(got, r.Prometheus[0].Content) {
		t.Fatal("failed write corrupted the old file")
	}
}

// TestPromtoolAcceptsRenderedFiles runs the real promtool on what we render.
func TestPromtoolAcceptsRenderedFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs promtool")
	}
	for name, cfg := range renderCases(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			r, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WriteFiles(dir, r.All()); err != nil {
				t.Fatal(err)
			}
			// The secrets, where up puts them in the container.
			secrets, err := ReadSecretFiles(r.Secrets)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WriteTree(dir, secrets); err != nil {
				t.Fatal(err)
			}
			// check config also follows rule_files, proving the glob resolves.
			out, err := testenv.Promtool(t, "check", "config", filepath.Join(dir, prometheus.ConfigFile))
			if err != nil {
				t.Fatalf("promtool check config: %v\n%s", err, out)
			}
			if !strings.Contains(out, "1 rule files found") {
				t.Errorf("rule_files glob did not find the rules file:\n%s", out)
			}
			out, err = testenv.Promtool(t, "check", "rules", filepath.Join(dir, prometheus.RulesFile))
			if err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, out)
			}
		})
	}
}
