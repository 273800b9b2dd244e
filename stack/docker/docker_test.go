package docker

import (
	"archive/tar"
	"bytes"
	"io"
	"slices"
	"testing"

	"github.com/docker/go-connections/nat"

	"github.com/llmmon/llmmon/stack"
)

// The translation to the API's structs is where Docker's traps are.
func TestContainerConfig(t *testing.T) {
	spec := stack.ContainerSpec{
		Name: "x-llm-prometheus", Image: "p:1", Cmd: []string{"--a"}, Env: []string{"K=V"}, User: "65534:65534",
		Labels:        map[string]string{stack.LabelStack: "x"},
		Ports:         []stack.PortSpec{{HostIP: "127.0.0.1", HostPort: 19090, ContainerPort: 9090}},
		ExtraHosts:    []string{"host.docker.internal:host-gateway"},
		Network:       "x-monitoring",
		Aliases:       []string{"prometheus"},
		Mounts:        []stack.Mount{{Volume: "x-llm-prometheus-data", Target: "/prometheus"}},
		RestartPolicy: "unless-stopped",
	}
	cfg, hc, nc := containerConfig(spec)
	port := nat.Port("9090/tcp")
	if _, ok := cfg.ExposedPorts[port]; !ok {
		t.Error("published port not exposed: the engine would drop the binding")
	}
	if b := hc.PortBindings[port]; len(b) != 1 || b[0].HostIP != "127.0.0.1" || b[0].HostPort != "19090" {
		t.Errorf("bindings %+v", hc.PortBindings)
	}
	if !slices.Equal(hc.ExtraHosts, spec.ExtraHosts) || string(hc.NetworkMode) != "x-monitoring" || hc.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("host config %+v", hc)
	}
	if len(hc.Binds) != 0 || len(hc.Mounts) != 1 || hc.Mounts[0].Type != "volume" || hc.Mounts[0].Source != "x-llm-prometheus-data" {
		t.Errorf("mounts %+v binds %v: only named volumes, never host paths", hc.Mounts, hc.Binds)
	}
	if ep := nc.EndpointsConfig["x-monitoring"]; ep == nil || !slices.Equal(ep.Aliases, []string{"prometheus"}) {
		t.Errorf("endpoint %+v", nc.EndpointsConfig)
	}
	if cfg.User != "65534:65534" || cfg.Labels[stack.LabelStack] != "x" || !slices.Equal(cfg.Cmd, []string{"--a"}) {
		t.Errorf("config %+v", cfg)
	}
	if hc.LogConfig.Config["max-size"] == "" {
		t.Error("logs unbounded")
	}
}

func TestTarballCarriesOwnersAndModes(t *testing.T) {
	b, err := tarball(
		[]stack.ContainerDir{{Path: "/etc/prometheus", Mode: 0o755, UID: 65534, GID: 65534}},
		[]stack.ContainerFile{{Path: "/etc/prometheus/prometheus.yml", Content: []byte("global: {}\n"), Mode: 0o644, UID: 65534, GID: 65534},
			{Path: "/etc/grafana/llmmon/admin-password", Content: []byte("pw"), Mode: 0o400, UID: 472}})
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		got = append(got, h.Name)
		switch h.Name {
		case "etc/prometheus/":
			if h.Typeflag != tar.TypeDir || h.Uid != 65534 || h.Mode != 0o755 {
				t.Errorf("dir header %+v", h)
			}
		case "etc/prometheus/prometheus.yml":
			if h.Uid != 65534 || h.Gid != 65534 || h.Mode != 0o644 || string(body) != "global: {}\n" {
				t.Errorf("file header %+v %q", h, body)
			}
		case "etc/grafana/llmmon/admin-password":
			if h.Uid != 472 || h.Mode != 0o400 {
				t.Errorf("secret header %+v", h)
			}
		}
	}
	if !slices.Equal(got, []string{"etc/prometheus/", "etc/prometheus/prometheus.yml", "etc/grafana/llmmon/admin-password"}) {
		t.Errorf("entries %v (relative to /, folders first)", got)
	}
}
