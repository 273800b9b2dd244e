package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// snakeCase checks every key of a decoded JSON document.
func snakeCase(t *testing.T, v any, at string) {
	t.Helper()
	key := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if !key.MatchString(k) && at != ".container_ids" {
				t.Errorf("key %s.%s is not snake_case", at, k)
			}
			snakeCase(t, e, at+"."+k)
		}
	case []any:
		for _, e := range x {
			snakeCase(t, e, at+"[]")
		}
	}
}

// up, down and render -o json print one JSON object on stdout, snake_case
// keys, with the progress on stderr.
func TestResultsAsJSON(t *testing.T) {
	cfg := stack.Default()
	cfg.Prometheus.Image, cfg.Grafana.Image = "p:1", "g:1"
	eng := fakeFor(cfg)
	dir := t.TempDir()
	decode := func(cmd, out string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%s -o json is not one JSON object: %v\n%s", cmd, err, out)
		}
		snakeCase(t, m, "")
		return m
	}

	out, errOut, err := runFake(t, eng, "up", "--dir", dir, "--name", "js", "--pull", "never", "--wait", "0", "-o", "json",
		"--prometheus-image", "p:1", "--grafana-image", "g:1",
		"--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)),
		"--alertmanager-port", strconv.Itoa(testenv.FreePort(t)), "--alert-webhook", "http://host.docker.internal:9095/alerts")
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	up := decode("up", out)
	objs, _ := up["objects"].([]any)
	if up["stack"] != "js" || up["dir"] != dir || len(objs) != 7 || up["dashboard"] != nil || !strings.HasPrefix(up["grafana_url"].(string), "http://127.0.0.1:") ||
		!strings.HasPrefix(up["alertmanager_url"].(string), "http://127.0.0.1:") || fmt.Sprint(up["notified"]) != "[alert-webhook (webhook http://host.docker.internal:9095/alerts)]" {
		t.Errorf("up -o json:\n%s", out)
	}
	if !strings.Contains(errOut, "created") {
		t.Errorf("up's progress did not go to stderr: %q", errOut)
	}

	out, _, err = runFake(t, eng, "render", "--dir", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	r := decode("render", out)
	files, _ := r["files"].([]any)
	if len(files) == 0 || files[0].(map[string]any)["action"] != "unchanged" {
		t.Errorf("render -o json after up (nothing changes):\n%s", out)
	}
	k8s := filepath.Join(t.TempDir(), "k8s")
	out, _, err = runFake(t, eng, "render", "--dir", dir, "--kubernetes", k8s, "-o", "json")
	if err != nil || decode("render --kubernetes", out)["install"] != "kubectl apply -k "+k8s {
		t.Errorf("render --kubernetes -o json: %v\n%s", err, out)
	}

	out, _, err = runFake(t, eng, "down", "--dir", dir, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	d := decode("down", out)
	if removed, _ := d["removed"].([]any); d["stack"] != "js" || len(removed) != 4 || d["volumes_kept"] != true {
		t.Errorf("down -o json:\n%s", out)
	}
}

func TestStatusJSONTargetsAreSnakeCase(t *testing.T) {
	b, _ := json.Marshal(newStatusJSON(stack.StatusReport{Stack: "s", Targets: []prometheus.Target{{Job: "vllm", ScrapeURL: "http://h:8000/metrics", Health: "down", LastError: "refused"}}}))
	var m map[string]any
	json.Unmarshal(b, &m)
	snakeCase(t, m, "")
	if !strings.Contains(string(b), `"scrape_url":"http://h:8000/metrics"`) || !strings.Contains(string(b), `"last_error":"refused"`) || strings.Contains(string(b), "scrapeUrl") {
		t.Errorf("status JSON: %s", b)
	}
}
