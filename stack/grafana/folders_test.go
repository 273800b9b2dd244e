package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/test/grafanadouble"
)

// doubleWith starts the double with cfg, over TLS when tlsOn, and returns
// a client that is not yet told how to trust it.
func doubleWith(t *testing.T, cfg grafanadouble.Config, tlsOn bool, wrap func(http.Handler) http.Handler) (*httptest.Server, *Client) {
	t.Helper()
	cfg.Tokens = []string{testToken}
	srv, err := grafanadouble.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler()
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewUnstartedServer(h)
	if tlsOn {
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	return ts, NewClient(ts.URL, Auth{Token: testToken})
}

// folderTree lists every folder as "parent title/title" paths, walking
// the double's API by parentUid as Grafana's UI does.
func folderTree(t *testing.T, c *Client, parent, prefix string) []string {
	t.Helper()
	var fs []apiFolder
	q := "/api/folders"
	if parent != "" {
		q += "?parentUid=" + parent
	}
	if err := c.Do(context.Background(), http.MethodGet, q, nil, &fs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		if f.ParentUID != parent {
			continue // a flat Grafana ignores parentUid and lists every folder
		}
		out = append(out, prefix+f.Title)
		out = append(out, folderTree(t, c, f.UID, prefix+f.Title+"/")...)
	}
	return out
}

func TestNestedFolderPathIsCreatedOnceLevelByLevel(t *testing.T) {
	var mu sync.Mutex
	var saves []map[string]any
	record := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/api/dashboards/db" {
				b, _ := io.ReadAll(r.Body)
				var m map[string]any
				_ = json.Unmarshal(b, &m)
				mu.Lock()
				saves = append(saves, m)
				mu.Unlock()
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			h.ServeHTTP(w, r)
		})
	}
	_, c := doubleWith(t, grafanadouble.Config{}, false, record)
	addDatasource(t, c, map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://prometheus:9090", "isDefault": true})
	// A sibling with the leaf's title under another parent must not be taken.
	var other apiFolder
	if err := c.Do(context.Background(), http.MethodPost, "/api/folders", map[string]string{"title": "Elsewhere"}, &other); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(context.Background(), http.MethodPost, "/api/folders", map[string]string{"title": "LLM", "parentUid": other.UID}, nil); err != nil {
		t.Fatal(err)
	}

	res := imp(t, c, ImportOptions{Folder: "Platform/Inference/LLM"})
	if res.Action != ActionCreated || res.Folder != "Platform/Inference/LLM" || res.FolderUID == "" {
		t.Fatalf("result %+v", res)
	}
	want := []string{"Elsewhere", "Elsewhere/LLM", "Platform", "Platform/Inference", "Platform/Inference/LLM"}
	if got := folderTree(t, c, "", ""); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("folders %q, want %q", got, want)
	}
	if got := stored(t, c).Meta.FolderUID; got != res.FolderUID {
		t.Errorf("dashboard in folder %q, want the leaf %q", got, res.FolderUID)
	}
	// Grafana 12 takes the folder by uid; the deprecated id is never sent.
	if len(saves) != 1 || saves[0]["folderUid"] != res.FolderUID || saves[0]["folderId"] != nil {
		t.Errorf("save request %v, want folderUid %s and no folderId", saves, res.FolderUID)
	}
	// Forced again into the same path: no second set of folders.
	res2 := imp(t, c, ImportOptions{Folder: "Platform/Inference/LLM", Force: true})
	if res2.FolderUID != res.FolderUID {
		t.Errorf("second import used folder %q, want %q", res2.FolderUID, res.FolderUID)
	}
	if got := folderTree(t, c, "", ""); len(got) != len(want) {
		t.Errorf("folders after a second import: %q", got)
	}
}

