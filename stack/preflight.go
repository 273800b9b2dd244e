package stack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// PullPolicy says when up pulls an image.
type PullPolicy string

// Pull policies, as --pull takes them.
const (
	PullMissing PullPolicy = "missing"
	PullAlways  PullPolicy = "always"
	PullNever   PullPolicy = "never"
)

// ParsePullPolicy reads --pull.
func ParsePullPolicy(s string) (PullPolicy, error) {
	switch p := PullPolicy(s); p {
	case PullMissing, PullAlways, PullNever:
		return p, nil
	}
	return "", fmt.Errorf("invalid --pull %q: want missing, always or never", s)
}

// preflighted is what up learned before changing anything.
type preflighted struct {
	info     EngineInfo
	found    map[string]Object // the stack's objects that exist, all ours
	imageIDs map[string]string // by component
	// secrets are the receivers' secret files, read from this machine.
	secrets []File
	// spareNetworks share the network's name and are ours: up removes
	// them before it creates anything.
	spareNetworks []Object
}

// pullOptions say when and how preflight pulls images.
type pullOptions struct {
	policy   PullPolicy
	progress Progress
}

// preflight checks, before anything is written or created, that the
// receivers' secret files can be read, that the engine answers, that no
// object with one of the stack's names belongs to someone else, that the
// host ports are free (checkPort; nil tries to listen), and that the
// images are there, pulling them as pull says.
func preflight(ctx context.Context, eng Engine, cfg Config, names Names, checkPort func(string) error, pull pullOptions, emit func(Event)) (preflighted, error) {
	var pre preflighted
	var err error
	var notes []string
	if pre.secrets, notes, err = ReadReceiverSecrets(cfg.Alerting); err != nil {
		return pre, err
	}
	for _, n := range notes {
		emit(Notice{Text: n})
	}
	if pre.info, err = engineInfo(ctx, eng); err != nil {
		return pre, err
	}
	var amb *AmbiguousError
	if pre.found, amb, err = findAll(ctx, eng, names); err != nil {
		return pre, err
	}
	if amb != nil {
		ch, err := chooseNetwork(amb, names, pre.found)
		if err != nil {
			return pre, err
		}
		pre.found[key(KindNetwork, names.Network)], pre.spareNetworks = ch.use, ch.spare
	}
	if err := refuseForeign(pre.found, names); err != nil {
		return pre, err
	}
	if !pre.info.Remote() { // a remote engine's ports are not this machine's
		if err := checkPorts(cfg, pre.found, checkPort); err != nil {
			var taken *portInUseError
			if errors.As(err, &taken) {
				// Another up of this name (from another --dir) may have
				// started a container on the port since the lookup.
				if again, _, ferr := findAll(ctx, eng, names); ferr == nil && stackPorts(again)[taken.port] {
					return pre, racingUp(cfg.Name, fmt.Sprintf("port %d on %s was taken by this stack's container", taken.port, taken.bind), ErrNameInUse)
				}
			}
			return pre, err
		}
	}
	byRef, err := ensureImages(ctx, eng, stackImages(cfg), pull, emit)
	if err != nil {
		return pre, err
	}
	pre.imageIDs = map[string]string{}
	for _, p := range cfg.Parts() {
		pre.imageIDs[p.Component] = byRef[cfg.Part(p.Component).Image]
	}
	return pre, nil
}

// Unreachable is the error for an engine that does not answer, worded
// as the user needs it; it wraps ErrEngineUnreachable.
func Unreachable(host string, err error) error { return &unreachableError{host: host, err: err} }

type unreachableError struct {
	host string
	err  error
}

func (e *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the Docker daemon at %s: is it running? (see llmmon doctor)", e.host)
}
func (e *unreachableError) Unwrap() error { return e.err }

