package grafanadouble

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// datasource is stored state and, without Secure, the API's JSON shape.
type datasource struct {
	ID               int64             `json:"id"`
	UID              string            `json:"uid"`
	OrgID            int64             `json:"orgId"`
	Name             string            `json:"name"`
	Type             string            `json:"type"`
	TypeLogoURL      string            `json:"typeLogoUrl"`
	Access           string            `json:"access"`
	URL              string            `json:"url"`
	User             string            `json:"user"`
	Database         string            `json:"database"`
	BasicAuth        bool              `json:"basicAuth"`
	BasicAuthUser    string            `json:"basicAuthUser"`
	WithCredentials  bool              `json:"withCredentials"`
	IsDefault        bool              `json:"isDefault"`
	JSONData         map[string]any    `json:"jsonData"`
	SecureJSONFields map[string]bool   `json:"secureJsonFields"`
	Version          int               `json:"version"`
	ReadOnly         bool              `json:"readOnly"`
	Provisioned      bool              `json:"provisioned,omitempty"` // double's bookkeeping, only in state
	Secure           map[string]string `json:"secureJsonDataStored,omitempty"`
}

// Datasource is what tests read back through (*Server).Datasources.
type Datasource struct {
	ID          int64
	UID         string
	Name        string
	Type        string
	URL         string
	IsDefault   bool
	ReadOnly    bool
	Provisioned bool
	JSONData    map[string]any
}

// Datasources returns every datasource, provisioned or created by the API.
func (s *Server) Datasources() []Datasource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Datasource
	for _, d := range s.st.Datasources {
		out = append(out, Datasource{ID: d.ID, UID: d.UID, Name: d.Name, Type: d.Type, URL: d.URL,
			IsDefault: d.IsDefault, ReadOnly: d.ReadOnly, Provisioned: d.Provisioned, JSONData: cloneMap(d.JSONData)})
	}
	return out
}

func (d *datasource) public() datasource {
	c := *d
	c.Secure = nil
	c.Provisioned = false
	if c.JSONData == nil {
		c.JSONData = map[string]any{}
	}
	c.SecureJSONFields = map[string]bool{}
	for k := range d.Secure {
		c.SecureJSONFields[k] = true
	}
	if c.TypeLogoURL == "" {
		c.TypeLogoURL = "public/plugins/" + c.Type + "/img/logo.svg"
	}
	return c
}

var errDatasourceNotFound = msg("Data source not found")

func (s *Server) findDatasource(match func(*datasource) bool) (int, *datasource) {
	for i, d := range s.st.Datasources {
		if match(d) {
			return i, d
		}
	}
	return -1, nil
}

func (s *Server) listDatasources(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]datasource, 0, len(s.st.Datasources))
	for _, d := range s.st.Datasources {
		out = append(out, d.public())
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// datasourceMatch selects a datasource by the route's {uid}, {name} or {id},
// or writes Grafana's 400 for an id that is not a number.
func datasourceMatch(w http.ResponseWriter, r *http.Request) (func(*datasource) bool, bool) {
	if uid := r.PathValue("uid"); uid != "" {
		return func(d *datasource) bool { return d.UID == uid }, true
	}
	if name := r.PathValue("name"); name != "" {
		return func(d *datasource) bool { return d.Name == name }, true
	}
	// The deprecated id routes, which grafana-tools/sdk uses.
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, msg("id is invalid"))
		return nil, false
	}
	return func(d *datasource) bool { return d.ID == id }, true
}

