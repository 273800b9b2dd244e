package kubernetes

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// KustomizationFile is the kustomize entry point render writes.
const KustomizationFile = "kustomization.yaml"

// Object is one Kubernetes object and the file render writes it to.
type Object struct {
	File   string
	Object runtime.Object
}

type builder struct {
	cfg      stack.Config
	o        Options
	prefix   string
	interval string
}

// Render checks the stack's settings and its kubernetes: section,
// reporting every problem at once with where each setting came from, and
// returns the kustomize base: one file per object and the kustomization
// that lists them. version tags the default gateway image.
func Render(s stack.Settings, version string) ([]stack.File, error) {
	o, kerr := resolve(s.Config, version)
	rendered, err := s.Render()
	if err := errors.Join(err, s.WithOrigins(kerr)); err != nil {
		return nil, err
	}
	objs, err := build(s.Config, rendered, o)
	if err != nil {
		return nil, err
	}
	return encode(objs)
}

// build returns every object of the kustomize base, in the order the
// kustomization lists them. The alert rules are the file `up` renders,
// read into the operator's types; the dashboard is the embedded JSON.
func build(cfg stack.Config, rendered stack.Rendered, o Options) ([]Object, error) {
	var rules []byte
	for _, f := range rendered.Prometheus {
		if f.Path == prometheus.RulesFile {
			rules = f.Content
		}
	}
	groups, err := ruleGroups(rules)
	if err != nil {
		return nil, err
	}
	b := &builder{cfg: cfg, o: o, prefix: objectPrefix(cfg), interval: cfg.ScrapeInterval.PromString()}

	var objs []Object
	add := func(obj runtime.Object) {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		name := ""
		if m, err := metaOf(obj); err == nil {
			name = m.GetName()
		}
		objs = append(objs, Object{File: strings.ToLower(kind) + "-" + name + ".yaml", Object: obj})
	}
	for _, j := range b.scrapeJobs() {
		if o.Monitor == ServiceMonitor {
			add(b.serviceMonitor(j))
		} else {
			add(b.podMonitor(j))
		}
	}
	add(b.prometheusRule(groups))
	dash := dashboards.JSON()
	add(b.dashboardConfigMap(dash))
	if o.GrafanaOperator {
		add(b.grafanaDashboard(dash))
	}
	if len(o.Alerting.Receivers) > 0 {
		amc, err := b.alertmanagerConfig()
		if err != nil {
			return nil, err
		}
		add(amc)
	}
	if o.Gateway.Deploy() {
		add(b.gatewayDeployment())
		add(b.gatewayService())
	}
	return objs, nil
}

// objectPrefix starts every object's name: llmmon-, or NAME-llmmon- with --name.
func objectPrefix(cfg stack.Config) string {
	if cfg.Name != "" {
		return cfg.Name + "-llmmon-"
	}
	return "llmmon-"
}

// meta names an object and gives it llmmon's labels; release adds the
// label kube-prometheus-stack's selectors match.
func (b *builder) meta(name, component string, release bool) metav1.ObjectMeta {
	l := map[string]string{
		labelName:      partOf,
		labelPartOf:    partOf,
		labelManagedBy: partOf,
		labelComponent: component,
	}
	if b.cfg.Name != "" {
		l[labelInstance] = b.cfg.Name
	}
	if release {
		l[labelRelease] = b.o.Release
	}
	return metav1.ObjectMeta{Name: b.prefix + name, Namespace: b.o.Namespace, Labels: l}
}

func metaOf(obj runtime.Object) (metav1.Object, error) {
	if m, ok := obj.(metav1.Object); ok {
		return m, nil
	}
	return nil, fmt.Errorf("%T has no object metadata", obj)
}

// encode writes the objects and the kustomization that lists them. Each
// object file is exactly sigs.k8s.io/yaml's encoding of the typed object,
// so decoding it strictly and encoding it again gives the same bytes.
func encode(objs []Object) ([]stack.File, error) {
	var files []stack.File
	k := kustomization{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization"}
	for _, o := range objs {
		b, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", o.File, err)
		}
		files = append(files, stack.File{Path: o.File, Content: b, Mode: 0o644})
		k.Resources = append(k.Resources, o.File)
	}
	b, err := yaml.Marshal(k)
	if err != nil {
		return nil, err
	}
	return append(files, stack.File{Path: KustomizationFile, Content: b, Mode: 0o644}), nil
}

// kustomization is the part of kustomize's Kustomization render uses.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// Write writes the base into dir, leaving unchanged files alone, and
// removes the object files of a previous render that the base no longer
// has (see stale); it returns what it wrote and what it removed.
func Write(dir string, base []stack.File) (written []stack.WriteResult, removed []string, err error) {
	old, err := stale(dir, base)
	if err != nil {
		return nil, nil, err
	}
	if written, err = stack.WriteTree(dir, base); err != nil {
		return written, nil, err
	}
	for _, path := range old {
		if err := os.Remove(path); err != nil {
			return written, removed, fmt.Errorf("remove %s, which the settings no longer produce: %w", path, err)
		}
		removed = append(removed, path)
	}
	return written, removed, nil
}

// stale lists the object files a previous render listed in dir's
// kustomization.yaml that files no longer has: the base must not keep an
// object (a gateway Deployment, an engine's monitor) the settings dropped.
// Only files that carry llmmon's part-of label are listed.
func stale(dir string, files []stack.File) ([]string, error) {
	old, err := os.ReadFile(filepath.Join(dir, KustomizationFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var k kustomization
	if err := yaml.Unmarshal(old, &k); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, KustomizationFile), err)
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Path] = true
	}
	var stale []string
	for _, r := range k.Resources {
		if keep[r] || filepath.Base(r) != r {
			continue
		}
		var m metav1.PartialObjectMetadata
		b, err := os.ReadFile(filepath.Join(dir, r))
		if err != nil || yaml.Unmarshal(b, &m) != nil || m.Labels[labelPartOf] != partOf {
			continue
		}
		stale = append(stale, filepath.Join(dir, r))
	}
	return stale, nil
}
