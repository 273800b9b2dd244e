package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/llmmon/llmmon/stack"
)

func (d *doctor) portChecks() []Check {
	c := d.o.Config
	var checks []Check
	for _, p := range c.Parts() {
		checks = append(checks, Check{Group: "Ports", Name: p.Component + " port", Timeout: 2 * dockerTimeout, Run: func(ctx context.Context) Result {
			return d.checkStackPort(ctx, c.Part(p.Component).Port, d.objs[p.Component], d.names.Container(p.Component), p.PortFlag)
		}})
	}
	if host, _, err := net.SplitHostPort(c.LLMServer.FirstAddress()); err == nil && isHostAlias(host) {
		checks = append(checks, Check{Group: "Ports", Name: "llm server port", Timeout: 2 * httpTimeout, Run: d.checkLLMPort})
	}
	return checks
}

// checkStackPort finds a port llmmon publishes held by another program.
func (d *doctor) checkStackPort(ctx context.Context, port int, m *memo[stack.Object], name, flag string) Result {
	addr := net.JoinHostPort(d.portHost, strconv.Itoa(port))
	listening := dialState(ctx, addr) == nil
	owner := listenerOwner(port)
	obj, err := m.get(ctx)
	dockerDown := errors.Is(err, errDockerDown)
	ours := err == nil && obj.Owned(d.names.Stack) && obj.Container.Running() && publishes(obj.Container, port)
	switch {
	case ours:
		return Pass("%d is published by %s", port, name)
	case !listening:
		return Pass("%d is free", port)
	case dockerDown:
		return Warn(fmt.Sprintf("%d is in use%s; with Docker unreachable, doctor cannot tell whether by %s", port, ownerDesc(owner), name),
			"", "start Docker and run `llmmon doctor` again")
	}
	return Fail(fmt.Sprintf("%d is in use by another program%s, not by %s", port, ownerDesc(owner), name),
		fmt.Sprintf("`llmmon up` cannot publish %s on %s while it is taken", name, addr),
		fmt.Sprintf("stop that program, or give %s another port: %s", name, d.upCmd(fmt.Sprintf("%s %d", flag, suggestPort(port)))))
}

// checkLLMPort finds the LLM server's port held by something that is not
// an LLM server, so `llmmon serve` could not bind it.
func (d *doctor) checkLLMPort(ctx context.Context) Result {
	_, portStr, _ := net.SplitHostPort(d.o.Config.LLMServer.FirstAddress())
	port, _ := strconv.Atoi(portStr)
	if dialState(ctx, net.JoinHostPort("127.0.0.1", portStr)) != nil {
		return Pass("%d is free for the LLM server", port)
	}
	owner := ownerDesc(listenerOwner(port))
	sr, err := d.metrics.get(ctx)
	if err == nil {
		if hasSeedMetric(sr.families) {
			return Pass("%d is held by the LLM server%s", port, owner)
		}
		if engineMetrics(sr.families) != "" {
			return Pass("%d is held by an inference engine%s", port, owner)
		}
	}
	return Fail(fmt.Sprintf("%d is in use by another program%s that is not an LLM server", port, owner),
		fmt.Sprintf("`llmmon serve` cannot listen on %d, and Prometheus scrapes whatever holds it", port),
		fmt.Sprintf("stop that program, or serve on another port and scrape it there: `llmmon serve --host 0.0.0.0 --port %d` and %s",
			suggestPort(port), d.upCmd(fmt.Sprintf("--llm-target host.docker.internal:%d", suggestPort(port)))))
}

func publishes(st *stack.ContainerState, port int) bool {
	if st == nil {
		return false
	}
	for _, p := range st.Ports {
		if p.HostPort == port {
			return true
		}
	}
	return false
}

func suggestPort(p int) int {
	if p+10000 <= 65535 {
		return p + 10000
	}
	return p - 1
}

func ownerDesc(o string) string {
	if o == "" {
		return ""
	}
	return " (" + o + ")"
}

// listenerOwner names the process listening on a TCP port on this
// machine, from /proc, e.g. "pid 1234 python3". Empty when unknown
// (another OS, or a process of another user we may not inspect).
func listenerOwner(port int) string {
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			_, hexPort, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				inodes["socket:["+fields[9]+"]"] = true
			}
		}
		fh.Close()
	}
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, err := os.ReadDir(filepath.Join(p, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			if err == nil && inodes[link] {
				comm, _ := os.ReadFile(filepath.Join(p, "comm"))
				name := strings.TrimSpace(string(comm))
				desc := fmt.Sprintf("pid %s %s", filepath.Base(p), name)
				if name == "docker-proxy" {
					desc += ": another container publishes it"
				}
				return desc
			}
		}
	}
	return ""
}
