package grafana

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/grafana-tools/sdk"

	"github.com/llmmon/llmmon/dashboards"
)

// DefaultFolder is the Grafana folder llmmon's dashboard goes into, and
// the one up provisions the user's own dashboards into.
const DefaultFolder = "LLM Monitoring"

// markerKey is the top-level dashboard field where llmmon records a hash of
// the content it wrote. A dashboard whose content no longer matches its hash
// was changed in Grafana after llmmon wrote it.
const markerKey = "llmmon"

// Action says what ImportDashboard did.
type Action string

const (
	ActionCreated Action = "created"
	ActionUpdated Action = "updated"
	// ActionUnchanged: Grafana already holds exactly this revision, untouched.
	ActionUnchanged Action = "unchanged"
	// ActionKeptUserEdits: the dashboard was edited in Grafana since llmmon
	// wrote it; it was left alone. Force replaces it.
	ActionKeptUserEdits Action = "kept-user-edits"
	// ActionKeptNewer: Grafana holds a newer revision (from a newer llmmon).
	ActionKeptNewer Action = "kept-newer"
)

// ImportOptions says where the dashboard goes and how careful to be.
type ImportOptions struct {
	// Folder is the folder's title, or a path of nested folders ("Team/LLM"),
	// created when missing; "" means DefaultFolder.
	Folder string
	// FolderUID names an existing folder instead of Folder.
	FolderUID string
	// DatasourceUID is the Prometheus datasource the dashboard's datasource
	// variable defaults to. It must exist in Grafana.
	DatasourceUID string
	// Force replaces the dashboard even when it was edited in Grafana or is
	// a newer revision (--force-dashboard, on up and import).
	Force bool
	// LastWrittenVersion is the Grafana version llmmon got back the last
	// time it wrote the dashboard (ImportResult.TrackedVersion, kept in the
	// stack's state). When set, any other version in Grafana means a user
	// saved it. 0 means unknown: the content hash decides instead.
	LastWrittenVersion int
	// Dashboard overrides the embedded dashboard JSON (tests).
	Dashboard []byte
}

// ImportResult reports what happened, for the user and for the state file.
type ImportResult struct {
	UID   string
	URL   string // absolute URL of the dashboard in Grafana
	Title string
	// Folder is the dashboard's folder title. FolderUID is set when llmmon
	// chose the folder (created, or forced); an existing dashboard stays in
	// the folder a user moved it to.
	Folder    string
	FolderUID string
	// Version is the dashboard's Grafana version after the call.
	Version int
	// TrackedVersion is what to store and pass back as
	// ImportOptions.LastWrittenVersion next time: the version llmmon wrote
	// (or found untouched), or the previous LastWrittenVersion when the
	// dashboard was kept because of user edits.
	TrackedVersion int
	Action         Action
	// Revision is the embedded dashboard's revision; GrafanaRevision is the
	// revision that was in Grafana before the call (0 when missing).
	Revision        int
	GrafanaRevision int
	// Reason explains a kept dashboard in one line, naming the fix.
	Reason string
}

