package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/grafana"
)

type importOptions struct {
	IO      IOStreams
	Globals *Globals
	// GrafanaURL is the Grafana to import into; "" means the stack up
	// recorded in --dir, signed in as its admin.
	GrafanaURL    string
	Auth          grafana.Auth
	PasswordStdin bool
	TLS           grafana.TLSOptions
	OrgID         int64
	Folder        string
	FolderUID     string
	Datasource    string // name or uid; "" picks the default Prometheus datasource
	Force         bool
	Output        string
}

// grafanaFlags are the flags that only make sense with another Grafana.
var grafanaFlags = []string{"token", "user", "password", "password-stdin", "datasource", "folder", "folder-uid", "org-id", "ca-file", "insecure-skip-tls-verify"}

func newImportCmd(f *Factory, runF func(context.Context, *importOptions) error) *cobra.Command {
	opts := &importOptions{IO: f.IO, Globals: f.Globals}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Push llmmon's LLM dashboard into an existing Grafana",
		Long: `import puts llmmon's dashboard (the same one up installs) into a Grafana you
already run, through its HTTP API, in a folder created when missing.

Without --grafana-url (or GRAFANA_URL) it imports into the stack up recorded
in --dir, exactly as up does: signed in as that Grafana's admin, pointing at
the stack's Prometheus datasource, in the "` + grafana.DefaultFolder + `" folder. That is how to
bring back a deleted dashboard without running up again.

The dashboard has no import inputs and no hard-coded datasource: import picks
the Prometheus datasource (Grafana's default one, or the one --datasource
names by name or uid) and makes it the dashboard's default; the datasource,
job, instance and model drop-downs work from there.

--folder takes a title, or a path of nested folders ("Platform/LLM", Grafana
11 or later), each created when missing; --folder-uid names an existing
folder instead.

Running import again changes nothing when the dashboard is already current. A
dashboard someone edited in Grafana since llmmon wrote it is kept, and import
says so; --force-dashboard replaces it (the same flag as up's).

Sign in with a service-account token (--token, or LLMMON_GRAFANA_TOKEN, or
GRAFANA_TOKEN) or with --user and --password (or --password-stdin, or
LLMMON_GRAFANA_PASSWORD). Flags win over the environment. The account needs
the Editor role or more.`,
		Example: `  llmmon import --dir ./llm_monitor          # the stack up started there
  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx
  GRAFANA_URL=https://grafana.example.com GRAFANA_TOKEN=glsa_xxx llmmon import --folder "Platform/LLM"
  cat pw.txt | llmmon import --grafana-url https://grafana.example.com --user admin --password-stdin --ca-file ca.pem
  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx --org-id 2 --datasource "Prometheus (prod)" --force-dashboard`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.complete(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runImport(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.GrafanaURL, "grafana-url", "", "Grafana's root URL, e.g. http://localhost:3000 (env GRAFANA_URL; default: the stack recorded in --dir)")
	fl.StringVar(&opts.Auth.Token, "token", "", "service-account token (env LLMMON_GRAFANA_TOKEN or GRAFANA_TOKEN)")
	fl.StringVar(&opts.Auth.User, "user", "", "user for basic auth, with --password or --password-stdin")
	fl.StringVar(&opts.Auth.Password, "password", "", "password for --user (env LLMMON_GRAFANA_PASSWORD)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password for --user from standard input")
	fl.StringVar(&opts.TLS.CAFile, "ca-file", "", "PEM file of the CA that signed Grafana's certificate, trusted besides the system's")
	fl.BoolVar(&opts.TLS.InsecureSkipVerify, "insecure-skip-tls-verify", false, "do not check Grafana's certificate (insecure: for a test Grafana only)")
	fl.Int64Var(&opts.OrgID, "org-id", 0, "Grafana organization to import into (X-Grafana-Org-Id; default: the account's current one)")
	fl.StringVar(&opts.Folder, "folder", grafana.DefaultFolder, `folder title, or a path of nested folders like "Platform/LLM", created when missing`)
	fl.StringVar(&opts.FolderUID, "folder-uid", "", "uid of an existing folder to put the dashboard in, instead of --folder")
	fl.StringVar(&opts.Datasource, "datasource", "", "Prometheus datasource name or uid (default: Grafana's default Prometheus datasource)")
	fl.BoolVar(&opts.Force, "force-dashboard", false, "replace the dashboard even if it was edited in Grafana (as up --force-dashboard)")
	fl.BoolVar(&opts.Force, "force", false, "")
	_ = fl.MarkDeprecated("force", "use --force-dashboard, the same flag as up's")
	addOutputFlag(cmd, &opts.Output)
	return cmd
}

// complete fills what the flags left open from the environment and
// standard input, then validates.
func (o *importOptions) complete(cmd *cobra.Command) error {
	if o.GrafanaURL == "" {
		o.GrafanaURL = os.Getenv("GRAFANA_URL")
	}
	if o.GrafanaURL == "" {
		// The recorded stack: its own admin, datasource and folder.
		for _, f := range grafanaFlags {
			if cmd.Flags().Changed(f) {
				return fmt.Errorf("--grafana-url (or GRAFANA_URL) is required with --%s (without them, import puts the dashboard into the stack up recorded in --dir)", f)
			}
		}
		return nil
	}
	if o.PasswordStdin {
		if o.Auth.Password != "" {
			return errors.New("use either --password or --password-stdin, not both")
		}
		if o.Auth.User == "" {
			return errors.New("--password-stdin needs --user")
		}
		pw, err := readSecretLine(o.IO.In)
		if err != nil {
			return fmt.Errorf("--password-stdin: %w", err)
		}
		o.Auth.Password = pw
	}
	if o.Auth.Token == "" && o.Auth.User == "" {
		o.Auth.Token = firstEnv("LLMMON_GRAFANA_TOKEN", "GRAFANA_TOKEN")
	}
	if o.Auth.User != "" && o.Auth.Password == "" {
		o.Auth.Password = os.Getenv("LLMMON_GRAFANA_PASSWORD")
	}
	return o.validate()
}

// readSecretLine reads one secret from r, as docker login --password-stdin
// does: everything up to EOF, without the final line break.
func readSecretLine(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no standard input")
	}
	b, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return "", err
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		return "", errors.New("standard input was empty; pipe the password in, e.g. cat pw.txt | llmmon import ... --password-stdin")
	}
	return s, nil
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// validate checks the options for a Grafana given by --grafana-url.
func (o *importOptions) validate() error {
	u, err := url.Parse(o.GrafanaURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("invalid --grafana-url %q: want http://HOST:PORT or https://HOST[/PATH]", o.GrafanaURL)
	}
	switch {
	case o.Auth.Token != "" && o.Auth.User != "":
		return errors.New("use either --token or --user/--password, not both")
	case o.Auth.Token == "" && o.Auth.User == "":
		return errors.New("no credentials: pass --token (a Grafana service-account token) or --user and --password")
	case o.Auth.User != "" && o.Auth.Password == "":
		return errors.New("--user needs --password, --password-stdin or LLMMON_GRAFANA_PASSWORD")
	}
	if o.Folder == "" && o.FolderUID == "" {
		return errors.New("--folder must not be empty")
	}
	if _, err := grafana.SplitFolderPath(o.Folder); err != nil {
		return fmt.Errorf("--folder: %w", err)
	}
	if o.OrgID < 0 {
		return fmt.Errorf("invalid --org-id %d: want a Grafana organization id, 1 or more", o.OrgID)
	}
	if u.Scheme == "http" && (o.TLS.CAFile != "" || o.TLS.InsecureSkipVerify) {
		return fmt.Errorf("--ca-file and --insecure-skip-tls-verify need an https:// --grafana-url, not %s", o.GrafanaURL)
	}
	return nil
}

