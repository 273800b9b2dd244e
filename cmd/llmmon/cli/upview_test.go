package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

func TestPrintEngines(t *testing.T) {
	engines := []stack.TargetEngine{
		{Job: "llm-server", Detection: prometheus.DetectEngine([]string{"up", "llm_requests_total", "llm_active_requests"})},
		{Job: "vllm", Detection: prometheus.DetectEngine([]string{"up", "vllm:num_requests_running"})},
		{Job: "ollama", Detection: prometheus.DetectEngine(nil)},
	}
	var out bytes.Buffer
	printEngines(&out, engines)
	want := "\nDashboard rows:\n" +
		"  target llm-server looks like llmmon gateway: Overview, Gateway latency, Replicas rows apply\n" +
		"  target vllm looks like vLLM: Engine (vLLM) row applies\n" +
		"  target ollama has no engine or llm_* metrics (Ollama serves none): no dashboard row applies; put `llmmon serve --upstream URL` in front of it for the Overview, Models, Gateway latency and Replicas rows\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	printEngines(&out, nil)
	if strings.TrimSpace(out.String()) != "" {
		t.Errorf("printed %q for targets not scraped yet", out.String())
	}
}

// upEvents is one up as the stack reports it.
func upEvents() []stack.Event {
	return []stack.Event{
		stack.Pulling{Image: "prom/prometheus:v3.13.2"},
		stack.Action{Kind: stack.KindNetwork, Name: "monitoring", Verb: "created"},
		stack.Action{Kind: stack.KindVolume, Name: "llm-grafana-data", Verb: "unchanged"},
		stack.Waiting{Timeout: 20 * time.Second, Probes: []stack.ProbeInfo{{Component: "prometheus", Endpoint: "/-/ready"}, {Component: "grafana", Endpoint: "/api/health"}}},
		stack.StillWaiting{Pending: []string{"prometheus", "grafana"}, Elapsed: 3 * time.Second},
		stack.Ready{Component: "prometheus", URL: "http://127.0.0.1:9090", Elapsed: 1200 * time.Millisecond},
		stack.StillWaiting{Pending: []string{"grafana"}, Elapsed: 4 * time.Second},
		stack.DatasourceHealthy{UID: "llmmon-prometheus", URL: "http://prometheus:9090", Elapsed: 2 * time.Second},
	}
}

func TestUpViewPlain(t *testing.T) {
	var out bytes.Buffer
	v := newUpView(&out, false, false)
	for _, e := range upEvents() {
		v.event(e)
	}
	v.done()
	want := "pulling prom/prometheus:v3.13.2\n" +
		"created   network monitoring\n" +
		"waiting up to 20s for prometheus (/-/ready), grafana (/api/health)\n" +
		"  prometheus ready at http://127.0.0.1:9090 (1.2s)\n" +
		"  datasource llmmon-prometheus healthy: Grafana queries Prometheus at http://prometheus:9090 (2.0s)\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
	out.Reset()
	v = newUpView(&out, false, true)
	v.event(upEvents()[2])
	if out.String() != "unchanged volume llm-grafana-data\n" {
		t.Errorf("verbose: %q", out.String())
	}
}

func TestUpViewOnTerminal(t *testing.T) {
	var out bytes.Buffer
	v := newUpView(&out, true, false)
	for _, e := range upEvents() {
		v.event(e)
	}
	v.done()
	s := out.String()
	for _, want := range []string{
		"\r\033[K⠋ waiting for prometheus, grafana… 3s\r\033[K✓ prometheus ready at http://127.0.0.1:9090 (1.2s)\n",
		"\r\033[K⠙ waiting for grafana… 4s\r\033[K✓ datasource llmmon-prometheus healthy",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	if strings.Contains(s, "waiting up to") {
		t.Errorf("the spinner replaces the waiting line:\n%q", s)
	}
	// A spinner left on screen is cleared before what follows (an error).
	out.Reset()
	v.event(stack.StillWaiting{Pending: []string{"grafana"}})
	v.done()
	if !strings.HasSuffix(out.String(), "\r\033[K") {
		t.Errorf("spinner not cleared: %q", out.String())
	}
}

// The summary says where Alertmanager answers and who is notified.
func TestUpSummaryAlerting(t *testing.T) {
	res := &stack.UpResult{Names: stack.NamesFor(""), PrometheusURL: "http://127.0.0.1:9090", GrafanaURL: "http://127.0.0.1:3000",
		AlertmanagerURL: "http://127.0.0.1:9093", PasswordFile: "d/grafana-admin-password"}
	var out bytes.Buffer
	newUpView(&out, false, false).summary(res, false, time.Second)
	for _, want := range []string{"  Alertmanager  http://127.0.0.1:9093\n", "  Alerts        nobody is notified: alerts show in Alertmanager, Grafana and llmmon alerts;",
		"add --alert-webhook URL, or alerting.receivers in llmmon.yaml"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	res.Notified = []string{"alert-webhook (webhook http://h:1/)", "oncall (pagerduty: critical)"}
	newUpView(&out, false, false).summary(res, false, time.Second)
	if !strings.Contains(out.String(), "  Alerts        notify alert-webhook (webhook http://h:1/); oncall (pagerduty: critical)\n") {
		t.Errorf("summary:\n%s", out.String())
	}
}
