package compose

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// given is the stack's settings when they are exactly cfg.
func given(t *testing.T, cfg stack.Config) stack.Settings {
	t.Helper()
	s, err := stack.Resolve("", stack.Given(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeProject(t *testing.T, cfg stack.Config) (string, Project) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "compose")
	if _, _, err := Write(dir, given(t, cfg)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ComposeFile))
	if err != nil {
		t.Fatal(err)
	}
	var p Project
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", ComposeFile, err)
	}
	return dir, p
}

// TestProjectIsWhatUpCreates compares every service with the container
// spec up would create from the same settings.
func TestProjectIsWhatUpCreates(t *testing.T) {
	cfg := stack.Default()
	cfg.Name = "team-a"
	cfg.Bind = "0.0.0.0"
	cfg.Prometheus.Port, cfg.Grafana.Port, cfg.Alertmanager.Port = 19090, 13000, 19093
	dir, p := writeProject(t, cfg)
	rendered, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	specs := stack.BuildSpecs(stack.SpecInput{Config: cfg, Rendered: rendered, HostGateway: stack.HostGateway})

	if n := p.Networks[specs.Network.Name]; n.Name != "team-a-monitoring" || !reflect.DeepEqual(n.Labels, specs.Network.Labels) {
		t.Errorf("network %+v, want %+v", n, specs.Network)
	}
	for _, v := range specs.Volumes {
		if got := p.Volumes[v.Name]; got.Name != v.Name || !reflect.DeepEqual(got.Labels, v.Labels) {
			t.Errorf("volume %+v, want %+v", got, v)
		}
	}
	for _, c := range specs.Containers() {
		svc, ok := p.Services[c.Labels[stack.LabelComponent]]
		if !ok {
			t.Fatalf("no service for %s", c.Name)
		}
		if svc.Image != c.Image || svc.ContainerName != c.Name || string(svc.User) != c.User || svc.Restart != c.RestartPolicy ||
			!reflect.DeepEqual(svc.Command, c.Cmd) || !reflect.DeepEqual(svc.Environment, c.Env) || !reflect.DeepEqual(svc.ExtraHosts, c.ExtraHosts) ||
			!reflect.DeepEqual(svc.Networks[c.Network].Aliases, c.Aliases) {
			t.Errorf("service %s:\n %+v\nspec\n %+v", c.Name, svc, c)
		}
		if svc.Labels[stack.LabelStack] != "team-a" || svc.Labels[stack.LabelComponent] != c.Labels[stack.LabelComponent] {
			t.Errorf("%s labels %v", c.Name, svc.Labels)
		}
		want := []Quoted{Quoted("0.0.0.0:" + map[string]string{"llm-prometheus": "19090:9090", "llm-grafana": "13000:3000", "llm-alertmanager": "19093:9093"}[strings.TrimPrefix(c.Name, "team-a-")])}
		if !reflect.DeepEqual(svc.Ports, want) {
			t.Errorf("%s ports %v, want %v", c.Name, svc.Ports, want)
		}
		// Every file up copies in is, through a mount, at the same path.
		for _, f := range c.Files {
			if f.Secret {
				if len(svc.Secrets) != 1 || svc.Secrets[0].Target != f.Path {
					t.Errorf("%s: secret %s is not mounted at %s: %+v", c.Name, f.Path, f.Path, svc.Secrets)
				}
				continue
			}
			if !servedByMount(t, dir, svc.Volumes, f.Path, f.Content) {
				t.Errorf("%s: %s is not mounted from the project folder with the same content (mounts %v)", c.Name, f.Path, svc.Volumes)
			}
		}
		for _, m := range c.Mounts {
			if !contains(svc.Volumes, m.Volume+":"+m.Target) {
				t.Errorf("%s: volume %s not at %s: %v", c.Name, m.Volume, m.Target, svc.Volumes)
			}
		}
	}

	// The password is a file: never in the Compose file, closed to others.
	compose, _ := os.ReadFile(filepath.Join(dir, ComposeFile))
	pw, err := os.ReadFile(filepath.Join(dir, AdminPasswordFile))
	if err != nil || len(bytes.TrimSpace(pw)) < 20 {
		t.Fatalf("password file: %q %v", pw, err)
	}
	if bytes.Contains(compose, bytes.TrimSpace(pw)) {
		t.Fatal("the admin password is in the Compose file")
	}
	if st, _ := os.Stat(filepath.Join(dir, SecretsDir)); st.Mode().Perm() != 0o700 {
		t.Errorf("%s is %v, want 0700", SecretsDir, st.Mode().Perm())
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
		t.Errorf("the project folder is %v, want 0755", st.Mode().Perm())
	}
	// The spec's secret, wherever up puts it, is this file.
	if len(p.Secrets) != 1 || p.Secrets["grafana-admin-password"].File != "./"+AdminPasswordFile {
		t.Errorf("secrets %+v, want grafana-admin-password from %s", p.Secrets, AdminPasswordFile)
	}

	// A second render keeps the password (Grafana applies it only once) and changes nothing.
	results, _, err := Write(dir, given(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Changed {
			t.Errorf("second render changed %s", r.Path)
		}
	}
	if again, _ := os.ReadFile(filepath.Join(dir, AdminPasswordFile)); !bytes.Equal(again, pw) {
		t.Error("second render changed the admin password")
	}
}

// servedByMount reports whether containerPath is inside a bind mount whose
// host side, in dir, holds content.
func servedByMount(t *testing.T, dir string, mounts []string, containerPath string, content []byte) bool {
	t.Helper()
	for _, m := range mounts {
		parts := strings.Split(m, ":")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], "./") || parts[2] != "ro" {
			continue
		}
		if rel, ok := strings.CutPrefix(containerPath, parts[1]+"/"); ok {
			b, err := os.ReadFile(filepath.Join(dir, parts[0], rel))
			return err == nil && bytes.Equal(b, content)
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestDockerComposeAcceptsTheProject runs Debian's docker-compose (1.29,
// the v1 tool) on the file, as it would before up.
func TestDockerComposeAcceptsTheProject(t *testing.T) {
	dc := testenv.Tool(t, "docker-compose")
	for i, bind := range []string{"127.0.0.1", "::1"} {
		cfg := stack.Default()
		cfg.Bind = bind
		dir, _ := writeProject(t, cfg)
		if i == 0 { // docker-compose (Python) takes a second to start: check these once
			cmd := exec.Command(dc, "config", "-q")
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
				t.Fatalf("docker-compose config -q (bind %s): %v\n%s", bind, err, out)
			}
			cmd = exec.Command(dc, "config", "--services")
			cmd.Dir = dir
			out, err := cmd.Output()
			if err != nil || strings.Fields(string(out))[0] != "prometheus" {
				t.Fatalf("docker-compose config --services: %v %s (prometheus must start first)", err, out)
			}
		}
		cmd := exec.Command(dc, "config")
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), bind+":9090:9090/tcp") {
			t.Fatalf("docker-compose does not publish on %s: %v\n%s", bind, err, out)
		}
	}
}

