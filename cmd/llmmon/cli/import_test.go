package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/enginetest"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/test/grafanadouble"
)

func TestImportFlagsToOptions(t *testing.T) {
	for _, k := range []string{"LLMMON_GRAFANA_TOKEN", "LLMMON_GRAFANA_PASSWORD", "GRAFANA_URL", "GRAFANA_TOKEN"} {
		t.Setenv(k, "")
	}
	def := grafana.DefaultFolder
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		stdin   string
		want    importOptions
		wantErr string
	}{
		{name: "token", args: []string{"--grafana-url", "http://g:3000", "--token", "T"},
			want: importOptions{GrafanaURL: "http://g:3000", Auth: grafana.Auth{Token: "T"}, Folder: def}},
		{name: "basic, folder, datasource, force", args: []string{"--grafana-url", "https://g/x", "--user", "u", "--password", "p", "--folder", "AI", "--datasource", "Prom", "--force-dashboard"},
			want: importOptions{GrafanaURL: "https://g/x", Auth: grafana.Auth{User: "u", Password: "p"}, Folder: "AI", Datasource: "Prom", Force: true}},
		{name: "deprecated --force still forces", args: []string{"--grafana-url", "http://g", "--token", "T", "--force"},
			want: importOptions{GrafanaURL: "http://g", Auth: grafana.Auth{Token: "T"}, Folder: def, Force: true}},
		{name: "token from env", args: []string{"--grafana-url", "http://g:3000"}, env: map[string]string{"LLMMON_GRAFANA_TOKEN": "E"},
			want: importOptions{GrafanaURL: "http://g:3000", Auth: grafana.Auth{Token: "E"}, Folder: def}},
		{name: "grafana's conventional env", env: map[string]string{"GRAFANA_URL": "https://g.example", "GRAFANA_TOKEN": "G"},
			want: importOptions{GrafanaURL: "https://g.example", Auth: grafana.Auth{Token: "G"}, Folder: def}},
		{name: "llmmon's env wins over grafana's", args: []string{"--grafana-url", "http://g"}, env: map[string]string{"LLMMON_GRAFANA_TOKEN": "L", "GRAFANA_TOKEN": "G"},
			want: importOptions{GrafanaURL: "http://g", Auth: grafana.Auth{Token: "L"}, Folder: def}},
		{name: "flags win over env", args: []string{"--grafana-url", "http://flag", "--token", "F"}, env: map[string]string{"GRAFANA_URL": "http://env", "GRAFANA_TOKEN": "G"},
			want: importOptions{GrafanaURL: "http://flag", Auth: grafana.Auth{Token: "F"}, Folder: def}},
		{name: "password from env", args: []string{"--grafana-url", "http://g:3000", "--user", "u"}, env: map[string]string{"LLMMON_GRAFANA_PASSWORD": "pw"},
			want: importOptions{GrafanaURL: "http://g:3000", Auth: grafana.Auth{User: "u", Password: "pw"}, Folder: def}},
		{name: "password from stdin", args: []string{"--grafana-url", "http://g", "--user", "u", "--password-stdin"}, stdin: "s3cret\n", env: map[string]string{"LLMMON_GRAFANA_PASSWORD": "env"},
			want: importOptions{GrafanaURL: "http://g", Auth: grafana.Auth{User: "u", Password: "s3cret"}, PasswordStdin: true, Folder: def}},
		{name: "tls, org, nested folder", args: []string{"--grafana-url", "https://g", "--token", "T", "--ca-file", "ca.pem", "--org-id", "3", "--folder", "Platform/LLM"},
			want: importOptions{GrafanaURL: "https://g", Auth: grafana.Auth{Token: "T"}, TLS: grafana.TLSOptions{CAFile: "ca.pem"}, OrgID: 3, Folder: "Platform/LLM"}},
		{name: "folder uid", args: []string{"--grafana-url", "https://g", "--token", "T", "--insecure-skip-tls-verify", "--folder-uid", "abc"},
			want: importOptions{GrafanaURL: "https://g", Auth: grafana.Auth{Token: "T"}, TLS: grafana.TLSOptions{InsecureSkipVerify: true}, Folder: def, FolderUID: "abc"}},
		{name: "no url", args: []string{"--token", "T"}, wantErr: "--grafana-url (or GRAFANA_URL) is required with --token"},
		{name: "no url, org", args: []string{"--org-id", "2"}, wantErr: "is required with --org-id"},
		{name: "bad url", args: []string{"--grafana-url", "localhost:3000", "--token", "T"}, wantErr: "invalid --grafana-url"},
		{name: "no credentials", args: []string{"--grafana-url", "http://g"}, wantErr: "no credentials"},
		{name: "both", args: []string{"--grafana-url", "http://g", "--token", "T", "--user", "u", "--password", "p"}, wantErr: "not both"},
		{name: "user without password", args: []string{"--grafana-url", "http://g", "--user", "u"}, wantErr: "--user needs --password"},
		{name: "stdin without user", args: []string{"--grafana-url", "http://g", "--password-stdin"}, stdin: "x", wantErr: "--password-stdin needs --user"},
		{name: "stdin and password", args: []string{"--grafana-url", "http://g", "--user", "u", "--password", "p", "--password-stdin"}, stdin: "x", wantErr: "not both"},
		{name: "empty stdin", args: []string{"--grafana-url", "http://g", "--user", "u", "--password-stdin"}, stdin: "\n", wantErr: "standard input was empty"},
		{name: "tls flags on http", args: []string{"--grafana-url", "http://g", "--token", "T", "--ca-file", "ca.pem"}, wantErr: "need an https://"},
		{name: "bad folder path", args: []string{"--grafana-url", "http://g", "--token", "T", "--folder", "A//B"}, wantErr: "empty part"},
		{name: "bad org", args: []string{"--grafana-url", "http://g", "--token", "T", "--org-id", "-1"}, wantErr: "invalid --org-id"},
		{name: "args", args: []string{"--grafana-url", "http://g", "--token", "T", "extra"}, wantErr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var got *importOptions
			f := &Factory{Globals: &Globals{}, IO: IOStreams{In: strings.NewReader(tt.stdin)}}
			cmd := newImportCmd(f, func(_ context.Context, o *importOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Globals = IOStreams{}, nil
			tt.want.Output = "text"
			if *got != tt.want {
				t.Errorf("options = %+v\nwant      %+v", *got, tt.want)
			}
		})
	}
}

