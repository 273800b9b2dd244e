// Package docker implements stack.Engine over the Docker Engine API. It is
// the only package that imports the Docker client library; everything
// above it sees stack's own types.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/llmmon/llmmon/stack"
)

// Engine is a stack.Engine backed by one Docker client. Every method is
// bounded (see Bounds): a daemon that never answers costs a command the
// handshake bound, not forever.
type Engine struct {
	cli    *client.Client
	daemon *daemon
	bounds Bounds
}

var _ stack.Engine = (*Engine)(nil)

// New connects as the docker CLI does: DOCKER_HOST, DOCKER_TLS_VERIFY and
// DOCKER_CERT_PATH from the environment, and the API version negotiated
// with the engine (1.41 on Engine 20.10), with the bounds TimeoutEnv
// sets. It does not contact the engine.
func New() (*Engine, error) {
	bounds, err := boundsFromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	d := newDaemon(os.Getenv)
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation(), d.watchDials)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w (check DOCKER_HOST)", err)
	}
	d.host = cli.DaemonHost()
	return &Engine{cli: cli, daemon: d, bounds: bounds}, nil
}

// Close releases the client's connections.
func (e *Engine) Close() error { return e.cli.Close() }

// Host is the engine address the client uses.
func (e *Engine) Host() string { return e.cli.DaemonHost() }

func (e *Engine) Info(ctx context.Context) (_ stack.EngineInfo, err error) {
	info := stack.EngineInfo{Host: e.cli.DaemonHost()}
	ctx, end, err := e.begin(ctx, "version and info", 0)
	if err != nil {
		return info, err
	}
	defer end(&err)
	v, err := e.cli.ServerVersion(ctx)
	if err != nil {
		return info, fmt.Errorf("docker engine at %s: %w", info.Host, err)
	}
	info.Version, info.OS = v.Version, v.Os
	info.APIVersion = e.cli.ClientVersion()
	si, err := e.cli.Info(ctx)
	if err != nil {
		return info, fmt.Errorf("docker engine at %s: info: %w", info.Host, err)
	}
	info.OperatingSystem = si.OperatingSystem
	return info, nil
}

func (e *Engine) ImageID(ctx context.Context, ref string) (_ string, err error) {
	ctx, end, err := e.begin(ctx, "inspect image "+ref, 0)
	if err != nil {
		return "", err
	}
	defer end(&err)
	img, err := e.cli.ImageInspect(ctx, ref)
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("image %s: %w", ref, stack.ErrNotFound)
		}
		return "", fmt.Errorf("inspect image %s: %w", ref, err)
	}
	return img.ID, nil
}

