package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/compose"
	"github.com/llmmon/llmmon/stack/kubernetes"
	"github.com/llmmon/llmmon/stack/prometheus"
)

func TestRenderExportFlags(t *testing.T) {
	var got *renderOptions
	f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
	cmd := newRenderCmd(f, func(o *renderOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--kubernetes", "k8s", "--compose", "c", "--namespace", "obs", "--release", "prom", "--monitor", "ServiceMonitor",
		"--gateway-upstream", "http://a:8000/v1", "--gateway-upstream", "b=http://b:8000/v1", "--gateway-image", "reg/llmmon:1", "--grafana-operator"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	k := got.Settings.Config.Kubernetes
	if got.Export != (exportOptions{KubernetesDir: "k8s", ComposeDir: "c"}) || k.Namespace != "obs" || k.Release != "prom" || k.Monitor != "ServiceMonitor" ||
		strings.Join(k.Gateway.Upstreams, " ") != "http://a:8000/v1 b=http://b:8000/v1" || k.Gateway.Image != "reg/llmmon:1" || !k.Grafana.Operator {
		t.Fatalf("options %+v, kubernetes %+v", got.Export, k)
	}

	// Flags win over llmmon.yaml; unset flags leave it alone.
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("kubernetes:\n  namespace: from-file\n  release: from-file\n  engines:\n    - {kind: vllm, selector: {app: vllm}}\n"), 0o644)
	f.Globals.ConfigPath = settings
	cmd = newRenderCmd(f, func(o *renderOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--kubernetes", "k8s", "--release", "flag"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if k := got.Settings.Config.Kubernetes; k.Namespace != "from-file" || k.Release != "flag" || len(k.Engines) != 1 || k.Engines[0].Selector["app"] != "vllm" {
		t.Fatalf("kubernetes %+v", k)
	}
}

func TestRenderExportBadSettings(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--namespace", "obs"}, []string{"--namespace is a setting of --kubernetes: pass --kubernetes DIR too"}},
		// A setting is named as the user gave it: the flag, or the key of
		// llmmon.yaml (F) and its line.
		{[]string{"--kubernetes", "K", "--namespace", "Obs"}, []string{`--namespace: "Obs" is not a namespace name`}},
		{[]string{"--kubernetes", "K", "--gateway-upstream", "vllm:8000"}, []string{`--gateway-upstream: "vllm:8000": want [NAME=]URL`}},
		{[]string{"--kubernetes", "K", "--config", "F"}, []string{
			`kubernetes.namespace (F line 2): "Obs" is not a namespace name`,
			`kubernetes.gateway.upstreams[0] (F line 5): "vllm:8000": want [NAME=]URL`,
			`kubernetes.engines[0].kind (F line 7): unknown engine "ollama"`,
		}},
		// Every problem at once, the stack's own settings among them.
		{[]string{"--kubernetes", "K", "--monitor", "Probe", "--grafana-port", "0"}, []string{
			`--monitor: "Probe": want PodMonitor or ServiceMonitor`, "invalid port 0 for --grafana-port",
		}},
		{[]string{"--compose", "C", "--grafana-port", "0"}, []string{"invalid port 0 for --grafana-port"}},
		// Nothing is written, not even the output whose settings are right.
		{[]string{"--compose", "C", "--kubernetes", "K", "--monitor", "Probe"}, []string{`--monitor: "Probe": want PodMonitor or ServiceMonitor`}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			settings := filepath.Join(t.TempDir(), "llmmon.yaml")
			os.WriteFile(settings, []byte("kubernetes:\n  namespace: Obs\n  gateway:\n    upstreams:\n      - vllm:8000\n  engines:\n    - kind: ollama\n"), 0o644)
			args := append([]string{"render", "--dir", filepath.Join(dir, "d")}, tt.args...)
			for i, a := range args {
				switch a {
				case "K":
					args[i] = filepath.Join(dir, "k8s")
				case "C":
					args[i] = filepath.Join(dir, "compose")
				case "F":
					args[i] = settings
				}
			}
			_, _, err := run(t, args...)
			for _, want := range tt.want {
				want = strings.ReplaceAll(want, "(F line", "("+settings+" line")
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want %q", err, want)
				}
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("bad settings still wrote %v", entries)
			}
		})
	}
}