func TestImportAgainstGrafanaDouble(t *testing.T) {
	srv, err := grafanadouble.New(grafanadouble.Config{AdminPassword: "pw", Tokens: []string{"tok"}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	admin := grafana.NewClient(ts.URL, grafana.Auth{Token: "tok"})
	for _, ds := range []map[string]any{
		{"name": "Prometheus", "uid": "prom-main", "type": "prometheus", "url": "http://p:9090", "isDefault": true},
		{"name": "Prom staging", "uid": "prom-staging", "type": "prometheus", "url": "http://s:9090"},
	} {
		if err := admin.Do(context.Background(), http.MethodPost, "/api/datasources", ds, nil); err != nil {
			t.Fatal(err)
		}
	}

	out, _, err := run(t, "import", "--grafana-url", ts.URL, "--user", "admin", "--password", "pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`datasource "Prometheus" (uid prom-main)`, `created in folder "LLM Monitoring" (version 1`, ts.URL + "/d/llmmon-llm-server"} {
		if !strings.Contains(out, want) {
			t.Errorf("first import output lacks %q:\n%s", want, out)
		}
	}
	out, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "tok")
	if err != nil || !strings.Contains(out, "unchanged") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	// Another datasource makes a different dashboard default: updated.
	out, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "tok", "--datasource", "Prom staging")
	if err != nil || !strings.Contains(out, `(uid prom-staging)`) || !strings.Contains(out, "updated") {
		t.Fatalf("import --datasource: %v\n%s", err, out)
	}
	if _, err := srv.EditDashboard("llmmon-llm-server", func(d map[string]any) { d["title"] = "mine" }); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "tok")
	if err != nil || !strings.Contains(out, "kept-user-edits") || !strings.Contains(out, "--force-dashboard") {
		t.Fatalf("import after a user edit: %v\n%s", err, out)
	}
	out, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "tok", "--force-dashboard")
	if err != nil || !strings.Contains(out, "updated") {
		t.Fatalf("import --force-dashboard: %v\n%s", err, out)
	}

	// -o json: one object, snake_case keys, for scripts.
	out, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "tok", "-o", "json", "--folder", "Platform/LLM", "--force-dashboard")
	if err != nil {
		t.Fatalf("import -o json: %v", err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("import -o json is not one JSON object: %v\n%s", err, out)
	}
	dash, _ := rep["dashboard"].(map[string]any)
	if rep["grafana_url"] != ts.URL || rep["grafana_version"] == "" || dash["action"] != "updated" || dash["folder"] != "Platform/LLM" || dash["folder_uid"] == "" || !strings.HasPrefix(fmt.Sprint(dash["url"]), ts.URL+"/d/llmmon-llm-server") {
		t.Errorf("import -o json:\n%s", out)
	}
	if ds, _ := rep["datasource"].(map[string]any); ds["uid"] != "prom-main" {
		t.Errorf("datasource in -o json: %v", rep["datasource"])
	}

	_, _, err = run(t, "import", "--grafana-url", ts.URL, "--token", "wrong")
	if err == nil || !strings.Contains(err.Error(), "rejected the credentials (HTTP 401)") {
		t.Errorf("bad token: %v", err)
	}
	_, _, err = run(t, "import", "--grafana-url", ts.URL+"/sub", "--token", "tok")
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("wrong path: %v", err)
	}
	ts2 := httptest.NewServer(http.NotFoundHandler())
	ts2.Close()
	_, _, err = run(t, "import", "--grafana-url", ts2.URL, "--token", "tok")
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused: %v", err)
	}
}

