package docker

import (
	"archive/tar"
	"bytes"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/go-connections/nat"

	"github.com/llmmon/llmmon/stack"
)

func labelFilter(labels map[string]string) filters.Args {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	return f
}

// containerConfig translates a spec into the API's three config structs.
func containerConfig(s stack.ContainerSpec) (*container.Config, *container.HostConfig, *network.NetworkingConfig) {
	exposed := nat.PortSet{}
	bindings := nat.PortMap{}
	for _, p := range s.Ports {
		port := nat.Port(strconv.Itoa(p.ContainerPort) + "/tcp")
		// Without ExposedPorts the engine silently drops the binding.
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: p.HostIP, HostPort: strconv.Itoa(p.HostPort)})
	}
	var mounts []mount.Mount
	for _, m := range s.Mounts {
		mounts = append(mounts, mount.Mount{Type: mount.TypeVolume, Source: m.Volume, Target: m.Target})
	}
	cfg := &container.Config{
		Image:        s.Image,
		Cmd:          s.Cmd,
		Env:          s.Env,
		User:         s.User,
		Labels:       s.Labels,
		ExposedPorts: exposed,
	}
	hc := &container.HostConfig{
		PortBindings:  bindings,
		ExtraHosts:    s.ExtraHosts,
		Mounts:        mounts,
		NetworkMode:   container.NetworkMode(s.Network),
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(s.RestartPolicy)},
		LogConfig:     container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "3"}},
	}
	nc := &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
		s.Network: {Aliases: s.Aliases},
	}}
	return cfg, hc, nc
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// tarball holds the folders and files to extract at the container's /,
// with their owners and modes in the headers (the engine applies them).
func tarball(dirs []stack.ContainerDir, files []stack.ContainerFile) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, d := range dirs {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeDir, Name: strings.TrimPrefix(path.Clean(d.Path), "/") + "/",
			Mode: int64(d.Mode.Perm()), Uid: d.UID, Gid: d.GID, ModTime: now,
		}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path.Clean(f.Path), "/"),
			Mode: int64(f.Mode.Perm()), Uid: f.UID, Gid: f.GID, Size: int64(len(f.Content)), ModTime: now,
		}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.Content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func containerObject(c container.InspectResponse) stack.Object {
	st := &stack.ContainerState{Networks: map[string]stack.Endpoint{}}
	if c.Config != nil {
		st.Image = c.Config.Image
	}
	if c.State != nil {
		st.Status = string(c.State.Status)
		st.ExitCode = c.State.ExitCode
		st.Error = c.State.Error
		st.OOMKilled = c.State.OOMKilled
		if t, err := time.Parse(time.RFC3339Nano, c.State.StartedAt); err == nil && t.Year() > 1 {
			st.StartedAt = t
		}
		if c.State.Health != nil {
			st.Health = string(c.State.Health.Status)
		}
	}
	st.RestartCount = c.RestartCount
	if c.HostConfig != nil {
		for port, bs := range c.HostConfig.PortBindings {
			for _, b := range bs {
				hp, _ := strconv.Atoi(b.HostPort)
				st.Ports = append(st.Ports, stack.PortSpec{HostIP: b.HostIP, HostPort: hp, ContainerPort: port.Int()})
			}
		}
	}
	if c.NetworkSettings != nil {
		for name, ep := range c.NetworkSettings.Networks {
			if ep == nil {
				continue
			}
			st.Networks[name] = stack.Endpoint{NetworkID: ep.NetworkID, IP: ep.IPAddress, Aliases: ep.Aliases}
		}
	}
	var labels map[string]string
	if c.Config != nil {
		labels = c.Config.Labels
	}
	return stack.Object{Kind: stack.KindContainer, ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Labels: labels, Container: st}
}

func networkObject(n network.Inspect) stack.Object {
	o := stack.Object{Kind: stack.KindNetwork, ID: n.ID, Name: n.Name, Labels: n.Labels, Created: n.Created}
	for _, c := range n.IPAM.Config {
		if c.Gateway != "" && !strings.Contains(c.Gateway, ":") {
			o.Gateway, o.Subnet = c.Gateway, c.Subnet
			break
		}
	}
	return o
}
