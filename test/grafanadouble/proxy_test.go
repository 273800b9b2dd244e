package grafanadouble

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
)

// The datasource proxy reaches an Alertmanager datasource as Grafana's
// pages do: its status (the "Save & test" of the Prometheus
// implementation) and its alerts; with Grafana's errors otherwise.
func TestDatasourceProxy(t *testing.T) {
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v2/status":
			fmt.Fprint(w, `{"uptime":"2026-12-01T10:00:00Z","versionInfo":{"version":"0.25.0"}}`)
		case "/api/v2/alerts":
			if r.URL.Query().Get("active") != "true" {
				http.Error(w, "query lost", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, `[{"labels":{"alertname":"LLMServerDown"}}]`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer am.Close()
	deadURL := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	prov := t.TempDir()
	writeFiles(t, prov, map[string]string{"datasources/ds.yaml": `
apiVersion: 1
datasources:
  - name: Alertmanager
    uid: am
    type: alertmanager
    url: ` + am.URL + `
    jsonData: {implementation: prometheus}
  - name: Gone
    uid: gone
    type: alertmanager
    url: ` + deadURL + `
`})
	_, base := StartTest(t, Config{AdminPassword: "pw", ProvisioningDir: prov})
	code, st := call(t, base, admin, "GET", "/api/datasources/proxy/uid/am/api/v2/status", nil)
	if code != 200 || str(st, "uptime") == "" {
		t.Errorf("status through the proxy: HTTP %d %v", code, st)
	}
	code, alerts := call(t, base, admin, "GET", "/api/datasources/proxy/uid/am/api/v2/alerts?active=true", nil)
	if arr, _ := alerts.([]any); code != 200 || len(arr) != 1 {
		t.Errorf("alerts through the proxy: HTTP %d %v", code, alerts)
	}
	runCases(t, base, admin, []apiCase{
		{"a path the datasource lacks", "GET", "/api/datasources/proxy/uid/am/alertmanager/api/v2/status", nil, 404, ""},
		{"unknown uid", "GET", "/api/datasources/proxy/uid/none/api/v2/status", nil, 404, "Unable to find datasource"},
		{"invalid uid", "GET", "/api/datasources/proxy/uid/a%20b/api/v2/status", nil, 400, "UID is invalid"},
	})
	if code, _ := call(t, base, admin, "GET", "/api/datasources/proxy/uid/gone/api/v2/status", nil); code != http.StatusBadGateway {
		t.Errorf("datasource that does not answer: HTTP %d, want 502", code)
	}
	if code, _ := call(t, base, noAuth, "GET", "/api/datasources/proxy/uid/am/api/v2/status", nil); code != 401 {
		t.Errorf("without auth: HTTP %d", code)
	}
}
