package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"syscall"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// SeedMetrics are the five metrics the seed's FastAPI server exposes and
// the dashboard's LLM panels are built on.
var SeedMetrics = llmmetrics.Seed()

// requestCounter is the seed metric that counts requests.
const requestCounter = llmmetrics.Requests

// scrapeResult is the LLM server's /metrics as this machine sees it.
type scrapeResult struct {
	families map[string]*dto.MetricFamily
	// url is where it was read: MetricsURL, or the same port on the
	// address the server listens on when that is not loopback.
	url string
}

// scrapeError is a failed scrape of /metrics, with what it means.
type scrapeError struct {
	msg, cause, fix string
	refused         bool
}

func (e *scrapeError) Error() string { return e.msg }

func (d *doctor) llmChecks() []Check {
	return append([]Check{
		{Group: "LLM server", Name: "/metrics", Timeout: 2 * httpTimeout, Run: d.checkMetrics},
		{Group: "LLM server", Name: "bind address", Timeout: 2 * httpTimeout, Run: d.checkBind},
		{Group: "LLM server", Name: "requests", Timeout: 2 * httpTimeout, Run: d.checkRequests},
		{Group: "LLM server", Name: "engine", Timeout: 2 * httpTimeout, Run: d.checkEngine},
	}, d.engineTargetChecks()...)
}

// checkEngine says what answers on the LLM server's port, from its metric
// names, and which dashboard rows it feeds (prometheus.DetectEngine).
func (d *doctor) checkEngine(ctx context.Context) Result {
	sr, err := d.metrics.get(ctx)
	if err != nil {
		return Skip("no metrics to read (see LLM server › /metrics)")
	}
	names := make([]string, 0, len(sr.families))
	for n := range sr.families {
		names = append(names, n)
	}
	det := prometheus.DetectEngine(names)
	line := det.Describe(d.o.Config.LLMServer.String())
	if len(det.Rows()) == 0 {
		return Warn(line, "the dashboard's rows are built on llm_* and engine (vllm:, llamacpp:, tgi_, sglang:) metrics",
			"run `llmmon serve --upstream URL` in front of the engine and scrape the gateway")
	}
	return Pass("%s", line)
}

// engineTargetChecks say, for each extra --target, what Prometheus
// scraped there and which dashboard rows it feeds.
func (d *doctor) engineTargetChecks() []Check {
	var out []Check
	for _, t := range d.o.Config.Targets {
		out = append(out, Check{Group: "LLM server", Name: "engine " + t.Name, Timeout: 2 * httpTimeout,
			Run: func(ctx context.Context) Result {
				det, err := d.prom.DetectJob(ctx, t.Name)
				if err != nil {
					return Skip("cannot ask Prometheus what job %s serves (see Prometheus): %v", t.Name, err)
				}
				if det.Metrics == 0 {
					return Skip("Prometheus holds no samples of job %s yet (see Prometheus › targets)", t.Name)
				}
				line := det.Describe(t.String())
				if len(det.Rows()) == 0 {
					return Warn(line, "no dashboard row is built on its metrics",
						"check the target is the engine's metrics port, or scrape `llmmon serve --upstream` in front of it")
				}
				return Pass("%s", line)
			}})
	}
	return out
}

func (d *doctor) serveCmd() string {
	_, port := d.llmHostPort()
	return fmt.Sprintf("`llmmon serve --host 0.0.0.0 --port %s`", port)
}

func (d *doctor) llmHostPort() (host, port string) {
	u, err := url.Parse(d.o.MetricsURL)
	if err != nil {
		return "127.0.0.1", "8000"
	}
	port = u.Port()
	if port == "" {
		port = "80"
	}
	return u.Hostname(), port
}

