package stack

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func specsFor(t *testing.T, mod func(*Config), in SpecInput) Specs {
	t.Helper()
	cfg := Default()
	if mod != nil {
		mod(&cfg)
	}
	r, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.Config, in.Rendered = cfg, r
	if in.AdminPassword == "" {
		in.AdminPassword = "s3cret-pw"
	}
	return BuildSpecs(in)
}

func env(s ContainerSpec, key string) (string, bool) {
	for _, e := range s.Env {
		if k, v, _ := strings.Cut(e, "="); k == key {
			return v, true
		}
	}
	return "", false
}

func TestBuildSpecs(t *testing.T) {
	tests := []struct {
		name  string
		mod   func(*Config)
		in    SpecInput
		check func(t *testing.T, s Specs)
	}{
		{"seed names and labels", nil, SpecInput{HostGateway: HostGateway}, func(t *testing.T, s Specs) {
			if s.Network.Name != "monitoring" || s.Prometheus.Name != "llm-prometheus" || s.Grafana.Name != "llm-grafana" {
				t.Errorf("names: %s %s %s", s.Network.Name, s.Prometheus.Name, s.Grafana.Name)
			}
			if s.Alertmanager.Name != "llm-alertmanager" {
				t.Errorf("alertmanager name %s", s.Alertmanager.Name)
			}
			if s.Volumes[0].Name != "llm-prometheus-data" || s.Volumes[1].Name != "llm-alertmanager-data" || s.Volumes[2].Name != "llm-grafana-data" {
				t.Errorf("volumes: %+v", s.Volumes)
			}
			if got := s.Containers(); len(got) != 3 || got[1].Name != "llm-alertmanager" {
				t.Errorf("containers in start order: %+v", got)
			}
			for _, l := range []map[string]string{s.Network.Labels, s.Volumes[0].Labels, s.Volumes[1].Labels, s.Volumes[2].Labels, s.Prometheus.Labels, s.Alertmanager.Labels, s.Grafana.Labels} {
				if l[LabelStack] != "default" {
					t.Errorf("ownership label missing: %v", l)
				}
			}
			if s.Prometheus.Labels[LabelComponent] != "prometheus" || s.Grafana.Labels[LabelComponent] != "grafana" || s.Alertmanager.Labels[LabelComponent] != "alertmanager" {
				t.Error("component labels")
			}
			if len(s.Prometheus.Labels[LabelConfigHash]) != 16 || len(s.Grafana.Labels[LabelConfigHash]) != 16 || len(s.Alertmanager.Labels[LabelConfigHash]) != 16 {
				t.Errorf("config-hash labels: %v %v", s.Prometheus.Labels, s.Grafana.Labels)
			}
			if !slices.Equal(s.Prometheus.Aliases, []string{"prometheus"}) || !slices.Equal(s.Grafana.Aliases, []string{"grafana"}) || !slices.Equal(s.Alertmanager.Aliases, []string{"alertmanager"}) {
				t.Error("aliases")
			}
			if s.Prometheus.Network != "monitoring" || s.Grafana.Network != "monitoring" || s.Alertmanager.Network != "monitoring" {
				t.Error("network")
			}
			if s.Prometheus.Mounts[0] != (Mount{"llm-prometheus-data", "/prometheus"}) || s.Grafana.Mounts[0] != (Mount{"llm-grafana-data", "/var/lib/grafana"}) ||
				s.Alertmanager.Mounts[0] != (Mount{"llm-alertmanager-data", "/alertmanager"}) {
				t.Errorf("mounts: %+v %+v %+v", s.Prometheus.Mounts, s.Grafana.Mounts, s.Alertmanager.Mounts)
			}
		}},
		{"name prefixes everything", func(c *Config) { c.Name = "staging" }, SpecInput{}, func(t *testing.T, s Specs) {
			if s.Network.Name != "staging-monitoring" || s.Prometheus.Name != "staging-llm-prometheus" || s.Volumes[2].Name != "staging-llm-grafana-data" ||
				s.Alertmanager.Name != "staging-llm-alertmanager" || s.Volumes[1].Name != "staging-llm-alertmanager-data" {
				t.Errorf("prefix: %+v", s.Names)
			}
			if s.Grafana.Labels[LabelStack] != "staging" {
				t.Error("stack label")
			}
			// Aliases stay: the datasource URL is http://prometheus:9090 on the stack's own network.
			if s.Prometheus.Aliases[0] != "prometheus" {
				t.Error("alias must not be prefixed")
			}
		}},
		{"ports on 127.0.0.1 by default", nil, SpecInput{}, func(t *testing.T, s Specs) {
			if !slices.Equal(s.Prometheus.Ports, []PortSpec{{"127.0.0.1", 9090, 9090}}) || !slices.Equal(s.Grafana.Ports, []PortSpec{{"127.0.0.1", 3000, 3000}}) ||
				!slices.Equal(s.Alertmanager.Ports, []PortSpec{{"127.0.0.1", 9093, 9093}}) {
				t.Errorf("ports: %+v %+v %+v", s.Prometheus.Ports, s.Grafana.Ports, s.Alertmanager.Ports)
			}
		}},
		{"bind and ports from settings", func(c *Config) {
			c.Bind = "0.0.0.0"
			c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = 19090, 13000, 19093
		}, SpecInput{}, func(t *testing.T, s Specs) {
			if !slices.Equal(s.Prometheus.Ports, []PortSpec{{"0.0.0.0", 19090, 9090}}) || !slices.Equal(s.Grafana.Ports, []PortSpec{{"0.0.0.0", 13000, 3000}}) ||
				!slices.Equal(s.Alertmanager.Ports, []PortSpec{{"0.0.0.0", 19093, 9093}}) {
				t.Errorf("ports: %+v %+v %+v", s.Prometheus.Ports, s.Grafana.Ports, s.Alertmanager.Ports)
			}
			// Links in notifications lead to the published ports.
			if !slices.Contains(s.Alertmanager.Cmd, "--web.external-url=http://127.0.0.1:19093") || !slices.Contains(s.Prometheus.Cmd, "--web.external-url=http://127.0.0.1:19090") {
				t.Errorf("external URLs: %v %v", s.Alertmanager.Cmd, s.Prometheus.Cmd)
			}
		}},
		{"host-gateway on Prometheus and Alertmanager (host webhooks), not Grafana", nil, SpecInput{HostGateway: HostGateway}, func(t *testing.T, s Specs) {
			if !slices.Equal(s.Prometheus.ExtraHosts, []string{"host.docker.internal:host-gateway"}) || len(s.Grafana.ExtraHosts) != 0 ||
				!slices.Equal(s.Alertmanager.ExtraHosts, []string{"host.docker.internal:host-gateway"}) {
				t.Errorf("extra hosts: %v %v %v", s.Prometheus.ExtraHosts, s.Grafana.ExtraHosts, s.Alertmanager.ExtraHosts)
			}
		}},
		{"gateway IP on older engines", nil, SpecInput{HostGateway: "172.18.0.1"}, func(t *testing.T, s Specs) {
			if !slices.Equal(s.Prometheus.ExtraHosts, []string{"host.docker.internal:172.18.0.1"}) {
				t.Errorf("extra hosts: %v", s.Prometheus.ExtraHosts)
			}
		}},
		{"left alone on Docker Desktop", nil, SpecInput{HostGateway: ""}, func(t *testing.T, s Specs) {
			if len(s.Prometheus.ExtraHosts) != 0 {
				t.Errorf("extra hosts: %v", s.Prometheus.ExtraHosts)
			}
		}},
		{"non-root users", nil, SpecInput{}, func(t *testing.T, s Specs) {
			if s.Prometheus.User != "65534:65534" || s.Grafana.User != "472:0" || s.Alertmanager.User != "65534:65534" {
				t.Errorf("users %q %q %q", s.Prometheus.User, s.Grafana.User, s.Alertmanager.User)
			}
		}},
		{"prometheus flags explicit", nil, SpecInput{}, func(t *testing.T, s Specs) {
			for _, want := range []string{"--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"} {
				if !slices.Contains(s.Prometheus.Cmd, want) {
					t.Errorf("cmd %v lacks %s", s.Prometheus.Cmd, want)
				}
			}
			if slices.Contains(s.Prometheus.Cmd, "--web.enable-lifecycle") {
				t.Error("lifecycle API opened without need")
			}
		}},
		{"grafana security env", nil, SpecInput{AdminPassword: "pw-123"}, func(t *testing.T, s Specs) {
			want := map[string]string{
				"GF_SECURITY_ADMIN_USER":           "admin",
				"GF_SECURITY_ADMIN_PASSWORD__FILE": "/etc/grafana/llmmon/admin-password",
				"GF_USERS_ALLOW_SIGN_UP":           "false",
				"GF_AUTH_ANONYMOUS_ENABLED":        "false",
			}
			for k, v := range want {
				if got, _ := env(s.Grafana, k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			for _, e := range s.Grafana.Env {
				if strings.Contains(e, "pw-123") {
					t.Errorf("password in the environment (visible in docker inspect): %s", e)
				}
			}
			var pw *ContainerFile
			for i, f := range s.Grafana.Files {
				if f.Path == "/etc/grafana/llmmon/admin-password" {
					pw = &s.Grafana.Files[i]
				}
			}
			if pw == nil || string(pw.Content) != "pw-123" || pw.Mode != 0o400 || pw.UID != 472 || !pw.Secret {
				t.Errorf("password file: %+v", pw)
			}
		}},
		{"config files owned by the container users", nil, SpecInput{}, func(t *testing.T, s Specs) {
			paths := map[string]ContainerFile{}
			for _, f := range append(append(append([]ContainerFile{}, s.Prometheus.Files...), s.Grafana.Files...), s.Alertmanager.Files...) {
				paths[f.Path] = f
			}
			for p, uid := range map[string]int{
				"/etc/alertmanager/alertmanager.yml":                     65534,
				"/etc/grafana/provisioning/datasources/alertmanager.yml": 472,
				"/etc/prometheus/prometheus.yml":                         65534,
				"/etc/prometheus/rules/llmmon.rules.yml":                 65534,
				"/etc/grafana/provisioning/datasources/prometheus.yml":   472,
				"/etc/grafana/provisioning/dashboards/llmmon.yml":        472,
			} {
				f, ok := paths[p]
				if !ok {
					t.Errorf("%s not copied in", p)
					continue
				}
				if f.UID != uid || f.Mode.Perm()&0o004 == 0 || len(f.Content) == 0 {
					t.Errorf("%s: uid %d mode %v (%d bytes)", p, f.UID, f.Mode, len(f.Content))
				}
			}
			dirs := map[string]int{}
			for _, d := range append(append([]ContainerDir{}, s.Prometheus.Dirs...), s.Grafana.Dirs...) {
				dirs[d.Path] = d.UID
			}
			for _, d := range []string{"/etc/prometheus", "/etc/prometheus/rules"} {
				if dirs[d] != 65534 {
					t.Errorf("dir %s not owned by nobody: %v", d, dirs)
				}
			}
			if dirs["/etc/grafana/dashboards"] != 472 || dirs["/etc/grafana/provisioning/datasources"] != 472 {
				t.Errorf("grafana dirs: %v", dirs)
			}
			if _, ok := dirs["/etc/grafana"]; ok {
				t.Error("/etc/grafana (grafana.ini's folder) must keep the image's owner")
			}
		}},
		{"user dashboards copied", nil, SpecInput{UserDashboards: []File{{Path: "grafana/dashboards/mine.json", Content: []byte(`{"title":"mine"}`)}}}, func(t *testing.T, s Specs) {
			found := false
			for _, f := range s.Grafana.Files {
				found = found || (f.Path == "/etc/grafana/dashboards/mine.json" && string(f.Content) == `{"title":"mine"}`)
			}
			if !found {
				t.Errorf("dashboard not copied: %+v", s.Grafana.Files)
			}
		}},
		{"alertmanager flags explicit", nil, SpecInput{}, func(t *testing.T, s Specs) {
			for _, want := range []string{"--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--cluster.listen-address="} {
				if !slices.Contains(s.Alertmanager.Cmd, want) {
					t.Errorf("cmd %v lacks %s", s.Alertmanager.Cmd, want)
				}
			}
		}},
		{"receiver secrets readable by alertmanager only, in no hash", nil,
			SpecInput{AlertSecrets: []File{{Path: "alertmanager-secrets/team-slack-api-url", Content: []byte("https://hooks.slack.com/services/T/B/X"), Mode: 0o400}}},
			func(t *testing.T, s Specs) {
				var sec *ContainerFile
				for i, f := range s.Alertmanager.Files {
					if f.Path == "/etc/alertmanager-secrets/team-slack-api-url" {
						sec = &s.Alertmanager.Files[i]
					}
				}
				if sec == nil || !sec.Secret || sec.Mode != 0o400 || sec.UID != 65534 || string(sec.Content) == "" {
					t.Fatalf("secret file: %+v", sec)
				}
				for _, d := range s.Alertmanager.Dirs {
					if d.Path == "/etc/alertmanager-secrets" && (d.Mode != 0o700 || d.UID != 65534) {
						t.Errorf("secrets folder: %+v", d)
					}
				}
				other := BuildSpecs(SpecInput{Config: Default(), Rendered: mustRender(t), AdminPassword: "s3cret-pw",
					AlertSecrets: []File{{Path: "alertmanager-secrets/team-slack-api-url", Content: []byte("https://hooks.slack.com/services/T/B/other"), Mode: 0o400}}})
				if other.Alertmanager.Labels[LabelConfigHash] != s.Alertmanager.Labels[LabelConfigHash] {
					t.Error("the secret's content changed the config hash: it is derived from the secret")
				}
				for _, l := range s.Alertmanager.Labels {
					if strings.Contains(l, "hooks.slack.com") {
						t.Errorf("secret in a label: %s", l)
					}
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.check(t, specsFor(t, tt.mod, tt.in)) })
	}
}

// Prometheus' files hash moves with its files' content, which up then
// copies in and reloads; its config hash (recreate) does not.
func TestPrometheusFilesHash(t *testing.T) {
	base := specsFor(t, nil, SpecInput{})
	for name, mod := range map[string]func(*Config){
		"scrape interval": func(c *Config) { c.ScrapeInterval = Duration(5 * time.Second) },
		"extra target":    func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: "h:8001"}} },
		"more addresses":  func(c *Config) { c.LLMServer = c.LLMServer.WithAddrs([]string{"a:1", "b:1"}) },
		"remote write":    func(c *Config) { c.RemoteWrite = []RemoteWrite{{URL: "http://m/api/v1/push"}} },
	} {
		s := specsFor(t, mod, SpecInput{})
		if s.Prometheus.Labels[LabelFilesHash] == base.Prometheus.Labels[LabelFilesHash] {
			t.Errorf("%s: prometheus files hash unchanged", name)
		}
		if s.Prometheus.Labels[LabelConfigHash] != base.Prometheus.Labels[LabelConfigHash] {
			t.Errorf("%s: prometheus config hash changed: it would be recreated", name)
		}
	}
}

