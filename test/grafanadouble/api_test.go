package grafanadouble

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// fakePrometheus answers /api/v1/query like Prometheus does, but only to
// the given method.
func fakePrometheus(t *testing.T, code int, method string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.URL.Path != "/api/v1/query" || r.Form.Get("query") != "1+1" {
			http.NotFound(w, r)
			return
		}
		if r.Method != method {
			http.Error(w, "wrong method", http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(code)
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"scalar","result":[1,"2"]}}`)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestHealthAndAuth(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw", Tokens: []string{"seeded"}})
	tests := []struct {
		name     string
		a        auth
		method   string
		path     string
		wantCode int
		wantMsg  string
	}{
		{"health needs no auth", noAuth, "GET", "/api/health", 200, ""},
		{"api needs auth", noAuth, "GET", "/api/datasources", 401, "Unauthorized"},
		{"wrong password", badPass, "GET", "/api/datasources", 401, "Invalid username or password"},
		{"wrong user", auth{user: "root", pass: "pw"}, "GET", "/api/user", 401, "Invalid username or password"},
		{"unknown token", auth{token: "nope"}, "GET", "/api/datasources", 401, "invalid API key"},
		{"basic auth", admin, "GET", "/api/user", 200, ""},
		{"seeded token", auth{token: "seeded"}, "GET", "/api/datasources", 200, ""},
		{"unknown route", admin, "GET", "/api/nope", 404, "Not found"},
		{"wrong method is not found, as in Grafana", admin, "PUT", "/api/search", 404, "Not found"},
		{"signup disabled", noAuth, "POST", "/api/user/signup", 401, "User signup is disabled"},
		{"admin settings need the admin user", auth{token: "seeded"}, "GET", "/api/admin/settings", 403, "Permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, base, tc.a, tc.method, tc.path, nil)
			if code != tc.wantCode {
				t.Fatalf("HTTP %d, want %d: %v", code, tc.wantCode, body)
			}
			if tc.wantMsg != "" && str(body, "message") != tc.wantMsg {
				t.Errorf("message %q, want %q", str(body, "message"), tc.wantMsg)
			}
		})
	}
	_, h := call(t, base, noAuth, "GET", "/api/health", nil)
	if str(h, "commit") != Commit || str(h, "database") != "ok" || str(h, "version") != Version {
		t.Errorf("health = %v", h)
	}
	_, u := call(t, base, admin, "GET", "/api/user", nil)
	if str(u, "login") != "admin" || field(u, "isGrafanaAdmin") != true {
		t.Errorf("user = %v", u)
	}
}

func TestAnonymousAccess(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw", AnonymousEnabled: true, AllowSignUp: true})
	if code, _ := call(t, base, noAuth, "GET", "/api/search", nil); code != 200 {
		t.Errorf("anonymous read: HTTP %d, want 200", code)
	}
	if code, _ := call(t, base, noAuth, "POST", "/api/folders", map[string]string{"title": "x"}); code != 403 {
		t.Errorf("anonymous write: HTTP %d, want 403", code)
	}
	if code, _ := call(t, base, noAuth, "POST", "/api/user/signup", map[string]string{"email": "a@b"}); code != 200 {
		t.Errorf("signup enabled: HTTP %d, want 200", code)
	}
	code, set := call(t, base, admin, "GET", "/api/admin/settings", nil)
	if code != 200 || str(field(set, "users"), "allow_sign_up") != "true" || str(field(set, "auth.anonymous"), "enabled") != "true" || str(field(set, "auth.anonymous"), "org_role") != "Viewer" {
		t.Errorf("admin settings: HTTP %d %v", code, set)
	}
	if code, _ := call(t, base, noAuth, "GET", "/api/admin/settings", nil); code != 403 {
		t.Errorf("admin settings as anonymous: HTTP %d, want 403", code)
	}

	_, editorBase := StartTest(t, Config{AdminPassword: "pw", AnonymousEnabled: true, AnonymousRole: "Editor"})
	if code, _ := call(t, editorBase, noAuth, "POST", "/api/folders", map[string]string{"title": "x"}); code != 200 {
		t.Errorf("anonymous Editor write: HTTP %d, want 200", code)
	}
}

func TestServiceAccountTokens(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw"})
	code, sa := call(t, base, admin, "POST", "/api/serviceaccounts", map[string]any{"name": "llmmon", "role": "Editor"})
	if code != 201 || str(sa, "role") != "Editor" || str(sa, "login") != "sa-1-llmmon" {
		t.Fatalf("create service account: HTTP %d %v", code, sa)
	}
	if code, _ := call(t, base, admin, "POST", "/api/serviceaccounts", map[string]any{"name": "llmmon"}); code != 400 {
		t.Errorf("duplicate service account: HTTP %d, want 400", code)
	}
	id := intField(t, sa, "id")
	code, tok := call(t, base, admin, "POST", fmt.Sprintf("/api/serviceaccounts/%d/tokens", id), map[string]any{"name": "t1"})
	key := str(tok, "key")
	if code != 200 || !strings.HasPrefix(key, "glsa_") || str(tok, "name") != "t1" || field(tok, "id") == nil {
		t.Fatalf("create token: HTTP %d %v", code, tok)
	}
	if code, _ := call(t, base, admin, "POST", fmt.Sprintf("/api/serviceaccounts/%d/tokens", id), map[string]any{"name": "t1"}); code != 409 {
		t.Errorf("duplicate token name: HTTP %d, want 409", code)
	}
	if code, _ := call(t, base, admin, "POST", "/api/serviceaccounts/999/tokens", map[string]any{"name": "t"}); code != 404 {
		t.Errorf("token for unknown account: HTTP %d, want 404", code)
	}
	editor := auth{token: key}
	if code, _ := call(t, base, editor, "POST", "/api/folders", map[string]string{"title": "By token"}); code != 200 {
		t.Errorf("editor token writes: HTTP %d, want 200", code)
	}
	if code, _ := call(t, base, editor, "POST", "/api/serviceaccounts", map[string]string{"name": "x"}); code != 403 {
		t.Errorf("editor token creates service account: HTTP %d, want 403", code)
	}
	// A viewer token can read but not write.
	_, v := call(t, base, admin, "POST", "/api/serviceaccounts", map[string]any{"name": "viewer"})
	_, vt := call(t, base, admin, "POST", fmt.Sprintf("/api/serviceaccounts/%d/tokens", intField(t, v, "id")), map[string]any{"name": "v"})
	viewer := auth{token: str(vt, "key")}
	if code, _ := call(t, base, viewer, "GET", "/api/folders", nil); code != 200 {
		t.Errorf("viewer reads: HTTP %d, want 200", code)
	}
	if code, _ := call(t, base, viewer, "POST", "/api/dashboards/db", map[string]any{"dashboard": map[string]any{"title": "v"}}); code != 403 {
		t.Errorf("viewer writes: HTTP %d, want 403", code)
	}
}

func TestDatasources(t *testing.T) {
	prov := t.TempDir()
	writeFiles(t, prov, map[string]string{"datasources/ds.yaml": `
apiVersion: 1
datasources:
  - name: Prometheus
    uid: prom
    type: prometheus
    url: ` + fakePrometheus(t, 200, "POST") + `
    isDefault: true
  - name: Prometheus by GET
    uid: prom-get
    type: prometheus
    url: ` + fakePrometheus(t, 200, "GET") + `
    jsonData:
      httpMethod: GET
  - name: Broken
    uid: broken
    type: prometheus
    url: ` + fakePrometheus(t, 503, "POST") + `
  - name: Nowhere
    uid: nowhere
    type: prometheus
    url: http://prometheus.invalid:9090
  - name: Loki
    uid: loki
    type: loki
    url: http://loki:3100
`})
	_, base := StartTest(t, Config{AdminPassword: "pw", ProvisioningDir: prov})

	code, list := call(t, base, admin, "GET", "/api/datasources", nil)
	if arr, _ := list.([]any); code != 200 || len(arr) != 5 {
		t.Fatalf("list: HTTP %d %v", code, list)
	}
	runCases(t, base, admin, []apiCase{
		{"by uid", "GET", "/api/datasources/uid/prom", nil, 200, ""},
		{"unknown uid", "GET", "/api/datasources/uid/none", nil, 404, "Data source not found"},
		{"by name", "GET", "/api/datasources/name/Prometheus", nil, 200, ""},
		{"unknown name", "GET", "/api/datasources/name/None", nil, 404, "Data source not found"},
		{"by id", "GET", "/api/datasources/1", nil, 200, ""},
		{"health ok (POST, Grafana's default)", "GET", "/api/datasources/uid/prom/health", nil, 200, "Successfully queried the Prometheus API."},
		{"health ok with httpMethod GET", "GET", "/api/datasources/uid/prom-get/health", nil, 200, "Successfully queried the Prometheus API."},
		{"health of a non-prometheus type", "GET", "/api/datasources/uid/loki/health", nil, 501, ""},
		{"health of unknown uid", "GET", "/api/datasources/uid/none/health", nil, 404, "Data source not found"},
		{"health when prometheus answers 503", "GET", "/api/datasources/uid/broken/health", nil, 400, ""},
		{"health when the host does not resolve", "GET", "/api/datasources/uid/nowhere/health", nil, 400, ""},
		{"create", "POST", "/api/datasources", map[string]any{"name": "Extra", "type": "prometheus", "url": "http://x"}, 200, "Datasource added"},
		{"create same name", "POST", "/api/datasources", map[string]any{"name": "Prometheus", "type": "prometheus"}, 409, "data source with the same name already exists"},
		{"create same uid", "POST", "/api/datasources", map[string]any{"name": "Other", "uid": "prom", "type": "prometheus"}, 409, "data source with the same uid already exists"},
		{"create without type", "POST", "/api/datasources", map[string]any{"name": "NoType"}, 400, ""},
		{"delete provisioned", "DELETE", "/api/datasources/uid/prom", nil, 403, "Cannot delete read-only data source"},
		{"delete unknown", "DELETE", "/api/datasources/uid/none", nil, 404, "Data source not found"},
		{"delete created", "DELETE", "/api/datasources/name/Extra", nil, 200, "Data source deleted"},
	})
	// Secrets are stored, never shown: only their names, in secureJsonFields.
	code, created := call(t, base, admin, "POST", "/api/datasources", map[string]any{"name": "Secret", "uid": "sec", "type": "prometheus", "url": "http://s", "readOnly": true, "basicAuth": true, "basicAuthUser": "u", "secureJsonData": map[string]string{"basicAuthPassword": "hunter2"}})
	if code != 200 || str(field(created, "datasource"), "uid") != "sec" || field(field(created, "datasource"), "readOnly") != false {
		t.Errorf("create with secrets: HTTP %d %v", code, created)
	}
	code, sec := call(t, base, admin, "GET", "/api/datasources/uid/sec", nil)
	if raw := fmt.Sprint(sec); code != 200 || strings.Contains(raw, "hunter2") || field(field(sec, "secureJsonFields"), "basicAuthPassword") != true {
		t.Errorf("datasource with secrets: HTTP %d %v", code, sec)
	}
	_, ds := call(t, base, admin, "GET", "/api/datasources/uid/prom", nil)
	if str(ds, "name") != "Prometheus" || field(ds, "readOnly") != true || field(ds, "isDefault") != true {
		t.Errorf("provisioned datasource = %v", ds)
	}
	_, h := call(t, base, admin, "GET", "/api/datasources/uid/nowhere/health", nil)
	if str(h, "status") != "ERROR" || !strings.Contains(str(h, "message"), "prometheus.invalid") {
		t.Errorf("failed health should name what failed: %v", h)
	}
	_, h = call(t, base, admin, "GET", "/api/datasources/uid/broken/health", nil)
	if !strings.Contains(str(h, "message"), "503") {
		t.Errorf("failed health should name the HTTP status: %v", h)
	}
}

func TestFolders(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw"})
	code, f := call(t, base, admin, "POST", "/api/folders", map[string]string{"uid": "llm", "title": "LLM Monitoring"})
	if code != 200 || str(f, "uid") != "llm" || str(f, "title") != "LLM Monitoring" || str(f, "url") != "/dashboards/f/llm/llm-monitoring" || intField(t, f, "version") != 1 || field(f, "id") == nil {
		t.Fatalf("create: HTTP %d %v", code, f)
	}
	runCases(t, base, admin, []apiCase{
		{"same uid", "POST", "/api/folders", map[string]string{"uid": "llm", "title": "Other"}, 409, "A folder/dashboard with the same uid already exists"},
		{"same title", "POST", "/api/folders", map[string]string{"title": "LLM Monitoring"}, 409, "A folder or dashboard in the general folder with the same name already exists"},
		{"no title", "POST", "/api/folders", map[string]string{"uid": "x"}, 400, "Folder title cannot be empty"},
		{"bad uid", "POST", "/api/folders", map[string]string{"uid": "a b", "title": "T"}, 400, "uid contains illegal characters"},
		{"long uid", "POST", "/api/folders", map[string]string{"uid": strings.Repeat("a", 41), "title": "T"}, 400, "uid too long, max 40 characters"},
		{"bad json", "POST", "/api/folders", "{", 400, "bad request data"},
		{"get", "GET", "/api/folders/llm", nil, 200, ""},
		{"get unknown", "GET", "/api/folders/none", nil, 404, "Folder not found"},
		{"get by id unknown", "GET", "/api/folders/id/999", nil, 404, "Folder not found"},
		{"update stale version", "PUT", "/api/folders/llm", map[string]any{"title": "New", "version": 0}, 412, "The folder has been changed by someone else"},
		{"delete unknown", "DELETE", "/api/folders/none", nil, 404, "Folder not found"},
	})
	call(t, base, admin, "POST", "/api/folders", map[string]string{"title": "Another"})
	_, list := call(t, base, admin, "GET", "/api/folders", nil)
	arr, _ := list.([]any)
	if len(arr) != 2 || str(arr[0], "title") != "Another" || str(arr[1], "uid") != "llm" {
		t.Errorf("list = %v", list)
	}
	_, list = call(t, base, admin, "GET", "/api/folders?limit=1&page=2", nil)
	if arr, _ := list.([]any); len(arr) != 1 || str(arr[0], "uid") != "llm" {
		t.Errorf("page 2 of 1 = %v", list)
	}
	if code, body := call(t, base, admin, "DELETE", "/api/folders/llm", nil); code != 200 || str(body, "message") != "Folder LLM Monitoring deleted" {
		t.Errorf("delete: HTTP %d %v", code, body)
	}
}

func dashBody(d map[string]any, extra map[string]any) map[string]any {
	b := map[string]any{"dashboard": d}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func TestDashboardSave(t *testing.T) {
	prov := t.TempDir()
	writeFiles(t, prov, map[string]string{
		"dashboards/p.yaml": "apiVersion: 1\nproviders:\n  - name: p\n    type: file\n    options:\n      path: " + prov + "/json\n",
		"json/p.json":       `{"uid":"prov","title":"Provisioned"}`,
	})
	srv, base := StartTest(t, Config{AdminPassword: "pw", ProvisioningDir: prov})
	call(t, base, admin, "POST", "/api/folders", map[string]string{"uid": "f1", "title": "F1"})

	// The stored JSON is what was sent, unknown fields and exact numbers
	// included, plus id, uid and version.
	sent := `{"id":null,"uid":"llm","title":"LLM","version":0,"schemaVersion":41,"futureField":{"nested":[1,2.50,"x"],"big":12345678901234567890},"panels":[{"type":"timeseries","fieldConfig":{"defaults":{"unit":"s"}}}]}`
	code, res := call(t, base, admin, "POST", "/api/dashboards/db", `{"dashboard":`+sent+`,"folderUid":"f1","overwrite":false,"message":"first"}`)
	if code != 200 || str(res, "status") != "success" || str(res, "uid") != "llm" || intField(t, res, "version") != 1 || str(res, "url") != "/d/llm/llm" || str(res, "slug") != "llm" {
		t.Fatalf("create: HTTP %d %v", code, res)
	}
	id := intField(t, res, "id")
	stored, ok := srv.Dashboard("llm")
	if !ok {
		t.Fatal("Dashboard(llm) not found")
	}
	var want, got map[string]any
	unmarshalNumbers([]byte(sent), &want)
	unmarshalNumbers(stored, &got)
	want["id"], want["version"] = json.Number(fmt.Sprint(id)), json.Number("1")
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored dashboard changed:\n got %s\nwant %s", stored, sent)
	}

	tests := []struct {
		name     string
		body     any
		wantCode int
		wantMsg  string
		wantTag  string
	}{
		{"stale version without overwrite", dashBody(map[string]any{"uid": "llm", "title": "LLM", "version": 0}, map[string]any{"folderUid": "f1"}), 412, "The dashboard has been changed by someone else", "version-mismatch"},
		{"same title other uid in folder", dashBody(map[string]any{"uid": "other", "title": "LLM"}, map[string]any{"folderUid": "f1"}), 412, "A dashboard with the same name in the folder already exists", "name-exists"},
		{"same title in another folder is fine", dashBody(map[string]any{"uid": "other", "title": "LLM"}, nil), 200, "", ""},
		{"no title", dashBody(map[string]any{"uid": "t"}, nil), 400, "Dashboard title cannot be empty", ""},
		{"no dashboard", map[string]any{"overwrite": true}, 400, "Dashboard title cannot be empty", ""},
		{"unknown id", dashBody(map[string]any{"id": 999, "title": "X"}, nil), 404, "Dashboard not found", ""},
		{"unknown folder uid", dashBody(map[string]any{"title": "X"}, map[string]any{"folderUid": "nope"}), 400, "folder not found", ""},
		{"unknown folder id", dashBody(map[string]any{"title": "X"}, map[string]any{"folderId": 999}), 400, "folder not found", ""},
		{"provisioned", dashBody(map[string]any{"uid": "prov", "title": "Provisioned", "version": 1}, nil), 400, "Cannot save provisioned dashboard", ""},
		{"provisioned with overwrite", dashBody(map[string]any{"uid": "prov", "title": "Provisioned"}, map[string]any{"overwrite": true}), 400, "Cannot save provisioned dashboard", ""},
		{"illegal uid", dashBody(map[string]any{"uid": "a/b", "title": "X"}, nil), 400, "uid contains illegal characters", ""},
		{"bad json", `{"dashboard":`, 400, "bad request data", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := call(t, base, admin, "POST", "/api/dashboards/db", tc.body)
			if code != tc.wantCode {
				t.Fatalf("HTTP %d, want %d: %v", code, tc.wantCode, body)
			}
			if tc.wantMsg != "" && str(body, "message") != tc.wantMsg {
				t.Errorf("message %q, want %q", str(body, "message"), tc.wantMsg)
			}
			if str(body, "status") != tc.wantTag && tc.wantCode != 200 {
				t.Errorf("status %q, want %q", str(body, "status"), tc.wantTag)
			}
		})
	}

	// Saving with the current version, or with overwrite, bumps the version.
	code, res = call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "llm", "title": "LLM", "version": 1}, map[string]any{"folderUid": "f1", "message": "second"}))
	if code != 200 || intField(t, res, "version") != 2 || intField(t, res, "id") != id {
		t.Fatalf("update with current version: HTTP %d %v", code, res)
	}
	code, res = call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "llm", "title": "LLM", "version": 0}, map[string]any{"folderUid": "f1", "overwrite": true}))
	if code != 200 || intField(t, res, "version") != 3 {
		t.Fatalf("overwrite: HTTP %d %v", code, res)
	}
	// Overwrite with the same title and another uid takes that dashboard over, as Grafana does.
	code, res = call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "llm2", "title": "LLM"}, map[string]any{"folderUid": "f1", "overwrite": true}))
	if code != 200 || str(res, "uid") != "llm" || intField(t, res, "version") != 4 {
		t.Fatalf("overwrite by title: HTTP %d %v", code, res)
	}

	// GET returns the dashboard and its meta.
	code, got2 := call(t, base, admin, "GET", "/api/dashboards/uid/llm", nil)
	meta := field(got2, "meta")
	if code != 200 || str(meta, "folderUid") != "f1" || str(meta, "folderTitle") != "F1" || intField(t, meta, "version") != 4 || field(meta, "provisioned") != false || str(meta, "slug") != "llm" || str(meta, "createdBy") != "admin" {
		t.Fatalf("get: HTTP %d %v", code, got2)
	}
	if intField(t, field(got2, "dashboard"), "version") != 4 {
		t.Errorf("dashboard.version = %v, want 4", field(field(got2, "dashboard"), "version"))
	}
	_, pm := call(t, base, admin, "GET", "/api/dashboards/uid/prov", nil)
	if field(field(pm, "meta"), "provisioned") != true {
		t.Errorf("provisioned meta = %v", pm)
	}
	if code, body := call(t, base, admin, "GET", "/api/dashboards/uid/none", nil); code != 404 || str(body, "message") != "Dashboard not found" {
		t.Errorf("get unknown: HTTP %d %v", code, body)
	}

	// Versions, newest first, with their messages.
	code, vs := call(t, base, admin, "GET", "/api/dashboards/uid/llm/versions", nil)
	versions, _ := field(vs, "versions").([]any)
	if code != 200 || len(versions) != 4 || intField(t, versions[0], "version") != 4 || str(versions[3], "message") != "first" || str(versions[2], "message") != "second" || str(versions[0], "createdBy") != "admin" {
		t.Fatalf("versions: HTTP %d %v", code, vs)
	}

	// A simulated UI edit bumps the version, so a stale import gets 412.
	v, err := srv.EditDashboard("llm", func(d map[string]any) { d["title"] = "LLM (edited)" })
	if err != nil || v != 5 {
		t.Fatalf("EditDashboard = %d, %v", v, err)
	}
	code, _ = call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "llm", "title": "LLM", "version": 4}, map[string]any{"folderUid": "f1"}))
	if code != 412 {
		t.Errorf("save after UI edit: HTTP %d, want 412", code)
	}
	if _, err := srv.EditDashboard("none", func(map[string]any) {}); err == nil {
		t.Error("EditDashboard(none) succeeded")
	}

	// Delete.
	if code, body := call(t, base, admin, "DELETE", "/api/dashboards/uid/prov", nil); code != 400 {
		t.Errorf("delete provisioned: HTTP %d %v", code, body)
	}
	if code, body := call(t, base, admin, "DELETE", "/api/dashboards/uid/llm", nil); code != 200 || str(body, "title") != "LLM (edited)" {
		t.Errorf("delete: HTTP %d %v", code, body)
	}
	if code, _ := call(t, base, admin, "DELETE", "/api/dashboards/uid/llm", nil); code != 404 {
		t.Errorf("delete again: HTTP %d, want 404", code)
	}
}

func TestSearch(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw"})
	call(t, base, admin, "POST", "/api/folders", map[string]string{"uid": "f1", "title": "LLM Monitoring"})
	call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "a", "title": "Alpha LLM", "tags": []string{"llm", "vllm"}}, map[string]any{"folderUid": "f1"}))
	call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"uid": "b", "title": "Beta", "tags": []string{"llm"}}, nil))

	uids := func(v any) string {
		var out []string
		arr, _ := v.([]any)
		for _, h := range arr {
			out = append(out, str(h, "uid"))
		}
		return strings.Join(out, ",")
	}
	tests := []struct{ query, want string }{
		{"", "f1,a,b"},
		{"?type=dash-db", "a,b"},
		{"?type=dash-folder", "f1"},
		{"?query=llm", "f1,a"},
		{"?query=ALPHA", "a"},
		{"?folderUIDs=f1", "a"},
		{"?folderUIDs=general&type=dash-db", "b"},
		{"?folderIds=0&type=dash-db", "b"},
		{"?dashboardUIDs=b", "b"},
		{"?dashboardUIDs=a,b&type=dash-db", "a,b"},
		{"?tag=llm", "a,b"},
		{"?tag=llm&tag=vllm", "a"},
		{"?starred=true", ""},
		{"?limit=1", "f1"},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			code, body := call(t, base, admin, "GET", "/api/search"+tc.query, nil)
			if code != 200 || uids(body) != tc.want {
				t.Errorf("HTTP %d, uids %q, want %q: %v", code, uids(body), tc.want, body)
			}
		})
	}
	_, body := call(t, base, admin, "GET", "/api/search?dashboardUIDs=a", nil)
	hit := body.([]any)[0]
	if str(hit, "type") != "dash-db" || str(hit, "folderUid") != "f1" || str(hit, "folderTitle") != "LLM Monitoring" || str(hit, "url") != "/d/a/alpha-llm" || str(hit, "uri") != "db/alpha-llm" {
		t.Errorf("hit = %v", hit)
	}
}

func TestConcurrentSaves(t *testing.T) {
	_, base := StartTest(t, Config{AdminPassword: "pw", DataDir: t.TempDir()})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				call(t, base, admin, "POST", "/api/dashboards/db", dashBody(map[string]any{"title": fmt.Sprintf("d-%d-%d", i, j)}, nil))
				call(t, base, admin, "GET", "/api/search", nil)
			}
		}()
	}
	wg.Wait()
	_, body := call(t, base, admin, "GET", "/api/search?type=dash-db", nil)
	if n := len(body.([]any)); n != 40 {
		t.Errorf("%d dashboards after concurrent saves, want 40", n)
	}
}
