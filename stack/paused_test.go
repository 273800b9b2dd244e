package stack_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

// docker pause keeps a container's ports (docker-proxy holds them) and
// answers nothing. up used to call them "in use by another program"; it
// resumes its own paused containers now, and status says they are paused.
func TestUpResumesPausedContainers(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	cfg := testConfig()
	mustUp(t, eng, dir, cfg)
	for _, c := range []string{"llm-prometheus", "llm-alertmanager", "llm-grafana"} {
		eng.Set(c, func(s *stack.ContainerState) { s.Status = "paused" })
	}

	r, err := stack.Status(context.Background(), eng, stack.StatusOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if r.Up {
		t.Error("a paused stack reported up")
	}
	for _, c := range r.Components {
		if c.State != "paused" || c.Health != "paused (docker pause): llmmon up resumes it" || c.Healthy {
			t.Errorf("status of %s: %+v", c.Component, c)
		}
	}

	// Every port is held, as docker-proxy holds a paused container's.
	held := func(addr string) error { return fmt.Errorf("listen tcp %s: bind: address already in use", addr) }
	eng.Calls()
	_, ev, err := up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.CheckPort = held })
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if calls, want := eng.Calls(), []string{"unpause llm-prometheus", "unpause llm-alertmanager", "unpause llm-grafana"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	for _, c := range []string{"llm-prometheus", "llm-alertmanager", "llm-grafana"} {
		if !ev.has(stack.Action{Kind: stack.KindContainer, Name: c, Verb: "resumed"}) {
			t.Errorf("no resumed %s:\n%s", c, ev)
		}
	}

	// Paused with stale files: resumed, the files copied in, restarted.
	eng.Set("llm-grafana", func(s *stack.ContainerState) { s.Status = "paused" })
	eng.Calls()
	changed := testConfig(func(c *stack.Config) { c.ScrapeInterval = stack.Duration(7e9) })
	if _, ev, err = up(t, eng, dir, changed, func(o *stack.UpOptions) { o.CheckPort = held }); err != nil {
		t.Fatalf("up with a new interval: %v", err)
	}
	if calls := strings.Join(eng.Calls(), ", "); !strings.Contains(calls, "unpause llm-grafana, copy files into llm-grafana, restart llm-grafana") {
		t.Errorf("calls %s", calls)
	}
	if !ev.has(stack.Action{Kind: stack.KindContainer, Name: "llm-grafana", Verb: "restarted (new configuration)"}) {
		t.Errorf("events:\n%s", ev)
	}
}
