package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// DownResult lists what Down removed, in order.
type DownResult struct {
	Stack   string
	Removed []Object
}

// DownOptions select the stack down removes.
type DownOptions struct {
	// Dir is the folder up recorded the stack in; down holds its lock.
	// Empty takes no lock.
	Dir string
	// Name is the stack's --name; unless NameGiven, the one up recorded
	// in Dir (read once the lock is held, so a running up has finished).
	Name      string
	NameGiven bool
	// Volumes removes the data volumes too.
	Volumes bool
	Lock    LockOptions
}

// Down removes the stack's containers and network, found by label only,
// and its volumes too when Volumes is set. Objects without the stack's
// label are never touched, whatever their names. Running it again
// removes nothing and succeeds. On error, the result still lists what
// was removed before it.
func Down(ctx context.Context, eng Engine, o DownOptions) (DownResult, error) {
	if o.Dir != "" {
		lock, err := LockDir(ctx, o.Dir, o.Lock)
		if err != nil {
			return DownResult{Stack: NamesFor(o.Name).Stack}, err
		}
		defer lock.Unlock()
		if !o.NameGiven {
			if o.Name, err = ResolveName(o.Dir, "", false); err != nil {
				return DownResult{}, err
			}
		}
	}
	n := NamesFor(o.Name)
	res := DownResult{Stack: n.Stack}
	if _, err := engineInfo(ctx, eng); err != nil {
		return res, err
	}
	kinds := []Kind{KindContainer, KindNetwork}
	if o.Volumes {
		kinds = append(kinds, KindVolume)
	}
	var errs []error
	for _, kind := range kinds {
		objs, err := eng.List(ctx, kind, map[string]string{LabelStack: n.Stack})
		if err != nil {
			return res, err
		}
		for _, o := range objs {
			if !o.Owned(n.Stack) { // a List that ignored the filter must still not cost data
				continue
			}
			err := eng.Remove(ctx, kind, o.ID)
			switch {
			case err == nil:
				res.Removed = append(res.Removed, o)
			case errors.Is(err, ErrNotFound):
				// gone meanwhile: the goal is reached
			case kind == KindNetwork && strings.Contains(err.Error(), "active endpoints"):
				errs = append(errs, fmt.Errorf("network %s still has containers attached that llmmon did not create: disconnect them (docker network disconnect %s CONTAINER) and run llmmon down again", o.Name, o.Name))
			case kind == KindVolume && strings.Contains(err.Error(), "in use"):
				errs = append(errs, fmt.Errorf("volume %s is used by a container llmmon did not create: remove that container and run llmmon down --volumes again", o.Name))
			default:
				errs = append(errs, err)
			}
		}
	}
	return res, errors.Join(errs...)
}