func TestRenderKubernetesSettingsAreReadStrictly(t *testing.T) {
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("kubernetes:\n  namespace: obs\n  engines:\n    - {kind: vllm, selectr: {app: vllm}}\n"), 0o644)
	_, _, err := run(t, "render", "--config", settings, "--kubernetes", filepath.Join(t.TempDir(), "k8s"))
	if err == nil || !strings.Contains(err.Error(), `line 4: unknown key "selectr"`) {
		t.Fatalf("err = %v, want the misspelt key and its line", err)
	}
}

func TestRenderKubernetesWritesTheBase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "k8s")
	out, _, err := run(t, "render", "--dir", filepath.Join(t.TempDir(), "unused"), "--kubernetes", dir, "--gateway-upstream", "http://vllm.ai.svc:8000/v1")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{kubernetes.KustomizationFile, "podmonitor-llmmon-vllm.yaml", "prometheusrule-llmmon-rules.yaml",
		"configmap-llmmon-dashboard.yaml", "deployment-llmmon-gateway.yaml", "service-llmmon-gateway.yaml"} {
		if !strings.Contains(out, "wrote     "+filepath.Join(dir, f)+"\n") {
			t.Errorf("output does not report %s:\n%s", f, out)
		}
	}
	if !strings.Contains(out, "kubectl apply -k "+dir) {
		t.Errorf("output does not say how to install:\n%s", out)
	}
	out, _, err = run(t, "render", "--kubernetes", dir, "--gateway-upstream", "http://vllm.ai.svc:8000/v1")
	if err != nil || strings.Contains(out, "wrote ") {
		t.Fatalf("second render must change nothing: %v\n%s", err, out)
	}

	// Without the gateway, its Deployment and Service leave the base; a
	// file of the user's, not llmmon's, stays.
	os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mine}\n"), 0o644)
	k, _ := os.ReadFile(filepath.Join(dir, kubernetes.KustomizationFile))
	os.WriteFile(filepath.Join(dir, kubernetes.KustomizationFile), append(k, []byte("- mine.yaml\n")...), 0o644)
	out, _, err = run(t, "render", "--kubernetes", dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"deployment-llmmon-gateway.yaml", "service-llmmon-gateway.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil || !strings.Contains(out, "removed   "+filepath.Join(dir, f)) {
			t.Errorf("%s was not removed (%v):\n%s", f, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mine.yaml")); err != nil || strings.Contains(out, "mine.yaml") {
		t.Errorf("the user's own file was touched: %v\n%s", err, out)
	}
}

// render --kubernetes with receivers writes an AlertmanagerConfig that
// names the receivers' Secret, and says how to create it; the secret
// files are never read.
func TestRenderKubernetesReceivers(t *testing.T) {
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("alerting:\n  receivers:\n    - name: chat\n      slack: {api_url_file: secrets/slack-url}\n"), 0o644)
	dir := filepath.Join(t.TempDir(), "k8s")
	out, _, err := run(t, "render", "--config", settings, "--kubernetes", dir, "--namespace", "obs")
	if err != nil {
		t.Fatal(err)
	}
	want := "create it first with:\n  kubectl create secret generic llmmon-alert-receivers --namespace obs --from-file=chat-slack-api-url=" +
		filepath.Join(filepath.Dir(settings), "secrets/slack-url") + "\ninstall with: kubectl apply -k " + dir + "\n"
	if !strings.Contains(out, want) {
		t.Errorf("output lacks\n%s\n---\n%s", want, out)
	}
	amc, err := os.ReadFile(filepath.Join(dir, "alertmanagerconfig-llmmon-alerts.yaml"))
	if err != nil || !strings.Contains(string(amc), "key: chat-slack-api-url\n        name: llmmon-alert-receivers\n") {
		t.Errorf("AlertmanagerConfig: %v\n%s", err, amc)
	}
}

