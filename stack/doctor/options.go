package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Options describe the stack doctor examines: what up recorded in Dir,
// or the defaults when nothing was started.
type Options struct {
	Dir    string
	Config stack.Config
	// State is what up recorded; nil when nothing was started from Dir.
	State *stack.State
	// Engine is the container engine; nil with EngineErr when no client
	// could even be made.
	Engine    stack.Engine
	EngineErr error
	// Getenv reads DOCKER_HOST and DOCKER_CONTEXT (os.Getenv when nil).
	Getenv func(string) string

	// Endpoints as seen from this machine; derived from Config when empty.
	PrometheusURL   string
	GrafanaURL      string
	AlertmanagerURL string
	MetricsURL      string // the LLM server's /metrics
	// LoadURL is the OpenAI base URL printed in the "no requests yet" fix.
	LoadURL string
}

// Timeouts of the checks. They run concurrently, so a run where every
// part is down takes about the longest of them, well under 10 s.
const (
	dockerTimeout = 4 * time.Second
	httpTimeout   = 3 * time.Second
	dialTimeout   = time.Second
)

// doctor holds the shared probes the checks depend on.
type doctor struct {
	o     Options
	names stack.Names
	// portHost is where this machine reaches the ports up publishes.
	portHost string
	prom     *prometheus.Client
	graf     *grafana.Client
	http     *http.Client

	info *memo[stack.EngineInfo]
	// objs are the stack's containers, by component; promObj and grafObj
	// are two of them.
	objs       map[string]*memo[stack.Object]
	promObj    *memo[stack.Object]
	grafObj    *memo[stack.Object]
	netObj     *memo[stack.Object]
	promReady  *memo[struct{}]
	amReady    *memo[struct{}]
	targets    *memo[[]prometheus.Target]
	loadedJobs *memo[map[string]bool]
	grafHealth *memo[grafana.Health]
	password   *memo[string] // the stored admin password, once it is known to work
	metrics    *memo[scrapeResult]
}

// Checks returns every check for the stack described by o. ctx bounds the
// shared probes (the Docker ping, the target list) the checks reuse.
func Checks(ctx context.Context, o Options) []Check {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	c := o.Config
	// The engine is the one DOCKER_HOST names, as for the Docker client.
	engine := stack.EngineInfo{Host: o.Getenv("DOCKER_HOST")}
	if o.PrometheusURL == "" {
		o.PrometheusURL = stack.EndpointURL(c.Bind, c.Prometheus.Port, engine)
	}
	if o.GrafanaURL == "" {
		o.GrafanaURL = stack.EndpointURL(c.Bind, c.Grafana.Port, engine)
	}
	if o.AlertmanagerURL == "" {
		o.AlertmanagerURL = stack.EndpointURL(c.Bind, c.Alertmanager.Port, engine)
	}
	if o.MetricsURL == "" {
		o.MetricsURL = HostURL(c.LLMServer)
	}
	if o.LoadURL == "" {
		// The OpenAI API is on the same server as /metrics.
		if u, err := url.Parse(o.MetricsURL); err == nil && u.Host != "" {
			o.LoadURL = u.Scheme + "://" + u.Host + "/v1"
		}
	}
	d := &doctor{
		o:        o,
		portHost: stack.EndpointHost(c.Bind, engine),
		names:    stack.NamesFor(c.Name),
		prom:     prometheus.NewClient(o.PrometheusURL),
		graf:     grafana.NewClient(o.GrafanaURL, grafana.Auth{}),
		http:     &http.Client{Timeout: httpTimeout},
	}
	d.prom.HTTP.Timeout = httpTimeout
	d.graf.HTTP.Timeout = httpTimeout
	probe := func(timeout time.Duration) (context.Context, context.CancelFunc) {
		return context.WithTimeout(ctx, timeout)
	}
	d.info = newMemo(func() (stack.EngineInfo, error) {
		if o.Engine == nil {
			if o.EngineErr == nil {
				return stack.EngineInfo{}, errors.New("no container engine client")
			}
			return stack.EngineInfo{}, o.EngineErr
		}
		pctx, cancel := probe(dockerTimeout)
		defer cancel()
		return o.Engine.Info(pctx)
	})
	find := func(kind stack.Kind, name string) *memo[stack.Object] {
		return newMemo(func() (stack.Object, error) {
			pctx, cancel := probe(dockerTimeout)
			defer cancel()
			if _, err := d.info.get(pctx); err != nil {
				return stack.Object{}, errDockerDown
			}
			return o.Engine.Find(pctx, kind, name)
		})
	}
	d.objs = map[string]*memo[stack.Object]{}
	for _, p := range c.Parts() {
		d.objs[p.Component] = find(stack.KindContainer, d.names.Container(p.Component))
	}
	d.promObj, d.grafObj = d.objs[stack.ComponentPrometheus], d.objs[stack.ComponentGrafana]
	d.netObj = find(stack.KindNetwork, d.names.Network)
	d.promReady = newMemo(func() (struct{}, error) {
		pctx, cancel := probe(httpTimeout)
		defer cancel()
		return struct{}{}, d.prom.Ready(pctx)
	})
	d.amReady = newMemo(func() (struct{}, error) {
		pctx, cancel := probe(httpTimeout)
		defer cancel()
		return struct{}{}, alertmanager.NewClient(o.AlertmanagerURL).Ready(pctx)
	})
	d.targets = newMemo(func() ([]prometheus.Target, error) {
		pctx, cancel := probe(2 * httpTimeout)
		defer cancel()
		if _, err := d.promReady.get(pctx); err != nil {
			return nil, err
		}
		return d.prom.Targets(pctx)
	})
	d.loadedJobs = newMemo(func() (map[string]bool, error) {
		pctx, cancel := probe(2 * httpTimeout)
		defer cancel()
		if _, err := d.promReady.get(pctx); err != nil {
			return nil, err
		}
		return d.readLoadedJobs(pctx)
	})
	d.grafHealth = newMemo(func() (grafana.Health, error) {
		pctx, cancel := probe(httpTimeout)
		defer cancel()
		return d.graf.Health(pctx)
	})
	d.password = newMemo(func() (string, error) {
		pctx, cancel := probe(2 * httpTimeout)
		defer cancel()
		return d.adminPassword(pctx)
	})
	d.metrics = newMemo(func() (scrapeResult, error) {
		pctx, cancel := probe(httpTimeout)
		defer cancel()
		return d.scrapeMetrics(pctx)
	})

	var checks []Check
	checks = append(checks, d.dockerChecks()...)
	checks = append(checks, d.containerChecks()...)
	checks = append(checks, d.networkChecks()...)
	checks = append(checks, d.prometheusChecks()...)
	checks = append(checks, d.llmChecks()...)
	checks = append(checks, d.alertmanagerChecks()...)
	checks = append(checks, d.grafanaChecks()...)
	checks = append(checks, d.portChecks()...)
	checks = append(checks, d.configChecks()...)
	return checks
}

