package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/docker"
)

// up, down and status on a Docker daemon that accepts connections and
// never answers: each ends after the handshake bound, naming the daemon
// and what to do (they used to wait forever), and up writes nothing.
func TestHungDaemon(t *testing.T) {
	for _, network := range []string{"unix", "tcp"} {
		t.Run(network, func(t *testing.T) {
			host := testenv.HungDaemon(t, network)
			t.Setenv("DOCKER_HOST", host)
			t.Setenv(docker.TimeoutEnv, "1s")
			dir := t.TempDir()
			name := randomName(t, "hung")
			for _, args := range [][]string{
				{"up", "--dir", dir, "--name", name, "--pull", "never",
					"--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t))},
				{"down", "--dir", dir, "--name", name},
				{"status", "--dir", dir, "--name", name},
			} {
				var err error
				took := testenv.Within(t, time.Minute, "llmmon "+args[0], func() { _, _, err = run(t, args...) })
				want := "the Docker daemon at " + host + " (DOCKER_HOST) accepted the connection but did not answer within 1s (handshake, GET /_ping): " +
					"it is hung or overloaded; check it with `docker info` and restart it"
				if err == nil || !strings.HasPrefix(err.Error(), want) {
					t.Errorf("llmmon %s: %v\nwant: %s…", args[0], err, want)
				}
				t.Logf("llmmon %s answered in %s", args[0], took.Round(time.Millisecond))
			}
			// doctor had its own 4 s bound; it now says what the bound means.
			var out string
			var err error
			testenv.Within(t, time.Minute, "llmmon doctor", func() { out, _, err = run(t, "doctor", "--dir", dir, "--name", name) })
			if err == nil || !strings.Contains(out, "daemon: the Docker daemon via DOCKER_HOST="+host+" does not answer") ||
				!strings.Contains(out, "hung or overloaded") {
				t.Errorf("doctor: %v\n%s", err, out)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("up wrote into --dir without an engine: %v", entries)
			}
		})
	}
}
