// Package enginetest is an in-memory fake of stack.Engine for
// orchestration tests: it keeps containers, networks and volumes in maps,
// enforces the engine's rules that matter to llmmon (unique names, images
// present, ports taken by running containers, volumes and networks in use),
// and records every mutating call.
package enginetest

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// Fake is an in-memory engine. Set its exported fields before use.
type Fake struct {
	mu sync.Mutex

	EngineInfo stack.EngineInfo
	// Unreachable makes every call fail as a stopped daemon does.
	Unreachable bool
	// Images maps a local image reference to its ID.
	Images map[string]string
	// Registry maps a pullable reference to the ID a pull yields; a
	// reference absent here fails to pull.
	Registry map[string]string
	// StartErr fails StartContainer for a container name.
	StartErr map[string]error
	// Logs are returned by Logs, by container name.
	LogLines map[string]string

	// objects are by name; a network whose name is taken already (Docker
	// allows that) is kept under name + "\x00" + ID.
	objects map[stack.Kind]map[string]*stack.Object
	specs   map[string]stack.ContainerSpec // by container ID
	files   map[string]map[string][]byte   // container ID → path → content
	calls   []string
	nextID  int
}

// New returns an empty Linux engine like the one on these machines.
func New() *Fake {
	return &Fake{
		EngineInfo: stack.EngineInfo{Host: "unix:///var/run/docker.sock", Version: "20.10.24", APIVersion: "1.41", OS: "linux", OperatingSystem: "Debian GNU/Linux 12 (bookworm)"},
		Images:     map[string]string{},
		Registry:   map[string]string{},
		StartErr:   map[string]error{},
		LogLines:   map[string]string{},
		objects:    map[stack.Kind]map[string]*stack.Object{stack.KindContainer: {}, stack.KindNetwork: {}, stack.KindVolume: {}},
		specs:      map[string]stack.ContainerSpec{},
		files:      map[string]map[string][]byte{},
	}
}

var _ stack.Engine = (*Fake)(nil)

func (f *Fake) record(format string, a ...any) { f.calls = append(f.calls, fmt.Sprintf(format, a...)) }

// Calls returns the mutating calls made so far ("create container x", ...)
// and forgets them.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *Fake) id(prefix string) string {
	f.nextID++
	return fmt.Sprintf("%s%061d", prefix[:3], f.nextID)
}

func (f *Fake) down() error {
	if f.Unreachable {
		return fmt.Errorf("%w: dial unix /var/run/docker.sock: connect: no such file or directory", stack.ErrEngineUnreachable)
	}
	return nil
}

// Add puts an object in place as someone else would have, e.g. a
// foreign container with a look-alike name. It returns its ID. A network
// may be added under a name another network has: Docker allows it.
func (f *Fake) Add(kind stack.Kind, name string, labels map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	o := &stack.Object{Kind: kind, ID: f.id(string(kind)), Name: name, Labels: labels}
	switch kind {
	case stack.KindContainer:
		o.Container = &stack.ContainerState{Status: "running", Networks: map[string]stack.Endpoint{}}
	case stack.KindNetwork:
		o.Created = created.Add(time.Duration(f.nextID) * time.Second)
		if _, taken := f.objects[kind][name]; taken {
			f.objects[kind][name+"\x00"+o.ID] = o
			return o.ID
		}
	}
	f.objects[kind][name] = o
	return o.ID
}

// created is when the fake's first object was created.
var created = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// named returns the objects of kind with this name (several networks may
// share one).
func (f *Fake) named(kind stack.Kind, name string) []*stack.Object {
	var out []*stack.Object
	for _, o := range f.objects[kind] {
		if o.Name == name {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Set changes a container's state, as a crash or docker stop would.
func (f *Fake) Set(name string, change func(*stack.ContainerState)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f.objects[stack.KindContainer][name].Container)
}

// Modify changes any object by ID, e.g. when a network was created.
func (f *Fake) Modify(kind stack.Kind, id string, change func(*stack.Object)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.objects[kind] {
		if o.ID == id {
			change(o)
		}
	}
}

// Spec returns the spec a container was created from.
func (f *Fake) Spec(name string) (stack.ContainerSpec, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[stack.KindContainer][name]
	if !ok {
		return stack.ContainerSpec{}, false
	}
	s, ok := f.specs[o.ID]
	return s, ok
}

// File returns what was copied into a container at path.
func (f *Fake) File(name, path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objects[stack.KindContainer][name]
	if !ok {
		return nil, false
	}
	b, ok := f.files[o.ID][path]
	return b, ok
}

// Names lists the names of the objects of kind, sorted.
func (f *Fake) Names(kind stack.Kind) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for _, o := range f.objects[kind] {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	return names
}

func (f *Fake) Info(ctx context.Context) (stack.EngineInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return stack.EngineInfo{Host: f.EngineInfo.Host}, err
	}
	return f.EngineInfo, nil
}

func (f *Fake) ImageID(ctx context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return "", err
	}
	if id, ok := f.Images[ref]; ok {
		return id, nil
	}
	return "", fmt.Errorf("image %s: %w", ref, stack.ErrNotFound)
}