func mustRender(t *testing.T) Rendered {
	t.Helper()
	r, err := Render(Default())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The config hash decides what up recreates, so it must move with exactly
// the settings each container depends on.
func TestConfigHashes(t *testing.T) {
	ids := map[string]string{ComponentPrometheus: "sha256:p", ComponentGrafana: "sha256:g", ComponentAlertmanager: "sha256:a"}
	base := specsFor(t, nil, SpecInput{HostGateway: HostGateway, ImageIDs: ids})
	hook := func(c *Config) { c.Alerting.Webhook = "http://host.docker.internal:9095/alerts" }
	tests := []struct {
		name                     string
		mod                      func(*Config)
		in                       SpecInput
		promChanges, grafChanges bool
		grafFilesChange          bool
		amChanges                bool
	}{
		{"same settings", nil, SpecInput{}, false, false, false, false},
		{"other admin password", nil, SpecInput{AdminPassword: "another"}, false, false, false, false},
		// Prometheus' files are delivered and reloaded (TestPrometheusFilesHash).
		{"scrape interval", func(c *Config) { c.ScrapeInterval = Duration(5 * time.Second) }, SpecInput{}, false, false, true, false},
		{"extra target", func(c *Config) { c.Targets = []Target{{Name: "vllm", Address: "h:8001"}} }, SpecInput{}, false, false, false, false},
		{"retention", func(c *Config) { c.Prometheus.Retention = "30d" }, SpecInput{}, true, false, false, false},
		{"prometheus port", func(c *Config) { c.Prometheus.Port = 19090 }, SpecInput{}, true, false, false, false},
		{"grafana image", func(c *Config) { c.Grafana.Image = "grafana/grafana:13.0.0" }, SpecInput{}, false, true, false, false},
		{"grafana port", func(c *Config) { c.Grafana.Port = 3001 }, SpecInput{}, false, true, false, false},
		{"re-pulled prometheus tag", nil, SpecInput{ImageIDs: map[string]string{ComponentPrometheus: "sha256:new"}}, true, false, false, false},
		{"bind", func(c *Config) { c.Bind = "0.0.0.0" }, SpecInput{}, true, true, false, true},
		{"host gateway", nil, SpecInput{HostGateway: "172.17.0.1"}, true, false, false, true},
		{"new user dashboard", nil, SpecInput{UserDashboards: []File{{Path: "grafana/dashboards/a.json", Content: []byte("{}")}}}, false, true, true, false},
		{"a receiver", hook, SpecInput{}, false, false, false, true},
		{"alertmanager port", func(c *Config) { c.Alertmanager.Port = 19093 }, SpecInput{}, false, false, false, true},
		{"error ratio threshold", func(c *Config) { c.Alerts.ErrorRatio = 0.2 }, SpecInput{}, false, false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.HostGateway == "" {
				in.HostGateway = HostGateway
			}
			if in.ImageIDs == nil {
				in.ImageIDs = map[string]string{}
			}
			for c, id := range ids {
				if in.ImageIDs[c] == "" {
					in.ImageIDs[c] = id
				}
			}
			s := specsFor(t, tt.mod, in)
			if got := s.Alertmanager.Labels[LabelConfigHash] != base.Alertmanager.Labels[LabelConfigHash]; got != tt.amChanges {
				t.Errorf("alertmanager hash changed = %v, want %v", got, tt.amChanges)
			}
			if got := s.Prometheus.Labels[LabelConfigHash] != base.Prometheus.Labels[LabelConfigHash]; got != tt.promChanges {
				t.Errorf("prometheus hash changed = %v, want %v", got, tt.promChanges)
			}
			if got := s.Grafana.Labels[LabelConfigHash] != base.Grafana.Labels[LabelConfigHash]; got != tt.grafChanges {
				t.Errorf("grafana hash changed = %v, want %v", got, tt.grafChanges)
			}
			if got := s.Grafana.Labels[LabelFilesHash] != base.Grafana.Labels[LabelFilesHash]; got != tt.grafFilesChange {
				t.Errorf("grafana files hash changed = %v, want %v", got, tt.grafFilesChange)
			}
		})
	}
}

