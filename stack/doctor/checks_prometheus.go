package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

func (d *doctor) prometheusChecks() []Check {
	checks := []Check{
		{Group: "Prometheus", Name: "ready", Timeout: httpTimeout + dockerTimeout, Run: d.checkPrometheusReady},
		{Group: "Prometheus", Name: "config loaded", Timeout: 2 * httpTimeout, Run: d.checkPrometheusConfig},
	}
	for _, t := range d.expectedTargets() {
		checks = append(checks, Check{Group: "Prometheus", Name: "target " + t.Name, Timeout: 3 * httpTimeout,
			Run: func(ctx context.Context) Result { return d.checkTarget(ctx, t) }})
	}
	return checks
}

// expectedTargets are the scrape jobs of the rendered config.
func (d *doctor) expectedTargets() []stack.Target { return d.o.Config.ScrapeJobs() }

// promDown explains a Prometheus that does not answer.
func (d *doctor) promDown(ctx context.Context, err error) Result {
	res := Fail(fmt.Sprintf("Prometheus does not answer at %s: %v", d.o.PrometheusURL, shortErr(err)), "", d.upCmd())
	var ne net.Error
	switch obj, cres := d.container(ctx, d.promObj, d.names.Prometheus); {
	case cres != nil && cres.Status == StatusSkip:
		res.Cause = "Prometheus does not answer, and with Docker unreachable doctor cannot tell whether its container runs (see Docker › daemon)"
		res.Fix = "start Docker, then " + d.upCmd()
	case cres != nil:
		res.Cause = cres.Message + " (see Containers)"
	case obj.Container != nil && !obj.Container.Running():
		res.Cause = fmt.Sprintf("%s is %s (see Containers)", d.names.Prometheus, obj.Container.Status)
	case strings.Contains(err.Error(), "HTTP 503"):
		res.Status = StatusWarn
		res.Cause = "Prometheus is still starting (replaying its write-ahead log)"
		res.Fix = "wait a few seconds and run `llmmon doctor` again"
	case errors.Is(err, syscall.ECONNREFUSED):
		res.Cause = fmt.Sprintf("%s is running, but nothing is published on %s: it was started with another --prometheus-port or --bind", d.names.Prometheus, d.o.PrometheusURL)
	case errors.As(err, &ne) && ne.Timeout():
		res.Cause = "Prometheus accepts connections but does not answer in time (overloaded, or a proxy in the way)"
		res.Fix = "look at `docker logs " + d.names.Prometheus + "`"
	default:
		res.Cause = "something else answers on the port"
	}
	return res
}

func (d *doctor) checkPrometheusReady(ctx context.Context) Result {
	if _, err := d.promReady.get(ctx); err != nil {
		return d.promDown(ctx, err)
	}
	return Pass("Prometheus is ready at %s", d.o.PrometheusURL)
}

func (d *doctor) checkPrometheusConfig(ctx context.Context) Result {
	if _, err := d.promReady.get(ctx); err != nil {
		return Skip("Prometheus does not answer (see Prometheus › ready)")
	}
	var rt struct {
		ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
		LastConfigTime      time.Time `json:"lastConfigTime"`
	}
	if err := d.prom.Get(ctx, "/api/v1/status/runtimeinfo", &rt); err != nil {
		return Fail("cannot read Prometheus' runtime info: "+err.Error(), "", "")
	}
	have, err := d.loadedJobs.get(ctx)
	if err != nil {
		return Fail("cannot read Prometheus' loaded config: "+err.Error(), "", "")
	}
	var missing []string
	for _, t := range d.expectedTargets() {
		if !have[t.Name] {
			missing = append(missing, t.Name)
		}
	}
	promFile := d.o.Dir + "/prometheus/prometheus.yml"
	if !rt.ReloadConfigSuccess {
		return Fail("Prometheus' last config reload failed; it still runs the config before it",
			"the config Prometheus was asked to load is invalid",
			fmt.Sprintf("find the error with `promtool check config %s`, then %s", promFile, d.upCmd()))
	}
	if len(missing) > 0 {
		return Fail(fmt.Sprintf("Prometheus runs a config without job %s", strings.Join(missing, ", ")),
			"the running container was started with other settings than the ones in "+d.o.Dir,
			d.upCmd()+" gives Prometheus the current config")
	}
	return Pass("config loaded %s: %s", ago(rt.LastConfigTime), plural(len(have), "scrape job", "scrape jobs"))
}

