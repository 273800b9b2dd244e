package kubernetes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	yamlv3 "gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// grafanaDashboardShape is grafana-operator's GrafanaDashboard as its
// api/v1beta1 declares the fields render sets (the module is not on the
// proxy here, so this copy stands in for it).
type grafanaDashboardShape struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              struct {
		InstanceSelector *metav1.LabelSelector `json:"instanceSelector"`
		Folder           string                `json:"folder,omitempty"`
		JSON             string                `json:"json,omitempty"`
	} `json:"spec"`
}

// typed returns an empty object of the kind a manifest declares.
func typed(t *testing.T, manifest []byte) any {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(manifest, &tm); err != nil {
		t.Fatal(err)
	}
	switch tm.APIVersion + " " + tm.Kind {
	case "monitoring.coreos.com/v1 PodMonitor":
		return &monitoringv1.PodMonitor{}
	case "monitoring.coreos.com/v1 ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	case "monitoring.coreos.com/v1 PrometheusRule":
		return &monitoringv1.PrometheusRule{}
	case "monitoring.coreos.com/v1alpha1 AlertmanagerConfig":
		return &monitoringv1alpha1.AlertmanagerConfig{}
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Service":
		return &corev1.Service{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "grafana.integreatly.org/v1beta1 GrafanaDashboard":
		return &grafanaDashboardShape{}
	}
	t.Fatalf("no typed object for %s %s", tm.APIVersion, tm.Kind)
	return nil
}

// allOptions is a configuration that writes every kind of object.
func allOptions(t *testing.T, monitor MonitorKind) (stack.Config, Options) {
	t.Helper()
	cfg := stack.Default()
	cfg.Kubernetes.Monitor = string(monitor)
	cfg.Kubernetes.Gateway.Upstreams = []string{"http://vllm.ai.svc:8000/v1", "qwen=http://qwen.ai.svc:8000/v1"}
	cfg.Kubernetes.Gateway.UpstreamAPIKeySecret = "llmmon-gateway/upstream-api-key"
	cfg.Kubernetes.Grafana.Operator = true
	cfg.Alerting = withReceivers(cfg.Alerting)
	o, err := resolve(cfg, "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, o
}

// withReceivers adds --alert-webhook and a receiver of every kind, with
// secrets in files that render --kubernetes must never read.
func withReceivers(a stack.Alerting) stack.Alerting {
	no := false
	a.Webhook = "http://alert-receiver.ops.svc:9000/hook"
	a.GroupWait = stack.Duration(10 * time.Second)
	a.Receivers = []stack.Receiver{
		{Name: "team", Webhook: &stack.WebhookReceiver{URL: "http://team.ops.svc/hook"}},
		{Name: "tokened", Webhook: &stack.WebhookReceiver{URLFile: "/run/secrets/hook url"}},
		{Name: "chat", Slack: &stack.SlackReceiver{APIURLFile: "/run/secrets/slack", Channel: "#llm"}},
		{Name: "mail", Severities: []string{"critical"}, Email: &stack.EmailReceiver{To: "ops@example.com", From: "llmmon@example.com",
			Smarthost: "smtp.example.com:587", AuthUsername: "llmmon", AuthPasswordFile: "/run/secrets/smtp", RequireTLS: &no}},
		{Name: "pager", PagerDuty: &stack.PagerDutyReceiver{RoutingKeyFile: "/run/secrets/pd"}},
	}
	return a
}

// buildObjects is build for settings the test knows are valid.
func buildObjects(t *testing.T, cfg stack.Config, o Options) []Object {
	t.Helper()
	rendered, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := build(cfg, rendered, o)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func writeBase(t *testing.T, cfg stack.Config, o Options) (string, []stack.File) {
	t.Helper()
	objs := buildObjects(t, cfg, o)
	files, err := encode(objs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := stack.WriteTree(dir, files); err != nil {
		t.Fatal(err)
	}
	return dir, files
}

// TestManifestsRoundTripStrictly decodes every written file into its typed
// object with unknown fields refused, and encodes it back to the same bytes.
func TestManifestsRoundTripStrictly(t *testing.T) {
	for _, monitor := range []MonitorKind{PodMonitor, ServiceMonitor} {
		t.Run(string(monitor), func(t *testing.T) {
			cfg, o := allOptions(t, monitor)
			_, files := writeBase(t, cfg, o)
			kinds := map[string]int{}
			for _, f := range files {
				if f.Path == KustomizationFile {
					continue
				}
				obj := typed(t, f.Content)
				if err := yaml.UnmarshalStrict(f.Content, obj); err != nil {
					t.Fatalf("%s does not decode strictly: %v", f.Path, err)
				}
				again, err := yaml.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again, f.Content) {
					t.Errorf("%s changes in a round trip:\n%s\n---\n%s", f.Path, f.Content, again)
				}
				kinds[reflect.TypeOf(obj).Elem().Name()]++
				m := reflect.ValueOf(obj).Elem().FieldByName("ObjectMeta").Interface().(metav1.ObjectMeta)
				if m.Namespace != DefaultNamespace || m.Labels[labelPartOf] != "llmmon" {
					t.Errorf("%s: namespace %q, labels %v: want namespace %s and part-of llmmon", f.Path, m.Namespace, m.Labels, DefaultNamespace)
				}
			}
			want := map[string]int{string(monitor): 6, "PrometheusRule": 1, "ConfigMap": 1, "grafanaDashboardShape": 1,
				"AlertmanagerConfig": 1, "Deployment": 1, "Service": 1}
			if !reflect.DeepEqual(kinds, want) {
				t.Errorf("objects %v, want %v", kinds, want)
			}
		})
	}

	// The strict decode is what refuses a field the types do not have.
	_, files := writeBase(t, stack.Default(), mustResolve(t, stack.Default()))
	bad := bytes.Replace(files[0].Content, []byte("spec:\n"), []byte("spec:\n  scrapeEvery: 5s\n"), 1)
	if err := yaml.UnmarshalStrict(bad, typed(t, bad)); err == nil || !strings.Contains(err.Error(), "scrapeEvery") {
		t.Fatalf("an unknown field decoded without error: %v", err)
	}
}

func mustResolve(t *testing.T, cfg stack.Config) Options {
	t.Helper()
	o, err := resolve(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestKustomizeBuildsTheBase runs kubectl's kustomize on the written
// base and finds every object in its output.
func TestKustomizeBuildsTheBase(t *testing.T) {
	kubectl := testenv.Tool(t, "kubectl")
	for _, monitor := range []MonitorKind{PodMonitor, ServiceMonitor} {
		t.Run(string(monitor), func(t *testing.T) {
			cfg, o := allOptions(t, monitor)
			dir, files := writeBase(t, cfg, o)
			var stderr bytes.Buffer
			cmd := exec.Command(kubectl, "kustomize", dir)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, stderr.String())
			}
			var got []string
			dec := yamlv3.NewDecoder(bytes.NewReader(out))
			for {
				var doc struct {
					Kind     string `yaml:"kind"`
					Metadata struct {
						Name      string `yaml:"name"`
						Namespace string `yaml:"namespace"`
					} `yaml:"metadata"`
				}
				if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				got = append(got, doc.Kind+"/"+doc.Metadata.Namespace+"/"+doc.Metadata.Name)
			}
			var want []string
			for _, f := range files {
				if f.Path == KustomizationFile {
					continue
				}
				var m struct {
					metav1.TypeMeta   `json:",inline"`
					metav1.ObjectMeta `json:"metadata"`
				}
				if err := yaml.Unmarshal(f.Content, &m); err != nil {
					t.Fatal(err)
				}
				want = append(want, m.Kind+"/"+m.Namespace+"/"+m.Name)
			}
			sort.Strings(got)
			sort.Strings(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("kustomize built\n %v\nwant\n %v", got, want)
			}
		})
	}
}

// TestPrometheusRuleHoldsTheRenderedRules extracts the rules from the
// written PrometheusRule and runs promtool on them: check rules, and the
// alert unit tests of stack/prometheus. They must be the very rules up renders.
func TestPrometheusRuleHoldsTheRenderedRules(t *testing.T) {
	cfg := stack.Default()
	_, files := writeBase(t, cfg, mustResolve(t, cfg))
	var pr monitoringv1.PrometheusRule
	for _, f := range files {
		if strings.HasPrefix(f.Path, "prometheusrule-") {
			if err := yaml.UnmarshalStrict(f.Content, &pr); err != nil {
				t.Fatal(err)
			}
		}
	}
	if pr.Labels[labelRelease] != DefaultRelease {
		t.Errorf("release label %q, want %q (kube-prometheus-stack's ruleSelector)", pr.Labels[labelRelease], DefaultRelease)
	}
	extracted, err := yaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}

	rendered, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var original []byte
	for _, f := range rendered.Prometheus {
		if f.Path == prometheus.RulesFile {
			original = f.Content
		}
	}
	var a, b any
	if err := yaml.Unmarshal(extracted, &a); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(original, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the PrometheusRule's rules differ from %s:\n%s\n---\n%s", prometheus.RulesFile, extracted, original)
	}

	dir := t.TempDir()
	rules := filepath.Join(dir, "llmmon.rules.yml")
	if err := os.WriteFile(rules, extracted, 0o644); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile("../prometheus/testdata/rules_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	unitFile := filepath.Join(dir, "rules_test.yml")
	if err := os.WriteFile(unitFile, unit, 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range pr.Spec.Groups {
		n += len(g.Rules)
	}
	if out, err := testenv.Promtool(t, "check", "rules", rules); err != nil || n < 50 || !strings.Contains(out, fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := testenv.Promtool(t, "test", "rules", unitFile); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func TestDashboardIsByteIdentical(t *testing.T) {
	cfg, o := allOptions(t, PodMonitor)
	_, files := writeBase(t, cfg, o)
	onDisk, err := os.ReadFile("../../dashboards/llm-server.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, dashboards.JSON()) {
		t.Fatal("the embedded dashboard differs from dashboards/llm-server.json")
	}
	seen := 0
	for _, f := range files {
		switch {
		case strings.HasPrefix(f.Path, "configmap-"):
			var cm corev1.ConfigMap
			if err := yaml.UnmarshalStrict(f.Content, &cm); err != nil {
				t.Fatal(err)
			}
			if cm.Data[DashboardKey] != string(onDisk) {
				t.Errorf("%s: the dashboard is not byte-identical to dashboards/llm-server.json", f.Path)
			}
			if cm.Labels["grafana_dashboard"] != "1" || cm.Annotations["grafana_folder"] != grafana.DefaultFolder {
				t.Errorf("%s: labels %v annotations %v: want the sidecar's grafana_dashboard: \"1\" and grafana_folder", f.Path, cm.Labels, cm.Annotations)
			}
			seen++
		case strings.HasPrefix(f.Path, "grafanadashboard-"):
			var gd grafanaDashboardShape
			if err := yaml.UnmarshalStrict(f.Content, &gd); err != nil {
				t.Fatal(err)
			}
			if gd.Spec.JSON != string(onDisk) || gd.Spec.Folder != grafana.DefaultFolder ||
				gd.Spec.InstanceSelector == nil || gd.Spec.InstanceSelector.MatchLabels["dashboards"] != "grafana" {
				t.Errorf("%s: spec folder %q, instanceSelector %v, json identical %v", f.Path, gd.Spec.Folder, gd.Spec.InstanceSelector, gd.Spec.JSON == string(onDisk))
			}
			seen++
		}
	}
	if seen != 2 {
		t.Fatalf("found %d dashboard objects, want the ConfigMap and the GrafanaDashboard", seen)
	}
}

func TestGatewayDeployment(t *testing.T) {
	cfg, _ := allOptions(t, ServiceMonitor)
	objs := buildFor(t, cfg)
	d := objs["Deployment/llmmon-gateway"].Object.(*appsv1.Deployment)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	wantArgs := []string{"serve", "--host", "0.0.0.0", "--port", "8000", "--upstream", "http://vllm.ai.svc:8000/v1", "--upstream", "qwen=http://qwen.ai.svc:8000/v1"}
	if !reflect.DeepEqual(c.Args, wantArgs) || c.Image != "llmmon:test" {
		t.Errorf("image %s args %v, want llmmon:test %v", c.Image, c.Args, wantArgs)
	}
	sc := c.SecurityContext
	if pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot || *pod.SecurityContext.RunAsUser != ImageUID ||
		sc == nil || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || !*sc.RunAsNonRoot || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("security context: pod %+v container %+v", pod.SecurityContext, sc)
	}
	for _, p := range []*corev1.Probe{c.ReadinessProbe, c.LivenessProbe} {
		if p == nil || p.HTTPGet.Path != "/health" || p.HTTPGet.Port.StrVal != "http" {
			t.Errorf("probe %+v: want GET /health on port http", p)
		}
	}
	// The upstream key comes from a Secret, as serve's environment; never in
	// the manifest.
	if len(c.Env) != 1 || c.Env[0].Name != "LLMMON_UPSTREAM_API_KEY" || c.Env[0].ValueFrom == nil ||
		c.Env[0].ValueFrom.SecretKeyRef.Name != "llmmon-gateway" || c.Env[0].ValueFrom.SecretKeyRef.Key != "upstream-api-key" {
		t.Errorf("env %+v", c.Env)
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() || c.Resources.Requests.Cpu().IsZero() {
		t.Errorf("resources %+v", c.Resources)
	}
	// The monitor and the Service select exactly the Deployment's pods, in its namespace.
	svc := objs["Service/llmmon-gateway"].Object.(*corev1.Service)
	sm := objs["ServiceMonitor/llmmon-gateway"].Object.(*monitoringv1.ServiceMonitor)
	for k, v := range sm.Spec.Selector.MatchLabels {
		if svc.Labels[k] != v {
			t.Errorf("the ServiceMonitor selects %s=%s, the Service has %v", k, v, svc.Labels)
		}
	}
	for k, v := range svc.Spec.Selector {
		if pod := d.Spec.Template.Labels; pod[k] != v {
			t.Errorf("the Service selects %s=%s, the pods have %v", k, v, pod)
		}
	}
	if !reflect.DeepEqual(sm.Spec.NamespaceSelector.MatchNames, []string{DefaultNamespace}) || sm.Spec.Endpoints[0].Port != "http" {
		t.Errorf("gateway ServiceMonitor %+v", sm.Spec)
	}
}

// The AlertmanagerConfig routes, groups and inhibits as alertmanager.yml
// does, from the same settings, and names each secret as a key of the
// receivers' Secret, whose content it never holds.
func TestAlertmanagerConfigFromTheReceivers(t *testing.T) {
	cfg, o := allOptions(t, PodMonitor)
	objs := buildObjects(t, cfg, o)
	var amc *monitoringv1alpha1.AlertmanagerConfig
	for _, obj := range objs {
		if a, ok := obj.Object.(*monitoringv1alpha1.AlertmanagerConfig); ok {
			amc = a
		}
	}
	if amc == nil {
		t.Fatal("no AlertmanagerConfig with receivers set")
	}
	r := amc.Spec.Route
	if r.Receiver != stack.NobodyReceiver || strings.Join(r.GroupBy, ",") != "alertname,job" || *r.GroupWait != "10s" ||
		*r.GroupInterval != "5m" || *r.RepeatInterval != "4h" {
		t.Errorf("route %+v", r)
	}
	var routed []string
	for _, raw := range r.Routes {
		var child monitoringv1alpha1.Route
		if err := yaml.UnmarshalStrict(raw.Raw, &child); err != nil {
			t.Fatal(err)
		}
		if !child.Continue {
			t.Errorf("child route %s does not continue: later receivers would get nothing", raw.Raw)
		}
		m := child.Matchers[0]
		routed = append(routed, child.Receiver+" "+m.Name+string(m.MatchType)+m.Value)
	}
	want := []string{"alert-webhook severity=~critical|warning", "team severity=~critical|warning", "tokened severity=~critical|warning",
		"chat severity=~critical|warning", "mail severity=~critical", "pager severity=~critical"}
	if !reflect.DeepEqual(routed, want) {
		t.Errorf("routes\n %v\nwant\n %v", routed, want)
	}
	var inhibit []string
	for _, ir := range amc.Spec.InhibitRules {
		inhibit = append(inhibit, fmt.Sprintf("%s%s%s -> %s%s%s on %v", ir.SourceMatch[0].Name, ir.SourceMatch[0].MatchType, ir.SourceMatch[0].Value,
			ir.TargetMatch[0].Name, ir.TargetMatch[0].MatchType, ir.TargetMatch[0].Value, ir.Equal))
	}
	wantInhibit := []string{"severity=critical -> severity=warning on [alertname job instance]",
		"alertname=~LLMServerDown|LLMTargetDown -> severity=~warning|info on [job instance]"}
	if !reflect.DeepEqual(inhibit, wantInhibit) {
		t.Errorf("inhibit rules %v, want %v", inhibit, wantInhibit)
	}

	// Receivers, with secrets as Secret references.
	got := map[string]monitoringv1alpha1.Receiver{}
	for _, rc := range amc.Spec.Receivers {
		got[rc.Name] = rc
	}
	ref := func(key string) string { return "llmmon-alert-receivers/" + key }
	sel := func(s *corev1.SecretKeySelector) string {
		if s == nil {
			return ""
		}
		return s.Name + "/" + s.Key
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if n := got[stack.NobodyReceiver]; len(amc.Spec.Receivers) != 7 || !reflect.DeepEqual(n, monitoringv1alpha1.Receiver{Name: stack.NobodyReceiver}) {
		t.Errorf("receivers %v: want nobody (no integration) and the six", amc.Spec.Receivers)
	}
	if w := got["alert-webhook"].WebhookConfigs[0]; str(w.URL) != "http://alert-receiver.ops.svc:9000/hook" || w.URLSecret != nil || !*w.SendResolved {
		t.Errorf("alert-webhook %+v", w)
	}
	if w := got["tokened"].WebhookConfigs[0]; w.URL != nil || sel(w.URLSecret) != ref("tokened-webhook-url") {
		t.Errorf("tokened %+v", w)
	}
	if s := got["chat"].SlackConfigs[0]; sel(s.APIURL) != ref("chat-slack-api-url") || str(s.Channel) != "#llm" ||
		!strings.Contains(str(s.Text), "runbook_url") || str(s.Title) == "" {
		t.Errorf("chat %+v", s)
	}
	if e := got["mail"].EmailConfigs[0]; str(e.To) != "ops@example.com" || str(e.Smarthost) != "smtp.example.com:587" ||
		str(e.AuthUsername) != "llmmon" || sel(e.AuthPassword) != ref("mail-email-auth-password") || *e.RequireTLS {
		t.Errorf("mail %+v", e)
	}
	if p := got["pager"].PagerDutyConfigs[0]; sel(p.RoutingKey) != ref("pager-pagerduty-routing-key") || p.ServiceKey != nil ||
		str(p.PagerDutyLinkConfigs[0].Href) != "{{ .CommonAnnotations.runbook_url }}" {
		t.Errorf("pager %+v", p)
	}

	// No receiver, no AlertmanagerConfig.
	cfg.Alerting = stack.DefaultAlerting()
	for _, obj := range buildObjects(t, cfg, mustResolve(t, cfg)) {
		if _, ok := obj.Object.(*monitoringv1alpha1.AlertmanagerConfig); ok {
			t.Fatal("an AlertmanagerConfig without receivers")
		}
	}
}

// The Secret is never in the base: render prints the command that makes
// it from the files llmmon.yaml names, which it never reads.
func TestSecretCommand(t *testing.T) {
	cfg, o := allOptions(t, PodMonitor)
	_, files := writeBase(t, cfg, o)
	for _, f := range files {
		var m metav1.TypeMeta
		if err := yaml.Unmarshal(f.Content, &m); err != nil || m.Kind == "Secret" {
			t.Errorf("%s is a %s (%v): the base must hold no Secret", f.Path, m.Kind, err)
		}
	}
	want := "kubectl create secret generic llmmon-alert-receivers --namespace monitoring '--from-file=tokened-webhook-url=/run/secrets/hook url' " +
		"--from-file=chat-slack-api-url=/run/secrets/slack --from-file=mail-email-auth-password=/run/secrets/smtp " +
		"--from-file=pager-pagerduty-routing-key=/run/secrets/pd"
	if got := SecretCommand(cfg); got != want {
		t.Errorf("SecretCommand\n %s\nwant\n %s", got, want)
	}
	// The command creates the Secret the AlertmanagerConfig reads, with its keys.
	dir := t.TempDir()
	for _, ref := range cfg.Alerting.Secrets() {
		cfg.Alerting = pointSecret(cfg.Alerting, ref.Setting, filepath.Join(dir, ref.Name))
		os.WriteFile(filepath.Join(dir, ref.Name), []byte("s3cret-"+ref.Name), 0o600)
	}
	cmd := strings.Replace(SecretCommand(cfg), "--namespace monitoring", "--namespace monitoring --dry-run=client -o json", 1)
	out, err := exec.Command("sh", "-c", strings.Replace(cmd, "kubectl", testenv.Tool(t, "kubectl"), 1)).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	var secret corev1.Secret
	if err := json.Unmarshal(out, &secret); err != nil {
		t.Fatal(err)
	}
	if secret.Name != "llmmon-alert-receivers" || secret.Namespace != "monitoring" || len(secret.Data) != 4 ||
		string(secret.Data["chat-slack-api-url"]) != "s3cret-chat-slack-api-url" {
		t.Errorf("kubectl made %s/%s with %d keys, chat-slack-api-url %q", secret.Namespace, secret.Name, len(secret.Data), secret.Data["chat-slack-api-url"])
	}
	cfg.Alerting = stack.DefaultAlerting()
	if got := SecretCommand(cfg); got != "" {
		t.Errorf("no secret, but a command: %s", got)
	}
}

// pointSecret sets the file of the secret setting names.
func pointSecret(a stack.Alerting, setting, file string) stack.Alerting {
	a.Receivers = slices.Clone(a.Receivers)
	for i := range a.Receivers {
		r := a.Receivers[i]
		if !strings.HasPrefix(setting, fmt.Sprintf("alerting.receivers[%d].", i)) {
			continue
		}
		switch {
		case r.Webhook != nil:
			a.Receivers[i].Webhook = &stack.WebhookReceiver{URLFile: file}
		case r.Slack != nil:
			a.Receivers[i].Slack = &stack.SlackReceiver{APIURLFile: file, Channel: r.Slack.Channel}
		case r.Email != nil:
			e := *r.Email
			e.AuthPasswordFile = file
			a.Receivers[i].Email = &e
		case r.PagerDuty != nil:
			a.Receivers[i].PagerDuty = &stack.PagerDutyReceiver{RoutingKeyFile: file}
		}
	}
	return a
}

func TestResolveNamesTheSetting(t *testing.T) {
	tests := []struct {
		name string
		set  func(*stack.Config)
		want string
	}{
		{"namespace", func(c *stack.Config) { c.Kubernetes.Namespace = "Monitoring" }, `kubernetes.namespace: "Monitoring" is not a namespace name`},
		{"release", func(c *stack.Config) { c.Kubernetes.Release = "kube prometheus" }, `kubernetes.release: "kube prometheus" is not a label value`},
		{"monitor", func(c *stack.Config) { c.Kubernetes.Monitor = "Probe" }, `kubernetes.monitor: "Probe": want PodMonitor or ServiceMonitor`},
		{"model label", func(c *stack.Config) { c.Kubernetes.ModelLabel = "-model" }, `kubernetes.model_label: "-model" is not a pod label name`},
		{"engine kind", func(c *stack.Config) { c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "ollama"}} }, `kubernetes.engines[0].kind: unknown engine "ollama": want one of vllm, llamacpp, tgi, sglang, dcgm`},
		{"engine job taken", func(c *stack.Config) {
			c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "vllm", Name: "llm-server"}}
		}, `kubernetes.engines[0].name: job "llm-server" is already the job of llm_server.name`},
		{"engine object name", func(c *stack.Config) { c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "vllm", Name: "vLLM"}} }, `kubernetes.engines[0].name: "vLLM" must also be a Kubernetes object name`},
		{"engine port", func(c *stack.Config) {
			c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "tgi", Port: "text-generation-port"}}
		}, `kubernetes.engines[0].port: "text-generation-port" is not a port name`},
		{"engine path", func(c *stack.Config) { c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "tgi", Path: "metrics"}} }, `kubernetes.engines[0].path: "metrics" must start with /`},
		{"engine namespace", func(c *stack.Config) {
			c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "sglang", Namespaces: []string{"ai", "AI"}}}
		}, `kubernetes.engines[0].namespaces[1]: "AI" is not a namespace name`},
		{"selector value", func(c *stack.Config) {
			c.Kubernetes.Engines = []stack.KubernetesEngine{{Kind: "vllm", Selector: map[string]string{"app": "v llm"}}}
		}, `kubernetes.engines[0].selector: "v llm" is not a value for label app`},
		{"upstream", func(c *stack.Config) { c.Kubernetes.Gateway.Upstreams = []string{"vllm.ai.svc:8000"} }, `kubernetes.gateway.upstreams[0]: "vllm.ai.svc:8000": want [NAME=]URL`},
		{"image", func(c *stack.Config) { c.Kubernetes.Gateway.Image = "llmmon: 1" }, `kubernetes.gateway.image: "llmmon: 1" is not an image reference: invalid reference format`},
		{"replicas", func(c *stack.Config) { c.Kubernetes.Gateway.Replicas = -1 }, `kubernetes.gateway.replicas: -1: must be at least 1`},
		{"upstream key secret", func(c *stack.Config) { c.Kubernetes.Gateway.UpstreamAPIKeySecret = "just-a-name" }, `kubernetes.gateway.upstream_api_key_secret: "just-a-name": want SECRET/KEY`},
		{"api key secret name", func(c *stack.Config) { c.Kubernetes.Gateway.APIKeySecret = "Gateway_Keys/key" }, `kubernetes.gateway.api_key_secret: "Gateway_Keys" is not a Secret name`},
		{"receiver name as a Secret key", func(c *stack.Config) {
			c.Alerting.Receivers = []stack.Receiver{{Name: "ops:chat", Slack: &stack.SlackReceiver{APIURLFile: "/s"}}}
		}, `alerting.receivers[0].name: render --kubernetes keeps this receiver's secret under the Secret key "ops:chat-slack-api-url", which is not a valid key`},
		{"folder annotation", func(c *stack.Config) { c.Kubernetes.Grafana.FolderAnnotation = "grafana folder" }, `kubernetes.grafana.folder_annotation: "grafana folder" is not an annotation name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := stack.Default()
			tt.set(&cfg)
			_, err := resolve(cfg, "test")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
			// The CLI words the setting as the user gave it.
			if se := stack.SettingErrors(err); len(se) != 1 || !strings.HasPrefix(tt.want, se[0].Paths[0]+":") {
				t.Errorf("setting errors %+v, want one naming the setting %q starts with", se, tt.want)
			}
		})
	}

	// Several problems are reported together.
	cfg := stack.Default()
	cfg.Kubernetes.Namespace, cfg.Kubernetes.Monitor = "A", "B"
	if _, err := resolve(cfg, "test"); err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Fatalf("want both errors, got %v", err)
	}
}

// Render checks the stack's settings and the kubernetes: section
// together, and says where each bad one came from.
func TestRenderReportsEveryBadSetting(t *testing.T) {
	file := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(file, []byte("grafana:\n  port: 0\nkubernetes:\n  namespace: Obs\n"), 0o644)
	s, err := stack.Resolve("", stack.Overrides{File: file})
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(s, "test")
	lines := map[string]int{}
	for _, se := range stack.SettingErrors(err) {
		if se.Origins[0].Kind == stack.FromFile {
			lines[se.Paths[0]] = se.Origins[0].Line
		}
	}
	if files != nil || !reflect.DeepEqual(lines, map[string]int{"grafana.port": 2, "kubernetes.namespace": 4}) {
		t.Errorf("files %v, errors %v from lines %v", files, err, lines)
	}
}

func TestResolveDefaults(t *testing.T) {
	o := mustResolve(t, stack.Default())
	if o.Namespace != "monitoring" || o.Release != "kube-prometheus-stack" || o.Monitor != PodMonitor || o.Gateway.Job != "llm-server" || o.Gateway.Deploy() {
		t.Errorf("defaults %+v", o)
	}
	var jobs []string
	for _, e := range o.Engines {
		jobs = append(jobs, e.Job+"="+e.Port+e.Path)
	}
	want := []string{"vllm=container-port/metrics", "llamacpp=http/metrics", "tgi=http/metrics", "sglang=http/metrics", "dcgm=metrics/metrics"}
	if !reflect.DeepEqual(jobs, want) {
		t.Errorf("engine jobs %v, want %v", jobs, want)
	}
	// Only dcgm-exporter's own pod/namespace labels (the GPU's workload) win over the target's.
	for name, obj := range buildFor(t, stack.Default()) {
		if pm, ok := obj.Object.(*monitoringv1.PodMonitor); ok && pm.Spec.PodMetricsEndpoints[0].HonorLabels != (name == "PodMonitor/llmmon-dcgm") {
			t.Errorf("%s: honorLabels %v", name, pm.Spec.PodMetricsEndpoints[0].HonorLabels)
		}
	}
	if o, err := resolve(stack.Default(), "v0.0.0-20261201-abc+dirty"); err != nil || o.Gateway.Image != "llmmon:v0.0.0-20261201-abc-dirty" {
		t.Errorf("default image from a pseudo-version: %q %v", o.Gateway.Image, err)
	}
	cfg := stack.Default()
	cfg.Kubernetes.Monitor = "ServiceMonitor"
	if o := mustResolve(t, cfg); o.Engines[0].Port != "service-port" {
		t.Errorf("vLLM's Service port name %q, want service-port", o.Engines[0].Port)
	}
}
