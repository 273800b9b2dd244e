package grafanadouble

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Like GF_SECURITY_ADMIN_PASSWORD, the configured password counts only on
// the first start; a later start on the same data dir keeps the stored one.
func TestAdminPasswordOnlyOnFirstStart(t *testing.T) {
	data := t.TempDir()
	_, base := StartTest(t, Config{AdminPassword: "first", DataDir: data})
	if code, _ := call(t, base, auth{user: "admin", pass: "first"}, "GET", "/api/user", nil); code != 200 {
		t.Fatalf("first start: HTTP %d with the configured password", code)
	}

	_, base2 := StartTest(t, Config{AdminPassword: "second", DataDir: data})
	if code, body := call(t, base2, auth{user: "admin", pass: "second"}, "GET", "/api/user", nil); code != 401 || str(body, "message") != "Invalid username or password" {
		t.Errorf("second start with a new password: HTTP %d %v, want 401 (env ignored once state exists)", code, body)
	}
	if code, _ := call(t, base2, auth{user: "admin", pass: "first"}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("second start: the stored password gives HTTP %d, want 200", code)
	}

	// reset-admin-password rewrites the stored password, and a running
	// double sees it at once, like Grafana's CLI against grafana.db.
	if err := ResetAdminPassword(data, "admin", "third"); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(t, base2, auth{user: "admin", pass: "third"}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("after reset: HTTP %d with the new password, want 200", code)
	}
	if code, _ := call(t, base2, auth{user: "admin", pass: "first"}, "GET", "/api/user", nil); code != 401 {
		t.Errorf("after reset: old password gives HTTP %d, want 401", code)
	}
	_, base3 := StartTest(t, Config{AdminPassword: "fourth", DataDir: data})
	if code, _ := call(t, base3, auth{user: "admin", pass: "third"}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("restart after reset: HTTP %d, want 200", code)
	}

	// PUT /api/user/password changes it too.
	a := auth{user: "admin", pass: "third"}
	if code, body := call(t, base3, a, "PUT", "/api/user/password", map[string]string{"oldPassword": "wrong", "newPassword": "fifth", "confirmNew": "fifth"}); code != 401 {
		t.Errorf("change with wrong old password: HTTP %d %v", code, body)
	}
	if code, body := call(t, base3, a, "PUT", "/api/user/password", map[string]string{"oldPassword": "third", "newPassword": "fifth", "confirmNew": "fifth"}); code != 200 {
		t.Fatalf("change password: HTTP %d %v", code, body)
	}
	if code, _ := call(t, base3, auth{user: "admin", pass: "fifth"}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("changed password: HTTP %d, want 200", code)
	}
	fi, err := os.Stat(filepath.Join(data, AdminFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("admin file: %v, mode %v; want 0600", err, fi.Mode())
	}
}

func TestResetAdminPasswordOnEmptyDataDir(t *testing.T) {
	data := t.TempDir()
	if err := ResetAdminPassword(data, "admin", "reset"); err != nil {
		t.Fatal(err)
	}
	_, base := StartTest(t, Config{AdminPassword: "env", DataDir: data})
	if code, _ := call(t, base, auth{user: "admin", pass: "reset"}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("HTTP %d, want 200", code)
	}
	if err := ResetAdminPassword(data, "admin", ""); err == nil {
		t.Error("empty password accepted")
	}
}

func TestPersistenceAcrossRestart(t *testing.T) {
	data, prov := t.TempDir(), t.TempDir()
	writeFiles(t, prov, map[string]string{
		"dashboards/p.yaml": "apiVersion: 1\nproviders:\n  - name: p\n    folder: Files\n    allowUiUpdates: true\n    options:\n      path: " + prov + "/json\n",
		"json/p.json":       `{"uid":"prov","title":"From file"}`,
	})
	cfg := Config{AdminPassword: "pw", DataDir: data, ProvisioningDir: prov}
	srv, base := StartTest(t, cfg)
	call(t, base, admin, "POST", "/api/folders", map[string]string{"uid": "f1", "title": "LLM Monitoring"})
	call(t, base, admin, "POST", "/api/dashboards/db", `{"dashboard":{"uid":"d1","title":"D1","x":0.10},"folderUid":"f1"}`)
	call(t, base, admin, "POST", "/api/dashboards/db", `{"dashboard":{"uid":"d1","title":"D1","x":0.20,"version":1},"folderUid":"f1"}`)
	call(t, base, admin, "POST", "/api/datasources", map[string]any{"name": "Extra", "uid": "extra", "type": "prometheus", "url": "http://x:9090", "jsonData": map[string]any{"n": 1.5}})
	_, sa := call(t, base, admin, "POST", "/api/serviceaccounts", map[string]any{"name": "llmmon", "role": "Admin"})
	_, tok := call(t, base, admin, "POST", fmt.Sprintf("/api/serviceaccounts/%v/tokens", field(sa, "id")), map[string]any{"name": "t"})
	if _, err := srv.EditDashboard("prov", func(d map[string]any) { d["edited"] = true }); err != nil {
		t.Fatal(err)
	}
	before, _ := srv.Dashboard("d1")

	// Restart on the same data dir: everything is still there, ids kept.
	srv2, base2 := StartTest(t, cfg)
	after, ok := srv2.Dashboard("d1")
	if !ok || string(after) != string(before) {
		t.Errorf("dashboard after restart:\n got %s\nwant %s", after, before)
	}
	code, d := call(t, base2, admin, "GET", "/api/dashboards/uid/d1", nil)
	if code != 200 || intField(t, field(d, "meta"), "version") != 2 || str(field(d, "meta"), "folderTitle") != "LLM Monitoring" {
		t.Errorf("GET after restart: HTTP %d %v", code, d)
	}
	if code, _ := call(t, base2, admin, "GET", "/api/datasources/uid/extra", nil); code != 200 {
		t.Errorf("API datasource after restart: HTTP %d", code)
	}
	if code, _ := call(t, base2, auth{token: str(tok, "key")}, "GET", "/api/user", nil); code != 200 {
		t.Errorf("service account token after restart: HTTP %d", code)
	}
	// The provisioned dashboard's file did not change, so the UI edit stays.
	p, _ := srv2.Dashboard("prov")
	if !strings.Contains(string(p), `"edited":true`) {
		t.Errorf("UI edit of a provisioned dashboard with allowUiUpdates lost on restart: %s", p)
	}
	_, folders := call(t, base2, admin, "GET", "/api/folders", nil)
	if n := len(folders.([]any)); n != 2 {
		t.Errorf("%d folders after restart, want 2 (no duplicate provisioning folder): %v", n, folders)
	}
	// New ids continue after the stored ones.
	_, nd := call(t, base2, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"title": "New"}, nil))
	if intField(t, nd, "id") <= intField(t, field(d, "dashboard"), "id") {
		t.Errorf("new id %v reuses an old one", field(nd, "id"))
	}

	// A changed file replaces the edited dashboard, as Grafana's provisioner does; a removed file removes it.
	writeFiles(t, prov, map[string]string{"json/p.json": `{"uid":"prov","title":"From file v2"}`})
	srv3, _ := StartTest(t, cfg)
	p, _ = srv3.Dashboard("prov")
	if strings.Contains(string(p), "edited") || !strings.Contains(string(p), "From file v2") {
		t.Errorf("changed provisioning file not applied: %s", p)
	}
	os.Remove(filepath.Join(prov, "json/p.json"))
	srv4, _ := StartTest(t, cfg)
	if _, ok := srv4.Dashboard("prov"); ok {
		t.Error("dashboard of a removed provisioning file is still there")
	}
	// No temp files left behind by the atomic writes.
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		if e.Name() != StateFile && e.Name() != AdminFile {
			t.Errorf("unexpected file in data dir: %s", e.Name())
		}
	}
}

func TestCorruptStateRefusesToStart(t *testing.T) {
	data := t.TempDir()
	writeFiles(t, data, map[string]string{StateFile: "{not json"})
	if _, err := New(Config{DataDir: data}); err == nil || !strings.Contains(err.Error(), StateFile) {
		t.Errorf("New = %v, want an error naming %s", err, StateFile)
	}
}