func TestFolderUIDPicksAnExistingFolder(t *testing.T) {
	_, c := double(t, nil)
	var team apiFolder
	if err := c.Do(context.Background(), http.MethodPost, "/api/folders", map[string]string{"title": "Team", "uid": "team-uid"}, &team); err != nil {
		t.Fatal(err)
	}
	res := imp(t, c, ImportOptions{FolderUID: "team-uid", Folder: "ignored"})
	if res.FolderUID != "team-uid" || res.Folder != "Team" || stored(t, c).Meta.FolderUID != "team-uid" {
		t.Fatalf("result %+v, stored in %q", res, stored(t, c).Meta.FolderUID)
	}
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID, FolderUID: "nope", Force: true})
	if err == nil || !strings.Contains(err.Error(), `no folder with uid "nope"`) || !strings.Contains(err.Error(), "--folder-uid") {
		t.Fatalf("missing folder uid: %v", err)
	}
	if fs := folderTree(t, c, "", ""); len(fs) != 1 {
		t.Errorf("folders %q, want Team only (nothing created for a missing uid)", fs)
	}
}

// A Grafana without nested folders ignores parentUid. llmmon says so and
// takes back the top-level folder Grafana made instead.
func TestNestedFolderOnFlatGrafanaIsRefused(t *testing.T) {
	_, c := doubleWith(t, grafanadouble.Config{NoNestedFolders: true}, false, nil)
	addDatasource(t, c, map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://prometheus:9090", "isDefault": true})
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID, Folder: "Platform/LLM"})
	if err == nil || !strings.Contains(err.Error(), "does not support nested folders") {
		t.Fatalf("err = %v", err)
	}
	if got := folderTree(t, c, "", ""); strings.Join(got, "|") != "Platform" {
		t.Errorf("folders %q, want only the top level the user asked for", got)
	}
	if res := imp(t, c, ImportOptions{Folder: "LLM"}); res.Folder != "LLM" {
		t.Errorf("a single title still works on a flat Grafana: %+v", res)
	}
}

func TestOrgIDIsSentOnEveryCall(t *testing.T) {
	_, c := double(t, nil)
	c.OrgID = 1
	if res := imp(t, c, ImportOptions{}); res.Action != ActionCreated {
		t.Fatalf("org 1: %+v", res)
	}
	c.OrgID = 2 // the double has Main Org. only
	_, err := c.ImportDashboard(context.Background(), ImportOptions{DatasourceUID: dsUID, Force: true})
	if !IsStatus(err, http.StatusUnauthorized) || !strings.Contains(err.Error(), "member of organization 2 (--org-id)") {
		t.Fatalf("org 2: %v", err)
	}
}

func TestTLSWithCAFileOrInsecure(t *testing.T) {
	ts, c := doubleWith(t, grafanadouble.Config{}, true, nil)
	if _, err := c.Health(context.Background()); err == nil || !strings.Contains(c.Explain(err).Error(), "--ca-file") {
		t.Fatalf("untrusted: %v", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.SetTLS(TLSOptions{CAFile: ca}); err != nil {
		t.Fatal(err)
	}
	addDatasource(t, c, map[string]any{"name": "Prometheus", "uid": dsUID, "type": "prometheus", "url": "http://prometheus:9090", "isDefault": true})
	if res := imp(t, c, ImportOptions{}); res.Action != ActionCreated {
		t.Fatalf("with --ca-file: %+v", res)
	}

	insecure := NewClient(ts.URL, Auth{Token: testToken})
	if err := insecure.SetTLS(TLSOptions{InsecureSkipVerify: true}); err != nil {
		t.Fatal(err)
	}
	if res := imp(t, insecure, ImportOptions{}); res.Action != ActionUnchanged {
		t.Fatalf("insecure: %+v", res)
	}

	bad := filepath.Join(t.TempDir(), "bad.pem")
	_ = os.WriteFile(bad, []byte("not a certificate"), 0o600)
	if err := NewClient(ts.URL, Auth{}).SetTLS(TLSOptions{CAFile: bad}); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("bad CA file: %v", err)
	}
}

func TestSplitFolderPath(t *testing.T) {
	for in, want := range map[string]string{"": "", "General": "", "general": "", "LLM Monitoring": "LLM Monitoring", "A/B": "A|B", " A / B ": "A|B"} {
		got, err := SplitFolderPath(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("SplitFolderPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"A//B", "/A", "A/", " / "} {
		if _, err := SplitFolderPath(in); err == nil {
			t.Errorf("SplitFolderPath(%q): no error", in)
		}
	}
}
