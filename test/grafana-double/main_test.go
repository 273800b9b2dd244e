package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

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
}

func TestRefusesBadProvisioning(t *testing.T) {
	prov := t.TempDir()
	os.MkdirAll(filepath.Join(prov, "datasources"), 0o755)
	os.WriteFile(filepath.Join(prov, "datasources", "a.yaml"), []byte("apiVersion: 1\ndatasources:\n  - type: prometheus\n"), 0o644)
	setEnv(t, t.TempDir(), prov)
	t.Setenv("GF_SERVER_HTTP_PORT", fmt.Sprint(freePort(t)))
	var log syncBuffer
	if code := run(nil, nil, &log); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(log.String(), "refusing to start") || !strings.Contains(log.String(), "has no name") {
		t.Errorf("log does not say why: %s", log.String())
	}
}

func TestResetAdminPasswordCommand(t *testing.T) {
	data := t.TempDir()
	setEnv(t, data, t.TempDir())
	var log syncBuffer
	for _, args := range [][]string{
		{"reset-admin-password", "one"},
		{"cli", "admin", "reset-admin-password", "two"},
		{"admin", "reset-admin-password", "--password-from-stdin"},
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

	// Serve on that data dir: the reset password works, the env one does not,
	// and SIGTERM shuts the server down cleanly.
	port := freePort(t)
	t.Setenv("GF_SERVER_HTTP_PORT", fmt.Sprint(port))
	t.Setenv("GRAFANA_DOUBLE_TOKENS", "tok1, tok2")
	done := make(chan int, 1)
	go func() { done <- run([]string{"server"}, nil, &log) }()
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/api/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not answer: %v; log: %s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	get := func(user, pass, token string) int {
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
	if code := get("admin", "three", ""); code != 200 {
		t.Errorf("reset password: HTTP %d, want 200", code)
	}
	if code := get("admin", "envpw", ""); code != 401 {
		t.Errorf("env password after reset: HTTP %d, want 401", code)
	}
	if code := get("", "", "tok2"); code != 200 {
		t.Errorf("GRAFANA_DOUBLE_TOKENS token: HTTP %d, want 200", code)
	}
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM, want 0", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
	if !strings.Contains(log.String(), "GET /api/user 200") || !strings.Contains(log.String(), "shutting down") {
		t.Errorf("log lacks request lines or shutdown: %s", log.String())
	}
}
