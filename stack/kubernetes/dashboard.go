package kubernetes

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/llmmon/llmmon/stack/grafana"
)

// DashboardKey is the dashboard's file name in the ConfigMap, as in dashboards/.
const DashboardKey = "llm-server.json"

// dashboardConfigMap is what Grafana's dashboard sidecar (as
// kube-prometheus-stack runs it) loads: the label selects it, and the
// folder annotation files it, when the sidecar's folderAnnotation is set
// to the same name and provider.foldersFromFilesStructure is true.
func (b *builder) dashboardConfigMap(json []byte) *corev1.ConfigMap {
	m := b.meta("dashboard", componentDash, false)
	m.Labels[dashboardLabel] = dashboardLabelValue
	m.Annotations = map[string]string{b.o.FolderAnnotation: grafana.DefaultFolder}
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: m,
		Data:       map[string]string{DashboardKey: string(json)},
	}
}

// grafanaDashboard is grafana-operator's GrafanaDashboard
// (grafana.integreatly.org/v1beta1). Its Go types are not on the module
// proxy here (github.com/grafana/grafana-operator/v5 is refused), so it is
// built as unstructured, with the field names of its
// api/v1beta1/grafanadashboard_types.go: instanceSelector (required),
// folder, json. The test decodes it strictly into a copy of that shape.
func (b *builder) grafanaDashboard(json []byte) *unstructured.Unstructured {
	m := b.meta("llm-server", componentDash, false)
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "grafana.integreatly.org/v1beta1",
		"kind":       "GrafanaDashboard",
		"metadata": map[string]any{
			"name":      m.Name,
			"namespace": m.Namespace,
			"labels":    stringMap(m.Labels),
		},
		"spec": map[string]any{
			"instanceSelector": map[string]any{"matchLabels": stringMap(b.o.InstanceSelector)},
			"folder":           grafana.DefaultFolder,
			"json":             string(json),
		},
	}}
	return u
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
