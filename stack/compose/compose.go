// Package compose writes the stack as a Compose project: a
// docker-compose.yml equivalent to what `llmmon up` creates (the same
// images, names, labels, users, network, aliases, volumes, host-gateway
// and ports, from stack.BuildSpecs) with the rendered configuration
// mounted from the project folder and Grafana's admin password delivered
// as a file. The file format is 3.8, which Debian's docker-compose 1.29
// reads, as does Docker's compose plugin.
package compose

import (
	"bytes"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Files render --compose writes into its folder, besides the rendered
// configuration.
const (
	ComposeFile = "docker-compose.yml"
	// SecretsDir holds each secret file a container reads (see
	// secretFile). It is mode 0700, so only its owner reaches the files
	// inside; they are world-readable so the container's user (Grafana's
	// 472) can read them through the bind mount.
	SecretsDir = "secrets"
	// AdminPasswordFile is Grafana's admin password.
	AdminPasswordFile  = SecretsDir + "/grafana-admin-password"
	composeFileVersion = "3.8"
)

// Project is a docker-compose.yml, in the fields llmmon uses.
type Project struct {
	Version  string             `yaml:"version"`
	Services map[string]Service `yaml:"services"`
	Networks map[string]Network `yaml:"networks"`
	Volumes  map[string]Volume  `yaml:"volumes"`
	Secrets  map[string]Secret  `yaml:"secrets,omitempty"`
}

// Service is one container.
type Service struct {
	Image         string                    `yaml:"image"`
	ContainerName string                    `yaml:"container_name"`
	User          Quoted                    `yaml:"user"`
	Command       []string                  `yaml:"command,omitempty"`
	Environment   []string                  `yaml:"environment,omitempty"`
	Labels        map[string]string         `yaml:"labels"`
	Ports         []Quoted                  `yaml:"ports,omitempty"`
	ExtraHosts    []string                  `yaml:"extra_hosts,omitempty"`
	Networks      map[string]ServiceNetwork `yaml:"networks"`
	Volumes       []string                  `yaml:"volumes"`
	Secrets       []ServiceSecret           `yaml:"secrets,omitempty"`
	DependsOn     []string                  `yaml:"depends_on,omitempty"`
	Restart       string                    `yaml:"restart"`
}

// ServiceNetwork attaches a service under aliases.
type ServiceNetwork struct {
	Aliases []string `yaml:"aliases,omitempty"`
}

// ServiceSecret mounts a secret read-only at Target.
type ServiceSecret struct {
	Source string `yaml:"source"`
	Target string `yaml:"target"`
}

// Network and Volume carry the names and labels up gives them.
type Network struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

// Volume is a named volume.
type Volume struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

// Secret is a file-based secret (a bind mount of the file, in Compose
// without swarm).
type Secret struct {
	File string `yaml:"file"`
}

// build turns the specs `up` would create into a Compose project whose
// config comes from the project folder (the rendered files, as WriteFiles
// lays them out). It also returns the secret files the project reads from
// SecretsDir: every file the specs mark secret, the admin password,
// Prometheus' files from this machine (promSecrets, from
// stack.ReadSecretFiles) and the receivers' secrets (alertSecrets, from
// stack.ReadReceiverSecrets) among them.
func build(cfg stack.Config, rendered stack.Rendered, adminPassword string, promSecrets, alertSecrets []stack.File) (Project, []stack.File, error) {
	specs := stack.BuildSpecs(stack.SpecInput{Config: cfg, Rendered: rendered, AdminPassword: adminPassword, HostGateway: stack.HostGateway,
		PrometheusSecrets: promSecrets, AlertSecrets: alertSecrets})
	var secretFiles []stack.File
	p := Project{
		Version:  composeFileVersion,
		Services: map[string]Service{},
		Networks: map[string]Network{specs.Network.Name: {Name: specs.Network.Name, Labels: specs.Network.Labels}},
		Volumes:  map[string]Volume{},
	}
	for _, v := range specs.Volumes {
		p.Volumes[v.Name] = Volume{Name: v.Name, Labels: v.Labels}
	}
	prev := ""
	for _, c := range specs.Containers() {
		svc := Service{
			Image:         c.Image,
			ContainerName: c.Name,
			User:          Quoted(c.User),
			Command:       c.Cmd,
			Environment:   c.Env,
			Labels:        map[string]string{},
			ExtraHosts:    c.ExtraHosts,
			Networks:      map[string]ServiceNetwork{c.Network: {Aliases: c.Aliases}},
			Restart:       c.RestartPolicy,
		}
		// up's hashes say what it copied into a container; Compose mounts
		// instead, so an up after Compose rightly recreates the containers.
		for k, v := range c.Labels {
			if k != stack.LabelConfigHash && k != stack.LabelFilesHash {
				svc.Labels[k] = v
			}
		}
		for _, port := range c.Ports {
			svc.Ports = append(svc.Ports, publish(port))
		}
		for _, m := range c.Mounts {
			svc.Volumes = append(svc.Volumes, m.Volume+":"+m.Target)
		}
		mounts, secrets, err := configMounts(c)
		if err != nil {
			return Project{}, nil, err
		}
		svc.Volumes = append(svc.Volumes, mounts...)
		for _, f := range secrets {
			name, file := secretFile(f.Path)
			if p.Secrets == nil {
				p.Secrets = map[string]Secret{}
			}
			p.Secrets[name] = Secret{File: "./" + file}
			svc.Secrets = append(svc.Secrets, ServiceSecret{Source: name, Target: f.Path})
			secretFiles = append(secretFiles, stack.File{Path: file, Content: f.Content, Mode: 0o444})
		}
		if prev != "" {
			svc.DependsOn = []string{prev}
		}
		key := c.Labels[stack.LabelComponent]
		p.Services[key] = svc
		prev = key
	}
	return p, secretFiles, nil
}

// secretFile names a secret a container reads at containerPath after its
// folder under /etc and its file name: /etc/grafana/llmmon/admin-password
// is grafana-admin-password, kept in SecretsDir. Prometheus' credentials
// keep their whole path (prometheus-secrets-jobs-tgi-password): one per
// job or remote_write.
func secretFile(containerPath string) (name, file string) {
	rel := strings.TrimPrefix(containerPath, "/etc/")
	top, _, _ := strings.Cut(rel, "/")
	name = top + "-" + path.Base(rel)
	if strings.HasPrefix(rel, prometheus.SecretsDir+"/") {
		name = strings.NewReplacer("/", "-", ":", "-").Replace(rel)
	}
	return name, SecretsDir + "/" + name
}

// Quoted is always written as a quoted string: docker-compose 1.x reads
// YAML 1.1, where 1:30 is a number and [::1]:... a list.
type Quoted string

// MarshalYAML implements yaml.Marshaler.
func (q Quoted) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Style: yaml.DoubleQuotedStyle, Value: string(q)}, nil
}

