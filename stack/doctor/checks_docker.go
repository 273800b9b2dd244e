package doctor

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack"
)

const logTail = 15

func (d *doctor) dockerChecks() []Check {
	return []Check{
		{Group: "Docker", Name: "daemon", Timeout: dockerTimeout + time.Second, Run: d.checkDaemon,
			Hint: "start Docker: `sudo systemctl start docker` (or `sudo dockerd &`)"},
		{Group: "Docker", Name: "host-gateway", Timeout: dockerTimeout + time.Second, Run: d.checkHostGateway},
	}
}

// endpoint says which engine llmmon talks to and why: DOCKER_HOST, or
// the default socket. A docker CLI context is shown too, because the
// Docker client library (unlike the CLI) ignores it.
func (d *doctor) endpoint() (desc, contextHost string) {
	if h := d.o.Getenv("DOCKER_HOST"); h != "" {
		return "DOCKER_HOST=" + h, ""
	}
	name, host := dockerContext(d.o.Getenv)
	if name != "" && name != "default" && host != "" {
		return fmt.Sprintf("the default socket (DOCKER_HOST unset; your docker CLI's context %q points at %s)", name, host), host
	}
	return "the default socket (DOCKER_HOST unset)", ""
}

// dockerContext reads the docker CLI's current context and its endpoint.
func dockerContext(getenv func(string) string) (name, host string) {
	cfgDir := getenv("DOCKER_CONFIG")
	if cfgDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", ""
		}
		cfgDir = filepath.Join(home, ".docker")
	}
	name = getenv("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct {
			CurrentContext string `json:"currentContext"`
		}
		if b, err := os.ReadFile(filepath.Join(cfgDir, "config.json")); err == nil && json.Unmarshal(b, &cfg) == nil {
			name = cfg.CurrentContext
		}
	}
	if name == "" || name == "default" {
		return name, ""
	}
	sum := sha256.Sum256([]byte(name))
	var meta struct {
		Endpoints map[string]struct{ Host string } `json:"Endpoints"`
	}
	b, err := os.ReadFile(filepath.Join(cfgDir, "contexts", "meta", hex.EncodeToString(sum[:]), "meta.json"))
	if err == nil && json.Unmarshal(b, &meta) == nil {
		host = meta.Endpoints["docker"].Host
	}
	return name, host
}

func (d *doctor) checkDaemon(ctx context.Context) Result {
	desc, ctxHost := d.endpoint()
	info, err := d.info.get(ctx)
	if err != nil {
		res := Fail(fmt.Sprintf("cannot reach the Docker daemon via %s", desc), "", "")
		msg := err.Error()
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, stack.ErrEngineTimeout):
			res.Message = fmt.Sprintf("the Docker daemon via %s does not answer", desc)
			res.Cause = fmt.Sprintf("it did not answer within %s: it is hung or overloaded (or the address drops packets); up, down and status give up on it after their own bounds", dockerTimeout)
			res.Fix = "check it with `docker info`, restart it (`sudo systemctl restart docker`), or point DOCKER_HOST at a working engine"
		case strings.Contains(msg, "permission denied"):
			res.Cause = "your user may not use the Docker socket: " + msg
			res.Fix = "run as root, or join the docker group: `sudo usermod -aG docker $USER`, then log in again"
		case d.o.Getenv("DOCKER_HOST") != "":
			res.Cause = fmt.Sprintf("no engine answers at DOCKER_HOST=%s: %s", d.o.Getenv("DOCKER_HOST"), msg)
			res.Fix = "`unset DOCKER_HOST` to use the local engine, or start the engine it points at"
		case ctxHost != "":
			res.Cause = "the Docker daemon is not running on the default socket: " + msg
			res.Fix = fmt.Sprintf("use your CLI context's engine: `export DOCKER_HOST=%s`, or start the local one (`sudo systemctl start docker`)", ctxHost)
		default:
			res.Cause = "the Docker daemon is not running (or not on the default socket): " + msg
			res.Fix = "start it: `sudo systemctl start docker` (or `sudo dockerd &`), or point DOCKER_HOST at a running engine"
		}
		return res
	}
	return Pass("Docker Engine %s (API %s, %s) via %s", info.Version, info.APIVersion, orUnknown(info.OperatingSystem), desc)
}

func (d *doctor) checkHostGateway(ctx context.Context) Result {
	info, err := d.info.get(ctx)
	if err != nil {
		return Skip("Docker unreachable (see Docker › daemon)")
	}
	switch {
	case info.DockerDesktop():
		return Pass("Docker Desktop resolves host.docker.internal by itself")
	case info.Remote():
		return Warn(fmt.Sprintf("the engine is remote (%s): host.docker.internal is that machine, not this one", info.Host),
			"an LLM server on this machine is not reachable from a remote engine's containers",
			"run the LLM server on the engine's host, or scrape it by an address that host can reach: "+d.upCmd("--llm-target HOST:PORT"))
	case info.SupportsHostGateway():
		return Pass("engine %s supports host-gateway: host.docker.internal reaches this machine", info.Version)
	}
	return Warn(fmt.Sprintf("engine %s predates host-gateway (Docker 20.10)", info.Version),
		"host.docker.internal:host-gateway is unknown to this engine, so llmmon maps host.docker.internal to the bridge gateway IP instead",
		"upgrade Docker to 20.10 or later for the host-gateway mapping")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown OS"
	}
	return s
}

