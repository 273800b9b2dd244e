package stack

import (
	"context"
	"errors"
	"strings"
	"time"
)

// created is what createObjects did.
type created struct {
	specs   Specs
	ids     map[string]string // container IDs, by component
	actions []Action
	// freshGrafana: Grafana's data volume was created by this up, so its
	// database (and admin password) comes from this run's settings.
	freshGrafana bool
}

// createObjects brings the network, the volumes and the containers to
// what in specifies, leaving each alone when it already is. The specs are
// built here, once, after the network exists: an engine without
// host-gateway reaches the host through the network's gateway.
// lastFiles is what up last copied into Grafana (from its state).
func createObjects(ctx context.Context, eng Engine, in SpecInput, pre preflighted, last State, emit func(Event)) (created, error) {
	cfg := in.Config
	n := NamesFor(cfg.Name)
	c := created{ids: map[string]string{}}
	act := func(a Action) {
		c.actions = append(c.actions, a)
		emit(a)
	}
	// Docker starts no container on a name two networks share: the
	// stack's own duplicates go first (see chooseNetwork).
	if err := removeSpares(ctx, eng, n, pre, act); err != nil {
		return c, err
	}
	netObj, ok := pre.found[key(KindNetwork, n.Network)]
	if ok {
		act(Action{KindNetwork, n.Network, "unchanged"})
	} else {
		var err error
		if netObj, err = eng.CreateNetwork(ctx, NetworkSpecFor(n)); err != nil {
			return c, err
		}
		act(Action{KindNetwork, n.Network, "created"})
		if netObj, err = settleNetwork(ctx, eng, n, netObj, act); err != nil {
			return c, err
		}
	}
	in.HostGateway = HostGatewayFor(pre.info, netObj)
	c.specs = BuildSpecs(in)
	for _, v := range c.specs.Volumes {
		if _, ok := pre.found[key(KindVolume, v.Name)]; ok {
			act(Action{KindVolume, v.Name, "unchanged"})
			continue
		}
		if _, err := eng.CreateVolume(ctx, v); err != nil {
			return c, err
		}
		act(Action{KindVolume, v.Name, "created"})
		c.freshGrafana = c.freshGrafana || v.Name == n.GrafanaData
	}
	for _, spec := range c.specs.Containers() {
		var existing *Object
		delivered := ""
		if obj, ok := pre.found[key(KindContainer, spec.Name)]; ok {
			existing = &obj
			delivered = obj.Labels[LabelFilesHash]
			if h := last.Delivered(spec.Labels[LabelComponent], obj.ID); h != "" {
				delivered = h
			}
		}
		id, verb, err := ensureContainer(ctx, eng, spec, existing, delivered, cfg)
		if err != nil {
			return c, err
		}
		c.ids[spec.Labels[LabelComponent]] = id
		act(Action{KindContainer, spec.Name, verb})
	}
	return c, nil
}

// ensureContainer leaves a container that already runs this spec alone and
// (re)creates it otherwise. A spec with LabelFilesHash gets changed file
// contents copied in instead, then Prometheus reloads (HUP) and Grafana
// restarts. Files from this machine (Prometheus' passwords, tokens and
// CAs) are copied into a kept container on every up, since no hash
// covers their content. A half-created
// container from an interrupted up is replaced, so a following up always
// finishes the job. delivered is the files hash the container has now.
func ensureContainer(ctx context.Context, eng Engine, spec ContainerSpec, existing *Object, delivered string, cfg Config) (id, verb string, err error) {
	verb = "created"
	if existing != nil {
		st := existing.Container
		if existing.Labels[LabelConfigHash] == spec.Labels[LabelConfigHash] && st != nil {
			want := spec.Labels[LabelFilesHash]
			stale := want != "" && delivered != want
			unchanged := "unchanged"
			if st.Paused() {
				// Frozen by docker pause: it holds its ports, so resume it.
				if err := eng.UnpauseContainer(ctx, existing.ID); err != nil {
					return "", "", err
				}
				st.Status, unchanged = "running", "resumed"
			}
			reload, reloaded := eng.RestartContainer, "restarted"
			if spec.Labels[LabelComponent] == ComponentPrometheus {
				reload = func(ctx context.Context, id string) error { return eng.SignalContainer(ctx, id, "HUP") }
				reloaded = "reloaded"
			}
			if err := deliverSecrets(ctx, eng, existing.ID, spec); err != nil {
				return "", "", err
			}
			switch {
			case (st.Status == "running" || st.Status == "restarting") && !stale:
				return existing.ID, unchanged, nil
			case st.Status == "running" || st.Status == "restarting" || st.Status == "exited":
				// Stopped (docker stop, a reboot) containers ran with their
				// files before; stale files are replaced in place.
				if stale {
					if err := eng.CopyFiles(ctx, existing.ID, spec.Dirs, spec.Files); err != nil {
						return "", "", err
					}
				}
				start, verb := eng.StartContainer, "started"
				if st.Status != "exited" {
					start, verb = reload, reloaded
				}
				if err := start(ctx, existing.ID); err == nil {
					if stale {
						verb += " (new configuration)"
					}
					return existing.ID, verb, nil
				}
			}
		}
		if err := eng.Remove(ctx, KindContainer, existing.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return "", "", err
		}
		verb = "recreated"
	}
	err = whileAmbiguous(ctx, func() (err error) {
		id, err = eng.CreateContainer(ctx, spec)
		return err
	})
	if errors.Is(err, ErrNameInUse) {
		return "", "", racingUp(cfg.Name, "container "+spec.Name+" appeared", ErrNameInUse)
	}
	if err != nil {
		return "", "", err
	}
	if err := whileAmbiguous(ctx, func() error { return eng.StartContainer(ctx, id) }); err != nil {
		// Leave nothing behind that would need this container's ports.
		eng.Remove(context.WithoutCancel(ctx), KindContainer, id)
		if errors.Is(err, ErrPortAllocated) {
			c := spec.Labels[LabelComponent]
			p, _ := PartOf(c)
			return "", "", portInUse(cfg.Bind, cfg.Part(c).Port, p.PortFlag)
		}
		return "", "", err
	}
	return id, verb, nil
}

// deliverSecrets copies a kept container's secret files in again when it
// reads them live (SecretsLive): no hash covers their content, so up
// cannot tell whether they changed. Prometheus reads its passwords and
// tokens on each scrape and push, Alertmanager its receivers' secrets at
// each notification, so a new one applies without a restart.
func deliverSecrets(ctx context.Context, eng Engine, id string, spec ContainerSpec) error {
	if !spec.SecretsLive {
		return nil
	}
	var files []ContainerFile
	for _, f := range spec.Files {
		if f.Secret {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil
	}
	// Only the folders that hold secrets: the others are the delivered
	// configuration's, which the files hash covers.
	var dirs []ContainerDir
	for _, d := range spec.Dirs {
		for _, f := range files {
			if strings.HasPrefix(f.Path, d.Path+"/") {
				dirs = append(dirs, d)
				break
			}
		}
	}
	return eng.CopyFiles(ctx, id, dirs, files)
}

// whileAmbiguous retries f for a few seconds while the network's name is
// ambiguous: another up on the same --name (from another --dir) created a
// network at the same instant, and removes it as soon as it sees ours is
// older (see settleNetwork).
func whileAmbiguous(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := f()
		if !errors.Is(err, ErrNetworkAmbiguous) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
