package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
)

// Sample is one series of an instant-query result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its vector (a scalar
// comes back as one sample without labels). Only tests query Prometheus:
// llmmon itself reads targets, config and metric names.
func (p *Prometheus) Query(ctx context.Context, q string) ([]Sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := p.Client.Get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
		return nil, fmt.Errorf("query %q: %w", q, err)
	}
	switch data.ResultType {
	case "vector":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			return nil, fmt.Errorf("query %q: decode: %w", q, err)
		}
		out := make([]Sample, 0, len(raw))
		for _, r := range raw {
			v, err := parseValue(r.Value[1])
			if err != nil {
				return nil, fmt.Errorf("query %q: %w", q, err)
			}
			out = append(out, Sample{Metric: r.Metric, Value: v})
		}
		return out, nil
	case "scalar":
		var raw [2]any
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			return nil, fmt.Errorf("query %q: decode: %w", q, err)
		}
		v, err := parseValue(raw[1])
		if err != nil {
			return nil, err
		}
		return []Sample{{Value: v}}, nil
	default:
		return nil, fmt.Errorf("query %q: unsupported result type %q", q, data.ResultType)
	}
}

func parseValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("unexpected sample value %v", v)
	}
	return strconv.ParseFloat(s, 64) // handles NaN and ±Inf as Prometheus writes them
}