// A fleet's credentials become Compose secrets, one per job or
// remote_write, read from the files the settings name; docker-compose
// accepts the project.
func TestFleetSecretsBecomeComposeSecrets(t *testing.T) {
	cfg := stack.Default()
	cfg.Targets = []stack.Target{
		{Name: "tgi", Addresses: []string{"a:443", "b:443"}, Scheme: "https", BasicAuth: stack.BasicAuth{Username: "u", PasswordFile: "../testdata/secrets/tgi-password"}},
		{Name: "sglang", Address: "c:1", BearerTokenFile: "../testdata/secrets/sglang-token"},
	}
	cfg.RemoteWrite = []stack.RemoteWrite{{URL: "http://m/api/v1/push", BasicAuth: stack.BasicAuth{Username: "t", PasswordFile: "../testdata/secrets/mimir-password"}}}
	dir, p := writeProject(t, cfg)
	for name, want := range map[string]string{
		"prometheus-secrets-jobs-tgi-password":        "s3cret-tgi",
		"prometheus-secrets-jobs-sglang-bearer-token": "tok-sglang",
		"prometheus-secrets-remote_write-0-password":  "s3cret-mimir",
	} {
		if _, ok := p.Secrets[name]; !ok {
			t.Errorf("no compose secret %s: %v", name, p.Secrets)
		}
		b, err := os.ReadFile(filepath.Join(dir, SecretsDir, name))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("secret file %s: %q %v", name, b, err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ComposeFile)); strings.Contains(string(b), "s3cret") {
		t.Error("the compose file holds a password")
	}
	// Each secret is mounted where prometheus.yml reads it, outside every
	// read-only mount: Docker cannot create a mount point inside one
	// ("read-only file system" on docker-compose up).
	prom := p.Services["prometheus"]
	config, _ := os.ReadFile(filepath.Join(dir, "prometheus/prometheus.yml"))
	if len(prom.Secrets) != 3 {
		t.Errorf("prometheus' secrets %+v, want 3", prom.Secrets)
	}
	for _, sec := range prom.Secrets {
		if !strings.HasPrefix(sec.Target, "/etc/prometheus-secrets/") || !strings.Contains(string(config), `"../`+strings.TrimPrefix(sec.Target, "/etc/")+`"`) {
			t.Errorf("secret %s: prometheus.yml does not read it there:\n%s", sec.Target, config)
		}
		for _, v := range prom.Volumes {
			if target := strings.Split(v, ":")[1]; strings.HasPrefix(sec.Target, target+"/") {
				t.Errorf("secret %s is inside the mount %s", sec.Target, v)
			}
		}
	}
	cmd := exec.Command(testenv.Tool(t, "docker-compose"), "config", "-q")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Fatalf("docker-compose config -q: %v\n%s", err, out)
	}
}