// PullImage is bounded by silence, not by its length: the answer's
// headers must come within the per-call bound, and then some progress
// within every PullStall.
func (e *Engine) PullImage(ctx context.Context, ref string, p stack.Progress) (err error) {
	if err := e.handshake(ctx); err != nil {
		return err
	}
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	silence := e.bounds.Call
	dog := newWatchdog(silence, func() { cancel(errStalled) })
	defer dog.stop()
	defer func() {
		if err != nil && ctx.Err() == nil && errors.Is(context.Cause(pctx), errStalled) {
			err = &TimeoutError{Daemon: e.daemon.where(), Op: "pull image " + ref, After: silence,
				Connected: true, Stalled: true, Err: err}
		}
	}()
	rc, err := e.cli.ImagePull(pctx, ref, image.PullOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	silence = e.bounds.PullStall
	dog.feed(silence)
	out := p.Out
	if out == nil {
		out = io.Discard
	}
	var fd uintptr
	if f, ok := out.(interface{ Fd() uintptr }); ok {
		fd = f.Fd()
	}
	// Per-layer bars with cursor movement on a terminal, one line per
	// status change otherwise: the docker CLI's own renderer.
	if err := jsonmessage.DisplayJSONMessagesStream(&fedReader{r: rc, w: dog, after: silence}, out, fd, p.Terminal, nil); err != nil {
		return err
	}
	return nil
}

func (e *Engine) Find(ctx context.Context, kind stack.Kind, name string) (_ stack.Object, err error) {
	ctx, end, err := e.begin(ctx, fmt.Sprintf("inspect %s %s", kind, name), 0)
	if err != nil {
		return stack.Object{}, err
	}
	defer end(&err)
	notFound := fmt.Errorf("%s %q: %w", kind, name, stack.ErrNotFound)
	switch kind {
	case stack.KindContainer:
		c, err := e.cli.ContainerInspect(ctx, name)
		if cerrdefs.IsNotFound(err) {
			return stack.Object{}, notFound
		}
		if err != nil {
			return stack.Object{}, fmt.Errorf("inspect container %q: %w", name, err)
		}
		if strings.TrimPrefix(c.Name, "/") != name && c.ID != name {
			return stack.Object{}, notFound
		}
		return containerObject(c), nil
	case stack.KindNetwork:
		// By name through the list: inspecting a name two networks share
		// fails ("ambiguous"), and up must see both.
		ns, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", name))})
		if err != nil {
			return stack.Object{}, fmt.Errorf("list networks named %q: %w", name, err)
		}
		var same []stack.Object
		for _, n := range ns {
			if n.Name == name { // the filter also matches parts of names
				same = append(same, networkObject(n))
			}
		}
		switch {
		case len(same) == 1:
			return same[0], nil
		case len(same) > 1:
			return stack.Object{}, &stack.AmbiguousError{Kind: kind, Name: name, Objects: same}
		}
		n, err := e.cli.NetworkInspect(ctx, name, network.InspectOptions{})
		if cerrdefs.IsNotFound(err) {
			return stack.Object{}, notFound
		}
		if err != nil {
			return stack.Object{}, fmt.Errorf("inspect network %q: %w", name, err)
		}
		// The API also matches ID prefixes; only an exact name counts.
		if n.Name != name && n.ID != name {
			return stack.Object{}, notFound
		}
		return networkObject(n), nil
	case stack.KindVolume:
		v, err := e.cli.VolumeInspect(ctx, name)
		if cerrdefs.IsNotFound(err) {
			return stack.Object{}, notFound
		}
		if err != nil {
			return stack.Object{}, fmt.Errorf("inspect volume %q: %w", name, err)
		}
		return stack.Object{Kind: stack.KindVolume, ID: v.Name, Name: v.Name, Labels: v.Labels}, nil
	}
	return stack.Object{}, fmt.Errorf("unknown kind %q", kind)
}

func (e *Engine) List(ctx context.Context, kind stack.Kind, labels map[string]string) (_ []stack.Object, err error) {
	ctx, end, err := e.begin(ctx, fmt.Sprintf("list %ss", kind), 0)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	var out []stack.Object
	switch kind {
	case stack.KindContainer:
		cs, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilter(labels)})
		if err != nil {
			return nil, fmt.Errorf("list containers: %w", err)
		}
		for _, c := range cs {
			// Inspect for what the list lacks: restart count, health, networks.
			full, err := e.cli.ContainerInspect(ctx, c.ID)
			if cerrdefs.IsNotFound(err) {
				continue // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("inspect container %s: %w", c.ID[:12], err)
			}
			out = append(out, containerObject(full))
		}
	case stack.KindNetwork:
		ns, err := e.cli.NetworkList(ctx, network.ListOptions{Filters: labelFilter(labels)})
		if err != nil {
			return nil, fmt.Errorf("list networks: %w", err)
		}
		for _, n := range ns {
			out = append(out, networkObject(n))
		}
	case stack.KindVolume:
		vs, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: labelFilter(labels)})
		if err != nil {
			return nil, fmt.Errorf("list volumes: %w", err)
		}
		for _, v := range vs.Volumes {
			out = append(out, stack.Object{Kind: stack.KindVolume, ID: v.Name, Name: v.Name, Labels: v.Labels})
		}
	default:
		return nil, fmt.Errorf("unknown kind %q", kind)
	}
	return out, nil
}

