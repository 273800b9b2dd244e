package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
)

// DockerAPI sends one request to the Docker Engine API (DOCKER_HOST, or
// the default socket) and decodes the JSON answer into out (when not
// nil), failing the test on an error status. Tests use it only for what
// the docker CLI refuses to do, such as a second network with a name
// already taken (the CLI always sends CheckDuplicate).
func DockerAPI(t testing.TB, method, path string, body, out any) {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		host = "unix:///var/run/docker.sock"
	}
	c := &http.Client{}
	base := "http://docker"
	switch {
	case strings.HasPrefix(host, "unix://"):
		sock := strings.TrimPrefix(host, "unix://")
		c.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}
	case strings.HasPrefix(host, "tcp://"):
		base = "http://" + strings.TrimPrefix(host, "tcp://")
	default:
		t.Fatalf("DockerAPI: DOCKER_HOST %s is not unix:// or tcp://", host)
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("docker API %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("docker API %s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("docker API %s %s: %v: %s", method, path, err, b)
		}
	}
}

// CreateNetwork creates a bridge network through the API even when the
// name is taken, labelled TestLabel (so .ci/run removes what a crashed
// test leaves) and with labels; it returns its ID.
func CreateNetwork(t testing.TB, name string, labels map[string]string) string {
	t.Helper()
	all := map[string]string{TestLabel: "1"}
	for k, v := range labels {
		all[k] = v
	}
	var resp struct{ ID string }
	DockerAPI(t, http.MethodPost, "/v1.41/networks/create",
		map[string]any{"Name": name, "Driver": "bridge", "CheckDuplicate": false, "Labels": all}, &resp)
	if resp.ID == "" {
		t.Fatalf("docker API: no ID for network %s", name)
	}
	return resp.ID
}
