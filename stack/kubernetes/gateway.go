package kubernetes

import (
	"maps"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Gateway resources: serve holds ~50 MB with 1,000 streams open (see the
// README's figures), so 256Mi leaves room; no CPU limit, since throttling
// a latency-sensitive proxy shows up as TTFT.
var (
	gatewayCPURequest    = resource.MustParse("100m")
	gatewayMemoryRequest = resource.MustParse("64Mi")
	gatewayMemoryLimit   = resource.MustParse("256Mi")
)

// gatewayShutdownSeconds covers serve's --shutdown-timeout (30 s) of
// in-flight streams after SIGTERM.
const gatewayShutdownSeconds = 35

// gatewayArgs are `llmmon serve --upstream ...` on all interfaces.
func (g Gateway) args() []string {
	args := []string{"serve", "--host", "0.0.0.0", "--port", strconv.Itoa(gatewayPort)}
	for _, u := range g.Upstreams {
		args = append(args, "--upstream", u)
	}
	return args
}

// env hands serve its keys from Secrets, which serve reads from the
// environment; a key in Args would be in the manifest and in ps.
func (g Gateway) env() []corev1.EnvVar {
	var env []corev1.EnvVar
	for _, s := range []struct {
		name string
		ref  *corev1.SecretKeySelector
	}{{"LLMMON_API_KEY", g.APIKey}, {"LLMMON_UPSTREAM_API_KEY", g.UpstreamAPIKey}} {
		if s.ref != nil {
			env = append(env, corev1.EnvVar{Name: s.name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: s.ref}})
		}
	}
	return env
}

// podLabels carry the gateway selector, so the gateway's monitor (and
// Service) select exactly these pods.
func (b *builder) gatewayPodLabels() map[string]string {
	l := maps.Clone(b.o.Gateway.Selector)
	l[labelPartOf] = partOf
	return l
}

func (b *builder) gatewayDeployment() *appsv1.Deployment {
	g := b.o.Gateway
	replicas := g.Replicas
	yes, no := true, false
	uid := int64(ImageUID)
	probe := func(period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromString(gatewayPortName)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   2,
			FailureThreshold: failures,
		}
	}
	grace := int64(gatewayShutdownSeconds)
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: b.meta("gateway", componentGateway, false),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: maps.Clone(g.Selector)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: b.gatewayPodLabels()},
				Spec: corev1.PodSpec{
					// The gateway never talks to the Kubernetes API.
					AutomountServiceAccountToken:  &no,
					TerminationGracePeriodSeconds: &grace,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &uid,
						RunAsGroup:     &uid,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:            "gateway",
						Image:           g.Image,
						ImagePullPolicy: corev1.PullIfNotPresent,
						Args:            g.args(),
						Env:             g.env(),
						Ports:           []corev1.ContainerPort{{Name: gatewayPortName, ContainerPort: gatewayPort, Protocol: corev1.ProtocolTCP}},
						ReadinessProbe:  probe(5, 3),
						LivenessProbe:   probe(10, 6),
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: gatewayCPURequest, corev1.ResourceMemory: gatewayMemoryRequest},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: gatewayMemoryLimit},
						},
						SecurityContext: &corev1.SecurityContext{
							AllowPrivilegeEscalation: &no,
							Privileged:               &no,
							ReadOnlyRootFilesystem:   &yes,
							RunAsNonRoot:             &yes,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
				},
			},
		},
	}
}

func (b *builder) gatewayService() *corev1.Service {
	m := b.meta("gateway", componentGateway, false)
	// A ServiceMonitor selects the Service by these labels.
	maps.Copy(m.Labels, b.o.Gateway.Selector)
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: m,
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: maps.Clone(b.o.Gateway.Selector),
			Ports: []corev1.ServicePort{{
				Name: gatewayPortName, Port: gatewayPort, TargetPort: intstr.FromString(gatewayPortName), Protocol: corev1.ProtocolTCP,
			}},
		},
	}
}
