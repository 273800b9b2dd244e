package kubernetes

import (
	"encoding/json"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// alertmanagerConfig routes every llmmon alert to each receiver, grouped
// per alert and target, and lets a critical alert silence the warning of
// the same name on the same target.
//
// The operator adds a namespace="<this namespace>" matcher to the route
// unless the Alertmanager's alertmanagerConfigMatcherStrategy is None; most
// llmmon alerts aggregate the namespace away, so the README tells
// kube-prometheus-stack users to set it.
func (b *builder) alertmanagerConfig() (*monitoringv1alpha1.AlertmanagerConfig, error) {
	rs := b.o.Receivers
	d := func(s string) *monitoringv1.NonEmptyDuration { v := monitoringv1.NonEmptyDuration(s); return &v }
	route := &monitoringv1alpha1.Route{
		Receiver:       rs[0].Name,
		GroupBy:        []string{"alertname", "job", "instance"},
		GroupWait:      d("30s"),
		GroupInterval:  d("5m"),
		RepeatInterval: d("4h"),
	}
	if len(rs) > 1 {
		// Child routes without matchers that continue: every receiver gets every alert.
		for _, r := range rs {
			child, err := json.Marshal(monitoringv1alpha1.Route{Receiver: r.Name, Continue: true})
			if err != nil {
				return nil, err
			}
			route.Routes = append(route.Routes, apiextensionsv1.JSON{Raw: child})
		}
	}
	return &monitoringv1alpha1.AlertmanagerConfig{
		TypeMeta:   metav1.TypeMeta{APIVersion: monitoringv1alpha1.SchemeGroupVersion.String(), Kind: monitoringv1alpha1.AlertmanagerConfigKind},
		ObjectMeta: b.meta("alerts", componentAlerts, true),
		Spec: monitoringv1alpha1.AlertmanagerConfigSpec{
			Route:     route,
			Receivers: rs,
			InhibitRules: []monitoringv1alpha1.InhibitRule{{
				SourceMatch: []monitoringv1alpha1.Matcher{{Name: "severity", Value: "critical", MatchType: monitoringv1alpha1.MatchEqual}},
				TargetMatch: []monitoringv1alpha1.Matcher{{Name: "severity", Value: "warning", MatchType: monitoringv1alpha1.MatchEqual}},
				Equal:       []string{"alertname", "job", "instance"},
			}},
		},
	}, nil
}
