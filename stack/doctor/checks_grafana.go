package doctor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/grafana"
)

// errPasswordRefused marks a stored password Grafana does not accept.
var errPasswordRefused = errors.New("grafana refuses the stored admin password")

func (d *doctor) grafanaChecks() []Check {
	return []Check{
		{Group: "Grafana", Name: "health", Timeout: httpTimeout + dockerTimeout, Run: d.checkGrafanaHealth},
		{Group: "Grafana", Name: "admin password", Timeout: 3 * httpTimeout, Run: d.checkAdminPassword},
		{Group: "Grafana", Name: "datasource", Timeout: 3 * httpTimeout, Run: d.checkDatasource},
		{Group: "Grafana", Name: "dashboard", Timeout: 4 * httpTimeout, Run: d.checkDashboard},
	}
}

func (d *doctor) passwordFile() string { return stack.AdminPasswordPath(d.o.Dir) }

func (d *doctor) checkGrafanaHealth(ctx context.Context) Result {
	h, err := d.grafHealth.get(ctx)
	if err == nil {
		return Pass("Grafana %s is healthy at %s (database ok)", h.Version, d.o.GrafanaURL)
	}
	res := Fail(fmt.Sprintf("Grafana is not healthy at %s: %v", d.o.GrafanaURL, shortErr(err)), "", d.upCmd())
	switch obj, cres := d.container(ctx, d.grafObj, d.names.Grafana); {
	case cres != nil && cres.Status == StatusSkip:
		res.Cause = "Grafana does not answer, and with Docker unreachable doctor cannot tell whether its container runs (see Docker › daemon)"
		res.Fix = "start Docker, then " + d.upCmd()
	case cres != nil:
		res.Cause = cres.Message + " (see Containers)"
	case obj.Container != nil && !obj.Container.Running():
		res.Cause = fmt.Sprintf("%s is %s (see Containers)", d.names.Grafana, obj.Container.Status)
		res.Fix = d.upCmd() + " starts it again"
	case strings.Contains(err.Error(), "database"):
		res.Cause = "Grafana runs but its database is not ok"
		res.Fix = "look at `docker logs " + d.names.Grafana + "`"
	default:
		res.Cause = fmt.Sprintf("%s is running, but does not answer on %s (still starting, or published on another --grafana-port)", d.names.Grafana, d.o.GrafanaURL)
		res.Fix = "wait a few seconds and run `llmmon doctor` again; if it persists, " + d.upCmd()
	}
	return res
}

// adminPassword returns the stored password once Grafana accepts it.
func (d *doctor) adminPassword(ctx context.Context) (string, error) {
	pw, err := stack.ReadAdminPassword(d.o.Dir)
	if err != nil {
		return "", err
	}
	if _, err := d.grafHealth.get(ctx); err != nil {
		return "", err
	}
	c := *d.graf
	c.Auth = grafana.Auth{User: stack.AdminUser, Password: pw}
	var u struct {
		Login string `json:"login"`
	}
	if err := c.Do(ctx, http.MethodGet, "/api/user", nil, &u); err != nil {
		if grafana.IsStatus(err, http.StatusUnauthorized) {
			return "", fmt.Errorf("%w: %v", errPasswordRefused, err)
		}
		return "", err
	}
	return pw, nil
}

// authed is a Grafana client signed in as admin, or the Result saying why
// it cannot be had.
func (d *doctor) authed(ctx context.Context) (*grafana.Client, *Result) {
	pw, err := d.password.get(ctx)
	if err != nil {
		var r Result
		switch {
		case errors.Is(err, fs.ErrNotExist):
			r = Skip("no stored admin password to sign in with (see Grafana › admin password)")
		case errors.Is(err, errPasswordRefused):
			r = Skip("Grafana refuses the stored admin password (see Grafana › admin password)")
		default:
			if _, herr := d.grafHealth.get(ctx); herr != nil {
				r = Skip("Grafana is not healthy (see Grafana › health)")
			} else {
				r = Fail("cannot sign in to Grafana: "+err.Error(), "", "")
			}
		}
		return nil, &r
	}
	c := *d.graf
	c.Auth = grafana.Auth{User: stack.AdminUser, Password: pw}
	return &c, nil
}

