package grafanadouble

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Grafana version the double claims to be in /api/health.
const Version = "12.2.1"

// Commit is reported by /api/health so nobody mistakes the double for Grafana.
const Commit = "llmmon-test-double"

// Config configures the double. The binary fills it from Grafana's own
// GF_* environment variables; tests fill it directly.
type Config struct {
	// AdminUser and AdminPassword create the admin user when DataDir holds
	// no state yet (first start). Later starts ignore them, as Grafana
	// ignores GF_SECURITY_ADMIN_PASSWORD once grafana.db exists.
	// Defaults: admin/admin.
	AdminUser     string
	AdminPassword string
	// ProvisioningDir is Grafana's paths.provisioning: it holds
	// datasources/*.yaml and dashboards/*.yaml. Empty: nothing provisioned.
	ProvisioningDir string
	// DataDir is Grafana's paths.data. State is persisted there as JSON.
	// Empty: state lives in memory only.
	DataDir string
	// Tokens are extra Bearer tokens accepted with the Admin role. This is a
	// double-only convenience (env GRAFANA_DOUBLE_TOKENS); real Grafana only
	// knows tokens it issued itself.
	Tokens []string
	// AnonymousEnabled mirrors auth.anonymous.enabled: requests without
	// credentials get read-only (Viewer) access instead of 401.
	AnonymousEnabled bool
	// AnonymousRole mirrors auth.anonymous.org_role (default Viewer).
	AnonymousRole string
	// NoNestedFolders is a Grafana without nested folders (before 11, or
	// with the feature off): parentUid is ignored and folders are flat.
	NoNestedFolders bool
	// AllowSignUp mirrors users.allow_sign_up (POST /api/user/signup).
	AllowSignUp bool
	// Log receives one line per request and provisioning messages.
	// Nil discards them.
	Log io.Writer
	// HealthTimeout bounds a datasource health query (default 5s).
	HealthTimeout time.Duration
	// Env looks up $VAR in provisioning files. Nil uses os.Getenv.
	Env func(string) string
}

// Server is one running double. It is safe for concurrent use.
type Server struct {
	cfg    Config
	log    *log.Logger
	health *http.Client
	mux    *http.ServeMux

	mu    sync.Mutex
	st    *state
	admin adminFile
}

// New loads state from cfg.DataDir (creating it on first start), applies
// provisioning, and returns the double. Bad provisioning is an error, as it
// stops Grafana from starting.
func New(cfg Config) (*Server, error) {
	if cfg.AdminUser == "" {
		cfg.AdminUser = "admin"
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = "admin"
	}
	if cfg.AnonymousRole == "" {
		cfg.AnonymousRole = "Viewer"
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 5 * time.Second
	}
	out := cfg.Log
	if out == nil {
		out = io.Discard
	}
	s := &Server{
		cfg:    cfg,
		log:    log.New(out, "grafana-double (test double): ", log.LstdFlags|log.LUTC),
		health: &http.Client{Timeout: cfg.HealthTimeout},
	}
	st, admin, err := loadOrInit(cfg)
	if err != nil {
		return nil, err
	}
	s.st, s.admin = st, admin
	if err := s.provision(); err != nil {
		return nil, err
	}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// StartTest runs a double on an httptest server for the life of the test and
// returns it with its base URL. It fails the test if New fails.
func StartTest(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("start grafana double: %v", err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// Handler serves Grafana's HTTP API.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: 200}
		defer func() {
			s.log.Printf("%s %s %d %s", r.Method, r.URL.RequestURI(), rw.status, time.Since(start).Round(time.Microsecond))
		}()
		s.mux.ServeHTTP(rw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// identity is who a request is signed in as.
type identity struct {
	Login string
	Role  string // Admin, Editor, Viewer
	User  bool   // the admin user (not a token or anonymous)
}

func (i identity) canWrite() bool { return i.Role == "Admin" || i.Role == "Editor" }

type ctxKey struct{}

func who(r *http.Request) identity {
	id, _ := r.Context().Value(ctxKey{}).(identity)
	return id
}

// route registers h for "METHOD /path" behind authentication. write marks
// endpoints that need the Editor role or more.
func (s *Server) route(pattern string, write bool, h http.HandlerFunc) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		id, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		// The double has one organization, Main Org. (id 1); Grafana
		// refuses a call for an organization the account is not in.
		if o := r.Header.Get("X-Grafana-Org-Id"); o != "" && o != "1" {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401})
			return
		}
		if write && !id.canWrite() {
			writeJSON(w, http.StatusForbidden, msg("You'll need additional permissions to perform this action."))
			return
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	// Grafana's router has no 405: an unknown method/path pair is "Not found".
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Grafana TEST DOUBLE (llmmon), claims version %s; not Grafana.\n", Version)
			return
		}
		writeJSON(w, http.StatusNotFound, msg("Not found"))
	})
	s.mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"commit": Commit, "database": "ok", "version": Version})
	})
	s.mux.HandleFunc("POST /api/user/signup", s.signUp)

	s.route("GET /api/user", false, s.getUser)
	s.route("PUT /api/user/password", false, s.changePassword)
	s.route("GET /api/admin/settings", false, s.adminSettings)

	s.route("GET /api/datasources", false, s.listDatasources)
	s.route("POST /api/datasources", true, s.createDatasource)
	s.route("GET /api/datasources/{id}", false, s.getDatasource)
	s.route("DELETE /api/datasources/{id}", true, s.deleteDatasource)
	s.route("GET /api/datasources/uid/{uid}", false, s.getDatasource)
	s.route("DELETE /api/datasources/uid/{uid}", true, s.deleteDatasource)
	s.route("GET /api/datasources/uid/{uid}/health", false, s.datasourceHealth)
	s.route("GET /api/datasources/name/{name}", false, s.getDatasource)
	for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
		s.route(m+" /api/datasources/proxy/uid/{uid}/{path...}", false, s.proxyDatasource)
	}
	s.route("DELETE /api/datasources/name/{name}", true, s.deleteDatasource)

	s.route("GET /api/folders", false, s.listFolders)
	s.route("POST /api/folders", true, s.createFolder)
	s.route("GET /api/folders/{uid}", false, s.getFolder)
	s.route("PUT /api/folders/{uid}", true, s.updateFolder)
	s.route("DELETE /api/folders/{uid}", true, s.deleteFolder)
	s.route("GET /api/folders/id/{id}", false, s.getFolder)

	s.route("POST /api/dashboards/db", true, s.saveDashboard)
	s.route("GET /api/dashboards/uid/{uid}", false, s.getDashboard)
	s.route("DELETE /api/dashboards/uid/{uid}", true, s.deleteDashboard)
	s.route("GET /api/dashboards/uid/{uid}/versions", false, s.dashboardVersions)
	s.route("GET /api/search", false, s.search)

	s.route("POST /api/serviceaccounts", true, s.createServiceAccount)
	s.route("POST /api/serviceaccounts/{id}/tokens", true, s.createServiceAccountToken)
}