// publish writes a port binding in Compose's short syntax.
func publish(p stack.PortSpec) Quoted {
	host := p.HostIP
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return Quoted(host + ":" + strconv.Itoa(p.HostPort) + ":" + strconv.Itoa(p.ContainerPort))
}

// configMounts bind-mounts, read-only, the folders of --dir that up copies
// into the container (it copies DIR/x to /etc/x), and returns where each
// secret file goes. Only the outermost folders are mounted, so
// /etc/grafana keeps the image's own grafana.ini.
func configMounts(c stack.ContainerSpec) (mounts []string, secrets []stack.ContainerFile, err error) {
	// A folder that holds secrets and nothing else is not mounted: each
	// secret is mounted on its own, and a read-only mount around them
	// would keep Docker from creating their mount points.
	holds := func(d string, secret bool) bool {
		for _, f := range c.Files {
			if f.Secret == secret && strings.HasPrefix(f.Path, d+"/") {
				return true
			}
		}
		return false
	}
	for _, f := range c.Files {
		if f.Secret {
			secrets = append(secrets, f)
		}
	}
	var dirs []string
	for _, d := range c.Dirs {
		if !holds(d.Path, true) || holds(d.Path, false) {
			dirs = append(dirs, d.Path)
		}
	}
	sort.Strings(dirs)
	var top []string
	for _, d := range dirs {
		if n := len(top); n > 0 && strings.HasPrefix(d, top[n-1]+"/") {
			continue
		}
		top = append(top, d)
	}
	for _, d := range top {
		rel, ok := strings.CutPrefix(d, "/etc/")
		if !ok {
			return nil, nil, fmt.Errorf("container %s: config folder %s is not under /etc: compose cannot mount it from the project folder", c.Name, d)
		}
		mounts = append(mounts, "./"+rel+":"+d+":ro")
	}
	return mounts, secrets, nil
}

// Marshal encodes the project, after a header saying how to use it.
func (p Project) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ComposeFile, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

const header = `# Written by llmmon render --compose: the stack llmmon up creates, as a
# Compose project. Start it here with: docker-compose up -d
# The configuration it mounts is in this folder (re-run render to change
# it); Grafana's admin password is in ` + AdminPasswordFile + `, any alert
# receiver's secret beside it (copied from the file llmmon.yaml names).
`