// errDockerDown marks a probe skipped because the daemon check failed.
var errDockerDown = errors.New("docker daemon unreachable")

// upCmd is the exact `llmmon up` line for this stack: up starts from
// what it recorded in --dir, so the stack keeps its settings.
func (d *doctor) upCmd(extra ...string) string {
	args := append([]string{"llmmon", "up"}, d.dirArgs()...)
	if d.o.Config.Name != "" {
		args = append(args, "--name", d.o.Config.Name)
	}
	return "`" + strings.Join(append(args, extra...), " ") + "`"
}

// importCmd is the exact `llmmon import` line that imports llmmon's
// dashboard into the stack up recorded in --dir.
func (d *doctor) importCmd(extra ...string) string {
	args := append([]string{"llmmon", "import"}, d.dirArgs()...)
	return "`" + strings.Join(append(args, extra...), " ") + "`"
}

func (d *doctor) dirArgs() []string {
	if d.o.Dir != "" && filepath.Clean(d.o.Dir) != filepath.Clean(stack.DefaultDir) {
		return []string{"--dir", d.o.Dir}
	}
	return nil
}

// started reports whether up recorded a stack in Dir.
func (d *doctor) started() bool { return d.o.State != nil }

// notStartedCause words the cause when nothing was ever started.
func (d *doctor) notStartedCause() string {
	return fmt.Sprintf("no stack was started from %s (no %s there)", d.o.Dir, stack.StateFile)
}

// HostURL is a target's /metrics URL as seen from this machine:
// host.docker.internal (and Docker's gateway addresses) is this machine.
func HostURL(t stack.Target) string {
	host, port, err := net.SplitHostPort(t.FirstAddress())
	if err != nil {
		return "http://" + t.FirstAddress() + t.MetricsPath()
	}
	if isHostAlias(host) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + t.MetricsPath()
}

func isHostAlias(host string) bool {
	switch host {
	case "host.docker.internal", "gateway.docker.internal", "host-gateway", "172.17.0.1":
		return true
	}
	return false
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
