package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/grafana-tools/sdk"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

const (
	testToken = "llmmon-test-token"
	dsUID     = "llmmon-prometheus"
)

// double starts the Grafana test double with llmmon's provisioned-style
// Prometheus datasource, behind wrap (nil: none), and a client for it.
func double(t *testing.T, wrap func(*grafanadouble.Server, http.Handler) http.Handler) (*grafanadouble.Server, *Client) {
	t.Helper()
	srv, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "pw", Tokens: []string{testToken}})
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(srv, h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c := NewClient(ts.URL, Auth{Token: testToken})
	addDatasource(t, c, map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://prometheus:9090", "isDefault": true})
	return srv, c
}

func addDatasource(t *testing.T, c *Client, ds map[string]any) {
	t.Helper()
	if err := c.Do(context.Background(), http.MethodPost, "/api/datasources", ds, nil); err != nil {
		t.Fatal(err)
	}
}

func folders(t *testing.T, c *Client) []sdk.Folder {
	t.Helper()
	var fs []sdk.Folder
	if err := c.Do(context.Background(), http.MethodGet, "/api/folders", nil, &fs); err != nil {
		t.Fatal(err)
	}
	return fs
}

type storedMeta struct {
	Dashboard map[string]any `json:"dashboard"`
	Meta      struct {
		Version   int    `json:"version"`
		FolderUID string `json:"folderUid"`
	} `json:"meta"`
}

func stored(t *testing.T, c *Client) storedMeta {
	t.Helper()
	var s storedMeta
	if err := c.Do(context.Background(), http.MethodGet, "/api/dashboards/uid/"+dashboards.UID, nil, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func imp(t *testing.T, c *Client, opts ImportOptions) ImportResult {
	t.Helper()
	if opts.DatasourceUID == "" {
		opts.DatasourceUID = dsUID
	}
	res, err := c.ImportDashboard(context.Background(), opts)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return res
}

func TestImportFirstTimeCreatesFolderAndKeepsEveryField(t *testing.T) {
	_, c := double(t, nil)
	res := imp(t, c, ImportOptions{})
	if res.Action != ActionCreated || res.Version != 1 || res.TrackedVersion != 1 {
		t.Fatalf("result %+v, want created at version 1", res)
	}
	if res.UID != dashboards.UID || !strings.HasPrefix(res.URL, c.BaseURL+"/d/"+dashboards.UID) {
		t.Errorf("uid %q url %q", res.UID, res.URL)
	}
	fs := folders(t, c)
	if len(fs) != 1 || fs[0].Title != DefaultFolder {
		t.Fatalf("folders = %+v, want one %q", fs, DefaultFolder)
	}
	s := stored(t, c)
	if s.Meta.FolderUID != fs[0].UID || res.FolderUID != fs[0].UID {
		t.Errorf("dashboard in folder %q (result %q), want %q", s.Meta.FolderUID, res.FolderUID, fs[0].UID)
	}
	// Raw JSON, not sdk.Board: every embedded field arrives unchanged,
	// except the datasource default that import sets.
	var embedded map[string]any
	if err := json.Unmarshal(dashboards.JSON(), &embedded); err != nil {
		t.Fatal(err)
	}
	for k, want := range embedded {
		got := s.Dashboard[k]
		if k == "templating" {
			continue
		}
		if !reflect.DeepEqual(normalize(t, got), normalize(t, want)) {
			t.Errorf("field %q changed on the way into Grafana", k)
		}
	}
	dsVar := s.Dashboard["templating"].(map[string]any)["list"].([]any)[0].(map[string]any)
	cur, _ := dsVar["current"].(map[string]any)
	if dsVar["name"] != "datasource" || cur["value"] != dsUID || cur["text"] != "Prometheus" {
		t.Errorf("datasource variable = %v, want its default set to %s", dsVar, dsUID)
	}
	if _, ok := s.Dashboard[markerKey].(map[string]any)["contentHash"]; !ok {
		t.Error("no llmmon content hash stored")
	}
}

func normalize(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	json.Unmarshal(b, &out)
	return out
}

func TestReimportIsIdempotent(t *testing.T) {
	_, c := double(t, nil)
	first := imp(t, c, ImportOptions{})
	second := imp(t, c, ImportOptions{})
	if second.Action != ActionUnchanged || second.Version != first.Version || second.TrackedVersion != first.Version {
		t.Fatalf("second import %+v, want unchanged at version %d", second, first.Version)
	}
	// With the version llmmon remembers, too.
	third := imp(t, c, ImportOptions{LastWrittenVersion: first.Version})
	if third.Action != ActionUnchanged {
		t.Fatalf("third import %+v, want unchanged", third)
	}
	if v := stored(t, c).Meta.Version; v != 1 {
		t.Errorf("grafana version %d after re-imports, want 1 (nothing written)", v)
	}
	if n := len(folders(t, c)); n != 1 {
		t.Errorf("%d folders after re-imports, want 1", n)
	}
}

func TestImportIntoExistingFolder(t *testing.T) {
	_, c := double(t, nil)
	var f sdk.Folder
	if err := c.Do(context.Background(), http.MethodPost, "/api/folders", map[string]string{"title": "Team LLM", "uid": "team-llm"}, &f); err != nil {
		t.Fatal(err)
	}
	res := imp(t, c, ImportOptions{Folder: "Team LLM"})
	if res.FolderUID != "team-llm" || res.Action != ActionCreated {
		t.Fatalf("result %+v, want created in existing folder team-llm", res)
	}
	if fs := folders(t, c); len(fs) != 1 {
		t.Errorf("folders = %+v, want the existing one only", fs)
	}
	if got := stored(t, c).Meta.FolderUID; got != "team-llm" {
		t.Errorf("dashboard in folder %q", got)
	}
}

func TestImportBadCredentials(t *testing.T) {
	_, c := double(t, nil)
	for name, auth := range map[string]Auth{"token": {Token: "wrong"}, "basic": {User: "admin", Password: "wrong"}} {
		t.Run(name, func(t *testing.T) {
			bad := NewClient(c.BaseURL, auth)
			_, err := bad.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
			if !IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "rejected the credentials") {
				t.Fatalf("err = %v, want a 401 naming the credentials", err)
			}
		})
	}
	// Basic auth with the right password works.
	good := NewClient(c.BaseURL, Auth{User: "admin", Password: "pw"})
	if _, err := good.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID}); err != nil {
		t.Fatal(err)
	}
}

