package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/client"

	"github.com/llmmon/llmmon/stack"
)

// A daemon that accepts connections and never answers (a hung dockerd, a
// proxy in front of a dead one) would hold every command forever: the
// client library bounds nothing by itself. Every Engine method is bounded
// here instead, by how long one answer may take, never by how long the
// whole command may run: a pull is bounded by its silence.

// TimeoutEnv overrides the handshake and per-call bounds (a Go duration,
// like 1m), for a slow remote engine; the name follows docker-compose's
// COMPOSE_HTTP_TIMEOUT.
const TimeoutEnv = "LLMMON_DOCKER_TIMEOUT"

// Default bounds.
const (
	// DefaultHandshake bounds the first contact: connecting and the
	// API version negotiation (GET /_ping).
	DefaultHandshake = 10 * time.Second
	// DefaultCall bounds one Engine method once the daemon has answered
	// the handshake; a stop's grace period comes on top.
	DefaultCall = 30 * time.Second
	// DefaultPullStall bounds the silence during a pull: the daemon
	// reports progress many times a second while layers move.
	DefaultPullStall = 2 * time.Minute
	// DefaultStopGrace is how long a container may take to stop on
	// SIGTERM before the engine kills it (Prometheus flushes its WAL).
	DefaultStopGrace = 10 * time.Second
)

// Bounds are the time limits on the daemon's answers.
type Bounds struct {
	Handshake time.Duration
	Call      time.Duration
	PullStall time.Duration
	// StopGrace is added to the bound of a call that stops a container.
	StopGrace time.Duration
}

// boundsFromEnv are the defaults, with TimeoutEnv applied.
func boundsFromEnv(getenv func(string) string) (Bounds, error) {
	b := Bounds{Handshake: DefaultHandshake, Call: DefaultCall, PullStall: DefaultPullStall, StopGrace: DefaultStopGrace}
	if v := getenv(TimeoutEnv); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return b, fmt.Errorf("invalid %s=%q: want a positive duration such as 1m", TimeoutEnv, v)
		}
		b.Handshake, b.Call = d, d
	}
	return b, nil
}

// daemon says which engine the client talks to, and remembers whether a
// connection to it was ever made, so a timeout can tell a daemon that
// does not answer from an address that takes no connection.
type daemon struct {
	host string
	// fromEnv is true when DOCKER_HOST chose host.
	fromEnv bool
	dialed  atomic.Bool

	mu         sync.Mutex
	negotiated bool
}

// watchDials is a client option that wraps the client's dialer to record
// successful connections. It must come after client.FromEnv, and works
// on the transport before the library wraps it for tracing.
func (d *daemon) watchDials(cli *client.Client) error {
	tr, ok := cli.HTTPClient().Transport.(*http.Transport)
	if !ok || tr.DialContext == nil {
		return nil
	}
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			d.dialed.Store(true)
		}
		return c, err
	}
	return nil
}

// where names the daemon as the user chose it.
func (d *daemon) where() string {
	if d.fromEnv {
		return d.host + " (DOCKER_HOST)"
	}
	return d.host + " (the default socket; DOCKER_HOST is unset)"
}

// TimeoutError is a daemon that did not answer one call within its bound.
type TimeoutError struct {
	Daemon string // where(): the address and who chose it
	Op     string // what was asked, e.g. "handshake (GET /_ping)"
	After  time.Duration
	// Connected is false when no connection to the daemon was ever made.
	Connected bool
	// Stalled marks a pull that went silent (After is the silence).
	Stalled bool
	Err     error
}

func (e *TimeoutError) Error() string {
	switch {
	case e.Stalled:
		return fmt.Sprintf("%s: the Docker daemon at %s reported no progress for %s: the registry or the daemon stalled; "+
			"try again, or load the image yourself (docker pull, docker load) and pass --pull never", e.Op, e.Daemon, e.After)
	case !e.Connected:
		return fmt.Sprintf("the Docker daemon at %s did not take a connection within %s (%s): the address drops packets (a firewall, a host that is down); "+
			"check DOCKER_HOST, or unset it to use the local engine", e.Daemon, e.After, e.Op)
	}
	return fmt.Sprintf("the Docker daemon at %s accepted the connection but did not answer within %s (%s): it is hung or overloaded; "+
		"check it with `docker info` and restart it (`sudo systemctl restart docker`), or point DOCKER_HOST at a working engine "+
		"(for a slow remote engine, %s=1m raises the bound)", e.Daemon, e.After, e.Op, TimeoutEnv)
}

