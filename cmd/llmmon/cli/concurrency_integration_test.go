package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
)

// upArgs is an up of a fresh stack on the test images and free ports.
func upArgs(t *testing.T, dir, name string) []string {
	return []string{"up", "--dir", dir, "--name", name,
		"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage, "--pull", "never",
		"--alertmanager-image", testenv.AlertmanagerImage, "--alertmanager-port", strconv.Itoa(testenv.FreePort(t)),
		"--prometheus-port", strconv.Itoa(testenv.FreePort(t)), "--grafana-port", strconv.Itoa(testenv.FreePort(t)), "--wait", "90s"}
}

// networksNamed lists the IDs of every network with exactly this name.
func networksNamed(t *testing.T, name string) []string {
	var ids []string
	for _, line := range strings.Split(testenv.Docker(t, "network", "ls", "--no-trunc", "--format", "{{.ID}} {{.Name}}"), "\n") {
		if id, n, ok := strings.Cut(line, " "); ok && n == name {
			ids = append(ids, id)
		}
	}
	return ids
}

// Two ups at once on a new name used to both fail and leave two networks
// with one name, so every later up failed ("ambiguous"). Now the second
// waits for the first, saying so, and finds the stack up.
func TestConcurrentUpsOnANewName(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-race")
	removeStack(t, name)
	dir := t.TempDir()
	args := upArgs(t, dir, name)

	type result struct {
		out, errOut string
		err         error
	}
	var results [2]result
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := &results[i]
			r.out, r.errOut, r.err = run(t, args...)
		}()
	}
	close(start)
	wg.Wait()
	waited := 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("up %d: %v\n%s%s", i, r.err, r.out, r.errOut)
		}
		// The holder's flags come sorted: --alertmanager-* before --dir.
		if strings.Contains(r.errOut, dir+" is in use by `llmmon up --") && strings.Contains(r.errOut, "--dir "+dir+" ") && strings.Contains(r.errOut, "--name "+name+" ") {
			waited++
			if !strings.Contains(r.out, "is up to date and ready") {
				t.Errorf("the up that waited did not find the stack up:\n%s", r.out)
			}
		}
	}
	if waited != 1 {
		t.Errorf("%d ups said they waited for the other, want 1:\n%+v", waited, results)
	}
	if ids := networksNamed(t, name+"-monitoring"); len(ids) != 1 {
		t.Errorf("networks named %s-monitoring: %v", name, ids)
	}
	out, errOut, err := run(t, args...)
	if err != nil || !strings.Contains(out, "is up to date and ready") {
		t.Errorf("a later up: %v\n%s%s", err, out, errOut)
	}
}

// Two ups at once on one new --name from two folders, which the lock on
// --dir does not serialise: both used to create a network, and Docker did
// not always show either the other's in time, so both failed and left two
// ("ambiguous"). Now the name's lock on this machine makes one wait for
// the other, saying so; it then meets a stack whose Grafana holds the
// other folder's password, and says that.
func TestConcurrentUpsFromTwoDirs(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-race2")
	removeStack(t, name)
	args := upArgs(t, t.TempDir(), name)
	dirs := [2]string{args[2], t.TempDir()}

	var outs, errs [2]string
	var upErrs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := append([]string(nil), args...)
			a[2] = dirs[i]
			<-start
			outs[i], errs[i], upErrs[i] = run(t, a...)
		}()
	}
	close(start)
	wg.Wait()
	ok, waited := 0, 0
	for i, err := range upErrs {
		if strings.Contains(errs[i], fmt.Sprintf("stack %q is in use from another --dir by `llmmon up --", name)) {
			waited++
		}
		switch {
		case err == nil:
			ok++
		case !strings.Contains(err.Error(), "grafana rejected the stored admin password"):
			t.Errorf("up %d failed without saying why: %v\n%s%s", i, err, outs[i], errs[i])
		}
	}
	t.Logf("the ups ended with: %v", upErrs)
	if ok == 0 {
		t.Errorf("no up succeeded:\n%v\n%s\n%s", upErrs, outs, errs)
	}
	if waited != 1 {
		t.Errorf("%d ups said they waited for the other, want 1:\n%s\n%s", waited, outs, errs)
	}
	if ids := networksNamed(t, name+"-monitoring"); len(ids) != 1 {
		t.Errorf("networks named %s-monitoring: %v\n%s\n%s", name, ids, outs, errs)
	}
}

