package testenv

import (
	"context"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// Sample is one series of an instant-query result.
type Sample = prometheus.Sample

// Query runs an instant PromQL query and returns its vector (a scalar
// comes back as one sample without labels).
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	return p.Client.Query(ctx, q)
}