func (f *Fake) PullImage(ctx context.Context, ref string, p stack.Progress) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("pull %s", ref)
	id, ok := f.Registry[ref]
	if !ok {
		return fmt.Errorf("pull access denied for %s, repository does not exist or may require 'docker login'", ref)
	}
	if p.Out != nil {
		io.WriteString(p.Out, "Status: Downloaded newer image for "+ref+"\n")
	}
	f.Images[ref] = id
	return nil
}

func (f *Fake) Find(ctx context.Context, kind stack.Kind, name string) (stack.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return stack.Object{}, err
	}
	switch same := f.named(kind, name); len(same) {
	case 0:
		return stack.Object{}, fmt.Errorf("%s %q: %w", kind, name, stack.ErrNotFound)
	case 1:
		return clone(same[0]), nil
	default:
		amb := &stack.AmbiguousError{Kind: kind, Name: name}
		for _, o := range same {
			amb.Objects = append(amb.Objects, clone(o))
		}
		return stack.Object{}, amb
	}
}

func clone(o *stack.Object) stack.Object {
	c := *o
	c.Labels = maps.Clone(o.Labels)
	if o.Container != nil {
		st := *o.Container
		st.Ports = slices.Clone(st.Ports)
		st.Networks = maps.Clone(st.Networks)
		c.Container = &st
	}
	return c
}

func (f *Fake) List(ctx context.Context, kind stack.Kind, labels map[string]string) ([]stack.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return nil, err
	}
	var out []stack.Object
	for _, o := range f.objects[kind] {
		match := true
		for k, v := range labels {
			if o.Labels[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, clone(o))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Fake) CreateNetwork(ctx context.Context, spec stack.NetworkSpec) (stack.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[stack.KindNetwork][spec.Name]; ok {
		return stack.Object{}, fmt.Errorf("create network %q: network with name %s already exists", spec.Name, spec.Name)
	}
	f.record("create network %s", spec.Name)
	o := &stack.Object{Kind: stack.KindNetwork, ID: f.id("net"), Name: spec.Name, Labels: maps.Clone(spec.Labels), Gateway: "172.30.0.1", Subnet: "172.30.0.0/16"}
	o.Created = created.Add(time.Duration(f.nextID) * time.Second)
	f.objects[stack.KindNetwork][spec.Name] = o
	return clone(o), nil
}

func (f *Fake) CreateVolume(ctx context.Context, spec stack.VolumeSpec) (stack.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if o, ok := f.objects[stack.KindVolume][spec.Name]; ok {
		return clone(o), nil // the engine returns the existing volume
	}
	f.record("create volume %s", spec.Name)
	o := &stack.Object{Kind: stack.KindVolume, ID: spec.Name, Name: spec.Name, Labels: maps.Clone(spec.Labels)}
	f.objects[stack.KindVolume][spec.Name] = o
	return clone(o), nil
}

func (f *Fake) CreateContainer(ctx context.Context, spec stack.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.objects[stack.KindContainer][spec.Name]; ok {
		return "", fmt.Errorf("create container %q: %w: Conflict. The container name %q is already in use", spec.Name, stack.ErrNameInUse, "/"+spec.Name)
	}
	if _, ok := f.Images[spec.Image]; !ok {
		return "", fmt.Errorf("create container %q: No such image: %s", spec.Name, spec.Image)
	}
	nets := f.named(stack.KindNetwork, spec.Network)
	switch len(nets) {
	case 0:
		return "", fmt.Errorf("create container %q: network %s not found", spec.Name, spec.Network)
	case 1:
	default:
		return "", fmt.Errorf("create container %q: %w: network %s is ambiguous (%d matches found on name)", spec.Name, stack.ErrNetworkAmbiguous, spec.Network, len(nets))
	}
	for _, m := range spec.Mounts {
		if _, ok := f.objects[stack.KindVolume][m.Volume]; !ok {
			// the engine would create an unlabelled volume; llmmon must not rely on that
			return "", fmt.Errorf("create container %q: volume %s does not exist (fake engine refuses implicit volumes)", spec.Name, m.Volume)
		}
	}
	f.record("create container %s", spec.Name)
	id := f.id("ctr")
	o := &stack.Object{Kind: stack.KindContainer, ID: id, Name: spec.Name, Labels: maps.Clone(spec.Labels),
		Container: &stack.ContainerState{Image: spec.Image, Status: "created", Networks: map[string]stack.Endpoint{
			spec.Network: {NetworkID: nets[0].ID, IP: fmt.Sprintf("172.30.0.%d", 1+f.nextID%250), Aliases: spec.Aliases},
		}}}
	f.objects[stack.KindContainer][spec.Name] = o
	f.specs[id] = spec
	f.files[id] = map[string][]byte{}
	f.copyLocked(id, spec.Files)
	return id, nil
}

func (f *Fake) copyLocked(id string, files []stack.ContainerFile) {
	for _, file := range files {
		f.files[id][file.Path] = slices.Clone(file.Content)
	}
}

func (f *Fake) byID(id string) (*stack.Object, bool) {
	for _, o := range f.objects[stack.KindContainer] {
		if o.ID == id {
			return o, true
		}
	}
	return nil, false
}

func (f *Fake) CopyFiles(ctx context.Context, id string, dirs []stack.ContainerDir, files []stack.ContainerFile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	f.record("copy files into %s", o.Name)
	f.copyLocked(id, files)
	return nil
}

func (f *Fake) StartContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	if err := f.StartErr[o.Name]; err != nil {
		return err
	}
	spec := f.specs[id]
	for _, other := range f.objects[stack.KindContainer] {
		if other.ID == id || !other.Container.Running() {
			continue
		}
		for _, p := range other.Container.Ports {
			for _, q := range spec.Ports {
				if p.HostPort == q.HostPort {
					return fmt.Errorf("start container %s: %w: Bind for %s:%d failed: port is already allocated", o.Name, stack.ErrPortAllocated, q.HostIP, q.HostPort)
				}
			}
		}
	}
	f.record("start %s", o.Name)
	o.Container.Status = "running"
	o.Container.Ports = slices.Clone(spec.Ports)
	return nil
}

