package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/grafana"
)

type importOptions struct {
	IO         IOStreams
	GrafanaURL string
	Auth       grafana.Auth
	Folder     string
	Datasource string // name or uid; "" picks the default Prometheus datasource
	Force      bool
}

func newImportCmd(f *Factory, runF func(context.Context, *importOptions) error) *cobra.Command {
	opts := &importOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Push llmmon's LLM dashboard into an existing Grafana",
		Long: `import puts llmmon's dashboard (the same one up installs) into a Grafana you
already run, through its HTTP API, in a folder created when missing.

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
		Example: `  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx
  llmmon import --grafana-url https://grafana.example.com --user admin --password secret --folder "AI Platform"
  llmmon import --grafana-url http://localhost:3000 --token glsa_xxx --datasource "Prometheus (prod)" --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Auth.Token == "" && opts.Auth.User == "" {
				opts.Auth.Token = os.Getenv("LLMMON_GRAFANA_TOKEN")
			}
			if opts.Auth.User != "" && opts.Auth.Password == "" {
				opts.Auth.Password = os.Getenv("LLMMON_GRAFANA_PASSWORD")
			}
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runImport(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.GrafanaURL, "grafana-url", "", "Grafana's root URL, e.g. http://localhost:3000 (required)")
	fl.StringVar(&opts.Auth.Token, "token", "", "service-account token (env LLMMON_GRAFANA_TOKEN)")
	fl.StringVar(&opts.Auth.User, "user", "", "user for basic auth, with --password")
	fl.StringVar(&opts.Auth.Password, "password", "", "password for --user (env LLMMON_GRAFANA_PASSWORD)")
	fl.StringVar(&opts.Folder, "folder", grafana.DefaultFolder, "folder to put the dashboard in, created when missing")
	fl.StringVar(&opts.Datasource, "datasource", "", "Prometheus datasource name or uid (default: Grafana's default Prometheus datasource)")
	fl.BoolVar(&opts.Force, "force", false, "replace the dashboard even if it was edited in Grafana")
	return cmd
}

func (o *importOptions) validate() error {
	if o.GrafanaURL == "" {
		return errors.New("--grafana-url is required, e.g. --grafana-url http://localhost:3000")
	}
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
	out := opts.IO.Out
	ok, warn := "", ""
	if opts.IO.IsTerminal {
		ok, warn = "✓ ", "! "
	}
	fmt.Fprintf(out, "grafana %s at %s, datasource %q (uid %s)\n", h.Version, c.BaseURL, ds.Name, ds.UID)
	switch res.Action {
	case grafana.ActionKeptUserEdits, grafana.ActionKeptNewer:
		fmt.Fprintf(out, "%sdashboard %q %s (version %d): %s\n", warn, res.Title, res.Action, res.Version, res.Reason)
	default:
		fmt.Fprintf(out, "%sdashboard %q %s in folder %q (version %d, revision %d)\n", ok, res.Title, res.Action, res.Folder, res.Version, res.Revision)
	}
	fmt.Fprintf(out, "  %s\n", res.URL)
	return nil
}
