package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
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

// checkStackPort finds a port llmmon publishes held by another program,
// on any address that overlaps --bind, or by llmmon's own paused container.
func (d *doctor) checkStackPort(ctx context.Context, port int, m *memo[stack.Object], name, flag string) Result {
	bind := d.o.Config.Bind
	addr := net.JoinHostPort(bind, strconv.Itoa(port))
	held, owner := d.portHeld(ctx, bind, port)
	obj, err := m.get(ctx)
	dockerDown := errors.Is(err, errDockerDown)
	ours := err == nil && obj.Owned(d.names.Stack) && publishes(obj.Container, port)
	switch {
	case ours && obj.Container.Running():
		return Pass("%d is published by %s", port, name)
	case ours && obj.Container.Paused():
		return Fail(fmt.Sprintf("%d is published by %s, which is paused", port, name),
			"`docker pause` froze it: the port takes connections, and nothing answers them",
			fmt.Sprintf("%s resumes it (or `docker unpause %s`)", d.upCmd(), name))
	case !held:
		return Pass("%d is free", port)
	case dockerDown:
		return Warn(fmt.Sprintf("%d is in use%s; with Docker unreachable, doctor cannot tell whether by %s", port, owner, name),
			"", "start Docker and run `llmmon doctor` again")
	}
	return Fail(fmt.Sprintf("%d is in use by another program%s, not by %s", port, owner, name),
		fmt.Sprintf("`llmmon up` cannot publish %s on %s while it is taken", name, addr),
		fmt.Sprintf("stop that program, or give %s another port: %s", name, d.upCmd(fmt.Sprintf("%s %d", flag, suggestPort(port, d.portFree(ctx, bind))))))
}

// portHeld reports whether something listens on port at an address that
// overlaps bind, and who (" (pid 1234 python3)", with where when that is
// not bind). Without the kernel's socket tables, or for a remote engine's
// ports, it dials instead.
func (d *doctor) portHeld(ctx context.Context, bind string, port int) (bool, string) {
	if !d.remote(ctx) {
		if ls, ok := takenBy(bind, port); ok {
			if len(ls) == 0 {
				return false, ""
			}
			return true, ownerDesc(listenerDesc(ls), where(ls))
		}
	}
	return dialState(ctx, net.JoinHostPort(d.portHost, strconv.Itoa(port))) == nil, ownerDesc(listenerOwner(port), "")
}

// checkLLMPort finds the LLM server's port held by something that is not
// an LLM server, so `llmmon serve` could not bind it: a listener on any
// address counts, as serve binds them all.
func (d *doctor) checkLLMPort(ctx context.Context) Result {
	_, portStr, _ := net.SplitHostPort(d.o.Config.LLMServer.FirstAddress())
	port, _ := strconv.Atoi(portStr)
	ls, ok := takenBy("", port)
	if !ok {
		if dialState(ctx, net.JoinHostPort("127.0.0.1", portStr)) != nil {
			return Pass("%d is free for the LLM server", port)
		}
		ls = []listener{{ip: net.IPv4(127, 0, 0, 1)}}
	}
	if len(ls) == 0 {
		return Pass("%d is free for the LLM server", port)
	}
	owner := ownerDesc(listenerDesc(ls), where(ls))
	sr, err := d.metrics.get(ctx)
	if err == nil {
		if hasSeedMetric(sr.families) {
			return Pass("%d is held by the LLM server%s", port, owner)
		}
		if engineMetrics(sr.families) != "" {
			return Pass("%d is held by an inference engine%s", port, owner)
		}
	}
	other := suggestPort(port, d.portFree(ctx, ""))
	return Fail(fmt.Sprintf("%d is in use by another program%s that is not an LLM server", port, owner),
		fmt.Sprintf("`llmmon serve` cannot listen on %d, and Prometheus scrapes whatever holds it", port),
		fmt.Sprintf("stop that program, or serve on another port and scrape it there: `llmmon serve --host 0.0.0.0 --port %d` and %s",
			other, d.upCmd(fmt.Sprintf("--llm-target host.docker.internal:%d", other))))
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

// remote reports whether the Docker engine is on another machine, so its
// ports are not this machine's.
func (d *doctor) remote(ctx context.Context) bool {
	info, err := d.info.get(ctx)
	return err == nil && info.Remote()
}

// suggestPort is a port to move to from p: 10000 above it (below it, near
// the top of the range), or the next one that way that free accepts, so
// the fix doctor prints works when it is run.
func suggestPort(p int, free func(int) bool) int {
	q, step := p+10000, 1
	if q > 65535 {
		q, step = p-1, -1
	}
	first := q
	for range 100 {
		if q <= 1024 || q > 65535 {
			break
		}
		if free(q) {
			return q
		}
		q += step
	}
	return first
}

// portFree says whether nothing on this machine listens on a port at an
// address overlapping bind, and no part of the stack is set to use it.
// For a remote engine, or without the kernel's socket tables, only the
// stack's own ports are known.
func (d *doctor) portFree(ctx context.Context, bind string) func(int) bool {
	remote := d.remote(ctx)
	return func(port int) bool {
		for _, p := range d.o.Config.Parts() {
			if d.o.Config.Part(p.Component).Port == port {
				return false
			}
		}
		if remote {
			return true
		}
		ls, ok := takenBy(bind, port)
		return !ok || len(ls) == 0
	}
}

// ownerDesc is " (owner, on 172.17.0.1)" for a message, "" when both are unknown.
func ownerDesc(o, at string) string {
	at = strings.TrimPrefix(at, " ")
	switch {
	case o == "" && at == "":
		return ""
	case o == "":
		return " (" + at + ")"
	case at == "":
		return " (" + o + ")"
	}
	return " (" + o + ", " + at + ")"
}

// listenerDesc names the process behind listeners.
func listenerDesc(ls []listener) string {
	inodes := map[string]bool{}
	for _, l := range ls {
		inodes[l.inode] = true
	}
	return describeOwner(owner(inodes))
}

// listenerOwner names the process listening on a TCP port on this
// machine, on any address, e.g. "pid 1234 python3". Empty when unknown
// (another OS, or a process of another user we may not inspect).
func listenerOwner(port int) string {
	ls, _ := listeners(port)
	return listenerDesc(ls)
}

func describeOwner(desc string) string {
	if strings.HasSuffix(desc, " docker-proxy") {
		desc += ": another container publishes it"
	}
	return desc
}
