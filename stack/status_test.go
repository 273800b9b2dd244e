package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
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
	_, graf := provisionedGrafana(t, "the-stacks-pw", prom.URL, am.URL)
	cfg := testConfig(func(c *stack.Config) {
		c.Name, c.Prometheus.Port, c.Grafana.Port, c.Alertmanager.Port = "far", serverPort(prom), serverPort(graf), serverPort(am)
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