func (d *doctor) checkAdminPassword(ctx context.Context) Result {
	_, err := d.password.get(ctx)
	file := d.passwordFile()
	switch {
	case err == nil:
		return Pass("the admin password stored in %s signs in", file)
	case errors.Is(err, fs.ErrNotExist):
		if !d.started() {
			return Skip("no stored password: %s", d.notStartedCause())
		}
		return Fail(fmt.Sprintf("%s is missing", file),
			"it was deleted after `llmmon up`; Grafana still has the password it was first started with",
			fmt.Sprintf("set a new one and store it: `docker exec %s grafana cli admin reset-admin-password NEWPASS && printf %%s NEWPASS > %s && chmod 600 %s`",
				d.names.Grafana, file, file))
	case errors.Is(err, errPasswordRefused):
		return Fail(fmt.Sprintf("Grafana refuses the admin password stored in %s", file),
			fmt.Sprintf("GF_SECURITY_ADMIN_PASSWORD applies only when Grafana first creates its database; the %s volume already held one "+
				"with another password (changed in the UI, or kept from an earlier stack)", d.names.GrafanaData),
			fmt.Sprintf("reset Grafana to the stored password: `docker exec %s grafana cli admin reset-admin-password \"$(cat %s)\"`; "+
				"or start fresh, losing Grafana's data: `llmmon down --volumes` then %s", d.names.Grafana, file, d.upCmd()))
	}
	if _, herr := d.grafHealth.get(ctx); herr != nil {
		return Skip("Grafana is not healthy (see Grafana › health)")
	}
	return Fail("cannot check the admin password: "+err.Error(), "", "")
}

func (d *doctor) checkDatasource(ctx context.Context) Result {
	c, res := d.authed(ctx)
	if res != nil {
		return *res
	}
	ds, err := c.DatasourceByUID(ctx, stack.DatasourceUID)
	if grafana.IsStatus(err, http.StatusNotFound) {
		return Fail(fmt.Sprintf("Grafana has no datasource with uid %s", stack.DatasourceUID),
			"its provisioning file was not loaded (Grafana started without it) or the datasource was deleted",
			d.upCmd()+" copies the provisioning in and recreates Grafana")
	}
	if err != nil {
		return Fail("cannot read the datasource: "+err.Error(), "", "")
	}
	want := stack.DatasourceURL
	if ds.Type != "prometheus" || strings.TrimRight(ds.URL, "/") != want {
		return Fail(fmt.Sprintf("datasource %s is %s at %s, want prometheus at %s", ds.UID, ds.Type, ds.URL, want),
			"it was edited after provisioning", d.upCmd()+" restores the provisioned datasource")
	}
	return Pass("datasource %q (uid %s) → %s", ds.Name, ds.UID, ds.URL)
}

// checkDatasourceHealth asks Grafana to query Prometheus itself: the
// proof that Grafana reaches Prometheus over the container network.
func (d *doctor) checkDatasourceHealth(ctx context.Context) Result {
	c, res := d.authed(ctx)
	if res != nil {
		return *res
	}
	if _, err := c.DatasourceByUID(ctx, stack.DatasourceUID); grafana.IsStatus(err, http.StatusNotFound) {
		return Skip("no datasource %s (see Grafana › datasource)", stack.DatasourceUID)
	}
	err := c.DatasourceHealth(ctx, stack.DatasourceUID)
	if err == nil {
		return Pass("Grafana queries Prometheus through datasource %s (datasource health OK)", stack.DatasourceUID)
	}
	r := Fail("Grafana cannot query Prometheus: "+err.Error(), "", d.upCmd())
	switch obj, cres := d.container(ctx, d.promObj, d.names.Prometheus); {
	case cres != nil:
		r.Cause = cres.Message
	case obj.Container != nil && !obj.Container.Running():
		r.Cause = fmt.Sprintf("%s is %s", d.names.Prometheus, obj.Container.Status)
		r.Fix = d.upCmd() + " starts it again"
	default:
		r.Cause = fmt.Sprintf("Grafana reaches Prometheus at %s over the %s network; the name does not resolve "+
			"there or Prometheus does not answer (see Network › monitoring network)", stack.DatasourceURL, d.names.Network)
	}
	return r
}

