package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
)

func TestAlertsOptions(t *testing.T) {
	o, err := capture(t, newAlertsCmd, "alerts", "-o", "json", "--pending", "--prometheus-url", "http://p:9090", "--alertmanager-url", "http://a:9093")
	if err != nil || o.Output != "json" || !o.Pending || o.PrometheusURL != "http://p:9090" || o.AlertmanagerURL != "http://a:9093" {
		t.Errorf("options %+v %v", o, err)
	}
	if _, err := capture(t, newAlertsCmd, "alerts", "-o", "yaml"); err == nil {
		t.Error("-o yaml accepted")
	}
}

// alertStandIns are a Prometheus and an Alertmanager API with three
// alerts: one notified, one silenced, one Prometheus could not send.
func alertStandIns(t *testing.T, amDown bool) (prom, am string) {
	since := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Format(time.RFC3339)
	alert := func(name, sev, inst, state string) string {
		return fmt.Sprintf(`{"labels":{"alertname":%q,"severity":%q,"job":"llm-server","instance":%q},`+
			`"annotations":{"summary":"%s on %s","runbook_url":"https://runbooks.example.com/r.md#%s"},"state":%q,"activeAt":%q,"value":"0.5"}`,
			name, sev, inst, name, inst, strings.ToLower(name), state, since)
	}
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"success","data":{"alerts":[%s,%s,%s,%s]}}`,
			alert("LLMNoTraffic", "info", "a:8000", "firing"), alert("LLMHighErrorRatio", "critical", "a:8000", "firing"),
			alert("LLMHighP95Latency", "warning", "a:8000", "pending"), alert("LLMQueueBacklog", "warning", "b:8000", "firing"))
	}))
	t.Cleanup(p.Close)
	a := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if amDown {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `[{"labels":{"alertname":"LLMHighErrorRatio","severity":"critical","job":"llm-server","instance":"a:8000"},"annotations":{},`+
			`"status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"receivers":[{"name":"oncall"},{"name":"team"}],"fingerprint":"1"},`+
			`{"labels":{"alertname":"LLMNoTraffic","severity":"info","job":"llm-server","instance":"a:8000"},"annotations":{},`+
			`"status":{"state":"suppressed","silencedBy":["s-1"],"inhibitedBy":[]},"receivers":[{"name":"nobody"}],"fingerprint":"2"}]`)
	}))
	t.Cleanup(a.Close)
	return p.URL, a.URL
}

func TestAlertsOutput(t *testing.T) {
	prom, am := alertStandIns(t, false)
	var out bytes.Buffer
	opts := &alertsOptions{IO: IOStreams{Out: &out, ErrOut: &bytes.Buffer{}}, Globals: &Globals{Dir: t.TempDir()}, Output: "text",
		PrometheusURL: prom, AlertmanagerURL: am}
	if err := runAlerts(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	// Worst first; what Alertmanager does with each; pending left out.
	iCrit, iWarn, iInfo := strings.Index(text, "critical  LLMHighErrorRatio"), strings.Index(text, "warning   LLMQueueBacklog"), strings.Index(text, "info      LLMNoTraffic")
	if iCrit < 0 || iWarn < iCrit || iInfo < iWarn || strings.Contains(text, "LLMHighP95Latency") {
		t.Errorf("order or content:\n%s", text)
	}
	for _, want := range []string{
		"llm-server a:8000  firing, active since", "summary  LLMHighErrorRatio on a:8000",
		"runbook  https://runbooks.example.com/r.md#llmhigherrorratio", "sent to  oncall, team",
		"sent to  nobody: silenced (s-1)", "sent to  not in alertmanager",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	opts.Output, opts.Pending = "json", true
	if err := runAlerts(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	var r stack.AlertsReport
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	if len(r.Alerts) != 4 || r.Alerts[0].Name != "LLMHighErrorRatio" || r.Alerts[0].Delivery != "notified" || r.Alerts[0].RunbookURL == "" ||
		r.Alerts[1].State != "firing" || r.Alerts[2].State != "pending" || r.Alerts[2].Delivery != "" {
		t.Errorf("json: %+v", r.Alerts)
	}

	// Alertmanager down: the alerts still list, delivery unknown.
	prom, am = alertStandIns(t, true)
	out.Reset()
	opts.PrometheusURL, opts.AlertmanagerURL, opts.Output, opts.Pending = prom, am, "text", false
	if err := runAlerts(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "sent to  unknown") || !strings.Contains(out.String(), "alertmanager does not answer") {
		t.Errorf("alertmanager down:\n%s", out.String())
	}

	// Prometheus down: the error says where and what to run.
	opts.PrometheusURL = "http://127.0.0.1:1"
	if err := runAlerts(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "llmmon status") {
		t.Errorf("prometheus down: %v", err)
	}
	// Nothing recorded and no URL given.
	opts.PrometheusURL = ""
	if err := runAlerts(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "llmmon up") {
		t.Errorf("no stack: %v", err)
	}
}
