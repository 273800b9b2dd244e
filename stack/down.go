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

// Down removes the stack's containers and network, found by label only,
// and its volumes too when volumes is set. Objects without the stack's
// label are never touched, whatever their names. Running it again
// removes nothing and succeeds. On error, the result still lists what
// was removed before it.
func Down(ctx context.Context, eng Engine, name string, volumes bool) (DownResult, error) {
	n := NamesFor(name)
	res := DownResult{Stack: n.Stack}
	if _, err := engineInfo(ctx, eng); err != nil {
		return res, err
	}
	kinds := []Kind{KindContainer, KindNetwork}
	if volumes {
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