func TestImportNameConflict412(t *testing.T) {
	_, c := double(t, nil)
	var f sdk.Folder
	if err := c.Do(context.Background(), http.MethodPost, "/api/folders", map[string]string{"title": DefaultFolder}, &f); err != nil {
		t.Fatal(err)
	}
	theirs := map[string]any{"dashboard": map[string]any{"uid": "someone-elses", "title": "LLM Server (llmmon)", "panels": []any{}}, "folderUid": f.UID}
	if err := c.Do(context.Background(), http.MethodPost, "/api/dashboards/db", theirs, nil); err != nil {
		t.Fatal(err)
	}
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
	if !IsStatus(err, http.StatusPreconditionFailed) || !strings.Contains(err.Error(), "same title already exists") {
		t.Fatalf("err = %v, want a 412 name-exists explained", err)
	}
	var other storedMeta
	if err := c.Do(context.Background(), http.MethodGet, "/api/dashboards/uid/someone-elses", nil, &other); err != nil || other.Meta.Version != 1 {
		t.Errorf("the other dashboard was touched: %v %+v", err, other.Meta)
	}
}

func TestUserEditsAreKeptUnlessForced(t *testing.T) {
	srv, c := double(t, nil)
	first := imp(t, c, ImportOptions{})
	v, err := srv.EditDashboard(dashboards.UID, func(d map[string]any) { d["title"] = "My LLM board" })
	if err != nil {
		t.Fatal(err)
	}
	for _, last := range []int{0, first.TrackedVersion} {
		res := imp(t, c, ImportOptions{LastWrittenVersion: last})
		if res.Action != ActionKeptUserEdits || !strings.Contains(res.Reason, "--force") {
			t.Fatalf("LastWrittenVersion %d: result %+v, want kept-user-edits with a hint", last, res)
		}
		if res.TrackedVersion != last {
			t.Errorf("kept dashboard: TrackedVersion %d, want the old %d", res.TrackedVersion, last)
		}
		if s := stored(t, c); s.Dashboard["title"] != "My LLM board" || s.Meta.Version != int(v) {
			t.Fatalf("user's edit lost: %v v%d", s.Dashboard["title"], s.Meta.Version)
		}
	}
	res := imp(t, c, ImportOptions{Force: true})
	if res.Action != ActionUpdated || res.Version != int(v)+1 {
		t.Fatalf("forced: %+v", res)
	}
	if s := stored(t, c); s.Dashboard["title"] != "LLM Server (llmmon)" {
		t.Errorf("force did not replace the edited dashboard: %v", s.Dashboard["title"])
	}
	if again := imp(t, c, ImportOptions{LastWrittenVersion: res.TrackedVersion}); again.Action != ActionUnchanged {
		t.Errorf("after force: %+v, want unchanged", again)
	}
}

