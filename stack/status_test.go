package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

// status --name from another folder finds the stack's folder from its
// containers' labels, so the datasource check signs in with the stack's
// own password; without the folder it says so and is not OK, rather than
// reporting "Unauthorized" and success.
func TestStatusByNameFromAnotherDir(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/targets":
			fmt.Fprint(w, `{"status":"success","data":{"activeTargets":[]}}`)
		case "/api/v1/query":
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1700000000,"2"]}}`)
		default:
			fmt.Fprint(w, "Prometheus Server is Ready.")
		}
	}))
	defer prom.Close()
	am := alertmanagerStandIn(t)
	prov := t.TempDir()
	os.MkdirAll(filepath.Join(prov, "datasources"), 0o755)
	os.WriteFile(filepath.Join(prov, "datasources", "ds.yaml"), []byte(fmt.Sprintf(
		"apiVersion: 1\ndatasources:\n  - name: Prometheus\n    uid: %s\n    type: prometheus\n    url: %s\n"+
			"  - name: Alertmanager\n    uid: %s\n    type: alertmanager\n    url: %s\n    jsonData: {implementation: prometheus}\n",
		stack.DatasourceUID, prom.URL, stack.AlertmanagerDatasourceUID, am.URL)), 0o644)
	double, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "the-stacks-pw", ProvisioningDir: prov})
	if err != nil {
		t.Fatal(err)
	}
	graf := httptest.NewServer(double.Handler())
	defer graf.Close()
	port := func(s *httptest.Server) int { p, _ := strconv.Atoi(s.URL[strings.LastIndex(s.URL, ":")+1:]); return p }
	cfg := testConfig(func(c *stack.Config) {
		c.Name, c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = "far", port(prom), port(graf), port(am)
	})
	eng, dir := fakeEngine(), t.TempDir()
	os.WriteFile(filepath.Join(dir, stack.AdminPasswordFile), []byte("the-stacks-pw\n"), 0o600)
	if _, out, err := up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Wait = 20 * time.Second }); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	elsewhere := t.TempDir()
	r, err := stack.Status(context.Background(), eng, stack.StatusOptions{Dir: elsewhere, Name: "far"})
	if err != nil {
		t.Fatal(err)
	}
	if !r.DirFromLabels || r.Dir != dir || r.PasswordFile != filepath.Join(dir, stack.AdminPasswordFile) || r.Datasource != "ok" || !r.OK {
		t.Fatalf("report %+v", r)
	}

	// The labelled folder no longer records the stack: nothing to sign in
	// with, and status is not OK.
	os.Remove(filepath.Join(dir, stack.StateFile))
	r, err = stack.Status(context.Background(), eng, stack.StatusOptions{Dir: elsewhere, Name: "far"})
	if err != nil {
		t.Fatal(err)
	}
	if r.DirFromLabels || r.OK || !strings.Contains(r.Datasource, "not checked: no admin password in "+elsewhere) {
		t.Fatalf("report %+v", r)
	}
}
