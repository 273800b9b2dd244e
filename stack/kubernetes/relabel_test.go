package kubernetes

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"regexp"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/promql/parser"
	yamlv2 "go.yaml.in/yaml/v2"

	"github.com/llmmon/llmmon/stack"
)

// promRelabel reads one relabel config as Prometheus loads it from the
// configuration the operator generates: the operator writes snake_case
// keys with a lower-case action (pkg/prometheus/promcfg.go,
// generateRelabelConfig) and Prometheus' UnmarshalYAML fills its defaults.
func promRelabel(t *testing.T, rc monitoringv1.RelabelConfig) *relabel.Config {
	t.Helper()
	m := map[string]any{}
	if len(rc.SourceLabels) > 0 {
		m["source_labels"] = rc.SourceLabels
	}
	if rc.Separator != nil {
		m["separator"] = *rc.Separator
	}
	if rc.TargetLabel != "" {
		m["target_label"] = rc.TargetLabel
	}
	if rc.Regex != "" {
		m["regex"] = rc.Regex
	}
	if rc.Modulus != 0 {
		m["modulus"] = rc.Modulus
	}
	if rc.Replacement != nil {
		m["replacement"] = *rc.Replacement
	}
	if rc.Action != "" {
		m["action"] = strings.ToLower(rc.Action)
	}
	b, err := yamlv2.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var c relabel.Config
	if err := yamlv2.UnmarshalStrict(b, &c); err != nil {
		t.Fatalf("prometheus refuses relabel config %s: %v", b, err)
	}
	if err := c.Validate(model.UTF8Validation); err != nil {
		t.Fatalf("prometheus refuses relabel config %s: %v", b, err)
	}
	return &c
}

func ln(names ...string) []monitoringv1.LabelName {
	out := make([]monitoringv1.LabelName, len(names))
	for i, n := range names {
		out[i] = monitoringv1.LabelName(n)
	}
	return out
}

func ptr(s string) *string { return &s }

// operatorPodMonitor is the relabeling the Prometheus Operator puts
// around a PodMonitor endpoint's own relabelings (generatePodMonitorConfig
// in its pkg/prometheus/promcfg.go): running pods only, the selector and
// port as keep rules, namespace/container/pod, job = namespace/name,
// endpoint, then the endpoint's relabelings, then sharding (one shard).
func operatorPodMonitor(pm *monitoringv1.PodMonitor) []monitoringv1.RelabelConfig {
	ep := pm.Spec.PodMetricsEndpoints[0]
	rc := []monitoringv1.RelabelConfig{
		{SourceLabels: ln("job"), TargetLabel: "__tmp_prometheus_job_name"},
		{Action: "drop", SourceLabels: ln("__meta_kubernetes_pod_phase"), Regex: "(Failed|Succeeded)"},
	}
	for _, k := range sortedKeys(pm.Spec.Selector.MatchLabels) {
		rc = append(rc, monitoringv1.RelabelConfig{Action: "keep",
			SourceLabels: ln("__meta_kubernetes_pod_label_"+sanitizeLabelName(k), "__meta_kubernetes_pod_labelpresent_"+sanitizeLabelName(k)),
			Regex:        "(" + pm.Spec.Selector.MatchLabels[k] + ");true"})
	}
	rc = append(rc,
		monitoringv1.RelabelConfig{Action: "keep", SourceLabels: ln("__meta_kubernetes_pod_container_port_name"), Regex: *ep.Port},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_namespace"), TargetLabel: "namespace"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_pod_container_name"), TargetLabel: "container"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_pod_name"), TargetLabel: "pod"},
		monitoringv1.RelabelConfig{TargetLabel: "job", Replacement: ptr(pm.Namespace + "/" + pm.Name)},
		monitoringv1.RelabelConfig{TargetLabel: "endpoint", Replacement: ep.Port},
	)
	rc = append(rc, ep.RelabelConfigs...)
	return append(rc, sharding()...)
}