// Unwrap lets errors.Is find stack.ErrEngineTimeout and the cause.
func (e *TimeoutError) Unwrap() []error { return []error{stack.ErrEngineTimeout, e.Err} }

// handshake makes the first contact under the handshake bound: the
// connection and the API version negotiation every later call needs.
func (e *Engine) handshake(ctx context.Context) error {
	d := e.daemon
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.negotiated {
		return nil
	}
	hctx, cancel := context.WithTimeout(ctx, e.bounds.Handshake)
	defer cancel()
	ping, err := e.cli.Ping(hctx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(hctx.Err(), context.DeadlineExceeded) {
			return &TimeoutError{Daemon: d.where(), Op: "handshake, GET /_ping", After: e.bounds.Handshake, Connected: d.dialed.Load(), Err: err}
		}
		if client.IsErrConnectionFailed(err) || isConnErr(err) {
			return fmt.Errorf("%w: %v", stack.ErrEngineUnreachable, err)
		}
		return fmt.Errorf("docker engine at %s: %w", d.host, err)
	}
	e.cli.NegotiateAPIVersionPing(ping)
	d.negotiated = true
	return nil
}

// isConnErr catches dial failures the client does not classify (a
// DOCKER_HOST pointing at nothing, a socket without permission).
func isConnErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "connect: ") || strings.Contains(s, "dial ") || strings.Contains(s, "no such host")
}

// begin starts one Engine method: the handshake, then a context bounded
// by the per-call bound plus extra (a stop's grace period). The method
// defers end(&err), which turns our own deadline into a TimeoutError
// naming op.
func (e *Engine) begin(ctx context.Context, op string, extra time.Duration) (context.Context, func(*error), error) {
	if err := e.handshake(ctx); err != nil {
		return ctx, nil, err
	}
	limit := e.bounds.Call + extra
	cctx, cancel := context.WithTimeout(ctx, limit)
	return cctx, func(err *error) {
		defer cancel()
		if *err == nil || ctx.Err() != nil || !errors.Is(cctx.Err(), context.DeadlineExceeded) || errors.Is(*err, stack.ErrEngineTimeout) {
			return
		}
		*err = &TimeoutError{Daemon: e.daemon.where(), Op: op, After: limit, Connected: e.daemon.dialed.Load(), Err: *err}
	}, nil
}

// detached is a bounded context for clean-up that must run even when
// ctx was cancelled (removing a half-created container).
func (e *Engine) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), e.bounds.Call+e.bounds.StopGrace)
}

// errStalled cancels a pull that went silent.
var errStalled = errors.New("no progress")

// watchdog cancels a context when it is not fed in time.
type watchdog struct {
	t *time.Timer
}

func newWatchdog(after time.Duration, fire func()) *watchdog {
	return &watchdog{t: time.AfterFunc(after, fire)}
}

func (w *watchdog) feed(after time.Duration) { w.t.Reset(after) }
func (w *watchdog) stop()                    { w.t.Stop() }

// fedReader feeds the watchdog with every read that brings data.
type fedReader struct {
	r     io.Reader
	w     *watchdog
	after time.Duration
}

func (f *fedReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if n > 0 {
		f.w.feed(f.after)
	}
	return n, err
}

// newDaemon describes the engine client.FromEnv picks.
func newDaemon(getenv func(string) string) *daemon {
	d := &daemon{host: getenv(client.EnvOverrideHost)}
	d.fromEnv = d.host != ""
	if !d.fromEnv {
		d.host = client.DefaultDockerHost
	}
	return d
}
