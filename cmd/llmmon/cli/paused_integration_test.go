package cli

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// A stack frozen with docker pause keeps its ports and answers nothing.
// up used to call them "in use by another program", doctor "another
// container" with advice to move the ports, status "not running".
func TestPausedStackOnRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-pause")
	removeStack(t, name)
	dir := t.TempDir()
	args := upArgs(t, dir, name)
	promPort := args[slices.Index(args, "--prometheus-port")+1]
	names := stack.NamesFor(name)
	if out, errOut, err := run(t, args...); err != nil {
		t.Fatalf("up: %v\n%s%s", err, out, errOut)
	}
	ids := map[string]string{}
	for _, c := range []string{names.Prometheus, names.Alertmanager, names.Grafana} {
		ids[c] = containerID(t, c)
		testenv.Docker(t, "pause", c)
	}

	out, errOut, err := run(t, "status", "--dir", dir)
	if err == nil || !strings.Contains(out, names.Prometheus+" paused   paused (docker pause): llmmon up resumes it") ||
		!strings.Contains(errOut, `llmmon stack "`+name+`" is paused (docker pause): run llmmon up to resume it`) {
		t.Errorf("status: %v\n%s%s", err, out, errOut)
	}

	out, _, err = run(t, "doctor", "--dir", dir)
	resume := "`llmmon up --dir " + dir + " --name " + name + "` resumes it (or `docker unpause "
	for _, want := range []string{
		"FAIL prometheus: " + names.Prometheus + " is paused",
		"FAIL prometheus port: " + promPort + " is published by " + names.Prometheus + ", which is paused",
		resume + names.Prometheus + "`)",
		"FAIL alertmanager: " + names.Alertmanager + " is paused",
		"FAIL grafana: " + names.Grafana + " is paused",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor lacks %q:\n%s", want, out)
		}
	}
	if err == nil || strings.Contains(out, "another container publishes it") {
		t.Errorf("doctor: %v\n%s", err, out)
	}

	out, errOut, err = run(t, args...)
	if err != nil {
		t.Fatalf("up on the paused stack: %v\n%s%s", err, out, errOut)
	}
	for _, c := range []string{names.Prometheus, names.Alertmanager, names.Grafana} {
		if !strings.Contains(out, "resumed   container "+c) {
			t.Errorf("up output lacks resumed %s:\n%s", c, out)
		}
		if st := testenv.Docker(t, "inspect", "-f", "{{.State.Status}}", c); st != "running" || containerID(t, c) != ids[c] {
			t.Errorf("%s is %s (id %s, was %s)", c, st, containerID(t, c), ids[c])
		}
	}
	if !strings.Contains(out, "is ready") {
		t.Errorf("up output:\n%s", out)
	}
	if out, _, err := run(t, "status", "--dir", dir); err != nil {
		t.Errorf("status after up: %v\n%s", err, out)
	}

	// Paused, then a changed setting: the containers are replaced or
	// restarted with the new files, as running ones would be.
	for _, c := range []string{names.Prometheus, names.Alertmanager, names.Grafana} {
		testenv.Docker(t, "pause", c)
	}
	out, errOut, err = run(t, append(args, "--scrape-interval", "7s")...)
	if err != nil || !strings.Contains(out, "is ready") {
		t.Fatalf("up with a new setting on the paused stack: %v\n%s%s", err, out, errOut)
	}
	resp, err := http.Get("http://127.0.0.1:" + promPort + "/api/v1/status/config")
	if err != nil {
		t.Fatal(err)
	}
	loaded, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(loaded), "scrape_interval: 7s") {
		t.Errorf("prometheus runs a config without the new interval:\n%s", loaded)
	}

	// down stops a paused stack too.
	testenv.Docker(t, "pause", names.Prometheus)
	if out, errOut, err := run(t, "down", "--dir", dir); err != nil || !strings.Contains(out, "removed container "+names.Prometheus) {
		t.Errorf("down of a paused stack: %v\n%s%s", err, out, errOut)
	}
	if exists("container", names.Prometheus) || exists("container", names.Grafana) {
		t.Error("down left a container")
	}
}