func (s *Server) getDatasource(w http.ResponseWriter, r *http.Request) {
	match, ok := datasourceMatch(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	_, d := s.findDatasource(match)
	var out datasource
	if d != nil {
		out = d.public()
	}
	s.mu.Unlock()
	if d == nil {
		writeJSON(w, http.StatusNotFound, errDatasourceNotFound)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createDatasource(w http.ResponseWriter, r *http.Request) {
	// The datasource's own JSON shape, plus the secrets, which are stored
	// but never shown again (only their names, in secureJsonFields).
	var body struct {
		datasource
		SecureJSONData map[string]string `json:"secureJsonData"`
	}
	if !decode(w, r, &body) {
		return
	}
	if body.Name == "" || body.Type == "" {
		writeJSON(w, http.StatusBadRequest, msg("bad request data"))
		return
	}
	if len(body.UID) > 40 || !validUID(body.UID) {
		writeJSON(w, http.StatusBadRequest, msg("Failed to add datasource: invalid uid"))
		return
	}
	if body.Access == "" {
		body.Access = "proxy"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, d := s.findDatasource(func(d *datasource) bool { return d.Name == body.Name }); d != nil {
		writeJSON(w, http.StatusConflict, msg("data source with the same name already exists"))
		return
	}
	if body.UID != "" {
		if _, d := s.findDatasource(func(d *datasource) bool { return d.UID == body.UID }); d != nil {
			writeJSON(w, http.StatusConflict, msg("data source with the same uid already exists"))
			return
		}
	} else {
		body.UID = randomString(14)
	}
	d := &body.datasource
	d.ID, d.OrgID, d.Version, d.ReadOnly, d.Provisioned = s.st.NextDatasourceID, 1, 1, false, false
	d.Secure, d.SecureJSONFields = body.SecureJSONData, nil
	s.st.NextDatasourceID++
	if d.IsDefault {
		for _, o := range s.st.Datasources {
			o.IsDefault = false
		}
	}
	s.st.Datasources = append(s.st.Datasources, d)
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to add datasource"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"datasource": d.public(), "id": d.ID, "message": "Datasource added", "name": d.Name})
}

func (s *Server) deleteDatasource(w http.ResponseWriter, r *http.Request) {
	match, ok := datasourceMatch(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, d := s.findDatasource(match)
	if d == nil {
		writeJSON(w, http.StatusNotFound, errDatasourceNotFound)
		return
	}
	if d.ReadOnly {
		writeJSON(w, http.StatusForbidden, msg("Cannot delete read-only data source"))
		return
	}
	s.st.Datasources = append(s.st.Datasources[:i], s.st.Datasources[i+1:]...)
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to delete datasource"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": "Data source deleted", "id": d.ID})
}

// datasourceHealth really queries a Prometheus datasource from where the
// double runs, which is what proves the Grafana → Prometheus network path.
func (s *Server) datasourceHealth(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	s.mu.Lock()
	_, d := s.findDatasource(func(d *datasource) bool { return d.UID == uid })
	var ds datasource
	if d != nil {
		ds = *d
	}
	s.mu.Unlock()
	if d == nil {
		writeJSON(w, http.StatusNotFound, errDatasourceNotFound)
		return
	}
	if ds.Type != "prometheus" {
		writeJSON(w, http.StatusNotImplemented, msg("Plugin health check not implemented (Grafana test double checks only prometheus)"))
		return
	}
	if err := s.queryPrometheus(r.Context(), ds); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"status": "ERROR", "message": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "OK", "message": "Successfully queried the Prometheus API."})
}

func (s *Server) queryPrometheus(ctx context.Context, ds datasource) error {
	if ds.URL == "" {
		return fmt.Errorf("datasource %q has no URL", ds.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	// Like Grafana's Prometheus plugin: query 1+1 with the datasource's
	// jsonData.httpMethod, POST (a form) unless it says GET.
	endpoint := strings.TrimRight(ds.URL, "/") + "/api/v1/query"
	var req *http.Request
	var err error
	if m, _ := ds.JSONData["httpMethod"].(string); strings.EqualFold(m, http.MethodGet) {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?query=1%2B1", nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader("query=1%2B1"))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return err
	}
	if ds.BasicAuth {
		req.SetBasicAuth(ds.BasicAuthUser, ds.Secure["basicAuthPassword"])
	}
	resp, err := s.health.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the Prometheus API at %s answered HTTP %d: %s", ds.URL, resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	var ans struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.Status != "success" {
		return fmt.Errorf("the Prometheus API at %s did not answer a query with status success: %s", ds.URL, strings.TrimSpace(string(body[:min(len(body), 300)])))
	}
	return nil
}

func cloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	unmarshalNumbers(b, &out)
	return out
}