func (f *Fake) RestartContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	f.record("restart %s", o.Name)
	o.Container.Status = "running"
	return nil
}

func (f *Fake) SignalContainer(ctx context.Context, id, signal string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	if o.Container.Status != "running" {
		return fmt.Errorf("container %s is not running", o.Name)
	}
	f.record("signal %s %s", signal, o.Name)
	return nil
}

func (f *Fake) UnpauseContainer(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	if o.Container.Status != "paused" {
		return fmt.Errorf("unpause container %s: Container %s is not paused", o.Name, id)
	}
	f.record("unpause %s", o.Name)
	o.Container.Status = "running"
	return nil
}

func (f *Fake) Remove(ctx context.Context, kind stack.Kind, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.down(); err != nil {
		return err
	}
	for k, o := range f.objects[kind] {
		if o.ID != id {
			continue
		}
		name := o.Name
		for _, c := range f.objects[stack.KindContainer] {
			switch kind {
			case stack.KindNetwork:
				if ep, on := c.Container.Networks[name]; on && (ep.NetworkID == "" || ep.NetworkID == id) {
					return fmt.Errorf("remove network %s: error while removing network: network %s id %s has active endpoints", name, name, id)
				}
			case stack.KindVolume:
				if spec, ok := f.specs[c.ID]; ok {
					for _, m := range spec.Mounts {
						if m.Volume == name {
							return fmt.Errorf("remove volume %s: volume is in use - [%s]", name, c.ID)
						}
					}
				}
			}
		}
		f.record("remove %s %s", kind, name)
		delete(f.objects[kind], k)
		return nil
	}
	return fmt.Errorf("%s %s: %w", kind, id, stack.ErrNotFound)
}

// Attach puts a container on a network, as docker network connect does.
func (f *Fake) Attach(container, network string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects[stack.KindContainer][container].Container.Networks[network] = stack.Endpoint{IP: "172.30.0.250"}
}

func (f *Fake) Logs(ctx context.Context, id string, tail int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.byID(id)
	if !ok {
		return "", fmt.Errorf("container %s: %w", id, stack.ErrNotFound)
	}
	lines := strings.Split(strings.TrimRight(f.LogLines[o.Name], "\n"), "\n")
	if len(lines) > tail {
		lines = lines[len(lines)-tail:]
	}
	return strings.Join(lines, "\n") + "\n", nil
}