func (d *doctor) containerChecks() []Check {
	var checks []Check
	for _, p := range d.o.Config.Parts() {
		checks = append(checks, Check{Group: "Containers", Name: p.Component, Timeout: 2 * dockerTimeout, Run: func(ctx context.Context) Result {
			return d.checkContainer(ctx, d.objs[p.Component], d.names.Container(p.Component))
		}})
	}
	return checks
}

// container returns an owned container, or the Result that explains why
// there is none usable (skip when Docker is down).
func (d *doctor) container(ctx context.Context, m *memo[stack.Object], name string) (stack.Object, *Result) {
	obj, err := m.get(ctx)
	switch {
	case errors.Is(err, errDockerDown):
		r := Skip("Docker unreachable (see Docker › daemon)")
		return obj, &r
	case errors.Is(err, stack.ErrNotFound):
		r := Fail(fmt.Sprintf("container %s does not exist", name),
			"it was removed after `llmmon up` (docker rm, or `llmmon down`)",
			d.upCmd()+" creates it again; the data volume is kept")
		if !d.started() {
			r.Cause = d.notStartedCause()
			r.Fix = d.upCmd() + " starts the stack"
		}
		return obj, &r
	case err != nil:
		r := Fail(fmt.Sprintf("cannot inspect container %s: %v", name, err), "", "")
		return obj, &r
	case !obj.Owned(d.names.Stack):
		r := Fail(fmt.Sprintf("a container named %s exists, but llmmon did not create it (no label %s=%s)", name, stack.LabelStack, d.names.Stack),
			"another program or an earlier hand-run setup (docker-compose) uses the name; llmmon never touches what it did not create",
			fmt.Sprintf("remove it yourself if it is not needed (`docker rm -f %s`), or give llmmon's stack its own names: `llmmon up --name NAME`", name))
		return obj, &r
	}
	return obj, nil
}

func (d *doctor) checkContainer(ctx context.Context, m *memo[stack.Object], name string) Result {
	obj, res := d.container(ctx, m, name)
	if res != nil {
		return *res
	}
	st := obj.Container
	if st == nil {
		return Fail(fmt.Sprintf("%s has no container state", name), "", "")
	}
	if st.Paused() {
		return Fail(fmt.Sprintf("%s is paused", name),
			"`docker pause` froze it: it keeps its ports and takes connections, but answers nothing",
			fmt.Sprintf("%s resumes it (or `docker unpause %s`)", d.upCmd(), name))
	}
	if !st.Running() {
		res := Fail(fmt.Sprintf("%s is %s%s", name, st.Status, exitDetail(st)), stopCause(st),
			d.upCmd()+" starts it again"+logHint(name))
		res.Details = d.lastLogs(ctx, obj.ID, name)
		return res
	}
	if st.RestartCount > 0 {
		res := Warn(fmt.Sprintf("%s is running, but restarted %s", name, plural(st.RestartCount, "time", "times")),
			"it crashed and Docker restarted it", "read why in its logs: `docker logs "+name+"`")
		res.Details = d.lastLogs(ctx, obj.ID, name)
		return res
	}
	up := ""
	if !st.StartedAt.IsZero() {
		up = ", up " + time.Since(st.StartedAt).Round(time.Second).String()
	}
	return Pass("%s is running (%s%s), 0 restarts", name, st.Image, up)
}

func exitDetail(st *stack.ContainerState) string {
	if st.Status == "exited" || st.Status == "dead" {
		return fmt.Sprintf(" (exit code %d)", st.ExitCode)
	}
	return ""
}

func stopCause(st *stack.ContainerState) string {
	switch {
	case st.OOMKilled:
		return "it ran out of memory and the kernel killed it (OOM)"
	case st.Error != "":
		return "the engine could not run it: " + st.Error
	case st.Status == "created":
		return "it was created but never started (an interrupted `llmmon up`)"
	case st.Status == "restarting":
		return "it keeps crashing and Docker keeps restarting it"
	case st.ExitCode == 0, st.ExitCode == 143:
		return "it was stopped (`docker stop`, or the engine restarted without restarting it)"
	case st.ExitCode == 137:
		return "it was killed (`docker kill`, or out of memory)"
	}
	return fmt.Sprintf("it crashed (exit code %d): its last log lines say why", st.ExitCode)
}

func logHint(name string) string {
	return "; if it stops again, its log (`docker logs " + name + "`) says why"
}