// The fixes doctor prints for the dashboard are commands that work: run
// as printed, they bring the dashboard back, and doctor then passes.
func TestDoctorDashboardFixesWork(t *testing.T) {
	dir := t.TempDir()
	cfg := stack.Default()
	cfg.Name = "fix"
	r, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stack.WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(stack.AdminPasswordPath(dir), []byte("s3cret\n"), 0o600)
	srv, url := grafanadouble.StartTest(t, grafanadouble.Config{AdminPassword: "s3cret", ProvisioningDir: filepath.Join(dir, "grafana", "provisioning")})
	closed := fmt.Sprintf("http://127.0.0.1:%d", testenv.FreePort(t)) // nothing listens there
	st := stack.State{Config: cfg, Names: stack.NamesFor(cfg.Name), GrafanaURL: url, PrometheusURL: closed, AdminUser: stack.AdminUser}
	if err := stack.SaveState(dir, st); err != nil {
		t.Fatal(err)
	}
	dashboardCheck := func() doctor.Result {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		o := doctor.Options{Dir: dir, Config: cfg, State: &st, Engine: enginetest.New(), GrafanaURL: url, PrometheusURL: closed,
			MetricsURL: closed + "/metrics", Getenv: func(string) string { return "" }}
		for _, res := range doctor.Run(ctx, doctor.Checks(ctx, o)).Results {
			if res.Group == "Grafana" && res.Check == "dashboard" {
				return res
			}
		}
		t.Fatal("no Grafana › dashboard check")
		return doctor.Result{}
	}
	// fixCommand is the `llmmon import ...` command the fix names.
	fixCommand := func(res doctor.Result) []string {
		t.Helper()
		m := regexp.MustCompile("`(llmmon import[^`]*)`").FindStringSubmatch(res.Fix)
		if m == nil {
			t.Fatalf("fix names no llmmon import command: %+v", res)
		}
		return strings.Fields(m[1])[1:]
	}
	runFix := func(args []string) {
		t.Helper()
		out, errOut, err := runFake(t, enginetest.New(), args...)
		if err != nil {
			t.Fatalf("llmmon %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		if !strings.Contains(out, "grafana "+grafanadouble.Version+" of stack fix at "+url) || !strings.Contains(out, "/d/"+dashboards.UID) {
			t.Errorf("import output:\n%s", out)
		}
	}

	res := dashboardCheck()
	if res.Status != doctor.StatusFail || !strings.Contains(res.Message, "no dashboard") {
		t.Fatalf("no dashboard yet: %+v", res)
	}
	runFix(fixCommand(res))
	if res := dashboardCheck(); res.Status != doctor.StatusOK {
		t.Fatalf("after the fix: %+v", res)
	}
	if got, _ := stack.LoadState(dir); got.DashboardVersion == 0 {
		t.Error("import did not record the version it wrote, so the next up would take it for a user's edit")
	}

	// A user points a panel at a datasource that is then deleted.
	if _, err := srv.EditDashboard(dashboards.UID, func(d map[string]any) {
		d["panels"].([]any)[0].(map[string]any)["datasource"] = map[string]any{"type": "prometheus", "uid": "deleted-prometheus"}
	}); err != nil {
		t.Fatal(err)
	}
	res = dashboardCheck()
	if res.Status != doctor.StatusFail || !strings.Contains(res.Message, "deleted-prometheus") {
		t.Fatalf("missing datasource: %+v", res)
	}
	args := fixCommand(res)
	if !slices.Contains(args, "--force-dashboard") {
		t.Errorf("an edited dashboard is replaced only with --force-dashboard: %q", args)
	}
	runFix(args)
	if res := dashboardCheck(); res.Status != doctor.StatusOK {
		t.Fatalf("after the fix: %+v", res)
	}

	// Without a recorded stack import says how to get one, or to name a Grafana.
	_, _, err = runFake(t, enginetest.New(), "import", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "run `llmmon up --dir") || !strings.Contains(err.Error(), "--grafana-url") {
		t.Errorf("no stack: %v", err)
	}
}
