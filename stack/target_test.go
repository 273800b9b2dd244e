package stack_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// target add and rm rewrite the job's targets file in the running
// Prometheus (a reload only when a job comes or goes), record the
// settings, and the next up keeps them without touching Prometheus.
func TestTargetAddRemoveLive(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	first := mustUp(t, eng, dir, testConfig())
	eng.Calls()
	ctx := context.Background()
	sdFile := func(job string) []string {
		b, _ := eng.File("llm-prometheus", "/etc/prometheus/targets/"+job+".json")
		var groups []struct {
			Targets []string          `json:"targets"`
			Labels  map[string]string `json:"labels"`
		}
		if err := json.Unmarshal(b, &groups); err != nil {
			t.Fatalf("%s targets file: %v\n%s", job, err, b)
		}
		var out []string
		for _, g := range groups {
			out = append(out, g.Targets...)
		}
		return out
	}

	res, err := stack.AddTarget(ctx, eng, stack.TargetChange{Dir: dir, Job: "llm-server", Addresses: []string{"gpu2:8000"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Reloaded || res.ContainerID != first.ContainerIDs["prometheus"] {
		t.Errorf("adding an address: %+v", res)
	}
	if got := eng.Calls(); !slices.Equal(got, []string{"copy files into llm-prometheus"}) {
		t.Errorf("calls %q: want one copy, no restart or reload", got)
	}
	if got := sdFile("llm-server"); !slices.Equal(got, []string{"host.docker.internal:8000", "gpu2:8000"}) {
		t.Errorf("targets file holds %q", got)
	}

	// A new job needs prometheus.yml: reloaded, not restarted.
	if res, err = stack.AddTarget(ctx, eng, stack.TargetChange{Dir: dir, Job: "vllm", Addresses: []string{"gpu1:8001", "gpu2:8001"},
		Labels: map[string]string{"model": "llama"}}); err != nil {
		t.Fatal(err)
	}
	if !res.Reloaded {
		t.Error("a new job did not reload prometheus.yml")
	}
	if got := eng.Calls(); !slices.Equal(got, []string{"copy files into llm-prometheus", "signal HUP llm-prometheus"}) {
		t.Errorf("calls %q", got)
	}
	if py, _ := eng.File("llm-prometheus", "/etc/prometheus/prometheus.yml"); !strings.Contains(string(py), `"targets/vllm.json"`) {
		t.Errorf("prometheus.yml lacks the new job:\n%s", py)
	}

	// The next up keeps both, and leaves Prometheus alone.
	res2, ev, err := up(t, eng, dir, stack.Config{}, func(o *stack.UpOptions) { o.Settings = stack.Overrides{} })
	if err != nil {
		t.Fatalf("%v\n%s", err, ev)
	}
	if got := res2.Config.AllTargets(); len(got) != 2 || len(got[0].Addrs()) != 2 || got[1].Labels["model"] != "llama" {
		t.Errorf("up lost the live targets: %+v", got)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("up after target add changed things: %q", calls)
	}

	// rm an address, then the whole job.
	if _, err = stack.RemoveTarget(ctx, eng, stack.TargetChange{Dir: dir, Job: "vllm", Addresses: []string{"gpu1:8001"}}); err != nil {
		t.Fatal(err)
	}
	if got := sdFile("vllm"); !slices.Equal(got, []string{"gpu2:8001"}) {
		t.Errorf("after rm: %q", got)
	}
	if res, err = stack.RemoveTarget(ctx, eng, stack.TargetChange{Dir: dir, Job: "vllm"}); err != nil || !res.Reloaded {
		t.Fatalf("rm job: %+v %v", res, err)
	}
	st, _ := stack.LoadState(dir)
	if len(st.Config.Targets) != 0 {
		t.Errorf("recorded targets after rm: %+v", st.Config.Targets)
	}

	// Refusals change nothing.
	eng.Calls()
	for _, c := range []struct {
		rm   bool
		ch   stack.TargetChange
		want string
	}{
		{true, stack.TargetChange{Dir: dir, Job: "llm-server"}, "alert rules watch"},
		{true, stack.TargetChange{Dir: dir, Job: "nope"}, `no job "nope"`},
		{true, stack.TargetChange{Dir: dir, Job: "llm-server", Addresses: []string{"gpu9:1"}}, "has no address gpu9:1"},
		{false, stack.TargetChange{Dir: dir, Job: "x", Addresses: []string{"nohost"}}, "invalid address"},
		{false, stack.TargetChange{Dir: dir, Job: "x", Addresses: []string{"a:1"}, Labels: map[string]string{"job": "y"}}, `label "job"`},
		{false, stack.TargetChange{Dir: dir, Job: "prometheus", Addresses: []string{"a:1"}}, "one of the stack's own jobs"},
		{false, stack.TargetChange{Dir: dir, Job: "alertmanager", Addresses: []string{"a:1"}}, "one of the stack's own jobs"},
	} {
		change := stack.AddTarget
		if c.rm {
			change = stack.RemoveTarget
		}
		if _, err := change(ctx, eng, c.ch); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.ch, err, c.want)
		}
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("refused changes touched the engine: %q", calls)
	}
}

func TestTargetAddNeedsRunningPrometheus(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	mustUp(t, eng, dir, testConfig())
	eng.Set("llm-prometheus", func(s *stack.ContainerState) { s.Status = "exited" })
	_, err := stack.AddTarget(context.Background(), eng, stack.TargetChange{Dir: dir, Job: "llm-server", Addresses: []string{"gpu2:8000"}})
	if err == nil || !strings.Contains(err.Error(), "llmmon up --dir") {
		t.Fatalf("got %v", err)
	}
	st, _ := stack.LoadState(dir)
	if len(st.Config.LLMServer.Addrs()) != 1 {
		t.Error("a failed add was recorded")
	}
}

// target add and rm take --dir's lock like up and down: a change made
// while an up holds the folder waits for it, or says who holds it.
func TestTargetChangeWaitsForTheDirLock(t *testing.T) {
	eng, dir := fakeEngine(), t.TempDir()
	mustUp(t, eng, dir, testConfig())
	ctx := context.Background()
	held, err := stack.LockDir(ctx, dir, stack.LockOptions{Command: "llmmon up --dir " + dir})
	if err != nil {
		t.Fatal(err)
	}
	change := stack.TargetChange{Dir: dir, Job: "llm-server", Addresses: []string{"gpu2:8000"}}
	_, err = stack.AddTarget(ctx, eng, change)
	if !errors.Is(err, stack.ErrLocked) || !strings.Contains(err.Error(), "llmmon up --dir") {
		t.Fatalf("add while up holds the folder: %v", err)
	}
	if st, _ := stack.LoadState(dir); len(st.Config.LLMServer.Addrs()) != 1 {
		t.Fatal("a refused add was recorded")
	}
	go func() { time.Sleep(200 * time.Millisecond); held.Unlock() }()
	change.Lock.Wait = 5 * time.Second
	if _, err := stack.AddTarget(ctx, eng, change); err != nil {
		t.Fatalf("add after waiting for the lock: %v", err)
	}
	if st, _ := stack.LoadState(dir); len(st.Config.LLMServer.Addrs()) != 2 {
		t.Error("the add that waited was not recorded")
	}
}