// TestComposeProjectRunsWithDockerCompose brings the rendered project up
// with Debian's docker-compose on the test images: Prometheus scrapes
// llmmon serve on the host through host-gateway, Grafana (the test
// double) signs in with the password file and has the datasource, and
// Prometheus sends to Alertmanager, which notifies a Slack receiver
// (a stand-in on the host) whose URL, with its token, is a Compose
// secret. A fleet job's bearer token is a Compose secret too, mounted
// beside the read-only prometheus/ folder, and the job is scraped with it.
// Then docker-compose down -v removes it all.
func TestComposeProjectRunsWithDockerCompose(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts containers with docker-compose")
	}
	dc := testenv.Tool(t, "docker-compose")
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)

	ctx, cancel := context.WithCancel(context.Background())
	servePort := testenv.FreePort(t)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard},
			[]string{"serve", "--host", "0.0.0.0", "--port", strconv.Itoa(servePort)})
	}()
	t.Cleanup(func() { cancel(); <-done })

	b := make([]byte, 4)
	rand.Read(b)
	name := "llmmon-compose-" + hex.EncodeToString(b)
	promPort, grafanaPort, amPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	dir := filepath.Join(t.TempDir(), "project")
	// Slack's api_url_file, since the test image's Alertmanager (Debian's
	// 0.25) predates the webhook's url_file.
	slack := startSlackStandIn(t)
	const token = "t0ken-compose"
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "slack-url"), []byte(fmt.Sprintf("http://host.docker.internal:%d/services/%s", slack.port, token)), 0o600)
	// A fleet job only its bearer token opens.
	const fleetToken = "fleet-t0ken"
	secured := startSecuredTarget(t, fleetToken)
	os.WriteFile(filepath.Join(secrets, "fleet-token"), []byte(fleetToken+"\n"), 0o600)
	settings := filepath.Join(secrets, "llmmon.yaml")
	os.WriteFile(settings, []byte("alerting:\n  group_wait: 1s\n  group_interval: 1s\n  receivers:\n    - name: chat\n      slack: {api_url_file: slack-url, channel: \"#llm\"}\n"+
		fmt.Sprintf("targets:\n  - {name: secured, address: \"host.docker.internal:%d\", bearer_token_file: fleet-token}\n", secured)), 0o644)
	if _, _, err := run(t, "render", "--compose", dir, "--config", settings, "--name", name, "--scrape-interval", "1s",
		"--llm-target", "host.docker.internal:"+strconv.Itoa(servePort),
		"--prometheus-port", strconv.Itoa(promPort), "--grafana-port", strconv.Itoa(grafanaPort), "--alertmanager-port", strconv.Itoa(amPort),
		"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage,
		"--alertmanager-image", testenv.AlertmanagerImage); err != nil {
		t.Fatal(err)
	}
	dcRun := func(args ...string) (string, error) {
		cmd := exec.Command(dc, append([]string{"-p", name}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := dcRun("logs", "--no-color")
			t.Logf("docker-compose logs:\n%s", logs)
		}
		if out, err := dcRun("down", "-v"); err != nil {
			t.Errorf("docker-compose down -v: %v\n%s", err, out)
		}
		for _, obj := range []string{name + "-llm-prometheus", name + "-llm-grafana", name + "-llm-alertmanager"} {
			if _, err := testenv.DockerErr("inspect", obj); err == nil {
				t.Errorf("%s survived docker-compose down", obj)
			}
		}
		for _, v := range []string{"-llm-prometheus-data", "-llm-alertmanager-data"} {
			if _, err := testenv.DockerErr("volume", "inspect", name+v); err == nil {
				t.Errorf("volume %s%s survived docker-compose down -v", name, v)
			}
		}
	})
	if out, err := dcRun("up", "-d"); err != nil {
		t.Fatalf("docker-compose up -d: %v\n%s", err, out)
	}

	// The containers are llmmon's: the labels down and status look for.
	if l := testenv.Docker(t, "inspect", "-f", `{{index .Config.Labels "`+stack.LabelStack+`"}} {{index .Config.Labels "`+stack.LabelComponent+`"}}`, name+"-llm-prometheus"); l != name+" prometheus" {
		t.Errorf("prometheus labels %q", l)
	}

	c := prometheus.NewClient(fmt.Sprintf("http://127.0.0.1:%d", promPort))
	testenv.Eventually(t, 60*time.Second, "prometheus ready", func() error { return c.Ready(t.Context()) })
	p := &testenv.Prometheus{URL: c.BaseURL, Client: c}
	got := p.WaitForSamples(t, 60*time.Second, `llm_requests_total{job="llm-server"}`)
	if inst := got[0].Metric["instance"]; inst != "host.docker.internal:"+strconv.Itoa(servePort) {
		t.Errorf("scraped instance %q", inst)
	}

	// The fleet job's token reached Prometheus through its Compose secret.
	p.WaitForSamples(t, 60*time.Second, `llmmon_secured_target{job="secured"}`)
	if out := testenv.Docker(t, "inspect", name+"-llm-prometheus"); strings.Contains(out, fleetToken) {
		t.Error("docker inspect shows the fleet job's token")
	}

	pw, err := os.ReadFile(filepath.Join(dir, compose.AdminPasswordFile))
	if err != nil {
		t.Fatal(err)
	}
	grafana := fmt.Sprintf("http://127.0.0.1:%d", grafanaPort)
	get := func(path string) (int, string, error) {
		return testenv.HTTPGet(grafana+path, stack.AdminUser, strings.TrimSpace(string(pw)))
	}
	testenv.Eventually(t, 60*time.Second, "grafana signs in with the password file", func() error {
		code, body, err := get("/api/datasources/uid/" + stack.DatasourceUID)
		if err == nil && code != 200 {
			err = fmt.Errorf("HTTP %d %s", code, body)
		}
		return err
	})
	code, body, err := get("/api/datasources/uid/" + stack.DatasourceUID)
	var ds struct{ URL string }
	json.Unmarshal([]byte(body), &ds)
	if err != nil || code != 200 || ds.URL != "http://prometheus:9090" {
		t.Fatalf("datasource: HTTP %d %s %v", code, body, err)
	}
	// Grafana reaches Prometheus by its alias on the stack's network.
	if code, body, err := get("/api/datasources/uid/" + stack.DatasourceUID + "/health"); err != nil || code != 200 {
		t.Fatalf("datasource health: HTTP %d %s %v", code, body, err)
	}
	if env := testenv.Docker(t, "inspect", "-f", "{{range .Config.Env}}{{println .}}{{end}}", name+"-llm-grafana"); strings.Contains(env, strings.TrimSpace(string(pw))) {
		t.Error("docker inspect shows the admin password")
	}

	// Prometheus sends to Alertmanager, which reads Slack's URL from its
	// secret and posts there.
	am := alertmanager.NewClient(fmt.Sprintf("http://127.0.0.1:%d", amPort))
	testenv.Eventually(t, 60*time.Second, "alertmanager ready", func() error { return am.Ready(t.Context()) })
	testenv.Eventually(t, 60*time.Second, "prometheus sends to alertmanager", func() error {
		active, _, err := c.Alertmanagers(t.Context())
		if err == nil && (len(active) != 1 || !strings.HasPrefix(active[0], stack.AlertmanagerURL+"/")) {
			err = fmt.Errorf("active alertmanagers %v, want %s", active, stack.AlertmanagerURL)
		}
		return err
	})
	alert := `[{"labels":{"alertname":"ComposeSecretTest","severity":"critical","job":"compose"},"annotations":{"summary":"through the secret"}}]`
	testenv.Eventually(t, 60*time.Second, "a Slack post through the URL in the secret", func() error {
		resp, err := http.Post(am.BaseURL+"/api/v2/alerts", "application/json", strings.NewReader(alert))
		if err != nil {
			return err
		}
		resp.Body.Close()
		if got := slack.posted(token); !strings.Contains(got, "*critical* through the secret") || !strings.Contains(got, `"#llm"`) {
			return fmt.Errorf("no Slack post at /services/%s yet: %q", token, got)
		}
		return nil
	})
	if out := testenv.Docker(t, "inspect", name+"-llm-alertmanager"); strings.Contains(out, token) {
		t.Error("docker inspect shows the Slack URL's token")
	}
}

