package stack

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateFleetSettings(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{"many addresses", func(c *Config) { c.Targets = []Target{{Name: "v", Addresses: []string{"a:1", "b:1"}}} }, ""},
		{"https with tls and auth", func(c *Config) {
			c.Targets = []Target{{Name: "v", Address: "a:1", Scheme: "https", TLS: TLS{CAFile: "ca"}, BasicAuth: BasicAuth{Username: "u", PasswordFile: "p"}}}
		}, ""},
		{"both forms", func(c *Config) { c.Targets = []Target{{Name: "v", Address: "a:1", Addresses: []string{"b:1"}}} }, "sets both targets[0].address and targets[0].addresses"},
		{"no address", func(c *Config) { c.Targets = []Target{{Name: "v"}} }, "has no address"},
		{"duplicate address", func(c *Config) { c.Targets = []Target{{Name: "v", Addresses: []string{"a:1", "a:1"}}} }, "lists a:1 twice"},
		{"bad address in list", func(c *Config) { c.Targets = []Target{{Name: "v", Addresses: []string{"a:1", "b"}}} }, `invalid address "b"`},
		{"bad scheme", func(c *Config) { c.Targets = []Target{{Name: "v", Address: "a:1", Scheme: "ftp"}} }, "must be http or https"},
		{"tls on http", func(c *Config) { c.Targets = []Target{{Name: "v", Address: "a:1", TLS: TLS{InsecureSkipVerify: true}}} }, "applies to https only"},
		{"reserved label", func(c *Config) {
			c.Targets = []Target{{Name: "v", Address: "a:1", Labels: map[string]string{"job": "x"}}}
		}, `label "job"`},
		{"bad label", func(c *Config) {
			c.Targets = []Target{{Name: "v", Address: "a:1", Labels: map[string]string{"a-b": "x"}}}
		}, `label "a-b"`},
		{"basic auth without file", func(c *Config) {
			c.Targets = []Target{{Name: "v", Address: "a:1", BasicAuth: BasicAuth{Username: "u"}}}
		}, "basic_auth needs targets[0].basic_auth.password_file"},
		{"basic auth and token", func(c *Config) {
			c.Targets = []Target{{Name: "v", Address: "a:1", BasicAuth: BasicAuth{Username: "u", PasswordFile: "p"}, BearerTokenFile: "t"}}
		}, "choose one"},
		{"retention", func(c *Config) { c.Prometheus.Retention, c.Prometheus.RetentionSize = "15d", "10GB" }, ""},
		{"bad retention", func(c *Config) { c.Prometheus.Retention = "15 days" }, "invalid retention"},
		{"bad retention size", func(c *Config) { c.Prometheus.RetentionSize = "10G" }, "invalid size"},
		{"remote write", func(c *Config) {
			c.RemoteWrite = []RemoteWrite{{URL: "http://mimir:9009/api/v1/push", Headers: map[string]string{"X-Scope-OrgID": "t"}}}
		}, ""},
		{"remote write bad url", func(c *Config) { c.RemoteWrite = []RemoteWrite{{URL: "mimir:9009"}} }, "invalid URL"},
		{"remote write password in url", func(c *Config) { c.RemoteWrite = []RemoteWrite{{URL: "http://u:p@mimir/api/v1/push"}} }, "holds a password"},
		{"remote write authorization header", func(c *Config) {
			c.RemoteWrite = []RemoteWrite{{URL: "http://m/x", Headers: map[string]string{"authorization": "Bearer x"}}}
		}, "use basic_auth or bearer_token_file"},
		{"external labels", func(c *Config) { c.ExternalLabels = map[string]string{"cluster": "eu", "replica": "a"} }, ""},
		{"empty external label", func(c *Config) { c.ExternalLabels = map[string]string{"cluster": ""} }, "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(&c)
			err := c.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

// An old llmmon.yaml and an old record (one address per job) still read
// as before, and a file's addresses replace the default LLM address.
func TestOneAddressFormStillReads(t *testing.T) {
	c, _, err := readSettingsFile("testdata/llmmon-targets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Targets[0].Addrs(); len(got) != 1 || got[0] != "host.docker.internal:8001" {
		t.Errorf("one-address target reads as %q", got)
	}
	f, _, err := readSettingsFile("testdata/llmmon-fleet.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.LLMServer.Address != "" || len(f.LLMServer.Addrs()) != 2 {
		t.Errorf("llm_server.addresses did not replace the default: %+v", f.LLMServer)
	}
	// Credential files are relative to llmmon.yaml, recorded absolute.
	if want, _ := filepath.Abs("testdata/secrets/tgi-password"); f.Targets[1].BasicAuth.PasswordFile != want {
		t.Errorf("password file %q, want %q", f.Targets[1].BasicAuth.PasswordFile, want)
	}
	dir := t.TempDir()
	old := Default()
	old.Name = "old"
	old.Targets = []Target{{Name: "vllm", Address: "gpu:8001"}}
	recordIn(t, dir, old)
	s, err := Resolve(dir, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Config.Targets[0].Addrs(); len(got) != 1 || got[0] != "gpu:8001" {
		t.Errorf("recorded one-address target reads as %q", got)
	}
}