// engineInfo pings the engine, turning "unreachable" into the user's error.
func engineInfo(ctx context.Context, eng Engine) (EngineInfo, error) {
	info, err := eng.Info(ctx)
	if errors.Is(err, ErrEngineUnreachable) {
		host := info.Host
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		return info, Unreachable(host, err)
	}
	return info, err
}

func key(k Kind, name string) string { return string(k) + "/" + name }

// objectKey is one object of the stack, by kind and name.
type objectKey struct {
	kind Kind
	name string
}

// objectNames lists every object name the stack uses: the network, and
// each part's volume and container.
func objectNames(n Names) []objectKey {
	keys := []objectKey{{KindNetwork, n.Network}}
	for _, p := range parts {
		keys = append(keys, objectKey{KindVolume, n.Volume(p.Component)})
	}
	for _, p := range parts {
		keys = append(keys, objectKey{KindContainer, n.Container(p.Component)})
	}
	return keys
}

// findAll looks up every object name the stack uses; several networks
// with the stack network's name come back as amb.
func findAll(ctx context.Context, eng Engine, n Names) (found map[string]Object, amb *AmbiguousError, err error) {
	found = map[string]Object{}
	for _, q := range objectNames(n) {
		obj, err := eng.Find(ctx, q.kind, q.name)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if q.kind == KindNetwork && errors.As(err, &amb) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		found[key(q.kind, q.name)] = obj
	}
	return found, amb, nil
}

// refuseForeign names every object that has one of our names but not our
// label. Those are never touched.
func refuseForeign(found map[string]Object, n Names) error {
	var errs []error
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		o := found[k]
		if o.Owned(n.Stack) {
			continue
		}
		owner := "was not created by llmmon"
		if s := o.Labels[LabelStack]; s != "" {
			owner = fmt.Sprintf("belongs to llmmon stack %q", s)
		}
		errs = append(errs, fmt.Errorf("a %s named %q already exists and %s (no %s=%s label): llmmon will not touch it; remove or rename it, or pass --name to prefix llmmon's objects",
			o.Kind, o.Name, owner, LabelStack, n.Stack))
	}
	return errors.Join(errs...)
}

// checkPorts fails on a host port that is taken by anything but this stack.
func checkPorts(cfg Config, found map[string]Object, check func(string) error) error {
	if check == nil {
		check = listenCheck
	}
	ours := stackPorts(found)
	for _, p := range cfg.Parts() {
		port := cfg.Part(p.Component).Port
		if ours[port] {
			continue
		}
		if err := check(net.JoinHostPort(cfg.Bind, strconv.Itoa(port))); err != nil {
			return portInUse(cfg.Bind, port, p.PortFlag)
		}
	}
	return nil
}

// stackPorts are the host ports the stack's running containers publish.
func stackPorts(found map[string]Object) map[int]bool {
	ours := map[int]bool{}
	for _, o := range found {
		if o.Kind == KindContainer && o.Container != nil && (o.Container.Running() || o.Container.Paused()) {
			for _, p := range o.Container.Ports {
				ours[p.HostPort] = true
			}
		}
	}
	return ours
}

type portInUseError struct {
	bind string
	port int
	flag string
}

func (e *portInUseError) Error() string {
	return fmt.Sprintf("port %d on %s is in use (by another program or container): stop it, or pass %s to publish on another port", e.port, e.bind, e.flag)
}

func portInUse(bind string, port int, flag string) error {
	return &portInUseError{bind: bind, port: port, flag: flag}
}

// racingUp is the error for an up that met another up of the same stack
// name midway; what says what it met.
func racingUp(stackName, what string, cause error) error {
	return fmt.Errorf("%s while this up was running: another llmmon up is bringing up stack %q "+
		"(from another --dir: the lock on --dir keeps out only ups of the same folder); let it finish, then run llmmon up again: %w", what, stackName, cause)
}