// scrapeMetrics fetches and parses /metrics the way Prometheus would.
func (d *doctor) scrapeMetrics(ctx context.Context) (scrapeResult, error) {
	u := d.o.MetricsURL
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return scrapeResult{}, &scrapeError{msg: fmt.Sprintf("bad metrics URL %s: %v", u, err)}
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
	resp, err := d.http.Do(req)
	if alt := listenerElsewhere(req.URL); err != nil && errors.Is(err, syscall.ECONNREFUSED) && alt != "" {
		// Bound to one address only (the Docker bridge's, say): read it
		// there, as Prometheus in Docker does through host.docker.internal.
		u = alt
		if req, err = http.NewRequestWithContext(ctx, http.MethodGet, u, nil); err == nil {
			req.Header.Set("Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1")
			resp, err = d.http.Do(req)
		}
	}
	if err != nil {
		host, port := d.llmHostPort()
		var ne net.Error
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return scrapeResult{}, &scrapeError{refused: true,
				msg:   fmt.Sprintf("nothing listens on %s", net.JoinHostPort(host, port)),
				cause: "the LLM server is not running",
				fix:   "start it: " + d.serveCmd() + " (or your own server, bound to 0.0.0.0)"}
		case errors.As(err, &ne) && ne.Timeout():
			return scrapeResult{}, &scrapeError{
				msg:   fmt.Sprintf("%s accepts connections but did not answer within %s", u, httpTimeout),
				cause: "the server is overloaded or stuck, or this port belongs to something that is not an HTTP server",
				fix:   fmt.Sprintf("check the server's logs; `curl -sv %s` shows where it hangs", u)}
		}
		return scrapeResult{}, &scrapeError{msg: fmt.Sprintf("cannot fetch %s: %v", u, err),
			fix: fmt.Sprintf("check the address: `curl -sv %s`", u)}
	}
	defer resp.Body.Close()
	body := io.LimitReader(resp.Body, 32<<20)
	if resp.StatusCode == http.StatusNotFound {
		return scrapeResult{}, &scrapeError{msg: fmt.Sprintf("%s answers HTTP 404", u),
			cause: "the server on this port has no metrics at this path: wrong metrics path, or another program holds the port",
			fix:   "find the server's metrics path (most use /metrics) and set it: " + d.upCmd("--llm-target host.docker.internal:PORT/PATH")}
	}
	if resp.StatusCode != http.StatusOK {
		return scrapeResult{}, &scrapeError{msg: fmt.Sprintf("%s answers HTTP %d", u, resp.StatusCode),
			cause: "the server refuses or fails the scrape",
			fix:   "keep /metrics open and working (`llmmon serve --api-key` protects /v1 only); see the server's logs"}
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	notMetrics := &scrapeError{
		cause: "something answers on this port, but it is not a Prometheus exposition: wrong port",
		fix:   "point Prometheus at the port that serves /metrics: " + d.upCmd("--llm-target host.docker.internal:PORT"),
	}
	if mt == "text/html" || mt == "application/json" {
		notMetrics.msg = fmt.Sprintf("%s answers %s, not Prometheus metrics", u, mt)
		return scrapeResult{}, notMetrics
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(body)
	if err != nil {
		notMetrics.msg = fmt.Sprintf("%s is not a Prometheus exposition: %v", u, err)
		return scrapeResult{}, notMetrics
	}
	return scrapeResult{families: fams, url: u}, nil
}

func (d *doctor) checkMetrics(ctx context.Context) Result {
	sr, err := d.metrics.get(ctx)
	if err != nil {
		var se *scrapeError
		if errors.As(err, &se) {
			return Fail(se.msg, se.cause, se.fix)
		}
		return Fail(err.Error(), "", "")
	}
	var missing []string
	for _, m := range SeedMetrics {
		if _, ok := sr.families[m]; !ok {
			missing = append(missing, m)
		}
	}
	if len(missing) == len(SeedMetrics) {
		if engine := engineMetrics(sr.families); engine != "" {
			return Pass("%s serves %s metrics (%s); %s and the other llm_* metrics are absent, the dashboard's engine rows use these",
				sr.url, engine, plural(len(sr.families), "family", "families"), requestCounter)
		}
		return Fail(fmt.Sprintf("%s serves %s, none of them the LLM metrics the dashboard's Overview row is built on (%s)", sr.url,
			plural(len(sr.families), "metric family", "metric families"), strings.Join(SeedMetrics, ", ")),
			"this port belongs to another program's exporter, not the LLM server: wrong port",
			"point Prometheus at the LLM server's port: "+d.upCmd("--llm-target host.docker.internal:PORT")+
				", or put llmmon's instrumented gateway in front of your engine: `llmmon serve --upstream URL`")
	}
	if len(missing) > 0 {
		return Warn(fmt.Sprintf("%s lacks %d of the LLM metrics the dashboard's Overview row is built on: %s", sr.url, len(missing), strings.Join(missing, ", ")),
			"the dashboard panels built on them stay empty",
			"serve them (llmmon serve exposes them all), or put `llmmon serve --upstream URL` in front of your engine")
	}
	return Pass("%s serves the LLM metrics the dashboard's Overview row is built on: %s (%s)", sr.url, strings.Join(SeedMetrics, ", "), plural(len(sr.families), "family", "families"))
}

func hasSeedMetric(fams map[string]*dto.MetricFamily) bool {
	for _, m := range SeedMetrics {
		if _, ok := fams[m]; ok {
			return true
		}
	}
	return false
}

// engineMetrics names the inference engine whose native metrics are present.
func engineMetrics(fams map[string]*dto.MetricFamily) string {
	prefixes := []struct{ prefix, name string }{{"vllm:", "vLLM"}, {"llamacpp:", "llama.cpp"}, {"tgi_", "TGI"}, {"sglang:", "SGLang"}}
	for _, p := range prefixes {
		for name := range fams {
			if strings.HasPrefix(name, p.prefix) {
				return p.name
			}
		}
	}
	return ""
}

func (d *doctor) checkRequests(ctx context.Context) Result {
	sr, err := d.metrics.get(ctx)
	if err != nil {
		return Skip("no metrics to read (see LLM server › /metrics)")
	}
	fam, ok := sr.families[requestCounter]
	if !ok {
		if engineMetrics(sr.families) != "" {
			return Skip("no %s: this engine counts requests with its own metrics", requestCounter)
		}
		if !hasSeedMetric(sr.families) {
			return Skip("no LLM metrics to read (see LLM server › /metrics)")
		}
	}
	var total float64
	if ok {
		for _, m := range fam.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				total += m.GetCounter().GetValue()
			case m.GetUntyped() != nil:
				total += m.GetUntyped().GetValue()
			}
		}
	}
	if total == 0 {
		return Warn("no requests yet; metrics appear after requests",
			fmt.Sprintf("%s is 0 or absent: nothing has called the server since it started, so the dashboard's rate and latency panels are empty", requestCounter),
			fmt.Sprintf("send some: `llmmon load --url %s --requests 20`", d.loadURL(sr)))
	}
	return Pass("%.0f requests served (%s)", total, labelsSummary(fam))
}