func TestEngineInfo(t *testing.T) {
	tests := []struct {
		info        EngineInfo
		hostGateway bool
		desktop     bool
		remoteHost  string
	}{
		{EngineInfo{Host: "unix:///var/run/docker.sock", Version: "20.10.24+dfsg1", OS: "linux"}, true, false, ""},
		{EngineInfo{Host: "unix:///var/run/docker.sock", Version: "28.2.2", OS: "linux"}, true, false, ""},
		{EngineInfo{Host: "unix:///var/run/docker.sock", Version: "19.03.15", OS: "linux"}, false, false, ""},
		{EngineInfo{Host: "unix:///var/run/docker.sock", Version: "20.9.1", OS: "linux"}, false, false, ""},
		{EngineInfo{Host: "tcp://10.1.2.3:2376", Version: "24.0.7", OS: "linux"}, true, false, "10.1.2.3"},
		{EngineInfo{Host: "ssh://me@build-box", Version: "24.0.7", OS: "linux"}, true, false, "build-box"},
		{EngineInfo{Host: "unix:///Users/me/.docker/run/docker.sock", Version: "27.0.3", OS: "linux", OperatingSystem: "Docker Desktop"}, true, true, ""},
		{EngineInfo{Version: "garbage"}, false, false, ""},
	}
	for _, tt := range tests {
		if got := tt.info.SupportsHostGateway(); got != tt.hostGateway {
			t.Errorf("%+v: SupportsHostGateway = %v", tt.info, got)
		}
		if got := tt.info.DockerDesktop(); got != tt.desktop {
			t.Errorf("%+v: DockerDesktop = %v", tt.info, got)
		}
		if got := tt.info.RemoteHost(); got != tt.remoteHost {
			t.Errorf("%+v: RemoteHost = %q", tt.info, got)
		}
	}
	net := Object{Gateway: "172.18.0.1"}
	if g := HostGatewayFor(tests[0].info, net); g != HostGateway {
		t.Errorf("20.10 linux: %q", g)
	}
	if g := HostGatewayFor(tests[2].info, net); g != "172.18.0.1" {
		t.Errorf("19.03: %q", g)
	}
	if g := HostGatewayFor(tests[6].info, net); g != "" {
		t.Errorf("desktop: %q", g)
	}
}

// Every container carries the folder up ran in (status --name and ls
// read it), outside the hashes: another --dir recreates nothing.
func TestSpecsLabelTheDir(t *testing.T) {
	base := specsFor(t, nil, SpecInput{})
	s := specsFor(t, nil, SpecInput{Dir: "/srv/llm"})
	for i, c := range s.Containers() {
		if c.Labels[LabelDir] != "/srv/llm" {
			t.Errorf("%s: %s = %q", c.Name, LabelDir, c.Labels[LabelDir])
		}
		if c.Labels[LabelConfigHash] != base.Containers()[i].Labels[LabelConfigHash] {
			t.Errorf("%s: the folder moved its config hash", c.Name)
		}
	}
	if len(s.Containers()) != 3 {
		t.Errorf("%d containers, want 3", len(s.Containers()))
	}
}