func runImport(ctx context.Context, opts *importOptions) error {
	if opts.GrafanaURL == "" {
		return runImportRecorded(ctx, opts)
	}
	c := grafana.NewClient(opts.GrafanaURL, opts.Auth)
	c.OrgID = opts.OrgID
	if err := c.SetTLS(opts.TLS); err != nil {
		return err
	}
	h, err := c.Health(ctx)
	if err != nil {
		return c.Explain(err)
	}
	ds, err := c.PickPrometheusDatasource(ctx, opts.Datasource)
	if err != nil {
		return err
	}
	res, err := c.ImportDashboard(ctx, grafana.ImportOptions{Folder: opts.Folder, FolderUID: opts.FolderUID, DatasourceUID: ds.UID, Force: opts.Force})
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, newImportJSON(c.BaseURL, h.Version, "", ds.Name, ds.UID, res))
	}
	fmt.Fprintf(opts.IO.Out, "grafana %s at %s, datasource %q (uid %s)\n", h.Version, c.BaseURL, ds.Name, ds.UID)
	printImport(opts.IO, res)
	return nil
}

// runImportRecorded imports into the stack up recorded in --dir.
func runImportRecorded(ctx context.Context, opts *importOptions) error {
	dir := opts.Globals.Dir
	r, err := stack.ImportDashboard(ctx, dir, stack.DashboardOptions{Force: opts.Force})
	if errors.Is(err, stack.ErrNoState) {
		return fmt.Errorf("%w, or pass --grafana-url to import into another Grafana", err)
	}
	if err != nil {
		return err
	}
	if opts.Output == "json" {
		return writeJSON(opts.IO.Out, newImportJSON(r.GrafanaURL, r.Grafana.Version, r.Stack, stack.DatasourceName, stack.DatasourceUID, r.Result))
	}
	fmt.Fprintf(opts.IO.Out, "grafana %s of stack %s at %s, datasource %q (uid %s)\n", r.Grafana.Version, r.Stack, r.GrafanaURL, stack.DatasourceName, stack.DatasourceUID)
	printImport(opts.IO, r.Result)
	return nil
}

