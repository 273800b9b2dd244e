package grafanadouble

import (
	"strings"
	"testing"
)

func TestProvisioningEnvExpansion(t *testing.T) {
	prov := t.TempDir()
	writeFiles(t, prov, map[string]string{
		"datasources/prometheus.yml": `apiVersion: 1
datasources:
  - name: $DS_NAME
    uid: ${DS_UID}
    type: prometheus
    access: proxy
    url: http://${PROM_HOST}:$PROM_PORT
    isDefault: true
    editable: false
    jsonData:
      timeInterval: ${SCRAPE}
      literal: "price $$5"
`,
		"datasources/ignored.txt": "not: [yaml",
		"dashboards/llmmon.yaml": `apiVersion: 1
providers:
  - name: user
    folder: ${FOLDER}
    type: file
    options:
      path: ` + prov + `/json
`,
		"json/a.json":        `{"uid":"a","title":"A"}`,
		"json/sub/b.json":    `{"title":"B, no uid"}`,
		"json/broken.json":   `{"title":`,
		"json/notitle.json":  `{"uid":"nt"}`,
		"json/readme.txt":    "ignored",
		"datasources/x.yaml": "", // an empty file is fine
	})
	env := envMap(map[string]string{"DS_NAME": "Prometheus", "DS_UID": "llmmon-prometheus", "PROM_HOST": "prometheus", "PROM_PORT": "9090", "SCRAPE": "15s", "FOLDER": "User dashboards"})
	srv, base := StartTest(t, Config{AdminPassword: "pw", ProvisioningDir: prov, Env: env})

	ds := srv.Datasources()
	if len(ds) != 1 {
		t.Fatalf("datasources = %+v", ds)
	}
	d := ds[0]
	if d.Name != "Prometheus" || d.UID != "llmmon-prometheus" || d.URL != "http://prometheus:9090" || !d.IsDefault || !d.ReadOnly || !d.Provisioned {
		t.Errorf("datasource = %+v", d)
	}
	if d.JSONData["timeInterval"] != "15s" || d.JSONData["literal"] != "price $5" {
		t.Errorf("jsonData = %v", d.JSONData)
	}

	_, hits := call(t, base, admin, "GET", "/api/search?type=dash-db", nil)
	var titles []string
	for _, h := range hits.([]any) {
		titles = append(titles, str(h, "title")+"@"+str(h, "folderTitle"))
	}
	if got := strings.Join(titles, ","); got != "A@User dashboards,B, no uid@User dashboards" {
		t.Errorf("provisioned dashboards = %s", got)
	}
}

func TestProvisioningRefusesBadFiles(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"bad datasource yaml", map[string]string{"datasources/a.yaml": "apiVersion: 1\ndatasources:\n  - name: [unclosed\n"}, "yaml"},
		{"unknown datasource apiVersion", map[string]string{"datasources/a.yaml": "apiVersion: 2\ndatasources: []\n"}, "apiVersion 2"},
		{"datasource without name", map[string]string{"datasources/a.yaml": "apiVersion: 1\ndatasources:\n  - type: prometheus\n    url: http://p\n"}, "has no name"},
		{"datasource without type", map[string]string{"datasources/a.yaml": "apiVersion: 1\ndatasources:\n  - name: P\n"}, "has no type"},
		{"two default datasources", map[string]string{
			"datasources/a.yaml": "apiVersion: 1\ndatasources:\n  - name: A\n    type: prometheus\n    isDefault: true\n",
			"datasources/b.yml":  "apiVersion: 1\ndatasources:\n  - name: B\n    type: prometheus\n    isDefault: true\n",
		}, "Only one datasource per organization can be marked as default"},
		{"datasources is not a list", map[string]string{"datasources/a.yaml": "apiVersion: 1\ndatasources: {name: x}\n"}, "cannot unmarshal"},
		{"bad dashboard provider yaml", map[string]string{"dashboards/a.yaml": "apiVersion: 1\nproviders: [\n"}, "Dashboard provisioning error"},
		{"unknown dashboard apiVersion", map[string]string{"dashboards/a.yaml": "apiVersion: 3\nproviders: []\n"}, "apiVersion 3"},
		{"provider without path", map[string]string{"dashboards/a.yaml": "apiVersion: 1\nproviders:\n  - name: p\n    type: file\n"}, "has no options.path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			prov := t.TempDir()
			writeFiles(t, prov, tc.files)
			_, err := New(Config{ProvisioningDir: prov})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestProvisioningUpdatesStoredDatasource(t *testing.T) {
	data, prov := t.TempDir(), t.TempDir()
	write := func(url string) {
		writeFiles(t, prov, map[string]string{"datasources/p.yaml": "apiVersion: 1\ndatasources:\n  - name: P\n    uid: p\n    type: prometheus\n    url: " + url + "\n    editable: true\n"})
	}
	write("http://one:9090")
	srv, _ := StartTest(t, Config{DataDir: data, ProvisioningDir: prov})
	id := srv.Datasources()[0].ID
	write("http://two:9090")
	srv2, _ := StartTest(t, Config{DataDir: data, ProvisioningDir: prov})
	ds := srv2.Datasources()
	if len(ds) != 1 || ds[0].URL != "http://two:9090" || ds[0].ID != id || ds[0].ReadOnly {
		t.Errorf("after re-provisioning: %+v (want one datasource, same id %d, new url, editable)", ds, id)
	}
}