// Networks that share the stack network's name, as two ups at once left
// them. Two of llmmon's own: up keeps the oldest and removes the other.
// One that is not llmmon's (made with the docker CLI): up changes nothing
// and says exactly what to remove; once it is gone up works, and down
// leaves alone whatever is not llmmon's.
func TestSharedNetworkNameOnRealEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs the Docker engine and the test images")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	name := randomName(t, "itest-dup")
	netName := name + "-monitoring"
	foreign := testenv.Docker(t, "network", "create", "--label", testenv.TestLabel+"=1", netName)
	removeStack(t, name, "network:"+foreign)
	// The docker CLI refuses a second network with a name; the API does not.
	own := testenv.CreateNetwork(t, netName, map[string]string{stack.LabelStack: name})
	spare := testenv.CreateNetwork(t, netName, map[string]string{stack.LabelStack: name})
	dir := t.TempDir()
	args := upArgs(t, dir, name)

	_, _, err := run(t, args...)
	want := fmt.Sprintf(`3 networks are named %q: %s (no llmmon label), %s (llmmon's), %s (llmmon's). Docker starts no container on a name two networks share, `+
		"and llmmon never touches a network that is not its own (no dev.llmmon.stack=%s label): remove the other one if nothing uses it (docker network rm %s) "+
		"and run llmmon up again; llmmon removes its own duplicates itself, or pass --name", netName, foreign[:12], own[:12], spare[:12], name, foreign[:12])
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("up beside a foreign network: %v\nwant %s", err, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refused up wrote %v", entries)
	}
	if ids := networksNamed(t, netName); len(ids) != 3 {
		t.Fatalf("the refused up changed the networks: %v", ids)
	}

	testenv.Docker(t, "network", "rm", foreign[:12]) // what the error said
	out, errOut, err := run(t, args...)
	if err != nil {
		t.Fatalf("up: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"removed   network " + netName + " (duplicate " + spare[:12] + ")", "is ready"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}
	names := stack.NamesFor(name)
	for _, c := range []string{names.Prometheus, names.Grafana} {
		got := testenv.Docker(t, "inspect", "-f", `{{(index .NetworkSettings.Networks "`+netName+`").NetworkID}}`, c)
		if got != own {
			t.Errorf("%s is on network %s, want the oldest of llmmon's, %s", c, got, own)
		}
	}
	if ids := networksNamed(t, netName); len(ids) != 1 || ids[0] != own {
		t.Errorf("networks named %s: %v, want only %s", netName, ids, own)
	}
	out, errOut, err = run(t, args...)
	if err != nil || !strings.Contains(out, "is up to date and ready") {
		t.Errorf("second up: %v\n%s%s", err, out, errOut)
	}
	if out, _, err := run(t, "status", "--dir", dir); err != nil || !strings.Contains(out, "datasource   llmmon-prometheus: ok") {
		t.Errorf("status: %v\n%s", err, out)
	}

	// A look-alike that appears later is left alone by down.
	foreign = testenv.CreateNetwork(t, netName, nil)
	removeStack(t, name, "network:"+foreign)
	out, _, err = run(t, "down", "--dir", dir)
	if err != nil || !strings.Contains(out, "removed network "+netName) {
		t.Errorf("down: %v\n%s", err, out)
	}
	if ids := networksNamed(t, netName); len(ids) != 1 || ids[0] != foreign {
		t.Errorf("after down, networks named %s: %v, want only the foreign %s", netName, ids, foreign)
	}
}
