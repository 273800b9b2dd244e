package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/doctor"
)

func sampleReport() doctor.Report {
	return doctor.Report{Results: []doctor.Result{
		{Group: "Docker", Check: "daemon", Status: doctor.StatusOK, Message: "Docker Engine 20.10"},
		{Group: "LLM server", Check: "requests", Status: doctor.StatusWarn, Message: "no requests yet; metrics appear after requests",
			Cause: "llm_requests_total is 0", Fix: "`llmmon load --url http://127.0.0.1:8000/v1 --requests 20`"},
		{Group: "LLM server", Check: "/metrics", Status: doctor.StatusFail, Message: "nothing listens", Cause: "not running", Fix: "start it",
			Details: []string{"last log lines:", "boom"}},
		{Group: "Grafana", Check: "dashboard", Status: doctor.StatusSkip, Message: "skipped"},
	}}
}

func TestDoctorTextPlainAndTerminal(t *testing.T) {
	var plain bytes.Buffer
	if err := writeDoctorText(&plain, sampleReport(), "llmmon doctor: stack \"default\"", false); err != nil {
		t.Fatal(err)
	}
	want := `llmmon doctor: stack "default"

Docker
  OK   daemon: Docker Engine 20.10

LLM server
  WARN requests: no requests yet; metrics appear after requests
       cause: llm_requests_total is 0
       fix:   ` + "`llmmon load --url http://127.0.0.1:8000/v1 --requests 20`" + `
  FAIL /metrics: nothing listens
       cause: not running
       fix:   start it
         last log lines:
         boom

Grafana
  SKIP dashboard: skipped

FAILED: 1 passed, 1 warning, 1 failed, 1 skipped
`
	if plain.String() != want {
		t.Errorf("plain text:\n%s\nwant:\n%s", plain.String(), want)
	}
	var tty bytes.Buffer
	writeDoctorText(&tty, sampleReport(), "", true)
	for _, s := range []string{"\x1b[32m✓\x1b[0m daemon", "\x1b[33m!\x1b[0m requests", "\x1b[31m✗\x1b[0m /metrics", "\x1b[1mDocker\x1b[0m"} {
		if !strings.Contains(tty.String(), s) {
			t.Errorf("terminal text lacks %q:\n%s", s, tty.String())
		}
	}
	if strings.Contains(tty.String(), "FAIL /metrics") {
		t.Error("terminal output uses the plain words")
	}
}

func TestDoctorJSON(t *testing.T) {
	var b bytes.Buffer
	r := sampleReport()
	r.Duration = 1500 * time.Millisecond
	if err := writeJSON(&b, newDoctorJSON(r, "default", "./llm_monitor", true)); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Stack    string          `json:"stack"`
		Started  bool            `json:"started"`
		Checks   []doctor.Result `json:"checks"`
		Summary  map[string]int  `json:"summary"`
		ExitCode int             `json:"exit_code"`
		Duration int             `json:"duration_ms"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	if got.Stack != "default" || !got.Started || got.ExitCode != 1 || got.Duration != 1500 || len(got.Checks) != 4 {
		t.Errorf("json = %+v", got)
	}
	if got.Summary["ok"] != 1 || got.Summary["warn"] != 1 || got.Summary["fail"] != 1 || got.Summary["skip"] != 1 {
		t.Errorf("summary = %v", got.Summary)
	}
	if c := got.Checks[1]; c.Status != doctor.StatusWarn || c.Fix == "" || c.Cause == "" || c.Group != "LLM server" {
		t.Errorf("check = %+v", c)
	}
}