func (e *Engine) CreateNetwork(ctx context.Context, spec stack.NetworkSpec) (_ stack.Object, err error) {
	ctx, end, err := e.begin(ctx, "create network "+spec.Name, 0)
	if err != nil {
		return stack.Object{}, err
	}
	defer end(&err)
	resp, err := e.cli.NetworkCreate(ctx, spec.Name, network.CreateOptions{Driver: "bridge", Labels: spec.Labels})
	if err != nil {
		return stack.Object{}, fmt.Errorf("create network %q: %w", spec.Name, err)
	}
	n, err := e.cli.NetworkInspect(ctx, resp.ID, network.InspectOptions{})
	if err != nil {
		return stack.Object{}, fmt.Errorf("inspect network %q: %w", spec.Name, err)
	}
	return networkObject(n), nil
}

func (e *Engine) CreateVolume(ctx context.Context, spec stack.VolumeSpec) (_ stack.Object, err error) {
	ctx, end, err := e.begin(ctx, "create volume "+spec.Name, 0)
	if err != nil {
		return stack.Object{}, err
	}
	defer end(&err)
	v, err := e.cli.VolumeCreate(ctx, volume.CreateOptions{Name: spec.Name, Labels: spec.Labels})
	if err != nil {
		return stack.Object{}, fmt.Errorf("create volume %q: %w", spec.Name, err)
	}
	return stack.Object{Kind: stack.KindVolume, ID: v.Name, Name: v.Name, Labels: v.Labels}, nil
}

func (e *Engine) CreateContainer(ctx context.Context, s stack.ContainerSpec) (_ string, err error) {
	ctx, end, err := e.begin(ctx, "create container "+s.Name, 0)
	if err != nil {
		return "", err
	}
	defer end(&err)
	cfg, hc, nc := containerConfig(s)
	resp, err := e.cli.ContainerCreate(ctx, cfg, hc, nc, nil, s.Name)
	if cerrdefs.IsConflict(err) {
		return "", fmt.Errorf("create container %q: %w: %v", s.Name, stack.ErrNameInUse, err)
	}
	if err != nil && strings.Contains(err.Error(), "is ambiguous") {
		return "", fmt.Errorf("create container %q: %w: %v", s.Name, stack.ErrNetworkAmbiguous, err)
	}
	if err != nil {
		return "", fmt.Errorf("create container %q: %w", s.Name, err)
	}
	if err := e.CopyFiles(ctx, resp.ID, s.Dirs, s.Files); err != nil {
		rctx, cancel := e.detached(ctx)
		e.cli.ContainerRemove(rctx, resp.ID, container.RemoveOptions{Force: true})
		cancel()
		return "", fmt.Errorf("container %q: %w", s.Name, err)
	}
	return resp.ID, nil
}

func (e *Engine) CopyFiles(ctx context.Context, id string, dirs []stack.ContainerDir, files []stack.ContainerFile) (err error) {
	if len(dirs)+len(files) == 0 {
		return nil
	}
	ctx, end, err := e.begin(ctx, "copy files into container "+shortID(id), 0)
	if err != nil {
		return err
	}
	defer end(&err)
	archive, err := tarball(dirs, files)
	if err == nil {
		err = e.cli.CopyToContainer(ctx, id, "/", bytes.NewReader(archive), container.CopyToContainerOptions{})
	}
	if err != nil {
		return fmt.Errorf("copy configuration into container %s: %w", shortID(id), err)
	}
	return nil
}

func (e *Engine) RestartContainer(ctx context.Context, id string) (err error) {
	ctx, end, err := e.begin(ctx, "restart container "+shortID(id), e.bounds.StopGrace)
	if err != nil {
		return err
	}
	defer end(&err)
	timeout := int(e.bounds.StopGrace.Seconds())
	if err := e.cli.ContainerRestart(ctx, id, container.StopOptions{Timeout: &timeout}); err != nil {
		return fmt.Errorf("restart container %s: %w", shortID(id), err)
	}
	return nil
}

