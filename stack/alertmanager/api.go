package alertmanager

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Client is a small client of Alertmanager's HTTP API: what up, status,
// doctor and `llmmon alerts` ask of it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:9093
	HTTP    *http.Client
}

// NewClient returns a client with a bounded per-request timeout.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 5 * time.Second}}
}

func (c *Client) get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alertmanager at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("alertmanager at %s: %w", c.BaseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alertmanager at %s: GET %s: HTTP %d: %s", c.BaseURL, path, resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	return body, nil
}

// Ready reports nil once /-/ready answers 200.
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.get(ctx, "/-/ready")
	return err
}

// Alert is one alert Alertmanager holds, as /api/v2/alerts reports it.
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	// State is active, suppressed (silenced or inhibited) or unprocessed.
	State       string   `json:"state"`
	SilencedBy  []string `json:"silencedBy,omitempty"`
	InhibitedBy []string `json:"inhibitedBy,omitempty"`
	// Receivers are the receivers its route sends it to.
	Receivers []string `json:"receivers"`
}

// Alerts lists the alerts Alertmanager holds that have not resolved.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	body, err := c.get(ctx, "/api/v2/alerts")
	if err != nil {
		return nil, err
	}
	var raw []struct {
		Fingerprint string            `json:"fingerprint"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		Status      struct {
			State       string   `json:"state"`
			SilencedBy  []string `json:"silencedBy"`
			InhibitedBy []string `json:"inhibitedBy"`
		} `json:"status"`
		Receivers []struct {
			Name string `json:"name"`
		} `json:"receivers"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("alertmanager at %s: read alerts: %w", c.BaseURL, err)
	}
	out := make([]Alert, 0, len(raw))
	for _, r := range raw {
		a := Alert{Fingerprint: r.Fingerprint, Labels: r.Labels, Annotations: r.Annotations, StartsAt: r.StartsAt,
			State: r.Status.State, SilencedBy: r.Status.SilencedBy, InhibitedBy: r.Status.InhibitedBy}
		for _, rc := range r.Receivers {
			a.Receivers = append(a.Receivers, rc.Name)
		}
		out = append(out, a)
	}
	return out, nil
}

// Integration is how one kind of notification (webhook, slack, email,
// pagerduty) has fared since Alertmanager started, from its own metrics.
type Integration struct {
	Name string `json:"integration"`
	// Attempts counts every try, retries included; Failed the tries that failed.
	Attempts float64 `json:"attempts"`
	Failed   float64 `json:"failed"`
}

// Notifications reads alertmanager_notifications_total and
// alertmanager_notifications_failed_total from /metrics, summed per
// integration. Integrations never tried are left out.
func (c *Client) Notifications(ctx context.Context) ([]Integration, error) {
	body, err := c.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("alertmanager at %s: read /metrics: %w", c.BaseURL, err)
	}
	by := map[string]*Integration{}
	sum := func(name string, add func(*Integration, float64)) {
		f := fams[name]
		if f == nil {
			return
		}
		for _, m := range f.GetMetric() {
			integ := ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "integration" {
					integ = l.GetValue()
				}
			}
			if by[integ] == nil {
				by[integ] = &Integration{Name: integ}
			}
			add(by[integ], m.GetCounter().GetValue())
		}
	}
	sum("alertmanager_notifications_total", func(i *Integration, v float64) { i.Attempts += v })
	sum("alertmanager_notifications_failed_total", func(i *Integration, v float64) { i.Failed += v })
	var out []Integration
	for _, i := range by {
		if i.Attempts > 0 || i.Failed > 0 {
			out = append(out, *i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out, nil
}