// printImport says what the import did, with a mark when decorated.
func printImport(io IOStreams, res grafana.ImportResult) {
	out := io.Out
	ok, warn := "", ""
	if io.DecorateOut() {
		ok, warn = markOK+" ", "! "
	}
	switch res.Action {
	case grafana.ActionKeptUserEdits, grafana.ActionKeptNewer:
		fmt.Fprintf(out, "%sdashboard %q %s (version %d): %s\n", warn, res.Title, res.Action, res.Version, res.Reason)
	default:
		fmt.Fprintf(out, "%sdashboard %q %s in folder %q (version %d, revision %d)\n", ok, res.Title, res.Action, res.Folder, res.Version, res.Revision)
	}
	fmt.Fprintf(out, "  %s\n", res.URL)
}

// importJSON is import's -o json report.
type importJSON struct {
	GrafanaURL     string `json:"grafana_url"`
	GrafanaVersion string `json:"grafana_version"`
	Stack          string `json:"stack,omitempty"`
	Datasource     struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Dashboard struct {
		UID       string `json:"uid"`
		Title     string `json:"title"`
		Action    string `json:"action"`
		Folder    string `json:"folder"`
		FolderUID string `json:"folder_uid,omitempty"`
		Version   int    `json:"version"`
		Revision  int    `json:"revision"`
		URL       string `json:"url"`
		Reason    string `json:"reason,omitempty"`
	} `json:"dashboard"`
}

func newImportJSON(url, version, stackName, dsName, dsUID string, r grafana.ImportResult) importJSON {
	var j importJSON
	j.GrafanaURL, j.GrafanaVersion, j.Stack = url, version, stackName
	j.Datasource.Name, j.Datasource.UID = dsName, dsUID
	d := &j.Dashboard
	d.UID, d.Title, d.Action, d.Folder, d.FolderUID = r.UID, r.Title, string(r.Action), r.Folder, r.FolderUID
	d.Version, d.Revision, d.URL, d.Reason = r.Version, r.Revision, r.URL, r.Reason
	return j
}