// withRevision returns the embedded dashboard with another revision and title.
func withRevision(t *testing.T, rev int, title string) []byte {
	t.Helper()
	var d map[string]any
	json.Unmarshal(dashboards.JSON(), &d)
	d["revision"], d["description"] = rev, title
	b, _ := json.Marshal(d)
	return b
}

func TestOlderUneditedDashboardIsUpgraded(t *testing.T) {
	_, c := double(t, nil)
	emb, _ := dashboards.Embedded()
	old := imp(t, c, ImportOptions{Dashboard: withRevision(t, emb.Revision-1, "old")})
	res := imp(t, c, ImportOptions{LastWrittenVersion: old.TrackedVersion})
	if res.Action != ActionUpdated || res.GrafanaRevision != emb.Revision-1 || res.Version != old.Version+1 {
		t.Fatalf("result %+v, want updated from revision %d", res, emb.Revision-1)
	}
	if d := stored(t, c).Dashboard; d["description"] == "old" || int(d["revision"].(float64)) != emb.Revision {
		t.Errorf("stored dashboard not upgraded: %v %v", d["description"], d["revision"])
	}
}

func TestNewerRevisionIsKept(t *testing.T) {
	_, c := double(t, nil)
	emb, _ := dashboards.Embedded()
	imp(t, c, ImportOptions{Dashboard: withRevision(t, emb.Revision+1, "newer")})
	res := imp(t, c, ImportOptions{})
	if res.Action != ActionKeptNewer || stored(t, c).Dashboard["description"] != "newer" {
		t.Fatalf("result %+v, want kept-newer", res)
	}
}

// A user saving between llmmon's read and write gets Grafana's 412
// version-mismatch, not a silent overwrite.
func TestConcurrentUserSaveIs412(t *testing.T) {
	var srvRef atomic.Pointer[grafanadouble.Server]
	var armed atomic.Bool
	_, c := double(t, func(s *grafanadouble.Server, h http.Handler) http.Handler {
		srvRef.Store(s)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/api/dashboards/db" && armed.CompareAndSwap(true, false) {
				if _, err := srvRef.Load().EditDashboard(dashboards.UID, func(d map[string]any) { d["title"] = "racing edit" }); err != nil {
					t.Error(err)
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	emb, _ := dashboards.Embedded()
	imp(t, c, ImportOptions{Dashboard: withRevision(t, emb.Revision-1, "old")})
	armed.Store(true)
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
	if !IsStatus(err, http.StatusPreconditionFailed) || !strings.Contains(err.Error(), "run the command again") {
		t.Fatalf("err = %v, want 412 version-mismatch explained", err)
	}
	if stored(t, c).Dashboard["title"] != "racing edit" {
		t.Error("the user's concurrent save was overwritten")
	}
}

// faultOn answers one API path with a canned reply and passes the rest on.
func faultOn(method, path string, code int, body string) func(*grafanadouble.Server, http.Handler) http.Handler {
	return func(_ *grafanadouble.Server, h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == method && r.URL.Path == path {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(code)
				fmt.Fprint(w, body)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// grafana-tools/sdk's SetRawDashboardWithParam dereferences a nil
// "message" on a non-200 answer without one. Saves now go through llmmon's
// own client (for folderUid); sdkCall still guards the sdk's reads, and the
// save must still come back as the API error.
func TestSDKPanicOnMessagelessErrorIsGuarded(t *testing.T) {
	for _, body := range []string{`{}`, `{"error":"boom"}`} {
		_, c := double(t, faultOn(http.MethodPost, "/api/dashboards/db", http.StatusInternalServerError, body))
		// Prove the trap is real: the bare sdk panics on this answer.
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("sdk did not panic on %s; the guard may be obsolete", body)
				}
			}()
			s, _ := sdk.NewClient(c.BaseURL, testToken, http.DefaultClient)
			s.SetRawDashboardWithParam(context.Background(), sdk.RawBoardRequest{Dashboard: dashboards.JSON()})
		}()
		_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
		if !IsStatus(err, http.StatusInternalServerError) {
			t.Fatalf("body %s: err = %v, want the HTTP 500 as an APIError", body, err)
		}
	}
}

// Some sdk calls return a nil error on failure (Delete* ignore the status).
// sdkCall sees the status itself.
func TestSDKNilErrorOnFailureIsGuarded(t *testing.T) {
	_, c := double(t, nil)
	s, _ := sdk.NewClient(c.BaseURL, testToken, http.DefaultClient)
	if _, err := s.DeleteDashboardByUID(context.Background(), "missing"); err != nil {
		t.Fatalf("sdk now reports the 404 itself (%v); the guard may be obsolete", err)
	}
	err := c.sdkCall(context.Background(), "delete dashboard", func(s *sdk.Client) error {
		_, err := s.DeleteDashboardByUID(context.Background(), "missing")
		return err
	})
	if !IsStatus(err, http.StatusNotFound) {
		t.Fatalf("err = %v, want a 404 APIError", err)
	}
}

// A 200 that does not carry the saved dashboard's uid and version is not
// taken for a save.
func TestSaveWithoutUIDIsAnError(t *testing.T) {
	_, c := double(t, faultOn(http.MethodPost, "/api/dashboards/db", http.StatusOK, `{"status":"success"}`))
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
	if err == nil || !strings.Contains(err.Error(), "may not have saved") {
		t.Fatalf("err = %v", err)
	}
}

func TestImportNeedsAPrometheusDatasource(t *testing.T) {
	_, c := double(t, nil)
	addDatasource(t, c, map[string]any{"name": "Loki", "uid": "loki", "type": "loki", "url": "http://loki:3100"})
	for uid, want := range map[string]string{"missing": "no datasource with uid", "loki": "not prometheus"} {
		_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: uid})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("datasource %s: err = %v, want %q", uid, err, want)
		}
	}
}

