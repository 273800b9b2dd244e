package stack

import (
	"context"
	"fmt"
	"sort"
)

// StackSummary is one stack on the engine, as `llmmon ls` shows it.
type StackSummary struct {
	Name string `json:"name"` // the --name; "default" for the stack started without one
	// Dir is the folder up ran in, from the containers' label; "" when
	// no container carries it (made by an older llmmon, or removed).
	Dir string `json:"dir"`
	// State: running, partly running, stopped, or volumes only (after
	// down without --volumes).
	State      string            `json:"state"`
	Running    int               `json:"running"`
	Containers int               `json:"containers"`
	Volumes    int               `json:"volumes"`
	URLs       map[string]string `json:"urls,omitempty"` // by component, of running containers
}

// ListStacks finds every llmmon stack on the engine by its label, like
// docker compose ls; objects without the label are never looked at.
func ListStacks(ctx context.Context, eng Engine) ([]StackSummary, error) {
	info, err := engineInfo(ctx, eng)
	if err != nil {
		return nil, err
	}
	byName := map[string]*StackSummary{}
	get := func(o Object) *StackSummary {
		n := o.Labels[LabelStack]
		if n == "" {
			return nil
		}
		s := byName[n]
		if s == nil {
			s = &StackSummary{Name: n}
			byName[n] = s
		}
		return s
	}
	cs, err := eng.List(ctx, KindContainer, nil)
	if err != nil {
		return nil, err
	}
	for _, o := range cs {
		s := get(o)
		if s == nil || o.Container == nil {
			continue
		}
		s.Containers++
		if s.Dir == "" {
			s.Dir = o.Labels[LabelDir]
		}
		if !o.Container.Running() {
			continue
		}
		s.Running++
		for _, p := range o.Container.Ports {
			if s.URLs == nil {
				s.URLs = map[string]string{}
			}
			if c := o.Labels[LabelComponent]; c != "" && s.URLs[c] == "" {
				s.URLs[c] = EndpointURL(p.HostIP, p.HostPort, info)
			}
		}
	}
	vs, err := eng.List(ctx, KindVolume, nil)
	if err != nil {
		return nil, err
	}
	for _, o := range vs {
		if s := get(o); s != nil {
			s.Volumes++
		}
	}
	out := make([]StackSummary, 0, len(byName))
	for _, s := range byName {
		switch {
		case s.Containers == 0:
			s.State = "volumes only"
		case s.Running == s.Containers:
			s.State = "running"
		case s.Running == 0:
			s.State = "stopped"
		default:
			s.State = fmt.Sprintf("partly running (%d/%d)", s.Running, s.Containers)
		}
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
