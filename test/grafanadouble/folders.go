package grafanadouble

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

type folder struct {
	ID        int64     `json:"id"`
	UID       string    `json:"uid"`
	Title     string    `json:"title"`
	ParentUID string    `json:"parentUid,omitempty"`
	Version   int64     `json:"version"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	CreatedBy string    `json:"createdBy"`
	UpdatedBy string    `json:"updatedBy"`
}

func folderURL(f *folder) string { return "/dashboards/f/" + f.UID + "/" + slugify(f.Title) }

// full is GET /api/folders/{uid}'s answer; with nested folders it names
// the parent and lists the ancestors, root first.
func (s *Server) full(f *folder) map[string]any {
	m := map[string]any{
		"id": f.ID, "uid": f.UID, "orgId": 1, "title": f.Title, "url": folderURL(f),
		"hasAcl": false, "canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true,
		"createdBy": f.CreatedBy, "created": f.Created.Format(time.RFC3339),
		"updatedBy": f.UpdatedBy, "updated": f.Updated.Format(time.RFC3339), "version": f.Version,
	}
	if f.ParentUID != "" {
		m["parentUid"] = f.ParentUID
		var parents []map[string]any
		for p := s.folderByUID(f.ParentUID); p != nil; p = s.folderByUID(p.ParentUID) {
			parents = append([]map[string]any{{"uid": p.UID, "title": p.Title, "url": folderURL(p)}}, parents...)
		}
		m["parents"] = parents
	}
	return m
}

func (s *Server) folderByUID(uid string) *folder {
	if uid == "" {
		return nil
	}
	return find(s.st.Folders, func(f *folder) bool { return f.UID == uid })
}

func (s *Server) folderByID(id int64) *folder {
	return find(s.st.Folders, func(f *folder) bool { return f.ID == id })
}

func (s *Server) folderByTitle(title string) *folder {
	return find(s.st.Folders, func(f *folder) bool { return f.Title == title })
}

var folderNotFound = map[string]string{"status": "not-found", "message": "Folder not found"}

// createFolderLocked applies Grafana's folder rules; errors carry the status.
// parent is "" for a top-level folder.
func (s *Server) createFolderLocked(uid, title, parent, user string) (*folder, *saveError) {
	if strings.TrimSpace(title) == "" {
		return nil, &saveError{code: 400, message: "Folder title cannot be empty"}
	}
	if len(uid) > 40 {
		return nil, &saveError{code: 400, message: "uid too long, max 40 characters"}
	}
	if !validUID(uid) {
		return nil, &saveError{code: 400, message: "uid contains illegal characters"}
	}
	if uid != "" && (s.folderByUID(uid) != nil || s.dashboardByUID(uid) != nil) {
		return nil, &saveError{code: 409, message: "A folder/dashboard with the same uid already exists"}
	}
	if s.cfg.NoNestedFolders {
		parent = "" // as Grafana without nested folders: parentUid is ignored
	}
	if parent != "" {
		if s.folderByUID(parent) == nil {
			return nil, &saveError{code: 404, message: "Folder not found", tag: "not-found"}
		}
		if s.sameNameUnder(parent, title, 0) {
			return nil, &saveError{code: 409, message: "a folder with the same name already exists in the parent folder"}
		}
	} else if s.sameNameInGeneral(title, 0) {
		return nil, &saveError{code: 409, message: "A folder or dashboard in the general folder with the same name already exists"}
	}
	if uid == "" {
		uid = randomString(14)
	}
	now := time.Now().UTC()
	f := &folder{ID: s.st.NextID, UID: uid, Title: title, ParentUID: parent, Version: 1, Created: now, Updated: now, CreatedBy: user, UpdatedBy: user}
	s.st.NextID++
	s.st.Folders = append(s.st.Folders, f)
	return f, nil
}

// sameNameInGeneral reports a folder, or a dashboard in the General folder,
// titled title, other than the folder with id except.
func (s *Server) sameNameInGeneral(title string, except int64) bool {
	for _, f := range s.st.Folders {
		if f.ParentUID == "" && f.Title == title && f.ID != except {
			return true
		}
	}
	for _, d := range s.st.Dashboards {
		if d.FolderUID == "" && d.Title == title {
			return true
		}
	}
	return false
}

// sameNameUnder reports a subfolder of parent titled title, other than id except.
func (s *Server) sameNameUnder(parent, title string, except int64) bool {
	for _, f := range s.st.Folders {
		if f.ParentUID == parent && f.Title == title && f.ID != except {
			return true
		}
	}
	return false
}

// listFolders serves GET /api/folders: with nested folders, the children
// of ?parentUid (the top level without it); without, every folder.
func (s *Server) listFolders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := []map[string]any{}
	var fs []*folder
	parent := r.URL.Query().Get("parentUid")
	for _, f := range s.st.Folders {
		if s.cfg.NoNestedFolders || f.ParentUID == parent {
			fs = append(fs, f)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return strings.ToLower(fs[i].Title) < strings.ToLower(fs[j].Title) })
	limit, page := 1000, 1
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = l
	}
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 0 {
		page = p
	}
	for i, f := range fs {
		if i >= (page-1)*limit && i < page*limit {
			m := map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title}
			if f.ParentUID != "" {
				m["parentUid"] = f.ParentUID
			}
			out = append(out, m)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// getFolder serves GET /api/folders/{uid} and /api/folders/id/{id}.
func (s *Server) getFolder(w http.ResponseWriter, r *http.Request) {
	var id int64
	uid := r.PathValue("uid")
	if uid == "" {
		var err error
		if id, err = strconv.ParseInt(r.PathValue("id"), 10, 64); err != nil {
			writeJSON(w, http.StatusBadRequest, msg("id is invalid"))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderByUID(uid)
	if uid == "" {
		f = s.folderByID(id)
	}
	if f == nil {
		writeJSON(w, http.StatusNotFound, folderNotFound)
		return
	}
	writeJSON(w, http.StatusOK, s.full(f))
}

func (s *Server) createFolder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UID       string `json:"uid"`
		Title     string `json:"title"`
		ParentUID string `json:"parentUid"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, se := s.createFolderLocked(body.UID, body.Title, body.ParentUID, who(r).Login)
	if se != nil {
		writeJSON(w, se.code, se.body())
		return
	}
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Folder API error"))
		return
	}
	writeJSON(w, http.StatusOK, s.full(f))
}