// ImportDashboard puts llmmon's dashboard into Grafana through
// grafana-tools/sdk, sending raw JSON (never sdk.Board, which drops fields).
// It creates the folder when missing, writes only when the dashboard is
// missing or older than the embedded one, and never overwrites a dashboard a
// user changed in Grafana unless opts.Force is set.
func (c *Client) ImportDashboard(ctx context.Context, opts ImportOptions) (ImportResult, error) {
	if opts.Folder == "" {
		opts.Folder = DefaultFolder
	}
	raw := opts.Dashboard
	if raw == nil {
		raw = dashboards.JSON()
	}
	if opts.DatasourceUID == "" {
		return ImportResult{}, errors.New("import dashboard: no datasource uid given")
	}
	ds, err := c.DatasourceByUID(ctx, opts.DatasourceUID)
	if err != nil {
		if IsStatus(err, http.StatusNotFound) {
			return ImportResult{}, fmt.Errorf("grafana at %s has no datasource with uid %q: provision it, or pick another with --datasource", c.BaseURL, opts.DatasourceUID)
		}
		return ImportResult{}, c.explain(fmt.Errorf("look up datasource %q: %w", opts.DatasourceUID, err))
	}
	if ds.Type != "prometheus" {
		return ImportResult{}, fmt.Errorf("datasource %q (uid %s) is of type %q, not prometheus", ds.Name, ds.UID, ds.Type)
	}
	want, err := prepareDashboard(raw, ds)
	if err != nil {
		return ImportResult{}, err
	}
	res := ImportResult{UID: want.uid, Title: want.title, Revision: want.revision, TrackedVersion: opts.LastWrittenVersion}

	var (
		storedRaw []byte
		props     sdk.BoardProperties
	)
	err = c.sdkCall(ctx, "get dashboard "+want.uid, func(s *sdk.Client) error {
		var err error
		storedRaw, props, err = s.GetRawDashboardByUID(ctx, want.uid)
		return err
	})
	switch {
	case IsStatus(err, http.StatusNotFound):
		folder, err := c.targetFolder(ctx, opts)
		if err != nil {
			return res, c.explain(err)
		}
		res.Folder, res.FolderUID = folder.Title, folder.UID
		msg, err := c.saveDashboard(ctx, want.body, folder.UID, false)
		if err != nil {
			return res, c.explain(err)
		}
		res.Action = ActionCreated
		return c.finish(res, msg), nil
	case err != nil:
		return res, c.explain(err)
	}

	stored, err := parseStored(storedRaw)
	if err != nil {
		return res, err
	}
	res.GrafanaRevision = stored.revision
	res.Version = props.Version
	if res.Version == 0 {
		res.Version = stored.version
	}
	res.Folder = props.FolderTitle
	res.URL = c.BaseURL + "/d/" + want.uid

	edited, why := stored.edited(opts.LastWrittenVersion, res.Version)
	switch {
	case opts.Force:
		// replace below, in the requested folder
	case edited:
		res.Action = ActionKeptUserEdits
		res.Reason = fmt.Sprintf("dashboard %q was changed in Grafana since llmmon wrote it (%s); kept it. Pass --force-dashboard (up or import) to replace it", want.title, why)
		return res, nil
	case stored.revision > want.revision:
		res.Action = ActionKeptNewer
		res.TrackedVersion = res.Version
		res.Reason = fmt.Sprintf("Grafana holds revision %d of %q, newer than this llmmon's revision %d; kept it", stored.revision, want.title, want.revision)
		return res, nil
	case stored.revision == want.revision && stored.hash == want.hash:
		res.Action = ActionUnchanged
		res.TrackedVersion = res.Version
		return res, nil
	}

	// An untouched dashboard the user moved stays where they put it; Force
	// puts it back into the requested folder.
	folderUID, err := c.folderUIDOf(ctx, props.FolderID, props.FolderURL)
	if err != nil {
		return res, c.explain(err)
	}
	if opts.Force {
		folder, err := c.targetFolder(ctx, opts)
		if err != nil {
			return res, c.explain(err)
		}
		folderUID = folder.UID
		res.Folder, res.FolderUID = folder.Title, folder.UID
	}
	// Without Force, send the version we read: Grafana answers 412 if a
	// user saved in between, instead of silently losing that save.
	body, err := withVersion(want.body, res.Version)
	if err != nil {
		return res, err
	}
	msg, err := c.saveDashboard(ctx, body, folderUID, opts.Force)
	if err != nil {
		return res, c.explain(err)
	}
	res.Action = ActionUpdated
	return c.finish(res, msg), nil
}