func TestPickPrometheusDatasource(t *testing.T) {
	ctx := context.Background()
	_, c := double(t, nil)
	addDatasource(t, c, map[string]any{"name": "Other Prom", "uid": "other", "type": "prometheus", "url": "http://x:9090"})
	addDatasource(t, c, map[string]any{"name": "Loki", "uid": "loki", "type": "loki", "url": "http://loki:3100"})
	for want, uid := range map[string]string{"": dsUID, "Other Prom": "other", "other": "other", dsUID: dsUID} {
		ds, err := c.PickPrometheusDatasource(ctx, want)
		if err != nil || ds.UID != uid {
			t.Errorf("pick %q = %+v, %v; want uid %s", want, ds, err, uid)
		}
	}
	for want, msg := range map[string]string{"Loki": "not prometheus", "nope": "no datasource named"} {
		if _, err := c.PickPrometheusDatasource(ctx, want); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("pick %q: err = %v, want %q", want, err, msg)
		}
	}

	// Without a default, two Prometheus datasources are ambiguous.
	_, c2 := double(t, nil)
	if err := c2.Do(ctx, http.MethodDelete, "/api/datasources/uid/"+dsUID, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.PickPrometheusDatasource(ctx, ""); err == nil || !strings.Contains(err.Error(), "no Prometheus datasource") {
		t.Errorf("no datasource: err = %v", err)
	}
	addDatasource(t, c2, map[string]any{"name": "A", "uid": "a", "type": "prometheus", "url": "http://a:9090"})
	if ds, err := c2.PickPrometheusDatasource(ctx, ""); err != nil || ds.UID != "a" {
		t.Errorf("only one: %+v %v", ds, err)
	}
	addDatasource(t, c2, map[string]any{"name": "B", "uid": "b", "type": "prometheus", "url": "http://b:9090"})
	if _, err := c2.PickPrometheusDatasource(ctx, ""); err == nil || !strings.Contains(err.Error(), "--datasource") {
		t.Errorf("ambiguous: err = %v", err)
	}
}

