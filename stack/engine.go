package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Engine is the narrow part of a container engine that up, down, status
// and doctor need. It is declared here, where it is used; stack/docker
// implements it over the Docker Engine API, and tests use an in-memory fake.
// Every object is addressed by name or ID; ownership is decided by labels
// (LabelStack), never by names.
type Engine interface {
	// Info pings the engine and describes it. When the engine cannot be
	// reached the error wraps ErrEngineUnreachable; when it does not
	// answer in time, ErrEngineTimeout. Every method is bounded so.
	Info(ctx context.Context) (EngineInfo, error)
	// ImageID returns the ID of a local image, or an error wrapping
	// ErrNotFound when the engine does not have it.
	ImageID(ctx context.Context, ref string) (string, error)
	// PullImage pulls ref, writing progress to p: per-layer bars when
	// p.Terminal, plain lines otherwise.
	PullImage(ctx context.Context, ref string, p Progress) error
	// Find returns the object of kind with exactly this name, or an error
	// wrapping ErrNotFound, or an *AmbiguousError listing every object of
	// that name when there are several (Docker allows that for networks).
	Find(ctx context.Context, kind Kind, name string) (Object, error)
	// List returns the objects of kind that carry every label in labels.
	List(ctx context.Context, kind Kind, labels map[string]string) ([]Object, error)
	// CreateNetwork and CreateVolume create labelled objects.
	CreateNetwork(ctx context.Context, spec NetworkSpec) (Object, error)
	CreateVolume(ctx context.Context, spec VolumeSpec) (Object, error)
	// CreateContainer creates a container, not started, with spec.Dirs and
	// spec.Files already copied in through the API (so a remote engine
	// works). On any error nothing is left behind.
	CreateContainer(ctx context.Context, spec ContainerSpec) (string, error)
	// CopyFiles copies folders and files into an existing container.
	CopyFiles(ctx context.Context, id string, dirs []ContainerDir, files []ContainerFile) error
	// StartContainer starts a created or stopped container.
	StartContainer(ctx context.Context, id string) error
	// RestartContainer stops (gracefully, then by force) and starts it again.
	RestartContainer(ctx context.Context, id string) error
	// SignalContainer sends a signal (HUP) to the container's main
	// process: Prometheus reloads its configuration on HUP, so a changed
	// prometheus.yml applies without a restart.
	SignalContainer(ctx context.Context, id, signal string) error
	// UnpauseContainer resumes a paused container (docker unpause).
	UnpauseContainer(ctx context.Context, id string) error
	// Remove deletes an object; a running container is stopped first
	// (gracefully, then by force).
	// Removing an object that is already gone wraps ErrNotFound.
	Remove(ctx context.Context, kind Kind, id string) error
	// Logs returns the last tail lines of a container's output, stdout
	// and stderr demultiplexed and interleaved as written.
	Logs(ctx context.Context, id string, tail int) (string, error)
}

// Errors an Engine returns, wrapped with the object they concern.
var (
	ErrNotFound          = errors.New("not found")
	ErrEngineUnreachable = errors.New("container engine unreachable")
	// ErrEngineTimeout is an engine that did not answer a call within its
	// bound (it took the connection and hung, or went silent mid-pull);
	// the error's text names the engine and what to do.
	ErrEngineTimeout = errors.New("container engine did not answer in time")
	// ErrPortAllocated is a start that failed because a host port is taken.
	ErrPortAllocated = errors.New("host port already allocated")
	// ErrNameInUse is a create whose name another object took first.
	ErrNameInUse = errors.New("name already in use")
	// ErrNetworkAmbiguous is a create or start refused because two
	// networks share the container's network name.
	ErrNetworkAmbiguous = errors.New("network name is ambiguous")
)

// AmbiguousError is a name that several objects of one kind share: Docker
// lets two networks have one name (two `up` at once used to leave that),
// and then refuses every use of the name.
type AmbiguousError struct {
	Kind    Kind
	Name    string
	Objects []Object
}

func (e *AmbiguousError) Error() string {
	ids := make([]string, len(e.Objects))
	for i, o := range e.Objects {
		ids[i] = shortID(o.ID)
	}
	return fmt.Sprintf("%d %ss are named %q (%s)", len(e.Objects), e.Kind, e.Name, strings.Join(ids, ", "))
}

// Kind is a type of engine object.
type Kind string

// Kinds of engine objects llmmon creates.
const (
	KindContainer Kind = "container"
	KindNetwork   Kind = "network"
	KindVolume    Kind = "volume"
)

