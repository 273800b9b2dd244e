package stack

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Docker lets several networks share a name (two `up` at once on a new
// stack used to leave two, as CheckDuplicate is best-effort before API
// 1.44), and then refuses that name in every command, even starting a
// container on it. up keeps one of its own networks and removes its
// others; it never touches a network that is not its own, so when one
// shares the name up stops and says how to clean up.

// networkChoice is the network up keeps when several share its name.
type networkChoice struct {
	use   Object
	spare []Object // the stack's own duplicates, removed before anything starts
}

// chooseNetwork picks among the networks named like the stack's: the one
// the stack's containers are on, else the oldest.
func chooseNetwork(amb *AmbiguousError, n Names, found map[string]Object) (networkChoice, error) {
	var ch networkChoice
	var ours, others []Object
	for _, o := range amb.Objects {
		if o.Owned(n.Stack) {
			ours = append(ours, o)
		} else {
			others = append(others, o)
		}
	}
	// Oldest first, for the choice and for a message that reads the same
	// every time (the engine lists networks in no fixed order).
	for _, l := range [][]Object{ours, others} {
		sort.Slice(l, func(i, j int) bool {
			if !l[i].Created.Equal(l[j].Created) {
				return l[i].Created.Before(l[j].Created)
			}
			return l[i].ID < l[j].ID
		})
	}
	if len(others) > 0 {
		return ch, sharedNameError(amb, n, ours, others)
	}
	ch.use = ours[0]
	keys := make([]string, 0, len(found))
	for k := range found {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c := found[k]; c.Kind == KindContainer && c.Owned(n.Stack) && c.Container != nil {
			if i := indexByID(ours, c.Container.Networks[n.Network].NetworkID); i >= 0 {
				ch.use = ours[i]
				break
			}
		}
	}
	for _, o := range ours {
		if o.ID != ch.use.ID {
			ch.spare = append(ch.spare, o)
		}
	}
	return ch, nil
}

func sharedNameError(amb *AmbiguousError, n Names, ours, others []Object) error {
	var whose []string
	for _, o := range others {
		whose = append(whose, fmt.Sprintf("%s (%s)", shortID(o.ID), orNone(o.Labels[LabelStack])))
	}
	for _, o := range ours {
		whose = append(whose, fmt.Sprintf("%s (llmmon's)", shortID(o.ID)))
	}
	ownFix := ""
	if len(ours) > 0 {
		ownFix = "; llmmon removes its own duplicates itself"
	}
	return fmt.Errorf("%d networks are named %q: %s. Docker starts no container on a name two networks share, and llmmon never touches a network "+
		"that is not its own (no %s=%s label): remove the other one if nothing uses it (docker network rm %s) and run llmmon up again%s, "+
		"or pass --name to give this stack other names",
		len(amb.Objects), amb.Name, strings.Join(whose, ", "), LabelStack, n.Stack, strings.Join(ids(others), " "), ownFix)
}

func orNone(stack string) string {
	if stack == "" {
		return "no llmmon label"
	}
	return "llmmon stack " + stack
}

// settleNetwork is the network up keeps after creating created: another
// up (on another --dir, same --name) may have created one at the same
// instant, and all of them keep the oldest, so no container ever starts
// on a name two networks share. A loser removes its own, still empty.
func settleNetwork(ctx context.Context, eng Engine, n Names, created Object, act func(Action)) (Object, error) {
	_, err := eng.Find(ctx, KindNetwork, n.Network)
	var amb *AmbiguousError
	if !errors.As(err, &amb) {
		return created, nil
	}
	ch, err := chooseNetwork(amb, n, nil)
	if err != nil {
		return created, err
	}
	if ch.use.ID == created.ID {
		return created, nil
	}
	if err := eng.Remove(ctx, KindNetwork, created.ID); err != nil && !errors.Is(err, ErrNotFound) {
		return created, fmt.Errorf("remove the network %s (%s) another llmmon up created too: %w; remove it yourself (docker network rm %s) and run llmmon up again",
			n.Network, shortID(created.ID), err, created.ID)
	}
	act(Action{KindNetwork, fmt.Sprintf("%s (duplicate %s, made by another up at once)", n.Network, shortID(created.ID)), "removed"})
	return ch.use, nil
}

// removeSpares removes the stack's duplicate networks, and first the
// stack's containers on them (up creates those again, on the one it keeps).
func removeSpares(ctx context.Context, eng Engine, n Names, pre preflighted, act func(Action)) error {
	for _, spare := range pre.spareNetworks {
		for k, c := range pre.found {
			if c.Kind != KindContainer || c.Container == nil || c.Container.Networks[n.Network].NetworkID != spare.ID {
				continue
			}
			if err := eng.Remove(ctx, KindContainer, c.ID); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			delete(pre.found, k)
			act(Action{KindContainer, c.Name, "removed (on a duplicate network)"})
		}
		if err := eng.Remove(ctx, KindNetwork, spare.ID); err != nil && !errors.Is(err, ErrNotFound) {
			return fmt.Errorf("remove llmmon's duplicate network %s (%s): %w; remove it yourself (docker network rm %s) and run llmmon up again",
				n.Network, shortID(spare.ID), err, spare.ID)
		}
		act(Action{KindNetwork, fmt.Sprintf("%s (duplicate %s)", n.Network, shortID(spare.ID)), "removed"})
	}
	return nil
}

func ids(objs []Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = shortID(o.ID)
	}
	return out
}

func indexByID(objs []Object, id string) int {
	for i, o := range objs {
		if id != "" && o.ID == id {
			return i
		}
	}
	return -1
}
