package stack_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// Several networks named like the stack's: up uses its own, by ID, and
// never touches another's.
func TestUpWithASharedNetworkName(t *testing.T) {
	ours := map[string]string{stack.LabelStack: "shared"}
	cfg := testConfig(func(c *stack.Config) { c.Name = "shared" })

	t.Run("ours and a foreign one", func(t *testing.T) {
		eng := fakeEngine()
		foreign := eng.Add(stack.KindNetwork, "shared-monitoring", nil)
		own := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		spare := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		dir := t.TempDir()
		_, _, err := up(t, eng, dir, cfg)
		want := fmt.Sprintf(`3 networks are named "shared-monitoring": %s (no llmmon label), %s (llmmon's), %s (llmmon's). `+
			"Docker starts no container on a name two networks share, and llmmon never touches a network that is not its own "+
			"(no dev.llmmon.stack=shared label): remove the other one if nothing uses it (docker network rm %s) and run llmmon up again; "+
			"llmmon removes its own duplicates itself, or pass --name", foreign[:12], own[:12], spare[:12], foreign[:12])
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
		if calls := eng.Calls(); len(calls) != 0 {
			t.Errorf("up changed things: %q", calls)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("up wrote %v", entries)
		}
	})

	t.Run("two of ours", func(t *testing.T) {
		eng := fakeEngine()
		older := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		newer := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		_, ev, err := up(t, eng, t.TempDir(), cfg)
		if err != nil {
			t.Fatalf("up: %v\n%s", err, ev)
		}
		if !ev.has(stack.Action{Kind: stack.KindNetwork, Name: "shared-monitoring (duplicate " + newer[:12] + ")", Verb: "removed"}) {
			t.Errorf("duplicate not removed:\n%s", ev)
		}
		n, err := eng.Find(context.Background(), stack.KindNetwork, "shared-monitoring")
		if err != nil || n.ID != older {
			t.Errorf("left %+v %v, want the older %s", n, err, older)
		}
	})

	t.Run("the one the containers are on wins", func(t *testing.T) {
		eng := fakeEngine()
		dir := t.TempDir()
		mustUp(t, eng, dir, cfg)
		first, _ := eng.Find(context.Background(), stack.KindNetwork, "shared-monitoring")
		// An older duplicate appears (as two ups at once left it).
		dup := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		eng.Modify(stack.KindNetwork, dup, func(o *stack.Object) { o.Created = first.Created.Add(-time.Hour) })
		eng.Calls()
		_, ev, err := up(t, eng, dir, cfg)
		if err != nil {
			t.Fatalf("up: %v\n%s", err, ev)
		}
		if calls := eng.Calls(); !slices.Equal(calls, []string{"remove network shared-monitoring"}) {
			t.Errorf("calls %q: want only the spare removed", calls)
		}
		if n, _ := eng.Find(context.Background(), stack.KindNetwork, "shared-monitoring"); n.ID != first.ID {
			t.Errorf("kept %s, want %s", n.ID, first.ID)
		}
	})

	t.Run("containers split across two of ours", func(t *testing.T) {
		eng := fakeEngine()
		dir := t.TempDir()
		mustUp(t, eng, dir, cfg)
		first, _ := eng.Find(context.Background(), stack.KindNetwork, "shared-monitoring")
		dup := eng.Add(stack.KindNetwork, "shared-monitoring", ours)
		for _, c := range []string{"shared-llm-alertmanager", "shared-llm-grafana"} {
			eng.Set(c, func(st *stack.ContainerState) {
				st.Networks["shared-monitoring"] = stack.Endpoint{NetworkID: dup}
			})
		}
		eng.Calls()
		_, ev, err := up(t, eng, dir, cfg)
		if err != nil {
			t.Fatalf("up: %v\n%s", err, ev)
		}
		// Alertmanager's network, Grafana's too, is kept (the first
		// container found); Prometheus leaves with the other network and
		// is created on theirs.
		want := []string{"remove container shared-llm-prometheus", "remove network shared-monitoring",
			"create container shared-llm-prometheus", "start shared-llm-prometheus"}
		if calls := eng.Calls(); !slices.Equal(calls, want) {
			t.Errorf("calls %q\nwant %q", calls, want)
		}
		prom, _ := eng.Find(context.Background(), stack.KindContainer, "shared-llm-prometheus")
		if got := prom.Container.Networks["shared-monitoring"].NetworkID; got != dup || first.ID == dup {
			t.Errorf("prometheus on %s, want %s", got, dup)
		}
	})

	t.Run("none of ours", func(t *testing.T) {
		eng := fakeEngine()
		a := eng.Add(stack.KindNetwork, "shared-monitoring", nil)
		b := eng.Add(stack.KindNetwork, "shared-monitoring", map[string]string{stack.LabelStack: "other"})
		_, _, err := up(t, eng, t.TempDir(), cfg)
		want := fmt.Sprintf(`2 networks are named "shared-monitoring": %s (no llmmon label), %s (llmmon stack other). `, a[:12], b[:12])
		if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "(docker network rm "+a[:12]+" "+b[:12]+")") ||
			strings.Contains(err.Error(), "removes its own") {
			t.Fatalf("err = %v", err)
		}
		if calls := eng.Calls(); len(calls) != 0 {
			t.Errorf("up changed things: %q", calls)
		}
	})
}
