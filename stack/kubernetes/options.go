package kubernetes

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"sort"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
)

// Defaults of the kubernetes: settings.
const (
	DefaultNamespace        = "monitoring"
	DefaultRelease          = "kube-prometheus-stack"
	DefaultModelLabel       = "model"
	DefaultFolderAnnotation = "grafana_folder"
	DefaultImageRepository  = "llmmon"
	defaultGatewayReplicas  = 1
)

// MonitorKind is the Prometheus Operator object that scrapes a job.
type MonitorKind string

// Monitor kinds, as the kubernetes.monitor setting takes them.
const (
	PodMonitor     MonitorKind = "PodMonitor"
	ServiceMonitor MonitorKind = "ServiceMonitor"
)

// Options are the resolved kubernetes: settings: every default filled in
// and every value checked.
type Options struct {
	Namespace  string
	Release    string
	Monitor    MonitorKind
	ModelLabel string
	Engines    []Engine
	Gateway    Gateway
	// FolderAnnotation carries the dashboard folder for Grafana's sidecar.
	FolderAnnotation string
	// GrafanaOperator also writes a GrafanaDashboard for InstanceSelector.
	GrafanaOperator  bool
	InstanceSelector map[string]string
	// Alerting is alerting: in llmmon.yaml as Alertmanager takes it, with
	// secrets as keys of the receivers' Secret (alertingSettings). With
	// receivers it becomes an AlertmanagerConfig; without, none is written.
	Alerting alertmanager.Settings
}

// Engine is one engine's scrape job.
type Engine struct {
	Kind       EngineKind
	Job        string
	Selector   map[string]string
	Namespaces []string // empty: every namespace
	Port       string
	Path       string
}

// Gateway is llmmon's gateway job, and its Deployment when Upstreams are set.
type Gateway struct {
	Job        string
	Upstreams  []string
	Image      string
	Replicas   int32
	Selector   map[string]string
	Namespaces []string
	Port       string
	Path       string
	// APIKey and UpstreamAPIKey are the Secret keys serve reads its keys
	// from (nil: none).
	APIKey, UpstreamAPIKey *corev1.SecretKeySelector
}

// Deploy reports whether render writes the gateway's Deployment and Service.
func (g Gateway) Deploy() bool { return len(g.Upstreams) > 0 }

