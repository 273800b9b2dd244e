package stack

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// Passwords and tokens reach Prometheus as 0400 files owned by its user,
// in a 0700 folder, and never in its command, environment, labels or hash.
func TestPrometheusSpecSecretsAndRetention(t *testing.T) {
	cfg, _, err := readSettingsFile("testdata/llmmon-fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := ReadSecretFiles(r.Secrets)
	if err != nil {
		t.Fatal(err)
	}
	s := BuildSpecs(SpecInput{Config: cfg, Rendered: r, AdminPassword: "pw", PrometheusSecrets: secrets}).Prometheus
	for _, flag := range []string{"--storage.tsdb.retention.time=30d", "--storage.tsdb.retention.size=50GB"} {
		if !slices.Contains(s.Cmd, flag) {
			t.Errorf("command %q lacks %s", s.Cmd, flag)
		}
	}
	want := map[string]bool{ // container path → secret
		"/etc/prometheus-secrets/jobs/tgi/password":           true,
		"/etc/prometheus-secrets/jobs/tgi/ca.crt":             true,
		"/etc/prometheus-secrets/jobs/sglang/bearer-token":    true,
		"/etc/prometheus-secrets/remote_write/0/password":     true,
		"/etc/prometheus-secrets/remote_write/1/bearer-token": true,
	}
	for _, f := range s.Files {
		secret, ok := want[f.Path]
		if !ok {
			continue
		}
		delete(want, f.Path)
		if f.Mode != 0o400 || f.UID != prometheusUID || f.Secret != secret || len(f.Content) == 0 {
			t.Errorf("%s: mode %o uid %d secret %v, %d bytes", f.Path, f.Mode, f.UID, f.Secret, len(f.Content))
		}
	}
	if len(want) != 0 {
		t.Errorf("files not in the container: %v", want)
	}
	for _, d := range s.Dirs {
		if d.Path == "/etc/prometheus-secrets" && d.Mode != 0o700 {
			t.Errorf("secrets folder mode %o", d.Mode)
		}
	}
	// Nothing an inspect shows holds a password.
	shown, _ := json.Marshal(struct {
		Cmd, Env []string
		Labels   map[string]string
	}{s.Cmd, s.Env, s.Labels})
	for _, sec := range secrets {
		if bytes.Contains(shown, bytes.TrimSpace(sec.Content)) {
			t.Errorf("%s shows in the container's command, environment or labels", sec.Path)
		}
	}
	// A changed password does not show in the hash either (it is read
	// from the file on each scrape; up copies it in again).
	secrets[1].Content = []byte("other")
	s2 := BuildSpecs(SpecInput{Config: cfg, Rendered: r, AdminPassword: "pw", PrometheusSecrets: secrets}).Prometheus
	if s2.Labels[LabelConfigHash] != s.Labels[LabelConfigHash] {
		t.Error("a password's content changed the config hash")
	}
}