func listenCheck(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// ImageRef is one image the stack runs, and the flag that picks it.
type ImageRef struct{ Ref, Flag string }

// stackImages are the stack's images, with their flags.
func stackImages(cfg Config) []ImageRef {
	var out []ImageRef
	for _, p := range cfg.Parts() {
		out = append(out, ImageRef{cfg.Part(p.Component).Image, p.ImageFlag})
	}
	return out
}

// ensureImages makes every image present per the pull policy and returns
// their IDs. What is missing is found for all images first, so one error
// names every missing image and both ways out.
func ensureImages(ctx context.Context, eng Engine, images []ImageRef, pull pullOptions, emit func(Event)) (map[string]string, error) {
	policy := pull.policy
	if policy == "" {
		policy = PullMissing
	}
	// Each reference once, even when two parts share it.
	var uniq []ImageRef
	seen := map[string]bool{}
	for _, im := range images {
		if !seen[im.Ref] {
			seen[im.Ref] = true
			uniq = append(uniq, im)
		}
	}
	ids := map[string]string{}
	var missing []ImageRef
	for _, im := range uniq {
		id, err := eng.ImageID(ctx, im.Ref)
		switch {
		case errors.Is(err, ErrNotFound):
			missing = append(missing, im)
		case err != nil:
			return nil, err
		default:
			ids[im.Ref] = id
		}
	}
	if policy == PullNever && len(missing) > 0 {
		return nil, &MissingImagesError{Missing: missing, Images: images}
	}
	for _, im := range uniq {
		_, present := ids[im.Ref]
		if present && policy != PullAlways {
			continue
		}
		emit(Pulling{Image: im.Ref})
		if err := eng.PullImage(ctx, im.Ref, pull.progress); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if present { // --pull always, and the engine has one
				return nil, fmt.Errorf("pull image %s: %v\n  is the registry reachable? To run the image the engine already has, pass --pull missing", im.Ref, err)
			}
			return nil, &MissingImagesError{Missing: missing, Images: images, Pull: err, Failed: im.Ref}
		}
		id, err := eng.ImageID(ctx, im.Ref)
		if err != nil {
			return nil, fmt.Errorf("image %s after pulling it: %w", im.Ref, err)
		}
		ids[im.Ref] = id
		missing = slices.DeleteFunc(missing, func(m ImageRef) bool { return m.Ref == im.Ref })
	}
	return ids, nil
}

// MissingImagesError is up's one answer for images that are not on the
// engine and cannot be pulled (or must not be, with --pull never): it lists
// every one, and gives both ways out, so no fix leads back to this error.
type MissingImagesError struct {
	Missing []ImageRef // not on the engine
	Images  []ImageRef // all of the stack's images, for the local-images command
	Pull    error      // the pull that failed; nil with --pull never
	Failed  string     // the image whose pull failed
}

func (e *MissingImagesError) Error() string {
	var b strings.Builder
	refs := make([]string, len(e.Missing))
	for i, m := range e.Missing {
		refs[i] = m.Ref
	}
	if e.Pull != nil {
		fmt.Fprintf(&b, "cannot pull image %s: %v\n", e.Failed, e.Pull)
		fmt.Fprintf(&b, "%s not on this Docker engine:\n", plural(len(e.Missing), "this image is", "these images are"))
	} else {
		fmt.Fprintf(&b, "--pull never was given, and %s not on this Docker engine:\n", plural(len(e.Missing), "this image is", "these images are"))
	}
	for _, m := range e.Missing {
		fmt.Fprintf(&b, "  %s  (%s)\n", m.Ref, m.Flag)
	}
	b.WriteString("Either reach a registry: docker pull " + strings.Join(refs, " ") + ", then run up again;\n")
	b.WriteString("or run images this engine has, without pulling:\n  llmmon up --pull never")
	for _, im := range e.Images {
		fmt.Fprintf(&b, " %s IMAGE", im.Flag)
	}
	b.WriteString("\n  (with no registry at all, make test-images builds a Prometheus and an Alertmanager from Debian's packages and a Grafana test double; the README's quick start shows them)")
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
