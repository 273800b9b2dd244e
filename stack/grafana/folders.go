package grafana

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Folders go through the plain client, not grafana-tools/sdk: the sdk knows
// neither folder uids on save nor nested folders (parentUid).

// folderRef is the folder the dashboard goes into; UID "" is Grafana's
// root ("General").
type folderRef struct {
	UID   string
	Title string // the path for nested folders, "A/B"
}

// apiFolder is the part of Grafana's folder answer llmmon reads.
type apiFolder struct {
	ID        int64  `json:"id"`
	UID       string `json:"uid"`
	Title     string `json:"title"`
	ParentUID string `json:"parentUid"`
}

// SplitFolderPath splits a --folder value into the titles of nested
// folders: "Team/AI Platform" is "AI Platform" inside "Team". "" and
// "General" are Grafana's root.
func SplitFolderPath(path string) ([]string, error) {
	if strings.TrimSpace(path) == "" || strings.EqualFold(strings.TrimSpace(path), "General") {
		return nil, nil
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
		if parts[i] == "" {
			return nil, fmt.Errorf("folder path %q has an empty part: give titles separated by single slashes, like Team/LLM", path)
		}
	}
	return parts, nil
}

// ensureFolder finds the folder path level by level, creating what is
// missing under its parent.
func (c *Client) ensureFolder(ctx context.Context, path string) (folderRef, error) {
	titles, err := SplitFolderPath(path)
	if err != nil {
		return folderRef{}, err
	}
	if len(titles) == 0 {
		return folderRef{Title: "General"}, nil
	}
	parent := ""
	for i, title := range titles {
		f, found, err := c.childFolder(ctx, parent, title)
		if err != nil {
			return folderRef{}, err
		}
		if !found {
			if f, err = c.createFolder(ctx, parent, title); err != nil {
				return folderRef{}, err
			}
		}
		parent = f.UID
		if i == len(titles)-1 {
			return folderRef{UID: f.UID, Title: strings.Join(titles, "/")}, nil
		}
	}
	panic("unreachable")
}

// childFolder finds the folder titled title directly under parent ("" is
// the root). Grafana refuses two siblings with one title, so it is unique.
func (c *Client) childFolder(ctx context.Context, parent, title string) (apiFolder, bool, error) {
	const limit = 1000
	for page := 1; ; page++ {
		q := url.Values{"limit": {strconv.Itoa(limit)}, "page": {strconv.Itoa(page)}}
		if parent != "" {
			q.Set("parentUid", parent)
		}
		var fs []apiFolder
		if err := c.Do(ctx, http.MethodGet, "/api/folders?"+q.Encode(), nil, &fs); err != nil {
			return apiFolder{}, false, err
		}
		for _, f := range fs {
			// A Grafana without nested folders ignores parentUid and lists
			// every folder; ParentUID then tells the levels apart.
			if f.Title == title && f.ParentUID == parent {
				return f, true, nil
			}
		}
		if len(fs) < limit {
			return apiFolder{}, false, nil
		}
	}
}

// createFolder creates title under parent and checks Grafana put it there.
func (c *Client) createFolder(ctx context.Context, parent, title string) (apiFolder, error) {
	body := map[string]string{"title": title}
	if parent != "" {
		body["parentUid"] = parent
	}
	var f apiFolder
	if err := c.Do(ctx, http.MethodPost, "/api/folders", body, &f); err != nil {
		return f, fmt.Errorf("create folder %q: %w", title, err)
	}
	if f.UID == "" {
		return f, fmt.Errorf("grafana at %s answered the creation of folder %q without a uid", c.BaseURL, title)
	}
	if f.ParentUID != parent {
		// A Grafana without nested folders ignores parentUid; take back the
		// top-level folder it made instead of leaving it behind.
		derr := c.Do(ctx, http.MethodDelete, "/api/folders/"+url.PathEscape(f.UID), nil, nil)
		msg := fmt.Sprintf("grafana at %s does not support nested folders (Grafana 11 or later has them on by default), so folder %q cannot go inside another: give --folder a single title, or --folder-uid", c.BaseURL, title)
		if derr != nil {
			msg += fmt.Sprintf("; also, removing the top-level folder %q it created instead failed (%v): delete it in Grafana", title, derr)
		}
		return f, errors.New(msg)
	}
	return f, nil
}

// folderByUID looks up an existing folder, for --folder-uid.
func (c *Client) folderByUID(ctx context.Context, uid string) (folderRef, error) {
	var f apiFolder
	err := c.Do(ctx, http.MethodGet, "/api/folders/"+url.PathEscape(uid), nil, &f)
	if IsStatus(err, http.StatusNotFound) {
		return folderRef{}, fmt.Errorf("grafana at %s has no folder with uid %q: check --folder-uid, or give --folder by title", c.BaseURL, uid)
	}
	if err != nil {
		return folderRef{}, err
	}
	return folderRef{UID: f.UID, Title: f.Title}, nil
}

// folderUIDOf returns the uid of the folder a stored dashboard is in, from
// the sdk's answer: its folder URL holds the uid (/dashboards/f/UID/slug);
// otherwise the deprecated id lookup finds it.
func (c *Client) folderUIDOf(ctx context.Context, folderID int, folderURL string) (string, error) {
	if folderID == 0 {
		return "", nil
	}
	if _, rest, ok := strings.Cut(folderURL, "/dashboards/f/"); ok {
		if uid, _, _ := strings.Cut(rest, "/"); uid != "" {
			return uid, nil
		}
	}
	var f apiFolder
	if err := c.Do(ctx, http.MethodGet, "/api/folders/id/"+strconv.Itoa(folderID), nil, &f); err != nil {
		return "", fmt.Errorf("look up the dashboard's folder (id %d): %w", folderID, err)
	}
	return f.UID, nil
}
