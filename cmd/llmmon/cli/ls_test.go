package cli

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// ls finds each stack by its labels, with the folder up ran in and its
// state, and leaves objects llmmon did not create out.
func TestLsListsStacksByLabel(t *testing.T) {
	cfg := stack.Default()
	cfg.Prometheus.Image, cfg.Grafana.Image = "p:1", "g:1"
	eng := fakeFor(cfg)
	dirA, dirB := t.TempDir(), t.TempDir()
	for _, s := range []struct{ name, dir string }{{"alpha", dirA}, {"beta", dirB}} {
		_, errOut, err := runFake(t, eng, "up", "--dir", s.dir, "--name", s.name, "--pull", "never", "--wait", "0",
			"--prometheus-image", "p:1", "--grafana-image", "g:1",
			"--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)),
			"--alertmanager-port", strconv.Itoa(testenv.FreePort(t)))
		if err != nil {
			t.Fatalf("up %s: %v\n%s", s.name, err, errOut)
		}
	}
	eng.Set("beta-llm-grafana", func(s *stack.ContainerState) { s.Status = "exited" })
	eng.Add(stack.KindContainer, "not-ours", map[string]string{"app": "x"})

	out, _, err := runFake(t, eng, "ls")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], "alpha") || !strings.Contains(lines[1], "running") || !strings.Contains(lines[1], dirA) || !strings.Contains(lines[1], "grafana http://127.0.0.1:") ||
		!strings.Contains(lines[1], "alertmanager http://127.0.0.1:") ||
		!strings.Contains(lines[2], "beta") || !strings.Contains(lines[2], "partly running (2/3)") || !strings.Contains(lines[2], dirB) {
		t.Fatalf("ls:\n%s", out)
	}
	out, _, err = runFake(t, eng, "ls", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []stack.StackSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 || got[0].Running != 3 || got[1].Containers != 3 || got[1].Volumes != 3 ||
		got[0].URLs[stack.ComponentAlertmanager] == "" {
		t.Fatalf("ls -o json: %v\n%s", err, out)
	}
	if _, _, err := runFake(t, eng, "down", "--dir", dirB); err != nil {
		t.Fatal(err)
	}
	if out, _, _ = runFake(t, eng, "ls"); !strings.Contains(out, "volumes only") {
		t.Errorf("after down (volumes kept):\n%s", out)
	}
}
