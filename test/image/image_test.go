package image

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/kubernetes"
)

// TestImageServesAndProxies runs the image twice on one network, as
// `serve` (the simulated engine) and as `serve --upstream` (the gateway)
// in front of it, both with a read-only root filesystem, no capabilities
// and no privilege escalation, as the Kubernetes Deployment runs it; a
// request through the gateway shows in both /metrics.
func TestImageServesAndProxies(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs containers")
	}
	testenv.RequireDocker(t, testenv.LlmmonImage)

	if user := testenv.Docker(t, "image", "inspect", "-f", "{{.Config.User}}", testenv.LlmmonImage); user != fmt.Sprintf("%d:%d", kubernetes.ImageUID, kubernetes.ImageUID) {
		t.Errorf("image user %q, want the non-root %d the Kubernetes manifests run as", user, kubernetes.ImageUID)
	}

	b := make([]byte, 4)
	rand.Read(b)
	prefix := "llmmon-test-image-" + hex.EncodeToString(b)
	network := prefix + "-net"
	testenv.Docker(t, "network", "create", "--label", testenv.TestLabel+"=image", network)
	t.Cleanup(func() { testenv.DockerErr("network", "rm", network) })

	start := func(name string, args ...string) string {
		t.Helper()
		port := testenv.FreePort(t)
		run := []string{"run", "-d", "--name", name, "--label", testenv.TestLabel + "=image", "--network", network,
			"--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
			"-p", "127.0.0.1:" + strconv.Itoa(port) + ":8000", testenv.LlmmonImage}
		testenv.Docker(t, append(run, args...)...)
		t.Cleanup(func() {
			if t.Failed() {
				logs, _ := testenv.DockerErr("logs", name)
				t.Logf("%s logs:\n%s", name, logs)
			}
			testenv.DockerErr("rm", "-f", "-v", name)
		})
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		testenv.Eventually(t, 30*time.Second, name+" /health", func() error {
			code, body, err := testenv.HTTPGet(url+"/health", "", "")
			if err == nil && code != 200 {
				err = fmt.Errorf("HTTP %d %s", code, body)
			}
			return err
		})
		return url
	}
	engine := prefix + "-engine"
	engineURL := start(engine, "serve", "--itl", "1ms")
	gatewayURL := start(prefix+"-gateway", "serve", "--upstream", "http://"+engine+":8000/v1")

	resp, err := http.Post(gatewayURL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"chat.completion"`) {
		t.Fatalf("completion through the gateway: HTTP %d %s", resp.StatusCode, body)
	}

	for _, c := range []struct{ name, url, want string }{
		{"engine", engineURL, `vllm:request_success_total{engine="0",finished_reason="length",model_name="llmmon-sim"} 1`},
		{"engine", engineURL, `llm_requests_total{endpoint="nonstream",status="success"} 1`},
		{"gateway", gatewayURL, `llm_requests_total{endpoint="nonstream",status="success"} 1`},
	} {
		code, metrics, err := testenv.HTTPGet(c.url+"/metrics", "", "")
		if err != nil || code != 200 || !strings.Contains(metrics, c.want) {
			t.Errorf("%s /metrics: HTTP %d %v, want a line %s in:\n%.2000s", c.name, code, err, c.want, metrics)
		}
	}
	// CA certificates, for https:// upstreams, are the host's bundle.
	holder := prefix + "-files"
	testenv.Docker(t, "create", "--name", holder, "--label", testenv.TestLabel+"=image", testenv.LlmmonImage)
	t.Cleanup(func() { testenv.DockerErr("rm", "-f", holder) })
	dir := t.TempDir()
	testenv.Docker(t, "cp", holder+":/etc/ssl/certs/ca-certificates.crt", dir)
	inImage, err := os.ReadFile(filepath.Join(dir, "ca-certificates.crt"))
	onHost, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil || len(inImage) == 0 || !bytes.Equal(inImage, onHost) {
		t.Errorf("the image's CA certificates (%d bytes, %v) are not the host's bundle (%d bytes)", len(inImage), err, len(onHost))
	}
	if _, err := testenv.DockerErr("run", "--rm", "--entrypoint", "/bin/sh", testenv.LlmmonImage, "-c", "true"); err == nil {
		t.Error("the image has a shell: it should hold only llmmon, CA certificates and passwd")
	}
}