// resolve fills the defaults of cfg.Kubernetes and checks every value,
// reporting all problems at once, each a *stack.SettingError naming its
// setting (kubernetes.namespace), which the CLI words as the flag or the
// llmmon.yaml key the user gave. version tags the default gateway image.
func resolve(cfg stack.Config, version string) (Options, error) {
	k := cfg.Kubernetes
	var errs []error
	bad := func(path, format string, a ...any) {
		errs = append(errs, stack.NewSettingError([]string{path}, "{}: "+format, a...))
	}
	o := Options{
		Namespace:        or(k.Namespace, DefaultNamespace),
		Release:          or(k.Release, DefaultRelease),
		Monitor:          MonitorKind(or(k.Monitor, string(PodMonitor))),
		ModelLabel:       or(k.ModelLabel, DefaultModelLabel),
		FolderAnnotation: or(k.Grafana.FolderAnnotation, DefaultFolderAnnotation),
		GrafanaOperator:  k.Grafana.Operator,
		InstanceSelector: orMap(k.Grafana.InstanceSelector, map[string]string{"dashboards": "grafana"}),
	}
	if msgs := content.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		bad("kubernetes.namespace", "%q is not a namespace name: %s", o.Namespace, strings.Join(msgs, "; "))
	}
	if msgs := content.IsLabelValue(o.Release); len(msgs) > 0 {
		bad("kubernetes.release", "%q is not a label value: %s", o.Release, strings.Join(msgs, "; "))
	}
	if o.Monitor != PodMonitor && o.Monitor != ServiceMonitor {
		bad("kubernetes.monitor", "%q: want PodMonitor or ServiceMonitor", k.Monitor)
	}
	if msgs := content.IsLabelKey(o.ModelLabel); len(msgs) > 0 {
		bad("kubernetes.model_label", "%q is not a pod label name: %s", o.ModelLabel, strings.Join(msgs, "; "))
	}
	if msgs := content.IsLabelKey(o.FolderAnnotation); len(msgs) > 0 {
		bad("kubernetes.grafana.folder_annotation", "%q is not an annotation name: %s", o.FolderAnnotation, strings.Join(msgs, "; "))
	}
	checkLabels(bad, "kubernetes.grafana.instance_selector", o.InstanceSelector)

	jobs := map[string]string{}
	// Job names are valid: llm_server.name is checked with the rest of the
	// stack's settings, and an engine's must be an object name (below).
	claim := func(path, job string) {
		if other, ok := jobs[job]; ok {
			errs = append(errs, stack.NewSettingError([]string{path, other}, "{}: job %q is already the job of {}: give each its own name", job))
		}
		jobs[job] = path
	}
	// The gateway's job is the LLM server's: the alert rules watch it.
	claim("llm_server.name", cfg.LLMServer.Name)

	settings := k.Engines
	if settings == nil {
		for _, kind := range engineKinds {
			settings = append(settings, stack.KubernetesEngine{Kind: string(kind)})
		}
	}
	for i, e := range settings {
		key := fmt.Sprintf("engines[%d]", i)
		kind := EngineKind(e.Kind)
		d, ok := engineDefaults[kind]
		if !ok {
			bad("kubernetes."+key+".kind", "unknown engine %q: want one of %s", e.Kind, kindList())
			continue
		}
		eng := Engine{
			Kind:       kind,
			Job:        or(e.Name, string(kind)),
			Selector:   orMap(e.Selector, d.selector),
			Namespaces: e.Namespaces,
			Port:       or(e.Port, d.port(o.Monitor)),
			Path:       or(e.Path, d.path),
		}
		claim("kubernetes."+key+".name", eng.Job)
		if msgs := content.IsDNS1123Label(eng.Job); len(msgs) > 0 {
			// It names the monitor object too.
			bad("kubernetes."+key+".name", "%q must also be a Kubernetes object name: %s", eng.Job, strings.Join(msgs, "; "))
		} else if eng.Job == componentGateway {
			bad("kubernetes."+key+".name", "%q names llmmon's gateway monitor: choose another name", eng.Job)
		}
		checkTarget(bad, key, eng.Selector, eng.Namespaces, eng.Port, eng.Path)
		o.Engines = append(o.Engines, eng)
	}

	g := k.Gateway
	o.Gateway = Gateway{
		Job:        cfg.LLMServer.Name, // the alert rules watch this job
		Upstreams:  g.Upstreams,
		Image:      or(g.Image, DefaultImageRepository+":"+imageTag(version)),
		Replicas:   int32(g.Replicas),
		Selector:   orMap(g.Selector, map[string]string{labelName: "llmmon", labelComponent: componentGateway}),
		Namespaces: g.Namespaces,
		Port:       gatewayPortName,
		Path:       stack.DefaultMetricsPath,
	}
	if o.Gateway.Replicas == 0 {
		o.Gateway.Replicas = defaultGatewayReplicas
	}
	o.Gateway.APIKey = secretRef(bad, "kubernetes.gateway.api_key_secret", g.APIKeySecret)
	o.Gateway.UpstreamAPIKey = secretRef(bad, "kubernetes.gateway.upstream_api_key_secret", g.UpstreamAPIKeySecret)
	checkTarget(bad, "gateway", o.Gateway.Selector, o.Gateway.Namespaces, o.Gateway.Port, o.Gateway.Path)
	for i, u := range g.Upstreams {
		if err := checkUpstream(u); err != nil {
			bad(fmt.Sprintf("kubernetes.gateway.upstreams[%d]", i), "%v", err)
		}
	}
	if g.Replicas < 0 {
		bad("kubernetes.gateway.replicas", "%d: must be at least 1", g.Replicas)
	}
	if _, err := reference.ParseNormalizedNamed(o.Gateway.Image); err != nil {
		bad("kubernetes.gateway.image", "%q is not an image reference: %v", o.Gateway.Image, err)
	}
	if o.Gateway.Deploy() && len(g.Namespaces) > 0 {
		errs = append(errs, stack.NewSettingError([]string{"kubernetes.gateway.namespaces", "kubernetes.namespace"},
			"{}: the gateway render deploys runs in {} %q; namespaces is for a gateway you run yourself", o.Namespace))
	}
	o.Alerting = alertingSettings(cfg)
	// Each secret is a key of the receivers' Secret, named after its receiver.
	for _, ref := range cfg.Alerting.Secrets() {
		if msgs := validation.IsConfigMapKey(ref.Name); len(msgs) > 0 {
			receiver, _, _ := strings.Cut(ref.Setting, "].")
			bad(receiver+"].name", "render --kubernetes keeps this receiver's secret under the Secret key %q, which is not a valid key (%s): rename the receiver",
				ref.Name, strings.Join(msgs, "; "))
		}
	}
	return o, errors.Join(errs...)
}

