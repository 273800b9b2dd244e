package doctor

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

// alertingStandIns answer what the Alertmanager checks ask: Prometheus'
// /-/ready, /api/v1/alertmanagers, /api/v1/alerts and /api/v1/query, and
// Alertmanager's /-/ready, /api/v2/alerts and /metrics.
type alertingStandIns struct {
	alertmanagers string // activeAlertmanagers JSON
	alerts        string // Prometheus' alerts JSON
	held          string // Alertmanager's alerts JSON
	failed, total int    // webhook notifications since Alertmanager started
	recent        string // sum(increase(failed[15m])), "" for no result
}

func (a alertingStandIns) start(t *testing.T) (prom, am string) {
	ok := func(w http.ResponseWriter, data string) { fmt.Fprintf(w, `{"status":"success","data":%s}`, data) }
	p := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprint(w, "Prometheus Server is Ready.")
		case "/api/v1/alertmanagers":
			ok(w, `{"activeAlertmanagers":`+a.alertmanagers+`,"droppedAlertmanagers":[]}`)
		case "/api/v1/alerts":
			ok(w, `{"alerts":`+a.alerts+`}`)
		case "/api/v1/query":
			if a.recent == "" {
				ok(w, `{"resultType":"vector","result":[]}`)
				return
			}
			ok(w, `{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"`+a.recent+`"]}]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	m := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprint(w, "OK")
		case "/api/v2/alerts":
			fmt.Fprint(w, a.held)
		case "/metrics":
			fmt.Fprintf(w, "# TYPE alertmanager_notifications_total counter\nalertmanager_notifications_total{integration=\"webhook\"} %d\n"+
				"alertmanager_notifications_total{integration=\"email\"} 0\n"+
				"# TYPE alertmanager_notifications_failed_total counter\nalertmanager_notifications_failed_total{integration=\"webhook\",reason=\"other\"} %d\n", a.total, a.failed)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() { p.Close(); m.Close() })
	return p.URL, m.URL
}

const ourAlertmanager = `[{"url":"http://alertmanager:9093/api/v2/alerts"}]`

func TestAlertmanagerChecks(t *testing.T) {
	firing := `[{"labels":{"alertname":"LLMServerDown","severity":"critical","job":"llm-server","instance":"h:8000"},` +
		`"annotations":{"summary":"LLM server h:8000 is down"},"state":"firing","activeAt":"2026-12-01T10:00:00Z","value":"0"}]`
	heldIt := `[{"labels":{"alertname":"LLMServerDown","severity":"critical","job":"llm-server","instance":"h:8000"},"annotations":{},` +
		`"status":{"state":"active","silencedBy":[],"inhibitedBy":[]},"receivers":[{"name":"alert-webhook"}],"fingerprint":"1"}]`
	hook := stack.Default()
	hook.Alerting.Webhook = "http://host.docker.internal:9095/alerts"
	cases := []struct {
		name  string
		cfg   stack.Config
		in    alertingStandIns
		check string
		want  Status
		texts []string
	}{
		{"prometheus sends to ours", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]"},
			"prometheus sends alerts", StatusOK, []string{"http://alertmanager:9093/api/v2/alerts"}},
		{"prometheus sends nowhere", hook, alertingStandIns{alertmanagers: "[]", alerts: "[]", held: "[]"},
			"prometheus sends alerts", StatusFail, []string{"no Alertmanager", "no alerting block", "llmmon up"}},
		{"nobody is notified", stack.Default(), alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]"},
			"receivers", StatusWarn, []string{"nobody is notified", "--alert-webhook URL", "alerting.receivers"}},
		{"a webhook", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]"},
			"receivers", StatusOK, []string{"alert-webhook (webhook http://host.docker.internal:9095/alerts)"}},
		{"nothing firing", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]"},
			"firing alerts", StatusOK, []string{"no alert is firing"}},
		{"firing and delivered", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: firing, held: heldIt},
			"firing alerts", StatusWarn, []string{"1 alert firing", "critical LLMServerDown llm-server h:8000: LLM server h:8000 is down (notified)", "llmmon alerts"}},
		{"firing, never reached alertmanager", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: firing, held: "[]"},
			"firing alerts", StatusFail, []string{"never reached Alertmanager", "prometheus sends alerts"}},
		{"notifications fine", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]", total: 4},
			"notifications", StatusOK, []string{"4 notification attempts", "none failed"}},
		{"notifications failing now", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]", total: 6, failed: 5, recent: "3"},
			"notifications", StatusFail, []string{"webhook: 5 of 6 attempts failed since Alertmanager started (3 in the last 15m)", "host.docker.internal", "llmmon up"}},
		{"notifications failed long ago", hook, alertingStandIns{alertmanagers: ourAlertmanager, alerts: "[]", held: "[]", total: 9, failed: 2, recent: "0"},
			"notifications", StatusWarn, []string{"webhook: 2 of 9 attempts failed", "none in the last 15m"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prom, am := c.in.start(t)
			r := runChecks(t, Options{Dir: t.TempDir(), Config: c.cfg, PrometheusURL: prom, AlertmanagerURL: am,
				GrafanaURL: prom, MetricsURL: prom + "/metrics"})
			assertResult(t, r.get("Alertmanager", c.check), c.want, c.texts...)
			assertResult(t, r.get("Alertmanager", "ready"), StatusOK, "Alertmanager is ready at "+am)
		})
	}
	// Alertmanager down: ready fails, the checks that need it skip.
	r := runChecks(t, Options{Dir: t.TempDir(), Config: hook})
	assertResult(t, r.get("Alertmanager", "ready"), StatusFail, "Alertmanager does not answer", "llmmon up")
	assertResult(t, r.get("Alertmanager", "notifications"), StatusSkip, "see Alertmanager › ready")
}
