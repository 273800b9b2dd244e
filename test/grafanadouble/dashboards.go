package grafanadouble

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

type dashboard struct {
	ID          int64          `json:"id"`
	UID         string         `json:"uid"`
	Title       string         `json:"title"`
	FolderUID   string         `json:"folderUid"`
	Version     int64          `json:"version"`
	Data        map[string]any `json:"data"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	CreatedBy   string         `json:"createdBy"`
	UpdatedBy   string         `json:"updatedBy"`
	Provisioned *provInfo      `json:"provisioned,omitempty"`
	Versions    []dashVersion  `json:"versions"`
}

// provInfo marks a dashboard loaded from a provisioning provider's files.
type provInfo struct {
	Provider       string `json:"provider"`
	File           string `json:"file"` // path relative to the provider's options.path
	Checksum       string `json:"checksum"`
	AllowUIUpdates bool   `json:"allowUiUpdates"`
}

type dashVersion struct {
	Version   int64     `json:"version"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"createdBy"`
	Message   string    `json:"message"`
}

// Errors of the exported helpers.
var ErrNotFound = errors.New("grafana double: not found")

var uidPattern = regexp.MustCompile(`^[a-zA-Z0-9\-_]*$`)

func validUID(uid string) bool { return uidPattern.MatchString(uid) }

// slugify approximates Grafana's slug of a title (gosimple/slug).
func slugify(title string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

func dashURL(d *dashboard) string { return "/d/" + d.UID + "/" + slugify(d.Title) }

func toInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		if f, err := n.Float64(); err == nil {
			return int64(f), true
		}
	case float64:
		return int64(n), true
	case int:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

func num(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// find returns the first element that matches, or nil.
func find[T any](xs []*T, match func(*T) bool) *T {
	for _, x := range xs {
		if match(x) {
			return x
		}
	}
	return nil
}

func (s *Server) dashboardByUID(uid string) *dashboard {
	return find(s.st.Dashboards, func(d *dashboard) bool { return d.UID == uid })
}

func (s *Server) dashboardByID(id int64) *dashboard {
	return find(s.st.Dashboards, func(d *dashboard) bool { return d.ID == id })
}

func (s *Server) removeDashboard(d *dashboard) {
	for i, o := range s.st.Dashboards {
		if o == d {
			s.st.Dashboards = append(s.st.Dashboards[:i], s.st.Dashboards[i+1:]...)
			return
		}
	}
}

// saveError is a Grafana dashboard-save error: status, message, optional status word.
type saveError struct {
	code         int
	message, tag string
}

func (e *saveError) Error() string { return e.message }

func (e *saveError) body() any {
	if e.tag != "" {
		return map[string]string{"message": e.message, "status": e.tag}
	}
	return msg(e.message)
}

type saveCmd struct {
	Data      map[string]any
	FolderUID string
	Overwrite bool
	Message   string
	User      string
	// Provisioning saves skip the provisioned check.
	provisioning *provInfo
}

// saveDashboardLocked follows Grafana's save rules (dashboard service
// BuildSaveDashboardCommand + ValidateDashboardBeforeSave + saveDashboard).
func (s *Server) saveDashboardLocked(c saveCmd) (*dashboard, error) {
	data := c.Data
	title, _ := data["title"].(string)
	if strings.TrimSpace(title) == "" {
		return nil, &saveError{code: 400, message: "Dashboard title cannot be empty"}
	}
	uid, _ := data["uid"].(string)
	if len(uid) > 40 {
		return nil, &saveError{code: 400, message: "uid too long, max 40 characters"}
	}
	if !validUID(uid) {
		return nil, &saveError{code: 400, message: "uid contains illegal characters"}
	}
	id, _ := toInt64(data["id"])
	version, _ := toInt64(data["version"])

	var byID, byUID *dashboard
	if id > 0 {
		if byID = s.dashboardByID(id); byID == nil {
			return nil, &saveError{code: 404, message: "Dashboard not found"}
		}
		if uid == "" {
			uid = byID.UID
		}
	}
	if uid != "" {
		byUID = s.dashboardByUID(uid)
		if byUID == nil && s.folderByUID(uid) != nil {
			return nil, &saveError{code: 400, message: "A dashboard with the same uid already exists"}
		}
	}
	if byID != nil && byUID != nil && byID != byUID {
		return nil, &saveError{code: 400, message: "A dashboard with the same uid already exists"}
	}
	existing := byID
	if existing == nil {
		existing = byUID
	}
	if existing != nil {
		id, uid = existing.ID, existing.UID
		if version != existing.Version {
			if !c.Overwrite {
				return nil, &saveError{code: 412, message: "The dashboard has been changed by someone else", tag: "version-mismatch"}
			}
			version = existing.Version
		}
	} else {
		id = 0
	}
	for _, o := range s.st.Dashboards {
		if o.Title == title && o.FolderUID == c.FolderUID && o.ID != id {
			if !c.Overwrite {
				return nil, &saveError{code: 412, message: "A dashboard with the same name in the folder already exists", tag: "name-exists"}
			}
			existing, uid, version = o, o.UID, o.Version
			break
		}
	}
	if existing != nil && existing.Provisioned != nil && !existing.Provisioned.AllowUIUpdates && c.provisioning == nil {
		return nil, &saveError{code: 400, message: "Cannot save provisioned dashboard"}
	}

	now := time.Now().UTC()
	d := existing
	if d == nil {
		if uid == "" {
			uid = randomString(14)
		}
		d = &dashboard{ID: s.st.NextID, UID: uid, Created: now, CreatedBy: c.User}
		s.st.NextID++
		s.st.Dashboards = append(s.st.Dashboards, d)
		version = 1
	} else {
		version++
	}
	data["id"], data["uid"], data["version"] = num(d.ID), d.UID, num(version)
	d.Data, d.Title, d.FolderUID, d.Version = data, title, c.FolderUID, version
	d.Updated, d.UpdatedBy = now, c.User
	if c.provisioning != nil {
		d.Provisioned = c.provisioning
	}
	d.Versions = append(d.Versions, dashVersion{Version: version, Created: now, CreatedBy: c.User, Message: c.Message})
	return d, nil
}

func (s *Server) saveDashboard(w http.ResponseWriter, r *http.Request) {
	// encoding/json matches keys case-insensitively, as Grafana does, so
	// grafana-tools/sdk's {"FolderID":..,"Overwrite":..} is understood.
	var body struct {
		Dashboard json.RawMessage `json:"dashboard"`
		FolderID  *int64          `json:"folderId"`
		FolderUID string          `json:"folderUid"`
		Overwrite bool            `json:"overwrite"`
		Message   string          `json:"message"`
	}
	if !decode(w, r, &body) {
		return
	}
	data := map[string]any{}
	if len(body.Dashboard) > 0 && string(body.Dashboard) != "null" {
		if err := unmarshalNumbers(body.Dashboard, &data); err != nil {
			writeJSON(w, http.StatusBadRequest, msg("bad request data"))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	folderUID := ""
	switch {
	case body.FolderUID != "":
		f := s.folderByUID(body.FolderUID)
		if f == nil {
			writeJSON(w, http.StatusBadRequest, msg("folder not found"))
			return
		}
		folderUID = f.UID
	case body.FolderID != nil && *body.FolderID != 0:
		f := s.folderByID(*body.FolderID)
		if f == nil {
			writeJSON(w, http.StatusBadRequest, msg("folder not found"))
			return
		}
		folderUID = f.UID
	}
	d, err := s.saveDashboardLocked(saveCmd{Data: data, FolderUID: folderUID, Overwrite: body.Overwrite, Message: body.Message, User: who(r).Login})
	var se *saveError
	if errors.As(err, &se) {
		writeJSON(w, se.code, se.body())
		return
	}
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to save dashboard"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": d.ID, "uid": d.UID, "url": dashURL(d), "status": "success",
		"version": d.Version, "slug": slugify(d.Title), "folderUid": d.FolderUID,
	})
}

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dashboardByUID(r.PathValue("uid"))
	if d == nil {
		writeJSON(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	meta := map[string]any{
		"type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true, "canDelete": true,
		"slug": slugify(d.Title), "url": dashURL(d), "expires": "0001-01-01T00:00:00Z",
		"created": d.Created.Format(time.RFC3339), "updated": d.Updated.Format(time.RFC3339),
		"updatedBy": d.UpdatedBy, "createdBy": d.CreatedBy, "version": d.Version,
		"hasAcl": false, "isFolder": false, "folderId": 0, "folderUid": "", "folderTitle": "General", "folderUrl": "",
		"provisioned": d.Provisioned != nil, "provisionedExternalId": "",
	}
	if f := s.folderByUID(d.FolderUID); f != nil {
		meta["folderId"], meta["folderUid"], meta["folderTitle"], meta["folderUrl"] = f.ID, f.UID, f.Title, folderURL(f)
	}
	if d.Provisioned != nil {
		meta["provisionedExternalId"] = d.Provisioned.File
	}
	writeJSON(w, http.StatusOK, map[string]any{"dashboard": d.Data, "meta": meta})
}

func (s *Server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dashboardByUID(r.PathValue("uid"))
	if d == nil {
		writeJSON(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	if d.Provisioned != nil {
		writeJSON(w, http.StatusBadRequest, msg("provisioned dashboard cannot be deleted"))
		return
	}
	s.removeDashboard(d)
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Failed to delete dashboard"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"title": d.Title, "message": fmt.Sprintf("Dashboard %s deleted", d.Title), "id": d.ID})
}

func (s *Server) dashboardVersions(w http.ResponseWriter, r *http.Request) {
	limit := 1000
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dashboardByUID(r.PathValue("uid"))
	if d == nil {
		writeJSON(w, http.StatusNotFound, msg("Dashboard not found"))
		return
	}
	versions := []map[string]any{}
	for i := len(d.Versions) - 1; i >= 0 && len(versions) < limit; i-- {
		v := d.Versions[i]
		parent := v.Version - 1
		versions = append(versions, map[string]any{
			"id": v.Version, "dashboardId": d.ID, "uid": d.UID, "parentVersion": parent, "restoredFrom": 0,
			"version": v.Version, "created": v.Created.Format(time.RFC3339), "createdBy": v.CreatedBy, "message": v.Message,
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"continueToken": "", "versions": versions})
}

// Dashboard returns the stored JSON of a dashboard (with the id, uid and
// version Grafana set), so tests can check what an import really wrote.
func (s *Server) Dashboard(uid string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dashboardByUID(uid)
	if d == nil {
		return nil, false
	}
	b, err := json.Marshal(d.Data)
	return b, err == nil
}

// EditDashboard simulates a user editing and saving the dashboard in
// Grafana's UI: edit changes the stored JSON, and the version goes up by one,
// as it does after a save from the UI. It returns the new version.
func (s *Server) EditDashboard(uid string, edit func(dashboard map[string]any)) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dashboardByUID(uid)
	if d == nil {
		return 0, fmt.Errorf("dashboard %q: %w", uid, ErrNotFound)
	}
	data := cloneMap(d.Data)
	edit(data)
	data["version"] = num(d.Version)
	d2, err := s.saveDashboardLocked(saveCmd{Data: data, FolderUID: d.FolderUID, Overwrite: false,
		Message: "edited in the UI (simulated by the Grafana test double)", User: s.admin.User, provisioning: d.Provisioned})
	if err != nil {
		return 0, err
	}
	return d2.Version, s.saveLocked()
}
