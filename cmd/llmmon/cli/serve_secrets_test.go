package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeKeysFromFlagsFilesAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("from-file\n"), 0o600)
	openFile := filepath.Join(dir, "open")
	os.WriteFile(openFile, []byte("readable"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	twoLines := filepath.Join(dir, "two")
	os.WriteFile(twoLines, []byte("a\nb\n"), 0o600)

	tests := []struct {
		name             string
		args             []string
		env              map[string]string
		key, upstreamKey string
		stderr, wantErr  string
	}{
		{name: "flag, with a note about ps", args: []string{"--api-key", "k"}, key: "k", stderr: "shows in ps"},
		{name: "file", args: []string{"--api-key-file", keyFile}, key: "from-file"},
		{name: "environment", env: map[string]string{"LLMMON_API_KEY": "e", "LLMMON_UPSTREAM_API_KEY": "u"}, key: "e", upstreamKey: "u"},
		{name: "the flag wins over the environment", args: []string{"--upstream-api-key-file", keyFile}, env: map[string]string{"LLMMON_UPSTREAM_API_KEY": "u"}, upstreamKey: "from-file"},
		{name: "a file others can read", args: []string{"--api-key-file", openFile}, key: "readable", stderr: "readable by other users (mode 0644): chmod 600"},
		{name: "both", args: []string{"--api-key", "k", "--api-key-file", keyFile}, wantErr: "--api-key and --api-key-file exclude each other"},
		{name: "missing file", args: []string{"--upstream-api-key-file", filepath.Join(dir, "none")}, wantErr: "--upstream-api-key-file: open"},
		{name: "empty file", args: []string{"--api-key-file", empty}, wantErr: "is empty: write the key into it"},
		{name: "two lines", args: []string{"--api-key-file", twoLines}, wantErr: "line break"},
		{name: "empty flag", args: []string{"--api-key", ""}, wantErr: "--api-key is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LLMMON_API_KEY", "")
			t.Setenv("LLMMON_UPSTREAM_API_KEY", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var errOut bytes.Buffer
			var got *serveOptions
			cmd := newServeCmd(&Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &errOut}}, func(_ context.Context, o *serveOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Server.APIKey != tt.key || got.UpstreamAPIKey != tt.upstreamKey {
				t.Errorf("keys %q, %q; want %q, %q", got.Server.APIKey, got.UpstreamAPIKey, tt.key, tt.upstreamKey)
			}
			if !strings.Contains(errOut.String(), tt.stderr) || (tt.stderr == "" && errOut.Len() > 0) {
				t.Errorf("stderr %q, want %q", errOut.String(), tt.stderr)
			}
		})
	}
}

func TestExposedUpstreamKeyWarning(t *testing.T) {
	for _, tt := range []struct {
		host, apiKey, upstreamKey string
		warn                      bool
	}{
		{"0.0.0.0", "", "sk-up", true},
		{"::", "", "sk-up", true},
		{"10.0.0.5", "", "sk-up", true},
		{"0.0.0.0", "client-key", "sk-up", false},
		{"127.0.0.1", "", "sk-up", false},
		{"localhost", "", "sk-up", false},
		{"0.0.0.0", "", "", false},
	} {
		w := exposedUpstreamKey(tt.host, 8000, tt.apiKey, tt.upstreamKey)
		if (w != "") != tt.warn || (tt.warn && !strings.Contains(w, "anyone who can reach this port spends")) {
			t.Errorf("%s api-key %q upstream %q: warning %q", tt.host, tt.apiKey, tt.upstreamKey, w)
		}
	}
}

// The start lines give URLs a person can open, never http://[::]:8000,
// and say whether Prometheus in a container can scrape the server.
func TestStartURLs(t *testing.T) {
	for _, tt := range []struct {
		ip             string
		local, fromDoc string
	}{
		{"0.0.0.0", "http://127.0.0.1:8000", "http://host.docker.internal:8000/metrics"},
		{"::", "http://127.0.0.1:8000", "http://host.docker.internal:8000/metrics"},
		{"127.0.0.1", "http://127.0.0.1:8000", ""},
		{"::1", "http://[::1]:8000", ""},
		{"172.17.0.1", "http://172.17.0.1:8000", "http://172.17.0.1:8000/metrics"},
	} {
		local, doc := startURLs(&net.TCPAddr{IP: net.ParseIP(tt.ip), Port: 8000})
		if local != tt.local || doc != tt.fromDoc {
			t.Errorf("%s: %q, %q; want %q, %q", tt.ip, local, doc, tt.local, tt.fromDoc)
		}
	}
	var b bytes.Buffer
	printStart(&b, "model \"m\"", &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 8000})
	if !strings.Contains(b.String(), "a container cannot reach http://127.0.0.1:8000") {
		t.Errorf("loopback start lines:\n%s", b.String())
	}
}
