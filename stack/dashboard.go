package stack

import (
	"context"
	"fmt"

	"github.com/llmmon/llmmon/stack/grafana"
)

// DashboardOptions say whether up imports llmmon's dashboard, and how.
type DashboardOptions struct {
	// Skip leaves the dashboard alone (--no-dashboard).
	Skip bool
	// Force replaces a dashboard edited in Grafana (--force-dashboard).
	Force bool
}

// importDashboard puts llmmon's dashboard into the stack's Grafana, in
// grafana.DefaultFolder, pointing at the stack's datasource. Grafana's
// version of the dashboard that llmmon last wrote is in st; the one it
// writes now is recorded there, so an edit made in Grafana is noticed
// next time (and kept unless o.Force).
func importDashboard(ctx context.Context, g *grafana.Client, st *State, o DashboardOptions) (*grafana.ImportResult, error) {
	r, err := g.ImportDashboard(ctx, grafana.ImportOptions{
		Folder: grafana.DefaultFolder, DatasourceUID: DatasourceUID, LastWrittenVersion: st.DashboardVersion, Force: o.Force,
	})
	if err != nil {
		return nil, fmt.Errorf("import the dashboard: %w", err)
	}
	st.DashboardVersion = r.TrackedVersion
	return &r, nil
}

// RecordedImport is what ImportDashboard did in a recorded stack's Grafana.
type RecordedImport struct {
	Stack      string
	GrafanaURL string
	Grafana    grafana.Health
	Result     grafana.ImportResult
}

// ImportDashboard imports llmmon's dashboard into the Grafana of the
// stack up recorded in dir, signed in as its admin, exactly as up does
// (`llmmon import` without --grafana-url), and records the version.
func ImportDashboard(ctx context.Context, dir string, o DashboardOptions) (RecordedImport, error) {
	st, err := LoadState(dir)
	if err != nil {
		return RecordedImport{}, err
	}
	n := NamesFor(st.Config.Name)
	ri := RecordedImport{Stack: n.Stack, GrafanaURL: st.GrafanaURL}
	pw, err := ReadAdminPassword(dir)
	if err != nil {
		return ri, fmt.Errorf("%w: run llmmon up --dir %s to store one", err, dir)
	}
	user := st.AdminUser
	if user == "" {
		user = AdminUser
	}
	g := grafana.NewClient(st.GrafanaURL, grafana.Auth{User: user, Password: pw})
	if ri.Grafana, err = g.Health(ctx); err != nil {
		return ri, fmt.Errorf("grafana of stack %s does not answer at %s (%w): start it with llmmon up --dir %s", n.Stack, st.GrafanaURL, err, dir)
	}
	res, err := importDashboard(ctx, g, &st, o)
	if grafana.IsStatus(err, 401) {
		return ri, wrongPassword(dir, n)
	}
	if err != nil {
		return ri, g.Explain(err)
	}
	ri.Result = *res
	return ri, SaveState(dir, st)
}