func (c *Client) finish(res ImportResult, msg saveAnswer) ImportResult {
	if msg.Version != nil {
		res.Version = *msg.Version
	}
	res.TrackedVersion = res.Version
	if msg.URL != "" {
		res.URL = c.BaseURL + msg.URL
	} else {
		res.URL = c.BaseURL + "/d/" + res.UID
	}
	return res
}

// targetFolder is the folder opts asks for: by uid, or by title path.
func (c *Client) targetFolder(ctx context.Context, opts ImportOptions) (folderRef, error) {
	if opts.FolderUID != "" {
		return c.folderByUID(ctx, opts.FolderUID)
	}
	return c.ensureFolder(ctx, opts.Folder)
}

// saveAnswer is Grafana's answer to POST /api/dashboards/db.
type saveAnswer struct {
	UID     *string `json:"uid"`
	Version *int    `json:"version"`
	Status  *string `json:"status"`
	URL     string  `json:"url"`
}

// saveDashboard posts raw dashboard JSON with the folder's uid, as Grafana
// 12 wants it (the sdk only sends the deprecated folderId).
func (c *Client) saveDashboard(ctx context.Context, body []byte, folderUID string, overwrite bool) (saveAnswer, error) {
	var msg saveAnswer
	req := struct {
		Dashboard json.RawMessage `json:"dashboard"`
		FolderUID string          `json:"folderUid,omitempty"`
		Overwrite bool            `json:"overwrite"`
		Message   string          `json:"message"`
	}{body, folderUID, overwrite, "llmmon"}
	if err := c.Do(ctx, http.MethodPost, "/api/dashboards/db", req, &msg); err != nil {
		return msg, err
	}
	// Guard: a 200 answer must say it saved, with the uid and version.
	if msg.UID == nil || msg.Version == nil || (msg.Status != nil && *msg.Status != "success") {
		return msg, fmt.Errorf("grafana at %s answered the dashboard save without a uid, version or success status; it may not have saved it", c.BaseURL)
	}
	return msg, nil
}

// prepared is the dashboard JSON llmmon is about to write.
type prepared struct {
	body     []byte
	uid      string
	title    string
	revision int
	hash     string
}

// prepareDashboard points the datasource variable's default at ds, drops
// any id, and records the content hash in the marker field.
func prepareDashboard(raw []byte, ds Datasource) (prepared, error) {
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return prepared{}, fmt.Errorf("dashboard JSON: %w", err)
	}
	uid, _ := d["uid"].(string)
	title, _ := d["title"].(string)
	if uid == "" || title == "" {
		return prepared{}, errors.New("dashboard JSON has no uid or title")
	}
	if err := setDatasourceDefault(d, ds); err != nil {
		return prepared{}, err
	}
	delete(d, "id")
	delete(d, "version")
	h, err := contentHash(d)
	if err != nil {
		return prepared{}, err
	}
	d[markerKey] = map[string]any{"contentHash": h}
	body, err := json.Marshal(d)
	if err != nil {
		return prepared{}, err
	}
	return prepared{body: body, uid: uid, title: title, revision: intField(d, "revision"), hash: h}, nil
}

// setDatasourceDefault makes the one datasource variable default to ds.
func setDatasourceDefault(d map[string]any, ds Datasource) error {
	tmpl, _ := d["templating"].(map[string]any)
	list, _ := tmpl["list"].([]any)
	for _, v := range list {
		m, _ := v.(map[string]any)
		if m["type"] == "datasource" && m["name"] == "datasource" {
			m["current"] = map[string]any{"selected": true, "text": ds.Name, "value": ds.UID}
			return nil
		}
	}
	return errors.New("dashboard JSON has no datasource variable named \"datasource\"")
}

func withVersion(body []byte, version int) ([]byte, error) {
	var d map[string]any
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, err
	}
	d["version"] = version
	return json.Marshal(d)
}

// storedDashboard is what Grafana holds.
type storedDashboard struct {
	revision int
	version  int
	marker   string // content hash llmmon recorded; "" when absent
	hash     string // hash of the content as it is now
}

