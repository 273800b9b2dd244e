package grafanadouble

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// values returns every value of a repeated or comma-separated parameter.
func values(q url.Values, key string) []string {
	var out []string
	for _, v := range q[key] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func int64s(q url.Values, key string) []int64 {
	var out []int64
	for _, v := range values(q, key) {
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			out = append(out, i)
		}
	}
	return out
}

// search is GET /api/search: folders and dashboards, filtered like Grafana's
// legacy search (title substring, type, folders, uids, ids, tags with AND).
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.ToLower(q.Get("query"))
	typ := q.Get("type")
	tags := q["tag"]
	folderUIDs := values(q, "folderUIDs")
	folderIDs := int64s(q, "folderIds")
	dashUIDs := values(q, "dashboardUIDs")
	dashIDs := int64s(q, "dashboardIds")
	limit := 1000
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = l
	}
	out := []map[string]any{}
	if q.Get("starred") == "true" { // the double has no stars
		writeJSON(w, http.StatusOK, out)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	inFolder := func(fuid string) bool {
		if len(folderUIDs) == 0 && len(folderIDs) == 0 {
			return true
		}
		if fuid == "" {
			return slices.Contains(folderUIDs, "general") || slices.Contains(folderIDs, 0)
		}
		f := s.folderByUID(fuid)
		return slices.Contains(folderUIDs, fuid) || (f != nil && slices.Contains(folderIDs, f.ID))
	}
	selected := func(uid string, id int64, title string) bool {
		if len(dashUIDs) > 0 && !slices.Contains(dashUIDs, uid) {
			return false
		}
		if len(dashIDs) > 0 && !slices.Contains(dashIDs, id) {
			return false
		}
		return strings.Contains(strings.ToLower(title), query)
	}

	if (typ == "" || typ == "dash-folder") && len(tags) == 0 {
		var fs []*folder
		for _, f := range s.st.Folders {
			if inFolder("") && selected(f.UID, f.ID, f.Title) {
				fs = append(fs, f)
			}
		}
		sort.Slice(fs, func(i, j int) bool { return strings.ToLower(fs[i].Title) < strings.ToLower(fs[j].Title) })
		for _, f := range fs {
			out = append(out, map[string]any{
				"id": f.ID, "uid": f.UID, "title": f.Title, "uri": "db/" + slugify(f.Title), "url": folderURL(f),
				"slug": "", "type": "dash-folder", "tags": []string{}, "isStarred": false, "sortMeta": 0,
			})
		}
	}
	if typ == "" || typ == "dash-db" {
		var ds []*dashboard
		for _, d := range s.st.Dashboards {
			if !inFolder(d.FolderUID) || !selected(d.UID, d.ID, d.Title) {
				continue
			}
			dt := dashTags(d)
			all := true
			for _, t := range tags {
				all = all && slices.Contains(dt, t)
			}
			if all {
				ds = append(ds, d)
			}
		}
		sort.Slice(ds, func(i, j int) bool { return strings.ToLower(ds[i].Title) < strings.ToLower(ds[j].Title) })
		for _, d := range ds {
			hit := map[string]any{
				"id": d.ID, "uid": d.UID, "title": d.Title, "uri": "db/" + slugify(d.Title), "url": dashURL(d),
				"slug": "", "type": "dash-db", "tags": dashTags(d), "isStarred": false, "sortMeta": 0,
			}
			if f := s.folderByUID(d.FolderUID); f != nil {
				hit["folderId"], hit["folderUid"], hit["folderTitle"], hit["folderUrl"] = f.ID, f.UID, f.Title, folderURL(f)
			}
			out = append(out, hit)
		}
	}
	if len(out) > limit {
		out = out[:limit]
	}
	writeJSON(w, http.StatusOK, out)
}

func dashTags(d *dashboard) []string {
	tags := []string{}
	if arr, ok := d.Data["tags"].([]any); ok {
		for _, t := range arr {
			if s, ok := t.(string); ok {
				tags = append(tags, s)
			}
		}
	}
	return tags
}
