package doctor

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/llmmon/llmmon/stack"
)

// ScrapeErrorKind names why Prometheus could not scrape a target.
type ScrapeErrorKind string

// The classic scrape failures, from Prometheus' lastError.
const (
	KindRefused      ScrapeErrorKind = "connection-refused"
	KindNoSuchHost   ScrapeErrorKind = "no-such-host"
	KindTimeout      ScrapeErrorKind = "timeout"
	KindNoRoute      ScrapeErrorKind = "no-route"
	KindNotFound     ScrapeErrorKind = "not-found"
	KindHTTPStatus   ScrapeErrorKind = "http-status"
	KindNotMetrics   ScrapeErrorKind = "not-metrics"
	KindNoMediaType  ScrapeErrorKind = "blank-content-type"
	KindUnclassified ScrapeErrorKind = "unclassified"
)

// ScrapeTarget is what the classifier needs to word an exact fix.
type ScrapeTarget struct {
	Job       string
	ScrapeURL string // as Prometheus reports it, e.g. http://host.docker.internal:8000/metrics
	// LLMJob is true for the LLM server's job (set with --llm-target),
	// false for an extra --target.
	LLMJob bool
	// BridgeSubnet is the stack network's subnet, the source of the
	// scrape traffic a host firewall sees; "" when unknown.
	BridgeSubnet string
	// UpCommand is how this stack is started ("llmmon up --dir D --name
	// N"); "llmmon up" when empty.
	UpCommand string
}

// Diagnosis is the cause of a failed scrape and the exact fix.
type Diagnosis struct {
	Kind  ScrapeErrorKind `json:"kind"`
	Cause string          `json:"cause"`
	Fix   string          `json:"fix"`
}

// dockerDefaultPools covers the address pools Docker allocates bridge
// networks from when the stack's own subnet is unknown.
const dockerDefaultPools = "172.16.0.0/12"

var httpStatusRE = regexp.MustCompile(`(?i)server returned HTTP status (\d{3})`)

// ClassifyScrapeError turns a target's lastError (from Prometheus'
// /api/v1/targets) into a cause and an exact fix. The strings matched are
// the ones Prometheus 2.x and 3.x really write; see testdata/lasterrors.json.
func ClassifyScrapeError(lastError string, t ScrapeTarget) Diagnosis {
	e := strings.ToLower(lastError)
	host, port, path := splitScrapeURL(t.ScrapeURL)
	hostPort := net.JoinHostPort(host, port)
	switch {
	// DNS first: a lookup can also fail with "i/o timeout".
	case strings.Contains(e, "no such host"), strings.Contains(e, "lookup ") && (strings.Contains(e, "server misbehaving") ||
		strings.Contains(e, "i/o timeout") || strings.Contains(e, "temporary failure")):
		return noSuchHost(t, host, port, path)
	case strings.Contains(e, "connection refused"):
		return Diagnosis{
			Kind: KindRefused,
			Cause: fmt.Sprintf("nothing accepted Prometheus' connection to %s: the server is not running, "+
				"or it listens on 127.0.0.1 only, which a container cannot reach", hostPort),
			Fix: bindFix(t, port),
		}
	case strings.Contains(e, "no route to host"), strings.Contains(e, "host is unreachable"),
		strings.Contains(e, "network is unreachable"):
		return Diagnosis{
			Kind: KindNoRoute,
			Cause: fmt.Sprintf("a firewall on the host rejects traffic from the Docker bridge to %s "+
				"(firewalld and some iptables setups answer \"no route to host\")", hostPort),
			Fix: firewallFix(t, port),
		}
	case strings.Contains(e, "context deadline exceeded"), strings.Contains(e, "i/o timeout"),
		strings.Contains(e, "client.timeout exceeded"), strings.Contains(e, "timeout awaiting response headers"):
		return Diagnosis{
			Kind: KindTimeout,
			Cause: fmt.Sprintf("Prometheus' connection to %s timed out: a host firewall (ufw, firewalld, an "+
				"iptables INPUT policy of DROP) is silently dropping traffic from the Docker bridge, "+
				"or the server took longer than the scrape timeout to answer", hostPort),
			Fix: firewallFix(t, port),
		}
	case strings.Contains(e, "server returned http status 404"):
		d := Diagnosis{
			Kind: KindNotFound,
			Cause: fmt.Sprintf("the server on %s answers, but has nothing at %s (HTTP 404): "+
				"wrong metrics path", hostPort, path),
			Fix: fmt.Sprintf("point the job at the path that serves metrics: `%s %s`",
				t.up(), targetFlag(t, host+":"+port+stack.DefaultMetricsPath)),
		}
		if path == stack.DefaultMetricsPath {
			d.Cause += " (or this port belongs to another program: wrong port)"
			d.Fix = fmt.Sprintf("point the job at the path or port that serves metrics: `%s %s` "+
				"(llama.cpp serves /metrics only with --metrics)", t.up(), targetFlag(t, host+":PORT/PATH"))
		}
		return d
	case httpStatusRE.MatchString(e):
		code := httpStatusRE.FindStringSubmatch(e)[1]
		d := Diagnosis{Kind: KindHTTPStatus}
		switch code {
		case "401", "403":
			d.Cause = fmt.Sprintf("the server on %s refuses Prometheus without credentials (HTTP %s on %s)", hostPort, code, path)
			d.Fix = "leave /metrics open to Prometheus (`llmmon serve --api-key` protects /v1 only), " +
				"or put the target behind a scrape job with credentials"
		default:
			d.Cause = fmt.Sprintf("the server on %s answered HTTP %s on %s", hostPort, code, path)
			d.Fix = fmt.Sprintf("check the server's own logs; from the host: `curl -si %s`", hostURL(host, port, path))
		}
		return d
	case strings.Contains(e, "blank content-type"):
		return Diagnosis{
			Kind: KindNoMediaType,
			Cause: fmt.Sprintf("the server on %s sends %s without a Content-Type header, which Prometheus 3 "+
				"refuses; it may also not be a metrics endpoint at all (wrong port)", hostPort, path),
			Fix: "make the server send `Content-Type: text/plain; version=0.0.4` (Prometheus client libraries do), " +
				"or check the port: " + fmt.Sprintf("`curl -si %s | head`", hostURL(host, port, path)),
		}
	case isNotExposition(e):
		return Diagnosis{
			Kind: KindNotMetrics,
			Cause: fmt.Sprintf("something answers on %s%s, but not with Prometheus metrics "+
				"(an HTML page or a JSON API): wrong port", hostPort, path),
			Fix: fmt.Sprintf("point the job at the port that serves /metrics: `%s %s` "+
				"(check with `curl -s %s | head`)", t.up(), targetFlag(t, host+":PORT"+path), hostURL(host, port, path)),
		}
	}
	return Diagnosis{
		Kind:  KindUnclassified,
		Cause: "Prometheus reports: " + lastError,
		Fix:   fmt.Sprintf("look at the endpoint from the host: `curl -si %s | head`", hostURL(host, port, path)),
	}
}