func (s *Server) updateFolder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Title     string `json:"title"`
		Version   int64  `json:"version"`
		Overwrite bool   `json:"overwrite"`
	}
	if !decode(w, r, &body) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderByUID(r.PathValue("uid"))
	if f == nil {
		writeJSON(w, http.StatusNotFound, folderNotFound)
		return
	}
	if !body.Overwrite && body.Version != f.Version {
		writeJSON(w, http.StatusPreconditionFailed, map[string]string{"status": "version-mismatch", "message": "The folder has been changed by someone else"})
		return
	}
	if strings.TrimSpace(body.Title) == "" {
		writeJSON(w, http.StatusBadRequest, msg("Folder title cannot be empty"))
		return
	}
	if (f.ParentUID == "" && s.sameNameInGeneral(body.Title, f.ID)) || (f.ParentUID != "" && s.sameNameUnder(f.ParentUID, body.Title, f.ID)) {
		writeJSON(w, http.StatusConflict, msg("A folder or dashboard in the general folder with the same name already exists"))
		return
	}
	f.Title, f.Version, f.Updated, f.UpdatedBy = body.Title, f.Version+1, time.Now().UTC(), who(r).Login
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Folder API error"))
		return
	}
	writeJSON(w, http.StatusOK, s.full(f))
}

func (s *Server) deleteFolder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.folderByUID(r.PathValue("uid"))
	if f == nil {
		writeJSON(w, http.StatusNotFound, folderNotFound)
		return
	}
	// Grafana deletes the folder's subfolders and every dashboard in them.
	gone := map[string]bool{f.UID: true}
	for grew := true; grew; {
		grew = false
		for _, o := range s.st.Folders {
			if gone[o.ParentUID] && !gone[o.UID] {
				gone[o.UID], grew = true, true
			}
		}
	}
	kept := s.st.Dashboards[:0]
	for _, d := range s.st.Dashboards {
		if !gone[d.FolderUID] {
			kept = append(kept, d)
		}
	}
	s.st.Dashboards = kept
	keptF := s.st.Folders[:0]
	for _, o := range s.st.Folders {
		if !gone[o.UID] {
			keptF = append(keptF, o)
		}
	}
	s.st.Folders = keptF
	if err := s.saveLocked(); err != nil {
		writeJSON(w, http.StatusInternalServerError, msg("Folder API error"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"message": fmt.Sprintf("Folder %s deleted", f.Title), "id": f.ID, "title": f.Title})
}