// operatorServiceMonitor is the same for a ServiceMonitor endpoint on the
// endpoints role (generateServiceMonitorConfig).
func operatorServiceMonitor(sm *monitoringv1.ServiceMonitor) []monitoringv1.RelabelConfig {
	ep := sm.Spec.Endpoints[0]
	rc := []monitoringv1.RelabelConfig{{SourceLabels: ln("job"), TargetLabel: "__tmp_prometheus_job_name"}}
	for _, k := range sortedKeys(sm.Spec.Selector.MatchLabels) {
		rc = append(rc, monitoringv1.RelabelConfig{Action: "keep",
			SourceLabels: ln("__meta_kubernetes_service_label_"+sanitizeLabelName(k), "__meta_kubernetes_service_labelpresent_"+sanitizeLabelName(k)),
			Regex:        "(" + sm.Spec.Selector.MatchLabels[k] + ");true"})
	}
	kind := ln("__meta_kubernetes_endpoint_address_target_kind", "__meta_kubernetes_endpoint_address_target_name")
	rc = append(rc,
		monitoringv1.RelabelConfig{Action: "keep", SourceLabels: ln("__meta_kubernetes_endpoint_port_name"), Regex: ep.Port},
		monitoringv1.RelabelConfig{SourceLabels: kind, Separator: ptr(";"), Regex: "Node;(.*)", Replacement: ptr("${1}"), TargetLabel: "node"},
		monitoringv1.RelabelConfig{SourceLabels: kind, Separator: ptr(";"), Regex: "Pod;(.*)", Replacement: ptr("${1}"), TargetLabel: "pod"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_namespace"), TargetLabel: "namespace"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_service_name"), TargetLabel: "service"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_pod_name"), TargetLabel: "pod"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_pod_container_name"), TargetLabel: "container"},
		monitoringv1.RelabelConfig{Action: "drop", SourceLabels: ln("__meta_kubernetes_pod_phase"), Regex: "(Failed|Succeeded)"},
		monitoringv1.RelabelConfig{SourceLabels: ln("__meta_kubernetes_service_name"), TargetLabel: "job", Replacement: ptr("${1}")},
		monitoringv1.RelabelConfig{TargetLabel: "endpoint", Replacement: ptr(ep.Port)},
	)
	rc = append(rc, ep.RelabelConfigs...)
	return append(rc, sharding()...)
}

// sharding is the operator's hashmod on the address, with $(SHARD) as the
// config reloader substitutes it on the only shard.
func sharding() []monitoringv1.RelabelConfig {
	return []monitoringv1.RelabelConfig{
		{Action: "replace", SourceLabels: ln("__address__", "__tmp_hash"), TargetLabel: "__tmp_hash", Regex: "(.+);", Replacement: ptr("$1")},
		{Action: "hashmod", SourceLabels: ln("__tmp_hash"), TargetLabel: "__tmp_hash", Modulus: 1},
		{Action: "keep", SourceLabels: ln("__tmp_hash", "__tmp_disable_sharding"), Regex: "0;|.+;.+"},
	}
}

// targetLabels does what Prometheus' scrape.PopulateLabels does with a
// discovered target: add the job and scrape parameters, relabel, default
// instance to the address, and drop the __ labels. nil means dropped.
func targetLabels(t *testing.T, jobName, path string, discovered map[string]string, rcs []monitoringv1.RelabelConfig) map[string]string {
	t.Helper()
	lb := labels.NewBuilder(labels.EmptyLabels())
	for k, v := range discovered {
		lb.Set(k, v)
	}
	lb.Set(model.JobLabel, jobName)
	lb.Set(model.MetricsPathLabel, path)
	lb.Set(model.SchemeLabel, "http")
	cfgs := make([]*relabel.Config, len(rcs))
	for i, rc := range rcs {
		cfgs[i] = promRelabel(t, rc)
	}
	if !relabel.ProcessBuilder(lb, cfgs...) {
		return nil
	}
	if lb.Get(model.InstanceLabel) == "" {
		lb.Set(model.InstanceLabel, lb.Get(model.AddressLabel))
	}
	out := map[string]string{}
	lb.Labels().Range(func(l labels.Label) {
		if !strings.HasPrefix(l.Name, "__") {
			out[l.Name] = l.Value
		}
	})
	return out
}