// EngineInfo describes the engine up talks to, for host-gateway decisions
// and doctor's report.
type EngineInfo struct {
	// Host is the engine's address as the client resolved it
	// (DOCKER_HOST, or the default unix socket).
	Host       string `json:"host"`
	Version    string `json:"version"`     // e.g. 20.10.24+dfsg1
	APIVersion string `json:"api_version"` // the negotiated API version, e.g. 1.41
	OS         string `json:"os"`          // linux, windows
	// OperatingSystem is the host's, e.g. "Debian GNU/Linux 12 (bookworm)"
	// or "Docker Desktop".
	OperatingSystem string `json:"operating_system"`
}

// DockerDesktop reports an engine inside Docker Desktop, which resolves
// host.docker.internal by itself.
func (e EngineInfo) DockerDesktop() bool {
	return strings.Contains(e.OperatingSystem, "Docker Desktop")
}

// Remote reports an engine on another machine (tcp:// or ssh://), whose
// published ports are not on this machine's loopback.
func (e EngineInfo) Remote() bool {
	return strings.HasPrefix(e.Host, "tcp://") || strings.HasPrefix(e.Host, "ssh://") ||
		strings.HasPrefix(e.Host, "http://") || strings.HasPrefix(e.Host, "https://")
}

// RemoteHost is the host name of a remote engine ("" for a local one).
func (e EngineInfo) RemoteHost() string {
	if !e.Remote() {
		return ""
	}
	h := e.Host[strings.Index(e.Host, "://")+3:]
	if i := strings.LastIndex(h, "@"); i >= 0 {
		h = h[i+1:]
	}
	if i := strings.IndexAny(h, "/"); i >= 0 {
		h = h[:i]
	}
	if strings.HasPrefix(h, "[") {
		if i := strings.Index(h, "]"); i > 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndex(h, ":"); i >= 0 {
		h = h[:i]
	}
	return h
}

// SupportsHostGateway reports whether the engine understands the special
// "host-gateway" value in extra hosts (Linux engines 20.10 and later).
func (e EngineInfo) SupportsHostGateway() bool {
	if e.OS != "" && e.OS != "linux" {
		return false
	}
	major, minor, ok := parseVersion(e.Version)
	return ok && (major > 20 || (major == 20 && minor >= 10))
}

func parseVersion(v string) (major, minor int, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return major, minor, true
}

// Progress is where an engine reports a long operation such as a pull.
type Progress struct {
	Out      io.Writer
	Terminal bool
}

// Object is an engine object as found by Find or List.
type Object struct {
	Kind   Kind              `json:"kind"`
	ID     string            `json:"id"`
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	// Gateway is a network's IPv4 gateway: the host as its containers see
	// it; Subnet is its IPv4 subnet (CIDR), where its containers come from.
	Gateway string `json:"gateway,omitempty"`
	Subnet  string `json:"subnet,omitempty"`
	// Created is when the engine created it (networks), to tell
	// duplicates apart.
	Created time.Time `json:"created,omitzero"`
	// Container is set for containers only.
	Container *ContainerState `json:"container,omitempty"`
}

// Owned reports whether the object belongs to the stack with this label value.
func (o Object) Owned(stack string) bool { return o.Labels[LabelStack] == stack }

// ContainerState is what up, status and doctor read about a container.
type ContainerState struct {
	Image string `json:"image"`
	// Status is the engine's state: created, running, restarting, exited, paused, dead.
	Status string `json:"status"`
	// Health is the engine healthcheck's verdict, "" when the image has none.
	Health       string    `json:"health,omitempty"`
	ExitCode     int       `json:"exit_code"`
	Error        string    `json:"error,omitempty"`
	OOMKilled    bool      `json:"oom_killed,omitempty"`
	RestartCount int       `json:"restart_count"`
	StartedAt    time.Time `json:"started_at"`
	// Ports are the published ports.
	Ports []PortSpec `json:"ports,omitempty"`
	// Networks maps each network the container is on to its endpoint there.
	Networks map[string]Endpoint `json:"networks,omitempty"`
}

// Running reports a container that is up and not crash-looping.
func (c *ContainerState) Running() bool { return c != nil && c.Status == "running" }

// Paused reports a container frozen by docker pause: it keeps its ports
// (connections are taken, never answered) until it is unpaused.
func (c *ContainerState) Paused() bool { return c != nil && c.Status == "paused" }

// Endpoint is a container's place on one network.
type Endpoint struct {
	// NetworkID tells apart networks that share the name the map is keyed by.
	NetworkID string   `json:"network_id,omitempty"`
	IP        string   `json:"ip"`
	Aliases   []string `json:"aliases,omitempty"`
}
