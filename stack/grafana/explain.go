package grafana

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"

	"github.com/grafana-tools/sdk"
)

// sdkCall runs one grafana-tools/sdk call with the guards its traps need.
// Every HTTP answer passes through a recorder, so a non-2xx status becomes
// an *APIError even when the sdk returns a nil error, and the sdk's panic on
// an error body without "message" becomes that same error.
func (c *Client) sdkCall(ctx context.Context, what string, call func(*sdk.Client) error) (err error) {
	rec := &recorder{sign: c.sign, base: http.DefaultTransport}
	hc := &http.Client{Transport: rec}
	if c.HTTP != nil {
		hc.Timeout = c.HTTP.Timeout
		if c.HTTP.Transport != nil {
			rec.base = c.HTTP.Transport
		}
	}
	s, err := sdk.NewClient(c.BaseURL, "", hc)
	if err != nil {
		return fmt.Errorf("grafana url %q: %w", c.BaseURL, err)
	}
	defer func() {
		if p := recover(); p != nil {
			if ae := rec.failure(); ae != nil {
				err = ae
				return
			}
			err = fmt.Errorf("%s: grafana-tools/sdk failed on grafana's answer: %v", what, p)
		}
	}()
	callErr := call(s)
	if ae := rec.failure(); ae != nil {
		return ae
	}
	if callErr != nil {
		var ue *url.Error
		if errors.As(callErr, &ue) {
			return fmt.Errorf("grafana at %s: %w", c.BaseURL, ue.Err)
		}
		return fmt.Errorf("%s: %w", what, callErr)
	}
	return nil
}

// recorder signs requests and keeps the first failed answer it sees.
type recorder struct {
	base http.RoundTripper
	sign func(*http.Request)
	mu   sync.Mutex
	fail *APIError
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.User = nil
	r.sign(req)
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		ae := &APIError{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode}
		var m struct{ Message, Status string }
		if json.Unmarshal(data, &m) == nil {
			ae.Message, ae.Status = m.Message, m.Status
		}
		r.mu.Lock()
		if r.fail == nil {
			r.fail = ae
		}
		r.mu.Unlock()
	}
	return resp, nil
}

func (r *recorder) failure() *APIError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fail
}

// hinted is an error with a one-line cause and fix in front of the original.
type hinted struct {
	hint string
	err  error
}

func (h *hinted) Error() string { return h.hint + " (" + h.err.Error() + ")" }
func (h *hinted) Unwrap() error { return h.err }

// Explain turns a failed Grafana call into an error that names the cause
// and the fix: bad credentials, missing permissions, a wrong URL, a
// conflict, a refused connection or a TLS problem. Others pass through.
func (c *Client) Explain(err error) error { return c.explain(err) }

func (c *Client) explain(err error) error {
	if err == nil {
		return nil
	}
	var h *hinted
	if errors.As(err, &h) {
		return err
	}
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusUnauthorized:
			return &hinted{fmt.Sprintf("grafana at %s rejected the credentials (HTTP 401): check --token, or --user and --password%s", c.BaseURL, c.orgHint()), err}
		case http.StatusForbidden:
			return &hinted{fmt.Sprintf("grafana at %s refused the call (HTTP 403): the token or user needs the Editor or Admin role", c.BaseURL), err}
		case http.StatusNotFound:
			return &hinted{fmt.Sprintf("grafana at %s answered 404 for %s: check that --grafana-url is Grafana's root URL (with its sub-path, if any)", c.BaseURL, ae.Path), err}
		case http.StatusBadRequest:
			if strings.Contains(strings.ToLower(ae.Message), "provisioned") {
				return &hinted{"grafana holds this dashboard as a provisioned file, which the API cannot change: remove it from Grafana's provisioning, or edit the file instead", err}
			}
			return err
		case http.StatusPreconditionFailed:
			switch ae.Status {
			case "name-exists":
				return &hinted{"another dashboard with the same title already exists in that folder: rename or move it, or pick another --folder", err}
			case "version-mismatch":
				return &hinted{"the dashboard was saved in Grafana while llmmon was updating it: run the command again", err}
			}
			return &hinted{"grafana refused the dashboard (HTTP 412, conflict)", err}
		}
		return err
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return &hinted{fmt.Sprintf("cannot connect to grafana at %s: connection refused; is Grafana running, and are the host and port right?", c.BaseURL), err}
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return &hinted{fmt.Sprintf("cannot resolve the host of %s: check --grafana-url", c.BaseURL), err}
	}
	var certErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	switch {
	case errors.As(err, &certErr):
		return &hinted{fmt.Sprintf("TLS: grafana's certificate at %s is not trusted: pass its CA with --ca-file (or install it in the system trust store), or use its trusted host name", c.BaseURL), err}
	case errors.As(err, &recErr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &hinted{fmt.Sprintf("TLS: %s speaks plain HTTP, not HTTPS: use an http:// URL", c.BaseURL), err}
	case strings.Contains(err.Error(), "x509:") || strings.Contains(err.Error(), "tls:"):
		return &hinted{fmt.Sprintf("TLS handshake with %s failed: check the URL's scheme and port, and the certificate", c.BaseURL), err}
	}
	return err
}
