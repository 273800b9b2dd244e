package prometheus

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client is a small client of Prometheus' HTTP API: just what up, status
// and doctor ask of it.
type Client struct {
	BaseURL string // e.g. http://127.0.0.1:9090
	HTTP    *http.Client
}

// NewClient returns a client with a bounded per-request timeout.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 5 * time.Second}}
}

// Ready reports nil once /-/ready answers 200.
func (c *Client) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/-/ready", nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("prometheus at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("prometheus at %s is not ready: HTTP %d", c.BaseURL, resp.StatusCode)
	}
	return nil
}

// Target is one active scrape target, as /api/v1/targets reports it.
type Target struct {
	Job        string    `json:"job"`
	Instance   string    `json:"instance,omitempty"`
	ScrapeURL  string    `json:"scrapeUrl"`
	Health     string    `json:"health"` // up, down, unknown
	LastError  string    `json:"lastError"`
	LastScrape time.Time `json:"lastScrape"`
}

// Targets lists the active scrape targets.
func (c *Client) Targets(ctx context.Context) ([]Target, error) {
	var data struct {
		ActiveTargets []struct {
			Labels     map[string]string `json:"labels"`
			ScrapePool string            `json:"scrapePool"`
			ScrapeURL  string            `json:"scrapeUrl"`
			Health     string            `json:"health"`
			LastError  string            `json:"lastError"`
			LastScrape time.Time         `json:"lastScrape"`
		} `json:"activeTargets"`
	}
	if err := c.Get(ctx, "/api/v1/targets?state=active", &data); err != nil {
		return nil, fmt.Errorf("list targets: %w", err)
	}
	out := make([]Target, 0, len(data.ActiveTargets))
	for _, t := range data.ActiveTargets {
		job := t.Labels["job"]
		if job == "" {
			job = t.ScrapePool
		}
		out = append(out, Target{Job: job, Instance: t.Labels["instance"], ScrapeURL: t.ScrapeURL, Health: t.Health, LastError: t.LastError, LastScrape: t.LastScrape})
	}
	return out, nil
}

// Get fetches one API path (e.g. /api/v1/status/config) and decodes the
// "data" field of a successful answer into data.
func (c *Client) Get(ctx context.Context, path string, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&env); err != nil {
		return fmt.Errorf("HTTP %d from %s: not a Prometheus API answer: %w", resp.StatusCode, c.BaseURL, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("prometheus: %s (HTTP %d)", env.Error, resp.StatusCode)
	}
	return json.Unmarshal(env.Data, data)
}

// Alertmanagers lists the Alertmanagers Prometheus sends alerts to
// (/api/v1/alertmanagers): the active ones' URLs, and the dropped ones'.
func (c *Client) Alertmanagers(ctx context.Context) (active, dropped []string, err error) {
	var data struct {
		Active []struct {
			URL string `json:"url"`
		} `json:"activeAlertmanagers"`
		Dropped []struct {
			URL string `json:"url"`
		} `json:"droppedAlertmanagers"`
	}
	if err := c.Get(ctx, "/api/v1/alertmanagers", &data); err != nil {
		return nil, nil, fmt.Errorf("list alertmanagers: %w", err)
	}
	for _, a := range data.Active {
		active = append(active, a.URL)
	}
	for _, a := range data.Dropped {
		dropped = append(dropped, a.URL)
	}
	return active, dropped, nil
}

// Alert is one alert Prometheus evaluates as pending or firing (/api/v1/alerts).
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // pending, firing
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// Alerts lists the alerts Prometheus holds as pending or firing.
func (c *Client) Alerts(ctx context.Context) ([]Alert, error) {
	var data struct {
		Alerts []Alert `json:"alerts"`
	}
	if err := c.Get(ctx, "/api/v1/alerts", &data); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	return data.Alerts, nil
}

// Sample is one series of an instant query's vector.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs an instant PromQL query and returns its vector (a scalar
// comes back as one sample without labels).
func (c *Client) Query(ctx context.Context, q string) ([]Sample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := c.Get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &data); err != nil {
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
	}
	return nil, fmt.Errorf("query %q: unsupported result type %q", q, data.ResultType)
}

func parseValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("unexpected sample value %v", v)
	}
	return strconv.ParseFloat(s, 64) // NaN and ±Inf as Prometheus writes them
}