// startSecuredTarget serves a metric on 0.0.0.0 (host.docker.internal
// from a container) to requests bearing token only, and returns its port.
func startSecuredTarget(t *testing.T, token string) int {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "llmmon_secured_target 1\n")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

// slackStandIn records what Alertmanager posts to a Slack incoming
// webhook, by path, on 0.0.0.0 so containers reach it as host.docker.internal.
type slackStandIn struct {
	port  int
	mu    sync.Mutex
	posts map[string]string
}

func startSlackStandIn(t *testing.T) *slackStandIn {
	t.Helper()
	l, err := net.Listen("tcp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &slackStandIn{port: l.Addr().(*net.TCPAddr).Port, posts: map[string]string{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.posts[strings.TrimPrefix(r.URL.Path, "/services/")] += string(body)
		s.mu.Unlock()
		io.WriteString(w, "ok")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *slackStandIn) posted(token string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts[token]
}

// render starts from what up recorded in --dir, as up does: a render of
// the stack's folder keeps its targets and intervals instead of moving
// its files to the defaults, and --kubernetes and --compose export that
// stack. The kubernetes: section is not part of the record.
func TestRenderStartsFromTheRecordedStack(t *testing.T) {
	dir := t.TempDir()
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte("kubernetes:\n  namespace: from-file\n"), 0o644)
	eng := fakeFor(stack.Default())
	if out, errOut, err := runFake(t, eng, "up", "--dir", dir, "--config", settings, "--name", "kept", "--wait", "0",
		"--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)),
		"--target", "vllm=gpu:8001", "--scrape-interval", "5s"); err != nil {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	st, err := stack.LoadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Config.Kubernetes.Namespace != "" {
		t.Errorf("up recorded the kubernetes: section: %+v", st.Config.Kubernetes)
	}
	recorded := snapshotFiles(t, dir)

	// Plain render, no flags: the recorded stack's files, unchanged.
	out, _, err := run(t, "render", "--dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "wrote ") || !reflect.DeepEqual(snapshotFiles(t, dir), recorded) {
		t.Errorf("render moved the recorded stack's files:\n%s", out)
	}
	// A flag changes its own setting only.
	if _, _, err := run(t, "render", "--dir", dir, "--evaluation-interval", "30s"); err != nil {
		t.Fatal(err)
	}
	prom, _ := os.ReadFile(filepath.Join(dir, "prometheus/prometheus.yml"))
	for _, want := range []string{"scrape_interval: 5s", "evaluation_interval: 30s", `job_name: "vllm"`} {
		if !strings.Contains(string(prom), want) {
			t.Errorf("prometheus.yml lacks %q:\n%s", want, prom)
		}
	}

	// --kubernetes and --compose export the recorded stack.
	k8s, project := filepath.Join(t.TempDir(), "k8s"), filepath.Join(t.TempDir(), "compose")
	if _, _, err := run(t, "render", "--dir", dir, "--kubernetes", k8s, "--compose", project); err != nil {
		t.Fatal(err)
	}
	pm, err := os.ReadFile(filepath.Join(k8s, "podmonitor-kept-llmmon-vllm.yaml"))
	if err != nil || !strings.Contains(string(pm), "interval: 5s") || !strings.Contains(string(pm), "namespace: "+kubernetes.DefaultNamespace+"\n") {
		t.Errorf("the base is not the recorded stack's (name kept, interval 5s, no recorded namespace): %v\n%s", err, pm)
	}
	dc, err := os.ReadFile(filepath.Join(project, compose.ComposeFile))
	if err != nil || !strings.Contains(string(dc), "container_name: kept-llm-prometheus") {
		t.Errorf("the Compose project is not the recorded stack's: %v\n%s", err, dc)
	}
}