// isNotExposition matches the parse errors Prometheus gives for a body
// that is not the text exposition format or OpenMetrics.
func isNotExposition(e string) bool {
	for _, s := range []string{
		"is not a valid start token",       // 2.x and 3.x text parser: HTML, JSON
		"expected a valid start token",     // openmetrics parser
		"unsupported content-type",         // 3.x: text/html, application/json
		"invalid metric type",              // a "# TYPE" line that is not ours
		"strconv.parsefloat",               // plain text: "hello world"
		"expected value after metric",      // a bare word
		"expected label name",              // "{" soup
		"data does not end with # eof",     // bad OpenMetrics
		"unexpected end of data",           // truncated
		"invalid utf-8 label value",        // binary
		"expected timestamp or new record", // "a 1 b"
	} {
		if strings.Contains(e, s) {
			return true
		}
	}
	return false
}

func noSuchHost(t ScrapeTarget, host, port, path string) Diagnosis {
	if host == "host.docker.internal" {
		return Diagnosis{
			Kind: KindNoSuchHost,
			Cause: "the Prometheus container cannot resolve host.docker.internal: its host-gateway " +
				"mapping is missing (Docker adds it only when asked, and only from Engine 20.10)",
			Fix: "recreate Prometheus with the mapping: `" + t.up() + "` adds it (compose: " +
				"`extra_hosts: [\"host.docker.internal:host-gateway\"]`; docker run: " +
				"`--add-host host.docker.internal:host-gateway`)",
		}
	}
	return Diagnosis{
		Kind: KindNoSuchHost,
		Cause: fmt.Sprintf("the name %q does not resolve inside the Prometheus container: a typo, "+
			"or a name only the host knows (the host's /etc/hosts is not the container's)", host),
		Fix: fmt.Sprintf("use an address Docker can reach, e.g. for a server on this host: `%s %s`",
			t.up(), targetFlag(t, "host.docker.internal:"+port+path)),
	}
}

// bindFix tells how to make a host server reachable from the bridge.
func bindFix(t ScrapeTarget, port string) string {
	if t.LLMJob {
		return fmt.Sprintf("start the server on all interfaces: `llmmon serve --host 0.0.0.0 --port %s` "+
			"(your own server: bind it to 0.0.0.0, e.g. `vllm serve MODEL --host 0.0.0.0 --port %s`)", port, port)
	}
	return fmt.Sprintf("start %s bound to 0.0.0.0 (not 127.0.0.1) on port %s", t.Job, port)
}

// firewallFix gives the rule that lets the stack's bridge reach the port.
// Traffic from a user-defined network enters the host on that network's
// br-… interface, not docker0, so the rule matches the source subnet.
func firewallFix(t ScrapeTarget, port string) string {
	subnet := t.BridgeSubnet
	if subnet == "" {
		subnet = dockerDefaultPools
	}
	return fmt.Sprintf("allow the Docker bridge to reach port %s: `sudo ufw allow from %s to any port %s proto tcp` "+
		"(plain iptables: `sudo iptables -I INPUT -s %s -p tcp --dport %s -j ACCEPT`)", port, subnet, port, subnet, port)
}

func (t ScrapeTarget) up() string {
	if t.UpCommand == "" {
		return "llmmon up"
	}
	return t.UpCommand
}

// targetFlag is the up flag that sets this job's address.
func targetFlag(t ScrapeTarget, addr string) string {
	if t.LLMJob {
		return "--llm-target " + addr
	}
	return fmt.Sprintf("--target %s=%s", t.Job, addr)
}

// hostURL is the scrape URL as seen from the host: host.docker.internal
// is this machine.
func hostURL(host, port, path string) string {
	if host == "host.docker.internal" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path
}

func splitScrapeURL(raw string) (host, port, path string) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "host.docker.internal", "8000", stack.DefaultMetricsPath
	}
	host, port = u.Hostname(), u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	path = u.Path
	if path == "" {
		path = "/"
	}
	return host, port, path
}