func TestExplainConnectionAndTLS(t *testing.T) {
	ctx := context.Background()
	// Connection refused: a listener that was closed.
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	_, err := NewClient(url, Auth{Token: "x"}).ImportDashboard(ctx, ImportOptions{DatasourceUID: dsUID})
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "is Grafana running") {
		t.Errorf("refused: %v", err)
	}
	// An untrusted certificate.
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	_, err = NewClient(tlsSrv.URL, Auth{Token: "x"}).PickPrometheusDatasource(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("untrusted cert: %v", err)
	}
	// https:// against a plain HTTP server.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	_, err = NewClient(strings.Replace(plain.URL, "http://", "https://", 1), Auth{Token: "x"}).PickPrometheusDatasource(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "use an http:// URL") {
		t.Errorf("https to http: %v", err)
	}
	// A wrong base path: 404.
	_, c := double(t, nil)
	_, err = NewClient(c.BaseURL+"/grafana", Auth{Token: testToken}).PickPrometheusDatasource(ctx, "")
	if !IsStatus(err, http.StatusNotFound) || !strings.Contains(err.Error(), "root URL") {
		t.Errorf("404: %v", err)
	}
}

func TestImportForbiddenForViewer(t *testing.T) {
	srv, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "pw", Tokens: []string{testToken}, AnonymousEnabled: true})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	addDatasource(t, NewClient(ts.URL, Auth{Token: testToken}), map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://p:9090"})
	_, err = NewClient(ts.URL, Auth{}).ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID})
	if !IsStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "Editor or Admin") {
		t.Fatalf("err = %v, want 403 naming the role", err)
	}
}

func TestImportIntoGeneral(t *testing.T) {
	_, c := double(t, nil)
	res := imp(t, c, ImportOptions{Folder: "General"})
	if res.Action != ActionCreated || res.FolderUID != "" || len(folders(t, c)) != 0 {
		t.Fatalf("result %+v, folders %v: want the dashboard at Grafana's root", res, folders(t, c))
	}
}

// A copy of the dashboard provisioned from a file (someone dropped our JSON
// into Grafana's provisioning) is kept; forcing it gets Grafana's 400,
// explained.
func TestProvisionedDashboardIsExplained(t *testing.T) {
	dir := t.TempDir()
	prov, dash := filepath.Join(dir, "provisioning"), filepath.Join(dir, "dash")
	os.MkdirAll(filepath.Join(prov, "dashboards"), 0o755)
	os.MkdirAll(dash, 0o755)
	os.WriteFile(filepath.Join(dash, "llm.json"), dashboards.JSON(), 0o644)
	os.WriteFile(filepath.Join(prov, "dashboards", "p.yaml"), []byte("apiVersion: 1\nproviders:\n  - name: files\n    folder: LLM Monitoring\n    options:\n      path: "+dash+"\n"), 0o644)
	srv, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "pw", Tokens: []string{testToken}, ProvisioningDir: prov})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	c := NewClient(ts.URL, Auth{Token: testToken})
	addDatasource(t, c, map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://p:9090"})
	if res := imp(t, c, ImportOptions{}); res.Action != ActionKeptUserEdits {
		t.Fatalf("result %+v, want the provisioned copy kept", res)
	}
	_, err = c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID, Force: true})
	if !IsStatus(err, http.StatusBadRequest) || !strings.Contains(err.Error(), "provisioned file") {
		t.Fatalf("err = %v", err)
	}
}

// A user who moved llmmon's (unedited) dashboard to another folder keeps
// it there across upgrades, and the default folder is not recreated.
func TestMovedDashboardStaysWhereTheUserPutIt(t *testing.T) {
	ctx := context.Background()
	_, c := double(t, nil)
	emb, _ := dashboards.Embedded()
	old := imp(t, c, ImportOptions{Dashboard: withRevision(t, emb.Revision-1, "old")})
	var team sdk.Folder
	if err := c.Do(ctx, http.MethodPost, "/api/folders", map[string]string{"title": "Team"}, &team); err != nil {
		t.Fatal(err)
	}
	s := stored(t, c)
	if err := c.Do(ctx, http.MethodPost, "/api/dashboards/db", map[string]any{"dashboard": s.Dashboard, "folderUid": team.UID}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(ctx, http.MethodDelete, "/api/folders/"+old.FolderUID, nil, nil); err != nil {
		t.Fatal(err)
	}
	res := imp(t, c, ImportOptions{})
	if res.Action != ActionUpdated || res.Folder != "Team" {
		t.Fatalf("result %+v, want updated in Team", res)
	}
	if got := stored(t, c).Meta.FolderUID; got != team.UID {
		t.Errorf("dashboard moved back to %q", got)
	}
	if fs := folders(t, c); len(fs) != 1 {
		t.Errorf("folders = %+v, want Team only", fs)
	}
}
