package kubernetes

import (
	"fmt"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// ruleGroups reads a Prometheus rule file (what `up` renders) into the
// operator's types. The CRD's rule fields are the rule file's own (for,
// keep_firing_for, ...), so a strict decode refuses anything the
// PrometheusRule would silently drop.
func ruleGroups(ruleFile []byte) ([]monitoringv1.RuleGroup, error) {
	var f struct {
		Groups []monitoringv1.RuleGroup `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(ruleFile, &f); err != nil {
		return nil, fmt.Errorf("read the rendered alert rules into a PrometheusRule: %w", err)
	}
	if len(f.Groups) == 0 {
		return nil, fmt.Errorf("the rendered alert rules have no groups")
	}
	return f.Groups, nil
}

func (b *builder) prometheusRule(groups []monitoringv1.RuleGroup) *monitoringv1.PrometheusRule {
	return &monitoringv1.PrometheusRule{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1.SchemeGroupVersion.String(), Kind: monitoringv1.PrometheusRuleKind},
		ObjectMeta: b.meta("rules", componentRules, true),
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: groups},
	}
}