// TestReceiverSecretsAreComposeSecrets: each receiver's secret file is
// copied into SecretsDir and mounted where up copies it; the Compose file
// and the configuration name only paths.
func TestReceiverSecretsAreComposeSecrets(t *testing.T) {
	src := t.TempDir()
	slackURL, hookURL := "https://hooks.slack.com/services/T0/B0/s3cret", "https://hooks.example.com/alerts?token=t0ken"
	os.WriteFile(filepath.Join(src, "slack-url"), []byte(slackURL+"\n"), 0o600)
	os.WriteFile(filepath.Join(src, "hook-url"), []byte(hookURL), 0o644) // others may read it: a note says so
	cfg := stack.Default()
	cfg.Alerting.Receivers = []stack.Receiver{
		{Name: "team", Slack: &stack.SlackReceiver{APIURLFile: filepath.Join(src, "slack-url"), Channel: "#llm"}},
		{Name: "hook", Webhook: &stack.WebhookReceiver{URLFile: filepath.Join(src, "hook-url")}},
	}
	dir := filepath.Join(t.TempDir(), "compose")
	_, notes, err := Write(dir, given(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "hook-url") || !strings.Contains(notes[0], "chmod 600") {
		t.Errorf("notes %q, want one about the world-readable hook-url", notes)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ComposeFile))
	var p Project
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	am := p.Services["alertmanager"]
	want := []ServiceSecret{
		{Source: "alertmanager-secrets-hook-webhook-url", Target: stack.SecretContainerPath("hook-webhook-url")},
		{Source: "alertmanager-secrets-team-slack-api-url", Target: stack.SecretContainerPath("team-slack-api-url")},
	}
	if !reflect.DeepEqual(am.Secrets, want) {
		t.Errorf("alertmanager's secrets %+v, want %+v", am.Secrets, want)
	}
	config, _ := os.ReadFile(filepath.Join(dir, "alertmanager/alertmanager.yml"))
	for _, s := range want {
		if !strings.Contains(string(config), `"`+s.Target+`"`) {
			t.Errorf("alertmanager.yml does not read %s:\n%s", s.Target, config)
		}
		// Every mount of the service is outside the secrets' folder, so
		// Docker can create each secret's mount point.
		for _, v := range am.Volumes {
			if target := strings.Split(v, ":")[1]; strings.HasPrefix(s.Target, target+"/") {
				t.Errorf("secret %s is inside the mount %s: Docker cannot create its mount point in a read-only mount", s.Target, v)
			}
		}
	}
	for name, content := range map[string]string{"alertmanager-secrets-team-slack-api-url": slackURL + "\n", "alertmanager-secrets-hook-webhook-url": hookURL} {
		if p.Secrets[name].File != "./"+SecretsDir+"/"+name {
			t.Errorf("secret %s is %+v", name, p.Secrets[name])
		}
		if got, err := os.ReadFile(filepath.Join(dir, SecretsDir, name)); err != nil || string(got) != content {
			t.Errorf("%s holds %q (%v), want the receiver's secret", name, got, err)
		}
	}
	// The secrets are nowhere but in SecretsDir.
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Dir(path) == filepath.Join(dir, SecretsDir) {
			return err
		}
		if b, _ := os.ReadFile(path); bytes.Contains(b, []byte("s3cret")) || bytes.Contains(b, []byte("t0ken")) {
			t.Errorf("%s holds a secret", path)
		}
		return nil
	})
	cmd := exec.Command(testenv.Tool(t, "docker-compose"), "config", "-q")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("docker-compose config -q: %v\n%s", err, out)
	}
}