// readLoadedJobs returns the scrape jobs of the config Prometheus runs.
func (d *doctor) readLoadedJobs(ctx context.Context) (map[string]bool, error) {
	var cfg struct {
		YAML string `json:"yaml"`
	}
	if err := d.prom.Get(ctx, "/api/v1/status/config", &cfg); err != nil {
		return nil, err
	}
	var loaded struct {
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal([]byte(cfg.YAML), &loaded); err != nil {
		return nil, fmt.Errorf("the loaded config does not parse: %w", err)
	}
	have := map[string]bool{}
	for _, sc := range loaded.ScrapeConfigs {
		have[sc.JobName] = true
	}
	return have, nil
}

func (d *doctor) checkTarget(ctx context.Context, t stack.Target) Result {
	targets, err := d.targets.get(ctx)
	if err != nil {
		if _, rerr := d.promReady.get(ctx); rerr != nil {
			return Skip("Prometheus does not answer (see Prometheus › ready)")
		}
		return Fail("cannot list Prometheus' targets: "+err.Error(), "", "")
	}
	var found []prometheus.Target
	for _, tg := range targets {
		if tg.Job == t.Name {
			found = append(found, tg)
		}
	}
	if len(found) == 0 {
		if jobs, err := d.loadedJobs.get(ctx); err == nil && jobs[t.Name] {
			return Warn(fmt.Sprintf("job %s is configured but has no target yet", t.Name),
				"Prometheus lists a job's targets a few seconds after it (re)loads its config",
				"wait a few seconds and run `llmmon doctor` again")
		}
		return Fail(fmt.Sprintf("Prometheus has no target for job %s", t.Name),
			"the running container was started with other settings than the ones in "+d.o.Dir,
			d.upCmd()+" gives Prometheus the current config")
	}
	tg := found[0]
	for _, f := range found {
		if f.Health == "down" {
			tg = f
		}
	}
	switch tg.Health {
	case "up":
		return Pass("up: %s, scraped %s", tg.ScrapeURL, ago(tg.LastScrape))
	case "down":
	default:
		return Warn(fmt.Sprintf("not scraped yet: %s", tg.ScrapeURL),
			"Prometheus scrapes every "+d.o.Config.ScrapeInterval.String()+" and has not reached this target yet",
			"wait one scrape interval and run `llmmon doctor` again")
	}
	st := ScrapeTarget{Job: t.Name, ScrapeURL: tg.ScrapeURL, LLMJob: t.Name == d.o.Config.LLMServer.Name, BridgeSubnet: d.bridgeSubnet(ctx),
		UpCommand: strings.Trim(d.upCmd(), "`")}
	diag := ClassifyScrapeError(tg.LastError, st)
	if diag.Kind == KindRefused && t.Name != prometheus.SelfJob && t.Name != stack.AlertmanagerJob {
		// In a fleet job, the replica that is down.
		if tg.Instance != "" && slices.Contains(t.Addrs(), tg.Instance) {
			t = t.WithAddrs([]string{tg.Instance})
		}
		diag = d.refineRefused(ctx, t, st, diag)
	}
	msg := "down: " + tg.LastError
	if !strings.Contains(tg.LastError, tg.ScrapeURL) {
		msg = fmt.Sprintf("down: %s: %s", tg.ScrapeURL, tg.LastError)
	}
	return Fail(msg, diag.Cause, diag.Fix)
}

// refineRefused tells "not running" from "bound to 127.0.0.1" by trying
// the server from this machine, on loopback and on the bridge gateway.
func (d *doctor) refineRefused(ctx context.Context, t stack.Target, st ScrapeTarget, diag Diagnosis) Diagnosis {
	host, port, err := net.SplitHostPort(t.FirstAddress())
	if err != nil || !isHostAlias(host) {
		return diag
	}
	loop := dialState(ctx, net.JoinHostPort("127.0.0.1", port))
	if loop == errRefused {
		diag.Cause = fmt.Sprintf("nothing listens on port %s on this machine: the server is not running", port)
		if st.LLMJob {
			diag.Fix = fmt.Sprintf("start it: `llmmon serve --host 0.0.0.0 --port %s` (or your own server, bound to 0.0.0.0)", port)
		} else {
			diag.Fix = fmt.Sprintf("start %s on port %s, bound to 0.0.0.0", t.Name, port)
		}
		return diag
	}
	if loop != nil {
		return diag
	}
	gw := d.bridgeGateway(ctx)
	if gw == "" {
		return diag
	}
	if dialState(ctx, net.JoinHostPort(gw, port)) == errRefused {
		diag.Cause = fmt.Sprintf("the server answers on 127.0.0.1:%s but refuses the Docker bridge (%s): it is bound to 127.0.0.1, "+
			"which containers cannot reach", port, gw)
	}
	return diag
}

var errRefused = errors.New("connection refused")

// dialState is nil when addr accepts a TCP connection, errRefused when
// nothing listens, and another error otherwise.
func dialState(ctx context.Context, addr string) error {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err == nil {
		c.Close()
		return nil
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return errRefused
	}
	return err
}

// bridgeGateway is a host address on the Docker bridge: what
// host.docker.internal resolves to in a container.
func (d *doctor) bridgeGateway(ctx context.Context) string {
	if info, err := d.info.get(ctx); err == nil && info.Remote() {
		return ""
	}
	if ifc, err := net.InterfaceByName("docker0"); err == nil {
		if addrs, err := ifc.Addrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
					return ipn.IP.String()
				}
			}
		}
	}
	if n, err := d.netObj.get(ctx); err == nil && n.Gateway != "" {
		return n.Gateway
	}
	return ""
}

// bridgeSubnet is the stack network's subnet, the source address of
// Prometheus' scrapes, for the firewall rule.
func (d *doctor) bridgeSubnet(ctx context.Context) string {
	n, err := d.netObj.get(ctx)
	if err != nil {
		return ""
	}
	return n.Subnet
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(100*time.Millisecond).String() + " ago"
}

// shortErr drops the URL Go's HTTP client repeats in its errors.
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": dial tcp "); i >= 0 {
		return s[i+2:]
	}
	return s
}