func (e *Engine) SignalContainer(ctx context.Context, id, signal string) (err error) {
	ctx, end, err := e.begin(ctx, "signal container "+shortID(id), 0)
	if err != nil {
		return err
	}
	defer end(&err)
	if err := e.cli.ContainerKill(ctx, id, signal); err != nil {
		return fmt.Errorf("send %s to container %s: %w", signal, shortID(id), err)
	}
	return nil
}

func (e *Engine) UnpauseContainer(ctx context.Context, id string) (err error) {
	ctx, end, err := e.begin(ctx, "unpause container "+shortID(id), 0)
	if err != nil {
		return err
	}
	defer end(&err)
	if err := e.cli.ContainerUnpause(ctx, id); err != nil {
		if cerrdefs.IsNotFound(err) {
			return fmt.Errorf("container %s: %w", shortID(id), stack.ErrNotFound)
		}
		return fmt.Errorf("unpause container %s: %w", shortID(id), err)
	}
	return nil
}

func (e *Engine) StartContainer(ctx context.Context, id string) (err error) {
	ctx, end, err := e.begin(ctx, "start container "+shortID(id), 0)
	if err != nil {
		return err
	}
	defer end(&err)
	if err := e.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "port is already allocated") || strings.Contains(msg, "address already in use") {
			return fmt.Errorf("start container %s: %w: %v", id, stack.ErrPortAllocated, err)
		}
		if strings.Contains(msg, "is ambiguous") {
			return fmt.Errorf("start container %s: %w: %v", id, stack.ErrNetworkAmbiguous, err)
		}
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

func (e *Engine) Remove(ctx context.Context, kind stack.Kind, id string) (err error) {
	var grace time.Duration
	if kind == stack.KindContainer {
		grace = e.bounds.StopGrace
	}
	ctx, end, err := e.begin(ctx, fmt.Sprintf("remove %s %s", kind, shortID(id)), grace)
	if err != nil {
		return err
	}
	defer end(&err)
	switch kind {
	case stack.KindContainer:
		// Stop first, as docker-compose down does: Prometheus flushes its
		// head block and WAL on SIGTERM; a forced remove would SIGKILL it.
		timeout := int(e.bounds.StopGrace.Seconds())
		if err := e.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &timeout}); cerrdefs.IsNotFound(err) {
			return fmt.Errorf("%s %s: %w", kind, id, stack.ErrNotFound)
		}
		// Anonymous volumes go with the container; named ones stay.
		err = e.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true})
	case stack.KindNetwork:
		err = e.cli.NetworkRemove(ctx, id)
	case stack.KindVolume:
		err = e.cli.VolumeRemove(ctx, id, false)
	default:
		return fmt.Errorf("unknown kind %q", kind)
	}
	if cerrdefs.IsNotFound(err) {
		return fmt.Errorf("%s %s: %w", kind, id, stack.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("remove %s %s: %w", kind, id, err)
	}
	return nil
}

func (e *Engine) Logs(ctx context.Context, id string, tail int) (_ string, err error) {
	ctx, end, err := e.begin(ctx, "logs of container "+shortID(id), 0)
	if err != nil {
		return "", err
	}
	defer end(&err)
	rc, err := e.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: strconv.Itoa(tail)})
	if err != nil {
		if cerrdefs.IsNotFound(err) {
			return "", fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
		}
		return "", fmt.Errorf("logs of %s: %w", id, err)
	}
	defer rc.Close()
	// Containers without a TTY multiplex stdout and stderr into frames.
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 4<<20)); err != nil && !errors.Is(err, io.EOF) {
		return buf.String(), fmt.Errorf("logs of %s: %w", id, err)
	}
	return buf.String(), nil
}
