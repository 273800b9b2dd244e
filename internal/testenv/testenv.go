// Package testenv starts the real parts llmmon's tests run against: a
// Prometheus process from Debian's binary, promtool, and the Docker engine
// with llmmon's own test images. A missing part fails the test with the
// command that provides it; integration tests never skip.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// Images built by hack/build-test-images.sh (make test-images). They carry
// our own names, never upstream ones, so a test can't mistake them.
const (
	PrometheusImage    = "llmmon-test/prometheus:debian"
	AlertmanagerImage  = "llmmon-test/alertmanager:debian"
	GrafanaDoubleImage = "llmmon-test/grafana-double:dev"
	// LlmmonImage is llmmon's own, built with make image's recipe
	// (hack/build-image.sh).
	LlmmonImage = "llmmon-test/llmmon:dev"
)

// TestLabel marks the Docker objects tests create by hand (not through
// llmmon), so .ci/run can remove what a crashed test left behind.
const TestLabel = "dev.llmmon.test"

// toolPackages are the Debian packages that install the tools tests run
// (what .ci/run installs when they are missing).
var toolPackages = map[string]string{
	"prometheus":              "prometheus",
	"promtool":                "prometheus",
	"prometheus-alertmanager": "prometheus-alertmanager",
	"amtool":                  "prometheus-alertmanager",
	"kubectl":                 "kubernetes-client",
	"docker-compose":          "docker-compose",
}

// Tool returns the path of a required binary, or fails the test saying how to install it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		pkg := toolPackages[name]
		t.Fatalf("%s not found: install Debian's %s package (apt-get install %s), or run bash .ci/run", name, pkg, pkg)
	}
	return p
}

// HTTPGet GETs url, with basic auth when user is set, and returns the
// status code and the body.
func HTTPGet(url, user, password string) (int, string, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// Promtool runs promtool with args and returns its combined output and error.
func Promtool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(Tool(t, "promtool"), args...).CombinedOutput()
	return string(out), err
}

// Amtool runs amtool with args and returns its combined output and error.
func Amtool(t testing.TB, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(Tool(t, "amtool"), args...).CombinedOutput()
	return string(out), err
}

// Prometheus is a running Prometheus process.
type Prometheus struct {
	URL    string
	Client *prometheus.Client
	Log    *bytes.Buffer
}

// StartPrometheus runs Debian's prometheus on configFile (rule_files resolve
// next to it) with its own TSDB, and stops it when the test ends.
func StartPrometheus(t testing.TB, configFile string) *Prometheus {
	t.Helper()
	port := FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	var log bytes.Buffer
	cmd := exec.Command(Tool(t, "prometheus"),
		"--config.file="+configFile,
		"--storage.tsdb.path="+filepath.Join(t.TempDir(), "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port),
		"--web.enable-lifecycle",
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	p := &Prometheus{URL: url, Client: prometheus.NewClient(url), Log: &log}
	Eventually(t, 30*time.Second, "prometheus ready", func() error {
		select {
		case <-done:
			return fmt.Errorf("prometheus exited: %s", log.String())
		default:
		}
		return p.Client.Ready(context.Background())
	})
	return p
}

// WaitForSamples waits until q returns at least one sample and returns them.
func (p *Prometheus) WaitForSamples(t testing.TB, timeout time.Duration, q string) []Sample {
	t.Helper()
	var got []Sample
	Eventually(t, timeout, "samples for "+q, func() error {
		s, err := p.Query(context.Background(), q)
		if err != nil {
			return err
		}
		if len(s) == 0 {
			return fmt.Errorf("no samples yet")
		}
		got = s
		return nil
	})
	return got
}

// Eventually retries f until it returns nil, failing the test with f's last
// error after timeout. Tests wait for conditions, never for fixed times.
func Eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Docker runs the docker CLI and returns trimmed stdout. Tests use the CLI
// for setup so only stack/docker imports the Docker client library.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, err := DockerErr(args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// DockerErr is Docker without failing the test.
func DockerErr(args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// RequireDocker fails (never skips) unless the engine answers and image exists.
func RequireDocker(t testing.TB, images ...string) {
	t.Helper()
	if _, err := DockerErr("info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("docker engine unreachable (%v): start dockerd, or run bash .ci/run", err)
	}
	for _, img := range images {
		if _, err := DockerErr("image", "inspect", img); err != nil {
			t.Fatalf("test image %s is missing: run `make test-images`", img)
		}
	}
}
