package grafanadouble

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
)

// validShortUID is Grafana's util.IsValidShortUID, which the proxy checks.
var validShortUID = regexp.MustCompile(`^[a-zA-Z0-9\-_]*$`)

// proxyDatasource is Grafana's datasource proxy
// (/api/datasources/proxy/uid/:uid/*): the request goes to the
// datasource's URL plus the rest of the path, with its query and body,
// as Grafana's own pages reach a datasource (the Alertmanager datasource's
// "Save & test" and alert lists go through it). Grafana's answers:
// 400 "UID is invalid", 404 "Unable to find datasource", and 502 (504 on
// a timeout) without a body when the datasource does not answer.
func (s *Server) proxyDatasource(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if !validShortUID.MatchString(uid) {
		writeJSON(w, http.StatusBadRequest, msg("UID is invalid"))
		return
	}
	s.mu.Lock()
	_, d := s.findDatasource(func(d *datasource) bool { return d.UID == uid })
	var ds datasource
	if d != nil {
		ds = *d
	}
	s.mu.Unlock()
	if d == nil {
		writeJSON(w, http.StatusNotFound, msg("Unable to find datasource"))
		return
	}
	target := strings.TrimRight(ds.URL, "/") + "/" + strings.TrimLeft(r.PathValue("path"), "/")
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, r.Method, target, r.Body)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("Invalid data source URL: \""+ds.URL+"\""))
		return
	}
	for _, h := range []string{"Accept", "Content-Type"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if ds.BasicAuth {
		req.SetBasicAuth(ds.BasicAuthUser, ds.Secure["basicAuthPassword"])
	}
	resp, err := s.health.Do(req)
	if err != nil {
		// Grafana's reverse proxy error handler: no body.
		if errors.Is(err, context.DeadlineExceeded) {
			w.WriteHeader(http.StatusGatewayTimeout)
		} else {
			w.WriteHeader(http.StatusBadGateway)
		}
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
