package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/grafana"
)

type importOptions struct {
	IO      IOStreams
	Globals *Globals
	// GrafanaURL is the Grafana to import into; "" means the stack up
	// recorded in --dir, signed in as its admin.
	GrafanaURL string
	Auth       grafana.Auth
	Folder     string
	Datasource string // name or uid; "" picks the default Prometheus datasource
	Force      bool
}

func newImportCmd(f *Factory, runF func(context.Context, *importOptions) error) *cobra.Command {
	opts := &importOptions{IO: f.IO, Globals: f.Globals}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Push llmmon's LLM dashboard into an existing Grafana",
		Long: `import puts llmmon's dashboard (the same one up installs) into a Grafana you
already run, through its HTTP API, in a folder created when missing.

Without --grafana-url it imports into the stack up recorded in --dir,
exactly as up does: signed in as that Grafana's admin, pointing at the
stack's Prometheus datasource, in the "` + grafana.DefaultFolder + `" folder. That is how to
bring back a deleted dashboard without running up again.

The dashboard has no import inputs and no hard-coded datasource: import picks
the Prometheus datasource (Grafana's default one, or the one --datasource
names by name or uid) and makes it the dashboard's default; the datasource,
job, instance and model drop-downs work from there.

Running import again changes nothing when the dashboard is already current. A
dashboard someone edited in Grafana since llmmon wrote it is kept, and import
says so; --force replaces it.

Sign in with a service-account token (--token, or LLMMON_GRAFANA_TOKEN) or
with --user and --password (or LLMMON_GRAFANA_PASSWORD). The account needs
the Editor role or more.`,
		Example: `  llmmon import --dir ./llm_monitor          # the stack up started there
  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx
  llmmon import --grafana-url https://grafana.example.com --user admin --password secret --folder "AI Platform"
  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx --datasource "Prometheus (prod)" --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.GrafanaURL == "" {
				// The recorded stack: its own admin, datasource and folder.
				for _, f := range []string{"token", "user", "password", "datasource", "folder"} {
					if cmd.Flags().Changed(f) {
						return fmt.Errorf("--grafana-url is required with --%s (without them, import puts the dashboard into the stack up recorded in --dir)", f)
					}
				}
			} else {
				if opts.Auth.Token == "" && opts.Auth.User == "" {
					opts.Auth.Token = os.Getenv("LLMMON_GRAFANA_TOKEN")
				}
				if opts.Auth.User != "" && opts.Auth.Password == "" {
					opts.Auth.Password = os.Getenv("LLMMON_GRAFANA_PASSWORD")
				}
				if err := opts.validate(); err != nil {
					return err
				}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runImport(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.GrafanaURL, "grafana-url", "", "Grafana's root URL, e.g. http://localhost:3000 (default: the stack recorded in --dir)")
	fl.StringVar(&opts.Auth.Token, "token", "", "service-account token (env LLMMON_GRAFANA_TOKEN)")
	fl.StringVar(&opts.Auth.User, "user", "", "user for basic auth, with --password")
	fl.StringVar(&opts.Auth.Password, "password", "", "password for --user (env LLMMON_GRAFANA_PASSWORD)")
	fl.StringVar(&opts.Folder, "folder", grafana.DefaultFolder, "folder to put the dashboard in, created when missing")
	fl.StringVar(&opts.Datasource, "datasource", "", "Prometheus datasource name or uid (default: Grafana's default Prometheus datasource)")
	fl.BoolVar(&opts.Force, "force", false, "replace the dashboard even if it was edited in Grafana")
	return cmd
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
		return errors.New("--user needs --password (or LLMMON_GRAFANA_PASSWORD)")
	}
	if o.Folder == "" {
		return errors.New("--folder must not be empty")
	}
	return nil
}

func runImport(ctx context.Context, opts *importOptions) error {
	if opts.GrafanaURL == "" {
		return runImportRecorded(ctx, opts)
	}
	c := grafana.NewClient(opts.GrafanaURL, opts.Auth)
	h, err := c.Health(ctx)
	if err != nil {
		return c.Explain(err)
	}
	ds, err := c.PickPrometheusDatasource(ctx, opts.Datasource)
	if err != nil {
		return err
	}
	res, err := c.ImportDashboard(ctx, grafana.ImportOptions{Folder: opts.Folder, DatasourceUID: ds.UID, Force: opts.Force})
	if err != nil {
		return err
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