// authenticate signs the request in, or writes Grafana's 401 and returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (identity, bool) {
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		tok := strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		if id, ok := s.checkToken(tok); ok {
			return id, true
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "invalid API key", "messageId": "api-key.invalid", "statusCode": 401})
		return identity{}, false
	case strings.HasPrefix(h, "Basic "):
		user, pass, ok := r.BasicAuth()
		if ok && s.checkPassword(user, pass) {
			return identity{Login: user, Role: "Admin", User: true}, true
		}
		writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Invalid username or password", "messageId": "password-auth.failed", "statusCode": 401})
		return identity{}, false
	case h == "" && s.cfg.AnonymousEnabled:
		return identity{Login: "anonymous", Role: s.cfg.AnonymousRole}, true
	}
	writeJSON(w, http.StatusUnauthorized, map[string]any{"message": "Unauthorized", "messageId": "auth.unauthorized", "statusCode": 401})
	return identity{}, false
}

func (s *Server) checkToken(tok string) (identity, bool) {
	if tok == "" {
		return identity{}, false
	}
	for _, t := range s.cfg.Tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 {
			return identity{Login: "double-token", Role: "Admin"}, true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	hash := hashSecret(tok, "")
	now := time.Now()
	for _, sa := range s.st.ServiceAccounts {
		if sa.Disabled {
			continue
		}
		for _, t := range sa.Tokens {
			if t.Hash == hash && (t.Expires.IsZero() || now.Before(t.Expires)) {
				return identity{Login: sa.Login, Role: sa.Role}, true
			}
		}
	}
	return identity{}, false
}

// signUp mirrors users.allow_sign_up: disabled sign-up is refused.
func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	if !s.cfg.AllowSignUp {
		writeJSON(w, http.StatusUnauthorized, msg("User signup is disabled"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Sign up successful (test double: no user was created)", "status": "SignUpCreated"})
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request) {
	id := who(r)
	created := s.adminCreated()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": 1, "email": id.Login + "@localhost", "name": "", "login": id.Login, "theme": "", "orgId": 1,
		"isGrafanaAdmin": id.User, "isDisabled": false, "isExternal": false, "authLabels": []string{},
		"updatedAt": created, "createdAt": created, "avatarUrl": "",
	})
}

// changePassword is PUT /api/user/password for the signed-in admin user.
func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) {
	var body struct {
		OldPassword string `json:"oldPassword"`
		NewPassword string `json:"newPassword"`
	}
	if !decode(w, r, &body) {
		return
	}
	id := who(r)
	if !id.User {
		writeJSON(w, http.StatusForbidden, msg("Permission denied"))
		return
	}
	if !s.checkPassword(id.Login, body.OldPassword) {
		writeJSON(w, http.StatusUnauthorized, msg("Invalid old password"))
		return
	}
	if len(body.NewPassword) < 4 {
		writeJSON(w, http.StatusBadRequest, msg("New password is too short"))
		return
	}
	if err := s.setPassword(body.NewPassword); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to change user password"))
		return
	}
	writeJSON(w, http.StatusOK, msg("User password changed"))
}

// adminSettings is GET /api/admin/settings (Grafana server admins only):
// the effective settings by ini section, for the ones the double knows.
func (s *Server) adminSettings(w http.ResponseWriter, r *http.Request) {
	if !who(r).User {
		writeJSON(w, http.StatusForbidden, msg("Permission denied"))
		return
	}
	data := s.cfg.DataDir
	writeJSON(w, http.StatusOK, map[string]map[string]string{
		"security":       {"admin_user": s.currentAdmin().User, "admin_password": "*********"},
		"users":          {"allow_sign_up": strconv.FormatBool(s.cfg.AllowSignUp)},
		"auth.anonymous": {"enabled": strconv.FormatBool(s.cfg.AnonymousEnabled), "org_role": s.cfg.AnonymousRole},
		"paths":          {"data": data, "provisioning": s.cfg.ProvisioningDir},
		"buildinfo":      {"version": Version, "commit": Commit},
	})
}

func msg(m string) map[string]string { return map[string]string{"message": m} }

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"message":"Internal server error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// decode reads a JSON body into v, or writes Grafana's 400 "bad request data".
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, msg("bad request data"))
		return false
	}
	return true
}
