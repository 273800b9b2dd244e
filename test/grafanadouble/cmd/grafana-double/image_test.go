package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
)

// TestImage checks the image hack/build-test-images.sh builds: it runs as
// user 472, loads provisioning copied in before start (as `llmmon up` does),
// and refuses to start on bad provisioning. The full stack in Docker is
// tested by `llmmon up`'s integration tests.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.GrafanaDoubleImage)

	newContainer := func(provFile string, args ...string) string {
		t.Helper()
		b := make([]byte, 4)
		rand.Read(b)
		name := "llmmon-test-grafana-double-" + hex.EncodeToString(b)
		create := append([]string{"create", "--name", name, "--label", testenv.TestLabel + "=grafana-double"}, args...)
		testenv.Docker(t, append(create, testenv.GrafanaDoubleImage)...)
		t.Cleanup(func() { testenv.DockerErr("rm", "-f", "-v", name) })
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "datasources"), 0o755)
		os.WriteFile(filepath.Join(dir, "datasources", "ds.yaml"), []byte(provFile), 0o644)
		testenv.Docker(t, "cp", dir+"/.", name+":/etc/grafana/provisioning/")
		return name
	}

	t.Run("serves provisioning", func(t *testing.T) {
		port := testenv.FreePort(t)
		name := newContainer("apiVersion: 1\ndatasources:\n  - name: Prometheus\n    uid: prom\n    type: prometheus\n    url: http://${PROM_HOST}:9090\n    isDefault: true\n",
			"-p", fmt.Sprintf("127.0.0.1:%d:3000", port), "-e", "PROM_HOST=prometheus.invalid", "-e", "GF_SECURITY_ADMIN_PASSWORD=pw")
		testenv.Docker(t, "start", name)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		get := func(path string) (int, string, error) { return testenv.HTTPGet(base+path, "admin", "pw") }
		testenv.Eventually(t, 30*time.Second, "grafana double /api/health", func() error {
			code, body, err := get("/api/health")
			if err == nil && (code != 200 || !strings.Contains(body, `"commit":"llmmon-test-double"`)) {
				err = fmt.Errorf("HTTP %d %s", code, body)
			}
			return err
		})
		if code, body, err := get("/api/datasources/uid/prom"); err != nil || code != 200 || !strings.Contains(body, `"url":"http://prometheus.invalid:9090"`) {
			t.Errorf("provisioned datasource: HTTP %d %s %v", code, body, err)
		}
		if code, body, err := get("/api/datasources/uid/prom/health"); err != nil || code != 400 || !strings.Contains(body, "prometheus.invalid") {
			t.Errorf("datasource health from the container: HTTP %d %s %v", code, body, err)
		}
		if user := testenv.Docker(t, "inspect", "-f", "{{.Config.User}}", name); user != "472" {
			t.Errorf("image user %q, want 472", user)
		}
	})

	t.Run("refuses bad provisioning", func(t *testing.T) {
		name := newContainer("apiVersion: 1\ndatasources:\n  - name: A\n    type: prometheus\n    isDefault: true\n  - name: B\n    type: prometheus\n    isDefault: true\n")
		out, err := testenv.DockerErr("start", "-a", name)
		if err == nil {
			t.Fatalf("container started despite two default datasources: %s", out)
		}
		code := testenv.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", name)
		logs, _ := testenv.DockerErr("logs", name)
		full := logs + err.Error()
		if code == "0" || !strings.Contains(full, "refusing to start") || !strings.Contains(full, "Only one datasource per organization") {
			t.Errorf("exit code %s, output %q", code, full)
		}
	})
}