// lastLogs is `docker logs --tail` of a container, for the report.
func (d *doctor) lastLogs(ctx context.Context, id, name string) []string {
	logs, err := d.o.Engine.Logs(ctx, id, logTail)
	if err != nil {
		return []string{fmt.Sprintf("(could not read the log of %s: %v)", name, err)}
	}
	lines := strings.Split(strings.TrimRight(logs, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return []string{"(" + name + " wrote no log lines)"}
	}
	return append([]string{"last log lines (docker logs " + name + "):"}, lines...)
}

func (d *doctor) networkChecks() []Check {
	return []Check{
		{Group: "Network", Name: "monitoring network", Timeout: 2 * dockerTimeout, Run: d.checkNetwork},
		{Group: "Network", Name: "grafana → prometheus", Timeout: 3 * httpTimeout, Run: d.checkDatasourceHealth},
	}
}

func (d *doctor) checkNetwork(ctx context.Context) Result {
	n := d.names
	netObj, err := d.netObj.get(ctx)
	var amb *stack.AmbiguousError
	switch {
	case errors.As(err, &amb):
		return d.sharedNetworkName(amb)
	case errors.Is(err, errDockerDown):
		return Skip("Docker unreachable (see Docker › daemon)")
	case errors.Is(err, stack.ErrNotFound):
		if !d.started() {
			return Fail(fmt.Sprintf("network %s does not exist", n.Network), d.notStartedCause(), d.upCmd()+" starts the stack")
		}
		return Fail(fmt.Sprintf("network %s does not exist", n.Network),
			"it was removed after `llmmon up`, so Grafana cannot reach Prometheus by name", d.upCmd()+" creates it and reconnects both")
	case err != nil:
		return Fail(fmt.Sprintf("cannot inspect network %s: %v", n.Network, err), "", "")
	case !netObj.Owned(n.Stack):
		return Fail(fmt.Sprintf("a network named %s exists, but llmmon did not create it", n.Network),
			"another program uses the name", "give llmmon's stack its own names: `llmmon up --name NAME`")
	}
	var problems, fixes, names []string
	for _, p := range d.o.Config.Parts() {
		c := struct {
			m           *memo[stack.Object]
			name, alias string
		}{d.objs[p.Component], n.Container(p.Component), p.Alias}
		names = append(names, c.name)
		obj, res := d.container(ctx, c.m, c.name)
		if res != nil || obj.Container == nil {
			continue // reported under Containers
		}
		if !obj.Container.Running() {
			continue // a stopped container has no endpoints to check
		}
		ep, ok := obj.Container.Networks[n.Network]
		if !ok {
			ep, ok = obj.Container.Networks[netObj.ID]
		}
		if !ok {
			problems = append(problems, fmt.Sprintf("%s is not on %s", c.name, n.Network))
			fixes = append(fixes, fmt.Sprintf("`docker network connect --alias %s %s %s`", c.alias, n.Network, c.name))
			continue
		}
		if c.alias != stack.GrafanaAlias && !slices.Contains(ep.Aliases, c.alias) {
			problems = append(problems, fmt.Sprintf("%s has no alias %q on %s, the name the others reach it by", c.name, c.alias, n.Network))
			fixes = append(fixes, d.upCmd())
		}
	}
	if len(problems) > 0 {
		return Fail(strings.Join(problems, "; "), "Grafana reaches Prometheus at "+stack.DatasourceURL+" and Alertmanager at "+
			stack.AlertmanagerURL+", and Prometheus sends alerts to Alertmanager, over this network only",
			strings.Join(fixes, ", or ")+" (or "+d.upCmd()+")")
	}
	return Pass("%s are on %s (%s)", strings.Join(names, ", "), n.Network, orUnknownGW(netObj.Gateway))
}

// sharedNetworkName explains several networks with the stack network's
// name: up uses its own by ID; Docker refuses the name in commands.
func (d *doctor) sharedNetworkName(amb *stack.AmbiguousError) Result {
	var ours, others []string
	for _, o := range amb.Objects {
		if o.Owned(d.names.Stack) {
			ours = append(ours, o.ID[:min(12, len(o.ID))])
		} else {
			others = append(others, o.ID[:min(12, len(o.ID))])
		}
	}
	cause := "Docker refuses a name that several networks share (\"ambiguous\") and starts no container on it; two `llmmon up` at once used to leave two"
	switch {
	case len(ours) == 0:
		return Fail(amb.Error()+", none of them llmmon's", cause,
			fmt.Sprintf("remove the ones you do not need (`docker network rm %s`), or give llmmon's stack its own names: `llmmon up --name NAME`", strings.Join(others, " ")))
	case len(others) == 0:
		return Fail(amb.Error()+", all of them llmmon's", cause, d.upCmd()+" keeps one and removes the others")
	}
	return Fail(amb.Error()+fmt.Sprintf(": %s llmmon's, %s not", strings.Join(ours, " "), strings.Join(others, " ")), cause,
		fmt.Sprintf("llmmon never touches what it did not create: remove the other one if nothing uses it (`docker network rm %s`), then %s (it removes its own duplicates)",
			strings.Join(others, " "), d.upCmd()))
}

func orUnknownGW(gw string) string {
	if gw == "" {
		return "bridge"
	}
	return "gateway " + gw
}