func (d *doctor) checkDashboard(ctx context.Context) Result {
	c, res := d.authed(ctx)
	if res != nil {
		return *res
	}
	var got struct {
		Dashboard map[string]any `json:"dashboard"`
	}
	err := c.Do(ctx, http.MethodGet, "/api/dashboards/uid/"+url.PathEscape(dashboards.UID), nil, &got)
	if grafana.IsStatus(err, http.StatusNotFound) {
		fix := d.upCmd() + " imports it"
		if d.started() {
			fix = fmt.Sprintf("import it again: %s (or %s)", d.importCmd(), d.upCmd())
		}
		return Fail(fmt.Sprintf("Grafana has no dashboard with uid %s", dashboards.UID),
			"it was deleted, or `llmmon up` could not import it", fix)
	}
	if err != nil {
		return Fail("cannot read the dashboard: "+err.Error(), "", "")
	}
	refs := datasourceRefs(got.Dashboard)
	var missing []string
	for _, uid := range refs {
		if _, err := c.DatasourceByUID(ctx, uid); grafana.IsStatus(err, http.StatusNotFound) {
			missing = append(missing, uid)
		} else if err != nil {
			return Fail(fmt.Sprintf("cannot look up datasource %s: %v", uid, err), "", "")
		}
	}
	title, _ := got.Dashboard["title"].(string)
	if len(missing) > 0 {
		fix := d.upCmd("--force-dashboard")
		if d.started() {
			fix = d.importCmd("--force-dashboard")
		}
		return Fail(fmt.Sprintf("dashboard %q references datasource %s, which does not exist", title, strings.Join(missing, ", ")),
			"its panels show \"datasource not found\"",
			fmt.Sprintf("re-import llmmon's dashboard over it, which points it at uid %s (edits made in Grafana are lost): %s", stack.DatasourceUID, fix))
	}
	return Pass("dashboard %q (uid %s) exists, and the %s it references exist (%s)", title, dashboards.UID,
		plural(len(refs), "datasource", "datasources"), strings.Join(refs, ", "))
}

// datasourceRefs returns the datasource uids a dashboard uses, with its
// datasource variables resolved to their current value.
func datasourceRefs(dash map[string]any) []string {
	vars := map[string]string{}
	if tmpl, ok := dash["templating"].(map[string]any); ok {
		list, _ := tmpl["list"].([]any)
		for _, v := range list {
			m, _ := v.(map[string]any)
			if m["type"] != "datasource" {
				continue
			}
			name, _ := m["name"].(string)
			cur, _ := m["current"].(map[string]any)
			val, _ := cur["value"].(string)
			vars[name] = val
		}
	}
	seen := map[string]bool{}
	var walk func(any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			for k, child := range v {
				if k == "datasource" {
					uid := ""
					switch ds := child.(type) {
					case map[string]any:
						uid, _ = ds["uid"].(string)
					case string:
						uid = ds
					}
					uid = resolveVar(uid, vars)
					if uid != "" && !builtinDatasource(uid) {
						seen[uid] = true
					}
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(dash["panels"])
	walk(dash["templating"])
	walk(dash["annotations"])
	out := make([]string, 0, len(seen))
	for uid := range seen {
		out = append(out, uid)
	}
	sort.Strings(out)
	return out
}

func resolveVar(uid string, vars map[string]string) string {
	name := strings.TrimPrefix(uid, "$")
	name = strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")
	if name == uid {
		return uid
	}
	return vars[name] // "" (unresolved) when the variable has no current value
}

func builtinDatasource(uid string) bool {
	switch uid {
	case "grafana", "-- Grafana --", "-- Mixed --", "-- Dashboard --", "default":
		return true
	}
	return false
}