func parseStored(raw []byte) (storedDashboard, error) {
	var d map[string]any
	if err := json.Unmarshal(raw, &d); err != nil {
		return storedDashboard{}, fmt.Errorf("dashboard from grafana: %w", err)
	}
	s := storedDashboard{revision: intField(d, "revision"), version: intField(d, "version")}
	if m, ok := d[markerKey].(map[string]any); ok {
		s.marker, _ = m["contentHash"].(string)
	}
	delete(d, markerKey)
	delete(d, "id")
	delete(d, "version")
	h, err := contentHash(d)
	if err != nil {
		return s, err
	}
	s.hash = h
	return s, nil
}

// edited decides whether a user changed the dashboard since llmmon wrote
// it: by Grafana's version when llmmon remembers the one it wrote, else by
// the content hash llmmon stored in the dashboard itself.
func (s storedDashboard) edited(lastWritten, current int) (bool, string) {
	if lastWritten > 0 {
		if current != lastWritten {
			return true, fmt.Sprintf("version %d, llmmon wrote version %d", current, lastWritten)
		}
		return false, ""
	}
	if s.marker == "" {
		return true, "it carries no llmmon content hash"
	}
	if s.marker != s.hash {
		return true, fmt.Sprintf("its content differs from what llmmon wrote; Grafana version %d", current)
	}
	return false, ""
}

// contentHash hashes a dashboard's JSON model canonically: map keys sorted,
// numbers as float64, so Grafana's re-encoding of the same content matches.
func contentHash(d map[string]any) (string, error) {
	b, err := json.Marshal(d) // encoding/json sorts map keys
	if err != nil {
		return "", err
	}
	var norm any
	if err := json.Unmarshal(b, &norm); err != nil {
		return "", err
	}
	b, err = json.Marshal(norm)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func intField(d map[string]any, key string) int {
	switch v := d[key].(type) {
	case float64:
		return int(v)
	case json.Number:
		n, _ := v.Int64()
		return int(n)
	}
	return 0
}

// PickPrometheusDatasource chooses the datasource import points the
// dashboard at: the one named (by uid or name), else Grafana's default
// datasource when it is Prometheus, else the only Prometheus datasource.
func (c *Client) PickPrometheusDatasource(ctx context.Context, want string) (Datasource, error) {
	all, err := c.Datasources(ctx)
	if err != nil {
		return Datasource{}, c.explain(fmt.Errorf("list datasources: %w", err))
	}
	var proms []Datasource
	for _, d := range all {
		if d.Type == "prometheus" {
			proms = append(proms, d)
		}
	}
	names := func() string {
		var n []string
		for _, d := range proms {
			n = append(n, fmt.Sprintf("%q (uid %s)", d.Name, d.UID))
		}
		sort.Strings(n)
		if len(n) == 0 {
			return "none"
		}
		return strings.Join(n, ", ")
	}
	if want != "" {
		for _, d := range all {
			if d.UID == want || d.Name == want {
				if d.Type != "prometheus" {
					return Datasource{}, fmt.Errorf("datasource %q is of type %q, not prometheus; Prometheus datasources: %s", want, d.Type, names())
				}
				return d, nil
			}
		}
		return Datasource{}, fmt.Errorf("grafana at %s has no datasource named or with uid %q; Prometheus datasources: %s", c.BaseURL, want, names())
	}
	for _, d := range proms {
		if d.IsDefault {
			return d, nil
		}
	}
	switch len(proms) {
	case 0:
		return Datasource{}, fmt.Errorf("grafana at %s has no Prometheus datasource: add one pointing at your Prometheus, then run import again", c.BaseURL)
	case 1:
		return proms[0], nil
	}
	return Datasource{}, fmt.Errorf("grafana at %s has several Prometheus datasources and none is the default: pick one with --datasource (%s)", c.BaseURL, names())
}