// vllmPod is what Kubernetes service discovery (role pod) says about the
// API port of a vLLM pod deployed by vLLM's production-stack chart.
func vllmPod(extra map[string]string) map[string]string {
	m := map[string]string{
		"__address__":                                               "10.1.2.3:8000",
		"__meta_kubernetes_namespace":                               "ai",
		"__meta_kubernetes_pod_name":                                "vllm-llama-7d9f-x2x",
		"__meta_kubernetes_pod_node_name":                           "gpu-node-1",
		"__meta_kubernetes_pod_phase":                               "Running",
		"__meta_kubernetes_pod_container_name":                      "vllm",
		"__meta_kubernetes_pod_container_port_name":                 "container-port",
		"__meta_kubernetes_pod_container_port_number":               "8000",
		"__meta_kubernetes_pod_label_app_kubernetes_io_name":        "vllm",
		"__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
		"__meta_kubernetes_pod_label_model":                         "llama-3-8b",
		"__meta_kubernetes_pod_labelpresent_model":                  "true",
	}
	for k, v := range extra {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

func buildFor(t *testing.T, cfg stack.Config) map[string]Object {
	t.Helper()
	o, err := resolve(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	objs := buildObjects(t, cfg, o)
	byName := map[string]Object{}
	for _, obj := range objs {
		m, _ := metaOf(obj.Object)
		byName[obj.Object.GetObjectKind().GroupVersionKind().Kind+"/"+m.GetName()] = obj
	}
	return byName
}

// TestRelabelingWithPrometheus runs each monitor's relabeling, wrapped in
// the operator's own, through Prometheus' relabel package: the pods the
// selector names are kept with job, instance, namespace, pod, node and
// model; the others are dropped.
func TestRelabelingWithPrometheus(t *testing.T) {
	pods := buildFor(t, stack.Default())
	svcCfg := stack.Default()
	svcCfg.Kubernetes.Monitor = string(ServiceMonitor)
	services := buildFor(t, svcCfg)

	pm := func(name string) *monitoringv1.PodMonitor {
		return pods["PodMonitor/"+name].Object.(*monitoringv1.PodMonitor)
	}
	podJob := func(name string) (string, []monitoringv1.RelabelConfig) {
		m := pm(name)
		return "podMonitor/" + m.Namespace + "/" + m.Name + "/0", operatorPodMonitor(m)
	}
	sm := services["ServiceMonitor/llmmon-vllm"].Object.(*monitoringv1.ServiceMonitor)
	vllmTarget := map[string]string{"job": "vllm", "instance": "10.1.2.3:8000", "namespace": "ai", "pod": "vllm-llama-7d9f-x2x",
		"container": "vllm", "node": "gpu-node-1", "model": "llama-3-8b", "endpoint": "container-port"}

	tests := []struct {
		name       string
		monitor    string
		discovered map[string]string
		want       map[string]string // nil: dropped
	}{
		{"vLLM pod", "llmmon-vllm", vllmPod(nil), vllmTarget},
		{"vLLM pod without a model label", "llmmon-vllm", vllmPod(map[string]string{"__meta_kubernetes_pod_label_model": "", "__meta_kubernetes_pod_labelpresent_model": ""}),
			without(vllmTarget, "model")},
		{"vLLM pod, another port", "llmmon-vllm", vllmPod(map[string]string{"__meta_kubernetes_pod_container_port_name": "zmq-port", "__address__": "10.1.2.3:55555"}), nil},
		{"pod the selector does not name", "llmmon-vllm", vllmPod(map[string]string{"__meta_kubernetes_pod_label_app_kubernetes_io_name": "sglang"}), nil},
		{"finished pod", "llmmon-vllm", vllmPod(map[string]string{"__meta_kubernetes_pod_phase": "Succeeded"}), nil},
		{"gateway pod: the rules' job, no model", "llmmon-gateway", map[string]string{
			"__address__": "10.1.9.9:8000", "__meta_kubernetes_namespace": "monitoring", "__meta_kubernetes_pod_name": "llmmon-gateway-abc",
			"__meta_kubernetes_pod_node_name": "cpu-node-2", "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_container_name": "gateway",
			"__meta_kubernetes_pod_container_port_name":          "http",
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": "llmmon", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
			"__meta_kubernetes_pod_label_app_kubernetes_io_component": "gateway", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_component": "true",
			"__meta_kubernetes_pod_label_model": "ignored", "__meta_kubernetes_pod_labelpresent_model": "true",
		}, map[string]string{"job": "llm-server", "instance": "10.1.9.9:8000", "namespace": "monitoring", "pod": "llmmon-gateway-abc",
			"container": "gateway", "node": "cpu-node-2", "endpoint": "http"}},
		{"dcgm-exporter pod", "llmmon-dcgm", map[string]string{
			"__address__": "10.1.2.50:9400", "__meta_kubernetes_namespace": "gpu-operator", "__meta_kubernetes_pod_name": "dcgm-exporter-7k",
			"__meta_kubernetes_pod_node_name": "gpu-node-1", "__meta_kubernetes_pod_phase": "Running", "__meta_kubernetes_pod_container_name": "exporter",
			"__meta_kubernetes_pod_container_port_name":          "metrics",
			"__meta_kubernetes_pod_label_app_kubernetes_io_name": "dcgm-exporter", "__meta_kubernetes_pod_labelpresent_app_kubernetes_io_name": "true",
		}, map[string]string{"job": "dcgm", "instance": "10.1.2.50:9400", "namespace": "gpu-operator", "pod": "dcgm-exporter-7k",
			"container": "exporter", "node": "gpu-node-1", "endpoint": "metrics"}},
		{"vLLM through its Service (ServiceMonitor)", "service:llmmon-vllm", map[string]string{
			"__address__": "10.1.2.3:8000", "__meta_kubernetes_namespace": "ai", "__meta_kubernetes_service_name": "vllm-llama-engine-service",
			"__meta_kubernetes_service_label_app_kubernetes_io_name": "vllm", "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name": "true",
			"__meta_kubernetes_endpoint_port_name": "service-port", "__meta_kubernetes_endpoint_address_target_kind": "Pod",
			"__meta_kubernetes_endpoint_address_target_name": "vllm-llama-7d9f-x2x",
			"__meta_kubernetes_pod_name":                     "vllm-llama-7d9f-x2x", "__meta_kubernetes_pod_node_name": "gpu-node-1", "__meta_kubernetes_pod_phase": "Running",
			"__meta_kubernetes_pod_container_name": "vllm", "__meta_kubernetes_pod_label_model": "llama-3-8b", "__meta_kubernetes_pod_labelpresent_model": "true",
		}, map[string]string{"job": "vllm", "instance": "10.1.2.3:8000", "namespace": "ai", "pod": "vllm-llama-7d9f-x2x", "service": "vllm-llama-engine-service",
			"container": "vllm", "node": "gpu-node-1", "model": "llama-3-8b", "endpoint": "service-port"}},
		{"an endpoint backed by a node keeps the operator's node label", "service:llmmon-vllm", map[string]string{
			"__address__": "10.0.0.7:8000", "__meta_kubernetes_namespace": "ai", "__meta_kubernetes_service_name": "vllm-host",
			"__meta_kubernetes_service_label_app_kubernetes_io_name": "vllm", "__meta_kubernetes_service_labelpresent_app_kubernetes_io_name": "true",
			"__meta_kubernetes_endpoint_port_name": "service-port", "__meta_kubernetes_endpoint_address_target_kind": "Node",
			"__meta_kubernetes_endpoint_address_target_name": "gpu-node-3",
		}, map[string]string{"job": "vllm", "instance": "10.0.0.7:8000", "namespace": "ai", "service": "vllm-host", "node": "gpu-node-3", "endpoint": "service-port"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var jobName, path string
			var rcs []monitoringv1.RelabelConfig
			if name, ok := strings.CutPrefix(tt.monitor, "service:"); ok && name == sm.Name {
				jobName, path, rcs = "serviceMonitor/"+sm.Namespace+"/"+sm.Name+"/0", sm.Spec.Endpoints[0].Path, operatorServiceMonitor(sm)
			} else {
				jobName, rcs = podJob(tt.monitor)
				path = pm(tt.monitor).Spec.PodMetricsEndpoints[0].Path
			}
			got := targetLabels(t, jobName, path, tt.discovered, rcs)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("target labels\n got  %v\n want %v", got, tt.want)
			}
		})
	}

	// Those target labels, on a vLLM series, are what the dashboard's
	// variables and vLLM queries select.
	series := maps.Clone(vllmTarget)
	series["model_name"] = "meta-llama/Llama-3.1-8B-Instruct" // from vLLM's own exposition
	checkDashboardSelects(t, series)
}

func without(m map[string]string, key string) map[string]string {
	out := maps.Clone(m)
	delete(out, key)
	return out
}

// checkDashboardSelects finds, for every query of the dashboard's vLLM row
// and of its job, instance and model_name variables, that each selector of
// a vllm: metric matches a series with these labels once the variables
// take the series' own values.
func checkDashboardSelects(t *testing.T, series map[string]string) {
	t.Helper()
	raw, err := os.ReadFile("../../dashboards/llm-server.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []dashPanel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	// The model variable lists vLLM's model_name (label_replace'd to model)
	// beside the gateway's gen_ai_request_model.
	vars := map[string]string{"job": series["job"], "instance": series["instance"], "model": series["model_name"],
		"__rate_interval": "1m", "__interval": "15s", "__range": "1h"}
	var exprs []string
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*(\w+)\)$`)
	queryResult := regexp.MustCompile(`^query_result\((.*)\)$`)
	for _, v := range d.Templating.List {
		q, _ := v.Query.(map[string]any)
		if q == nil || vars[v.Name] == "" {
			continue
		}
		if m := queryResult.FindStringSubmatch(q["query"].(string)); m != nil {
			if !strings.Contains(m[1], `"model_name"`) {
				t.Errorf("variable %s: query %s does not read vLLM's model_name", v.Name, m[1])
			}
			exprs = append(exprs, m[1])
			continue
		}
		m := labelValues.FindStringSubmatch(q["query"].(string))
		if m == nil {
			t.Fatalf("variable %s: query %v is neither label_values nor query_result", v.Name, q["query"])
		}
		if _, ok := series[m[2]]; !ok {
			t.Errorf("variable %s lists label %s, which the series lacks", v.Name, m[2])
		}
		exprs = append(exprs, m[1])
	}
	row := ""
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				row = p.Title
				walk(p.Panels)
				continue
			}
			if row == "Engine (vLLM)" {
				for _, tg := range p.Targets {
					exprs = append(exprs, tg.Expr)
				}
			}
		}
	}
	walk(d.Panels)

	varRef := regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$([A-Za-z_]\w*)`) // not label_replace's $1
	p := parser.NewParser(parser.Options{})
	checked := 0
	for _, e := range exprs {
		e = varRef.ReplaceAllStringFunc(e, func(ref string) string {
			m := varRef.FindStringSubmatch(ref)
			v, ok := vars[m[1]+m[2]]
			if !ok {
				t.Fatalf("query %s refers to unknown variable %s", e, ref)
			}
			return v
		})
		expr, err := p.ParseExpr(e)
		if err != nil {
			t.Fatalf("parse %s: %v", e, err)
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && name == "" && m.Matches("vllm:num_requests_running") {
					name = "vllm:num_requests_running"
				}
			}
			if !strings.HasPrefix(name, "vllm:") {
				return nil // another exporter's series (the model variable's gen_ai_*)
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				if !m.Matches(series[m.Name]) {
					t.Errorf("%s: matcher %s does not match the vLLM pod's series %v", e, m, series)
				}
			}
			checked++
			return nil
		})
	}
	if checked < 20 {
		t.Fatalf("only %d vllm: selectors checked; the dashboard's vLLM row has more", checked)
	}
	t.Logf("%d vllm: selectors of %d queries match %v", checked, len(exprs), sortedKeys(series))
}

type dashPanel struct {
	Type    string      `json:"type"`
	Title   string      `json:"title"`
	Panels  []dashPanel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}
