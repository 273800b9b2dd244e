package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
)

// syncBuffer is a log sink safe to read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func setEnv(t *testing.T, data, prov string) {
	t.Setenv("GF_PATHS_DATA", data)
	t.Setenv("GF_PATHS_PROVISIONING", prov)
	t.Setenv("GF_SECURITY_ADMIN_USER", "")
	t.Setenv("GF_SECURITY_ADMIN_PASSWORD", "envpw")
	t.Setenv("GF_SERVER_HTTP_ADDR", "127.0.0.1")
	t.Setenv("GRAFANA_DOUBLE_TOKENS", "")
	for _, k := range []string{"GF_SECURITY_ADMIN_PASSWORD__FILE", "GF_AUTH_ANONYMOUS_ENABLED", "GF_USERS_ALLOW_SIGN_UP"} {
		t.Setenv(k, "")
	}
}

func TestRefusesBadProvisioning(t *testing.T) {
	prov := t.TempDir()
	os.MkdirAll(filepath.Join(prov, "datasources"), 0o755)
	os.WriteFile(filepath.Join(prov, "datasources", "a.yaml"), []byte("apiVersion: 1\ndatasources:\n  - type: prometheus\n"), 0o644)
	setEnv(t, t.TempDir(), prov)
	t.Setenv("GF_SERVER_HTTP_PORT", fmt.Sprint(testenv.FreePort(t)))
	var log syncBuffer
	if code := run(nil, nil, &log); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(log.String(), "refusing to start") || !strings.Contains(log.String(), "has no name") {
		t.Errorf("log does not say why: %s", log.String())
	}
}

// serve runs the command's server on a free port until the test stops it
// with stop (SIGTERM), which returns the exit code.
func serve(t *testing.T, log *syncBuffer) (base string, stop func() int) {
	t.Helper()
	port := testenv.FreePort(t)
	t.Setenv("GF_SERVER_HTTP_PORT", fmt.Sprint(port))
	done := make(chan int, 1)
	go func() { done <- run([]string{"server"}, nil, log) }()
	base = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/api/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("server exited %d: %s", code, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer: %v; log: %s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return base, func() int {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case code := <-done:
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("no shutdown after SIGTERM")
			return -1
		}
	}
}

func status(t *testing.T, base, user, pass, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/user", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	} else {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestResetAdminPasswordCommand(t *testing.T) {
	data := t.TempDir()
	setEnv(t, data, t.TempDir())
	var log syncBuffer
	for _, args := range [][]string{
		{"reset-admin-password", "one"},
		{"cli", "admin", "reset-admin-password", "two"},
		{"admin", "--homepath=/usr/share/grafana", "reset-admin-password", "--password-from-stdin"},
	} {
		if code := run(args, strings.NewReader("three\n"), &log); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, log.String())
		}
	}
	if code := run([]string{"reset-admin-password"}, nil, &log); code != 2 {
		t.Errorf("no password: exit %d, want 2", code)
	}
	if code := run([]string{"frobnicate"}, nil, &log); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}

	// Serve on that data dir: the reset password works, the env one does
	// not, and SIGTERM shuts the server down cleanly.
	t.Setenv("GRAFANA_DOUBLE_TOKENS", "tok1, tok2")
	base, stop := serve(t, &log)
	if code := status(t, base, "admin", "three", ""); code != 200 {
		t.Errorf("reset password: HTTP %d, want 200", code)
	}
	if code := status(t, base, "admin", "envpw", ""); code != 401 {
		t.Errorf("env password after reset: HTTP %d, want 401", code)
	}
	if code := status(t, base, "", "", "tok2"); code != 200 {
		t.Errorf("GRAFANA_DOUBLE_TOKENS token: HTTP %d, want 200", code)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(log.String(), "GET /api/user 200") || !strings.Contains(log.String(), "shutting down") {
		t.Errorf("log lacks request lines or shutdown: %s", log.String())
	}
}

func TestPasswordFromFile(t *testing.T) {
	setEnv(t, t.TempDir(), t.TempDir())
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("from-file\n"), 0o600)
	t.Setenv("GF_SECURITY_ADMIN_PASSWORD", "plain") // the file wins
	t.Setenv("GF_SECURITY_ADMIN_PASSWORD__FILE", pwFile)
	var log syncBuffer
	base, stop := serve(t, &log)
	defer stop()
	if code := status(t, base, "admin", "from-file", ""); code != 200 {
		t.Errorf("password from GF_SECURITY_ADMIN_PASSWORD__FILE: HTTP %d, want 200", code)
	}
}
