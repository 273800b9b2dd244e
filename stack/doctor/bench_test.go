package doctor

import (
	"context"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/docker"
)

func benchDoctor(b *testing.B, dockerHost, promURL, grafURL, metricsURL string) {
	b.Setenv("DOCKER_HOST", dockerHost)
	eng, err := docker.New()
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	o := Options{Dir: b.TempDir(), Config: stack.Default(), Engine: eng,
		PrometheusURL: promURL, GrafanaURL: grafURL, MetricsURL: metricsURL}
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
		r := Run(ctx, Checks(ctx, o))
		cancel()
		if r.ExitCode() != 1 {
			b.Fatalf("exit %d with everything down", r.ExitCode())
		}
	}
}

// BenchmarkDoctorEverythingDown: no daemon, nothing listening.
func BenchmarkDoctorEverythingDown(b *testing.B) {
	closed := func() string { return closedURL(b) }
	benchDoctor(b, "unix:///nonexistent.sock", closed(), closed(), closed()+"/metrics")
}

// BenchmarkDoctorEverythingHangs: the daemon, Prometheus, Grafana and the
// LLM server all accept connections and never answer; the run is bounded
// by the checks' timeouts, not by the parts.
func BenchmarkDoctorEverythingHangs(b *testing.B) {
	benchDoctor(b, "tcp://"+hangingListener(b), "http://"+hangingListener(b), "http://"+hangingListener(b), "http://"+hangingListener(b)+"/metrics")
}
