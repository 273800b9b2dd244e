package stack_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

// Stand-ins for what up and status talk to over HTTP, behind the fake
// engine: the published ports are theirs.

// alertmanagerStandIn answers what up asks an Alertmanager: ready, and
// its status through Grafana's datasource proxy.
func alertmanagerStandIn(t *testing.T) *httptest.Server {
	t.Helper()
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/-/ready":
			fmt.Fprint(w, "OK")
		case "/api/v2/status":
			fmt.Fprint(w, `{"cluster":{"status":"disabled"},"config":{"original":""},"uptime":"2026-12-01T10:00:00Z","versionInfo":{"version":"0.25.0"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(am.Close)
	return am
}

// serverPort is the port an httptest server listens on.
func serverPort(s *httptest.Server) int {
	p, _ := strconv.Atoi(s.URL[strings.LastIndex(s.URL, ":")+1:])
	return p
}

// provisionedGrafana is the Grafana double with the stack's two
// datasources pointing at the stand-ins, started with this admin password.
func provisionedGrafana(t *testing.T, password, promURL, amURL string) (*grafanadouble.Server, *httptest.Server) {
	t.Helper()
	prov := t.TempDir()
	os.MkdirAll(filepath.Join(prov, "datasources"), 0o755)
	os.WriteFile(filepath.Join(prov, "datasources", "ds.yaml"), []byte(fmt.Sprintf(
		"apiVersion: 1\ndatasources:\n  - name: Prometheus\n    uid: %s\n    type: prometheus\n    url: %s\n    isDefault: true\n"+
			"  - name: Alertmanager\n    uid: %s\n    type: alertmanager\n    url: %s\n    jsonData: {implementation: prometheus}\n",
		stack.DatasourceUID, promURL, stack.AlertmanagerDatasourceUID, amURL)), 0o644)
	double, err := grafanadouble.New(grafanadouble.Config{AdminPassword: password, ProvisioningDir: prov})
	if err != nil {
		t.Fatal(err)
	}
	graf := httptest.NewServer(double.Handler())
	t.Cleanup(graf.Close)
	return double, graf
}
