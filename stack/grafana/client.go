package grafana

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Auth is how llmmon signs in: a service-account token, or basic auth.
type Auth struct {
	Token    string
	User     string
	Password string
}

// Client talks to Grafana's HTTP API with plain net/http, for the calls
// grafana-tools/sdk lacks or gets wrong (health, datasource by uid, folders
// by uid and parent).
type Client struct {
	BaseURL string
	Auth    Auth
	HTTP    *http.Client
	// OrgID, when not 0, is sent as X-Grafana-Org-Id on every call, so the
	// calls act in that organization instead of the account's current one.
	OrgID int64
}

// NewClient returns a client with a bounded per-request timeout.
func NewClient(baseURL string, auth Auth) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Auth: auth, HTTP: &http.Client{Timeout: 10 * time.Second}}
}

// TLSOptions say how to trust a Grafana served over https.
type TLSOptions struct {
	// CAFile is a PEM bundle trusted in addition to the system's roots.
	CAFile string
	// InsecureSkipVerify trusts any certificate (a test Grafana only).
	InsecureSkipVerify bool
}

// SetTLS makes the client trust Grafana's certificate as o says.
func (c *Client) SetTLS(o TLSOptions) error {
	if o.CAFile == "" && !o.InsecureSkipVerify {
		return nil
	}
	cfg := &tls.Config{InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // the user asked for it by flag
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return fmt.Errorf("read --ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca-file %s holds no PEM certificate", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	c.HTTP.Transport = tr
	return nil
}

// sign adds the credentials and the organization to one request; every
// call, through the sdk or not, passes here.
func (c *Client) sign(req *http.Request) {
	switch {
	case c.Auth.Token != "":
		req.Header.Set("Authorization", "Bearer "+c.Auth.Token)
	case c.Auth.User != "":
		req.SetBasicAuth(c.Auth.User, c.Auth.Password)
	}
	if c.OrgID != 0 {
		req.Header.Set("X-Grafana-Org-Id", strconv.FormatInt(c.OrgID, 10))
	}
}

// APIError is a non-2xx answer from Grafana, with its documented message.
type APIError struct {
	Method, Path string
	StatusCode   int
	Message      string
	Status       string // e.g. "version-mismatch", "name-exists" on 412
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("grafana %s %s: HTTP %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// IsStatus reports whether err is an APIError with the given HTTP status.
func IsStatus(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}

// Do sends one API call. body, if not nil, is sent as JSON; a 2xx answer is
// decoded into out when out is not nil. Non-2xx answers become *APIError.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.sign(req)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("grafana at %s: %w", c.BaseURL, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return fmt.Errorf("grafana %s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Method: method, Path: path, StatusCode: resp.StatusCode}
		var m struct{ Message, Status string }
		if json.Unmarshal(data, &m) == nil {
			ae.Message, ae.Status = m.Message, m.Status
		}
		return ae
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("grafana %s %s: not a Grafana API answer (HTTP %d): %w", method, path, resp.StatusCode, err)
		}
	}
	return nil
}

// Health is Grafana's /api/health answer.
type Health struct {
	Database string `json:"database"`
	Version  string `json:"version"`
	Commit   string `json:"commit"`
}

// Health returns nil once Grafana's database is ok. It needs no auth.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	if err := c.Do(ctx, http.MethodGet, "/api/health", nil, &h); err != nil {
		return h, err
	}
	if h.Database != "ok" {
		return h, fmt.Errorf("grafana at %s: database %q", c.BaseURL, h.Database)
	}
	return h, nil
}

// Datasource is the part of a datasource llmmon reads.
type Datasource struct {
	ID        int64  `json:"id"`
	UID       string `json:"uid"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	URL       string `json:"url"`
	IsDefault bool   `json:"isDefault"`
	ReadOnly  bool   `json:"readOnly"`
}

// Datasources lists every datasource the signed-in user can see.
func (c *Client) Datasources(ctx context.Context) ([]Datasource, error) {
	var ds []Datasource
	err := c.Do(ctx, http.MethodGet, "/api/datasources", nil, &ds)
	return ds, err
}

// DatasourceByUID fetches one datasource; a 404 is an *APIError.
func (c *Client) DatasourceByUID(ctx context.Context, uid string) (Datasource, error) {
	var ds Datasource
	err := c.Do(ctx, http.MethodGet, "/api/datasources/uid/"+url.PathEscape(uid), nil, &ds)
	return ds, err
}

// DatasourceHealth asks Grafana to query the datasource itself, which
// proves the Grafana → Prometheus path over the container network.
func (c *Client) DatasourceHealth(ctx context.Context, uid string) error {
	var h struct{ Status, Message string }
	err := c.Do(ctx, http.MethodGet, "/api/datasources/uid/"+url.PathEscape(uid)+"/health", nil, &h)
	var ae *APIError
	if errors.As(err, &ae) && ae.Message != "" {
		return fmt.Errorf("grafana cannot query datasource %q: %s", uid, ae.Message)
	}
	if err != nil {
		return err
	}
	if !strings.EqualFold(h.Status, "OK") {
		return fmt.Errorf("grafana cannot query datasource %q: %s", uid, h.Message)
	}
	return nil
}

// orgHint adds the organization to an authentication failure's fix.
func (c *Client) orgHint() string {
	if c.OrgID == 0 {
		return ""
	}
	return fmt.Sprintf(", and that the account is a member of organization %d (--org-id)", c.OrgID)
}

// DatasourceProxy sends a GET through Grafana's datasource proxy
// (/api/datasources/proxy/uid/UID/PATH), as Grafana's own pages reach a
// datasource, and decodes the JSON answer into out.
func (c *Client) DatasourceProxy(ctx context.Context, uid, path string, out any) error {
	return c.Do(ctx, http.MethodGet, "/api/datasources/proxy/uid/"+url.PathEscape(uid)+path, nil, out)
}

// AlertmanagerDatasourceHealth checks an Alertmanager datasource the way
// Grafana's "Save & test" does for the Prometheus implementation: its
// /api/v2/status answers through the proxy.
func (c *Client) AlertmanagerDatasourceHealth(ctx context.Context, uid string) error {
	var st struct {
		Uptime string `json:"uptime"`
	}
	if err := c.DatasourceProxy(ctx, uid, "/api/v2/status", &st); err != nil {
		return fmt.Errorf("grafana cannot reach Alertmanager through datasource %q: %w", uid, err)
	}
	if st.Uptime == "" {
		return fmt.Errorf("grafana's datasource %q does not lead to an Alertmanager: its /api/v2/status has no uptime", uid)
	}
	return nil
}