func checkTarget(bad func(string, string, ...any), key string, selector map[string]string, namespaces []string, port, path string) {
	if len(selector) == 0 {
		bad("kubernetes."+key+".selector", "must not be empty: it would select every pod")
	}
	checkLabels(bad, "kubernetes."+key+".selector", selector)
	for i, ns := range namespaces {
		if msgs := content.IsDNS1123Label(ns); len(msgs) > 0 {
			bad(fmt.Sprintf("kubernetes.%s.namespaces[%d]", key, i), "%q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
		}
	}
	if msgs := validation.IsValidPortName(port); len(msgs) > 0 {
		bad("kubernetes."+key+".port", "%q is not a port name: %s", port, strings.Join(msgs, "; "))
	}
	if !strings.HasPrefix(path, "/") {
		bad("kubernetes."+key+".path", "%q must start with /", path)
	}
}

func checkLabels(bad func(string, string, ...any), key string, labels map[string]string) {
	for _, name := range sortedKeys(labels) {
		if msgs := content.IsLabelKey(name); len(msgs) > 0 {
			bad(key, "%q is not a label name: %s", name, strings.Join(msgs, "; "))
		}
		if msgs := content.IsLabelValue(labels[name]); len(msgs) > 0 {
			bad(key, "%q is not a value for label %s: %s", labels[name], name, strings.Join(msgs, "; "))
		}
	}
}

// checkUpstream accepts what serve --upstream accepts: [NAME=]URL.
func checkUpstream(s string) error {
	raw := s
	if name, rest, ok := strings.Cut(s, "="); ok && !strings.Contains(name, "/") {
		raw = rest
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want [NAME=]URL with an http:// or https:// engine URL, e.g. http://vllm.ai.svc:8000/v1", s)
	}
	return nil
}

// imageTag makes a version a valid image tag, as make image tags it:
// a Go pseudo-version's + is not allowed in a tag.
func imageTag(version string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, version)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func orMap(v, def map[string]string) map[string]string {
	if len(v) == 0 {
		return maps.Clone(def)
	}
	return maps.Clone(v)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// secretRef reads NAME/KEY ("" is none) as a Secret key selector.
func secretRef(bad func(path, format string, a ...any), path, v string) *corev1.SecretKeySelector {
	if v == "" {
		return nil
	}
	name, key, ok := strings.Cut(v, "/")
	if !ok || name == "" || key == "" {
		bad(path, "%q: want SECRET/KEY, like llmmon-gateway/upstream-api-key", v)
		return nil
	}
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
		bad(path, "%q is not a Secret name: %s", name, strings.Join(msgs, "; "))
	}
	if msgs := validation.IsConfigMapKey(key); len(msgs) > 0 {
		bad(path, "%q is not a Secret key: %s", key, strings.Join(msgs, "; "))
	}
	return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
}