func labelsSummary(fam *dto.MetricFamily) string {
	status := map[string]float64{}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "status" {
				status[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	if len(status) == 0 {
		return plural(len(fam.GetMetric()), "series", "series")
	}
	var parts []string
	for k, v := range status {
		parts = append(parts, fmt.Sprintf("%s %.0f", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// checkBind finds a server that listens on 127.0.0.1 only, which
// Prometheus in Docker cannot reach, even while Prometheus is down.
func (d *doctor) checkBind(ctx context.Context) Result {
	host, port, err := net.SplitHostPort(d.o.Config.LLMServer.FirstAddress())
	if err != nil || !isHostAlias(host) {
		return Skip("the LLM target %s is not on this machine", d.o.Config.LLMServer.FirstAddress())
	}
	loop := dialState(ctx, net.JoinHostPort("127.0.0.1", port))
	if p, _ := strconv.Atoi(port); loop == errRefused {
		if ls, _ := listeners(p); len(ls) > 0 {
			return d.boundElsewhere(ctx, ls, port)
		}
	}
	if loop != nil {
		return Skip("the LLM server is not listening (see LLM server › /metrics)")
	}
	gw := d.bridgeGateway(ctx)
	if gw == "" {
		return Skip("no local Docker bridge to test the bind address from")
	}
	switch err := dialState(ctx, net.JoinHostPort(gw, port)); {
	case err == nil:
		return Pass("the server on port %s accepts connections from the Docker bridge (%s)", port, gw)
	case err == errRefused:
		return Fail(fmt.Sprintf("the LLM server listens on 127.0.0.1:%s only", port),
			fmt.Sprintf("Prometheus reaches the host through the Docker bridge (host.docker.internal → %s), and a server bound to 127.0.0.1 refuses it (connection refused)", gw),
			fmt.Sprintf("restart it on all interfaces: %s (your own server: `--host 0.0.0.0`, e.g. `vllm serve MODEL --host 0.0.0.0 --port %s`)", d.serveCmd(), port))
	default:
		return Warn(fmt.Sprintf("cannot test port %s from the Docker bridge address %s: %v", port, gw, err), "", "")
	}
}

// boundElsewhere judges a server that listens on port, but not on
// 127.0.0.1: on the bridge address it serves Prometheus, not localhost
// tools; on another one (::1, 127.0.0.2, a LAN address) not Prometheus.
func (d *doctor) boundElsewhere(ctx context.Context, ls []listener, port string) Result {
	var at []string
	for _, l := range ls {
		at = append(at, net.JoinHostPort(l.ip.String(), port))
	}
	msg := fmt.Sprintf("the LLM server listens on %s only, not on 127.0.0.1", strings.Join(at, ", "))
	gw := d.bridgeGateway(ctx)
	if gw != "" && dialState(ctx, net.JoinHostPort(gw, port)) == nil {
		return Warn(msg, "Prometheus in Docker reaches it, but tools on this machine that use localhost (llmmon load, curl) do not",
			fmt.Sprintf("bind it to every address: %s, or give those tools http://%s/v1", d.serveCmd(), net.JoinHostPort(gw, port)))
	}
	return Fail(msg, fmt.Sprintf("Prometheus reaches the host through the Docker bridge (host.docker.internal → %s), where nothing listens on port %s",
		orUnknownGW(gw), port), fmt.Sprintf("restart it on all interfaces: %s (your own server: `--host 0.0.0.0`)", d.serveCmd()))
}

// listenerElsewhere is u on the address its port listens on, when u is
// loopback and the port listens on one other address only (the Docker
// bridge's, say); "" otherwise.
func listenerElsewhere(u *url.URL) string {
	ip := net.ParseIP(u.Hostname())
	port, err := strconv.Atoi(u.Port())
	if ip == nil || !ip.IsLoopback() || err != nil {
		return ""
	}
	ls, _ := listeners(port)
	for _, l := range ls {
		if !l.ip.IsLoopback() && !l.ip.IsUnspecified() {
			alt := *u
			alt.Host = net.JoinHostPort(l.ip.String(), u.Port())
			return alt.String()
		}
	}
	return ""
}

// loadURL is LoadURL on the address /metrics was read at, when that was
// not the configured one (a server on the bridge address only).
func (d *doctor) loadURL(sr scrapeResult) string {
	got, err1 := url.Parse(sr.url)
	want, err2 := url.Parse(d.o.MetricsURL)
	load, err3 := url.Parse(d.o.LoadURL)
	if err1 != nil || err2 != nil || err3 != nil || got.Host == want.Host || load.Host != want.Host {
		return d.o.LoadURL
	}
	load.Host = got.Host
	return load.String()
}
