package grafanadouble

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/grafana-tools/sdk"
)

// TestGrafanaToolsSDK drives the double with the real client llmmon uses,
// to prove the double understands what grafana-tools/sdk sends (for example
// {"FolderID":..,"Overwrite":..} with Go field names) and that the sdk
// understands the double's answers.
func TestGrafanaToolsSDK(t *testing.T) {
	prov := t.TempDir()
	writeFiles(t, prov, map[string]string{"datasources/p.yaml": "apiVersion: 1\ndatasources:\n  - name: Prometheus LLM\n    uid: prom\n    type: prometheus\n    url: http://prometheus:9090\n    isDefault: true\n"})
	_, base := StartTest(t, Config{AdminPassword: "pw", ProvisioningDir: prov})
	ctx := context.Background()
	c, err := sdk.NewClient(base, "admin:pw", http.DefaultClient)
	if err != nil {
		t.Fatal(err)
	}

	h, err := c.GetHealth(ctx)
	if err != nil || h.Commit != Commit || h.Database != "ok" {
		t.Fatalf("GetHealth = %+v, %v", h, err)
	}

	f, err := c.CreateFolder(ctx, sdk.Folder{UID: "llm", Title: "LLM Monitoring"})
	if err != nil || f.UID != "llm" || f.ID == 0 || f.Title != "LLM Monitoring" {
		t.Fatalf("CreateFolder = %+v, %v", f, err)
	}
	if _, err := c.CreateFolder(ctx, sdk.Folder{UID: "llm", Title: "LLM Monitoring"}); err == nil || !strings.Contains(err.Error(), "409") {
		t.Errorf("CreateFolder twice: %v, want HTTP 409", err)
	}
	folders, err := c.GetAllFolders(ctx)
	if err != nil || len(folders) != 1 || folders[0].UID != "llm" {
		t.Errorf("GetAllFolders = %+v, %v", folders, err)
	}
	if got, err := c.GetFolderByUID(ctx, "llm"); err != nil || got.ID != f.ID {
		t.Errorf("GetFolderByUID = %+v, %v", got, err)
	}

	raw := []byte(`{"uid":"llmmon","title":"LLM Serving","version":0,"tags":["llm"],"panels":[{"id":1,"type":"timeseries","unknownToSDK":{"a":[1,2]}}],"schemaVersion":41}`)
	res, err := c.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: raw, Parameters: sdk.SetDashboardParams{FolderID: f.ID, Overwrite: false}})
	if err != nil || res.UID == nil || *res.UID != "llmmon" || res.Version == nil || *res.Version != 1 || res.Status == nil || *res.Status != "success" {
		t.Fatalf("SetRawDashboardWithParam = %+v, %v", res, err)
	}
	got, props, err := c.GetRawDashboardByUID(ctx, "llmmon")
	if err != nil || props.FolderID != f.ID || props.Version != 1 || props.Slug != "llm-serving" {
		t.Fatalf("GetRawDashboardByUID: props %+v, %v", props, err)
	}
	var want, have map[string]any
	unmarshalNumbers(raw, &want)
	unmarshalNumbers(got, &have)
	delete(have, "id")
	want["version"] = have["version"]
	if !reflect.DeepEqual(want, have) {
		t.Errorf("raw dashboard round trip:\n got %s\nwant %s", got, raw)
	}

	// A stale save without overwrite is refused with Grafana's 412 message.
	_, err = c.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: raw, Parameters: sdk.SetDashboardParams{FolderID: f.ID}})
	if err == nil || !strings.Contains(err.Error(), "412") || !strings.Contains(err.Error(), "changed by someone else") {
		t.Errorf("stale save: %v, want HTTP 412 version-mismatch", err)
	}
	res, err = c.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: raw, Parameters: sdk.SetDashboardParams{FolderID: f.ID, Overwrite: true}})
	if err != nil || *res.Version != 2 {
		t.Errorf("overwrite = %+v, %v", res, err)
	}

	found, err := c.Search(ctx, sdk.SearchType(sdk.SearchTypeDashboard), sdk.SearchQuery("LLM"))
	if err != nil || len(found) != 1 || found[0].UID != "llmmon" || found[0].FolderUID != "llm" || found[0].FolderID != int(f.ID) {
		t.Errorf("Search = %+v, %v", found, err)
	}
	found, err = c.Search(ctx, sdk.SearchType(sdk.SearchTypeFolder), sdk.SearchQuery("LLM Monitoring"))
	if err != nil || len(found) != 1 || found[0].UID != "llm" {
		t.Errorf("Search folders = %+v, %v", found, err)
	}

	ds, err := c.GetDatasourceByName(ctx, "Prometheus LLM")
	if err != nil || ds.UID != "prom" || ds.Type != "prometheus" || !ds.IsDefault || ds.ReadOnly == nil || !*ds.ReadOnly {
		t.Errorf("GetDatasourceByName = %+v, %v", ds, err)
	}
	all, err := c.GetAllDatasources(ctx)
	if err != nil || len(all) != 1 {
		t.Errorf("GetAllDatasources = %+v, %v", all, err)
	}
	if byID, err := c.GetDatasource(ctx, ds.ID); err != nil || byID.UID != "prom" {
		t.Errorf("GetDatasource(id) = %+v, %v", byID, err)
	}

	// Bad credentials: the sdk sees Grafana's 401.
	bad, _ := sdk.NewClient(base, "admin:wrong", http.DefaultClient)
	if _, err := bad.GetAllFolders(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("bad credentials: %v, want HTTP 401", err)
	}
	tok, _ := sdk.NewClient(base, "not-a-token", http.DefaultClient)
	if _, err := tok.SetRawDashboardWithParam(ctx, sdk.RawBoardRequest{Dashboard: raw}); err == nil || !strings.Contains(err.Error(), "invalid API key") {
		t.Errorf("bad token: %v, want invalid API key", err)
	}
}
