package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Terminal decorations, drawn only when a stream's IOStreams.Decorate*
// says so.
const (
	clearLine = "\r\033[K"
	markOK    = "✓"
	markFail  = "✗"
)

var spinner = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// upView draws up's events: one line per change, and while waiting a
// spinner redrawn in place on a terminal (a plain "waiting" line
// otherwise).
type upView struct {
	out      io.Writer
	live     bool // a terminal that takes marks and redrawn lines
	verbose  bool // also the objects left unchanged
	spinning bool // a spinner line is on screen
	frame    int
}

func newUpView(out io.Writer, live, verbose bool) *upView {
	return &upView{out: out, live: live, verbose: verbose}
}

func (v *upView) event(e stack.Event) {
	if _, ok := e.(stack.StillWaiting); !ok {
		v.done()
	}
	switch e := e.(type) {
	case stack.Notice:
		fmt.Fprintf(v.out, "note: %s\n", e.Text)
	case stack.Pulling:
		fmt.Fprintf(v.out, "pulling %s\n", e.Image)
	case stack.Action:
		if e.Verb != "unchanged" || v.verbose {
			fmt.Fprintf(v.out, "%-9s %s %s\n", e.Verb, e.Kind, e.Name)
		}
	case stack.Waiting:
		if v.live {
			return // the spinner says it
		}
		what := make([]string, len(e.Probes))
		for i, p := range e.Probes {
			what[i] = p.Component + " (" + p.Endpoint + ")"
		}
		fmt.Fprintf(v.out, "waiting up to %s for %s\n", e.Timeout, strings.Join(what, ", "))
	case stack.StillWaiting:
		if v.live {
			fmt.Fprintf(v.out, "%s%s waiting for %s… %ds", clearLine, spinner[v.frame%len(spinner)], strings.Join(e.Pending, ", "), int(e.Elapsed.Seconds()))
			v.frame++
			v.spinning = true
		}
	case stack.Ready:
		fmt.Fprintf(v.out, "%s %s ready at %s (%.1fs)\n", v.mark(), e.Component, e.URL, e.Elapsed.Seconds())
	case stack.DatasourceHealthy:
		what := "queries Prometheus"
		if e.UID == stack.AlertmanagerDatasourceUID {
			what = "reaches Alertmanager"
		}
		fmt.Fprintf(v.out, "%s datasource %s healthy: Grafana %s at %s (%.1fs)\n", v.mark(), e.UID, what, e.URL, e.Elapsed.Seconds())
	}
}

// done clears a spinner line, before other output or an error.
func (v *upView) done() {
	if v.spinning {
		fmt.Fprint(v.out, clearLine)
		v.spinning = false
	}
}

func (v *upView) mark() string {
	if v.live {
		return markOK
	}
	return " "
}

// summary says where the stack answers and, after the wait, what
// Prometheus scrapes and what each target looks like.
func (v *upView) summary(res *stack.UpResult, waited bool, took time.Duration) {
	out := v.out
	changed := 0
	for _, a := range res.Actions {
		if a.Verb != "unchanged" {
			changed++
		}
	}
	switch {
	case !waited:
		fmt.Fprintf(out, "\nstack %s started in %.1fs (not waiting for readiness: --wait 0)\n", res.Names.Stack, took.Seconds())
	case changed == 0:
		fmt.Fprintf(out, "\nstack %s is up to date and ready (%.1fs)\n", res.Names.Stack, took.Seconds())
	default:
		fmt.Fprintf(out, "\nstack %s is ready (%.1fs)\n", res.Names.Stack, took.Seconds())
	}
	fmt.Fprintf(out, "  Prometheus    %s\n", res.PrometheusURL)
	fmt.Fprintf(out, "  Alertmanager  %s\n", res.AlertmanagerURL)
	fmt.Fprintf(out, "  Grafana       %s   user %s, password in %s\n", res.GrafanaURL, stack.AdminUser, res.PasswordFile)
	if len(res.Notified) == 0 {
		fmt.Fprintln(out, "  Alerts        nobody is notified: alerts show in Alertmanager, Grafana and llmmon alerts;\n"+
			"                add --alert-webhook URL, or alerting.receivers in llmmon.yaml")
	} else {
		fmt.Fprintf(out, "  Alerts        notify %s\n", strings.Join(res.Notified, "; "))
	}
	if d := res.Dashboard; d != nil {
		line := fmt.Sprintf("dashboard %q %s (version %d)", d.Title, d.Action, d.Version)
		if d.Reason != "" {
			line += ": " + d.Reason
		}
		fmt.Fprintf(out, "  Dashboard     %s\n                %s\n", d.URL, line)
	}
	if !waited {
		return
	}
	fmt.Fprintln(out, "\nScrape targets:")
	if res.TargetsErr != nil {
		fmt.Fprintf(out, "  unknown: %v\n", res.TargetsErr)
		return
	}
	printTargets(out, res.Targets, v.live)
	printEngines(out, res.Engines)
}

// printEngines lists what each scraped target looks like and which
// dashboard rows it feeds.
func printEngines(out io.Writer, engines []stack.TargetEngine) {
	if len(engines) == 0 {
		return
	}
	fmt.Fprintln(out, "\nDashboard rows:")
	for _, e := range engines {
		fmt.Fprintln(out, "  "+e.Detection.Describe(e.Job))
	}
}

// printTargets lists scrape targets, with ✓/✗ marks when decorated.
func printTargets(out io.Writer, targets []prometheus.Target, decorated bool) {
	if len(targets) == 0 {
		fmt.Fprintln(out, "  none")
		return
	}
	for _, t := range targets {
		health := t.Health
		if health == "" {
			health = "unknown"
		}
		mark := ""
		if decorated {
			mark = map[string]string{"up": markOK + " ", "down": markFail + " "}[health]
			if mark == "" {
				mark = "… "
			}
		}
		line := fmt.Sprintf("  %s%-14s %-6s %s", mark, t.Job, health, t.ScrapeURL)
		if health == "unknown" {
			line += "  (not scraped yet)"
		}
		if t.LastError != "" {
			line += "\n      last error: " + strings.TrimSpace(t.LastError)
		}
		fmt.Fprintln(out, line)
	}
}
