package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

func TestLockTimeoutOptions(t *testing.T) {
	dir := t.TempDir()
	o, err := capture(t, newUpCmd, "up", "--dir", dir, "--name", "s1", "--no-dashboard", "--target", "a=h:1", "--target", "b=h:2")
	if err != nil || o.LockWait != stack.DefaultLockWait {
		t.Fatalf("up defaults: %+v %v", o, err)
	}
	if want := "llmmon up --dir " + dir + " --name s1 --no-dashboard --target a=h:1,b=h:2"; o.Command != want {
		t.Errorf("command %q, want %q", o.Command, want)
	}
	d, err := capture(t, newDownCmd, "down", "--lock-timeout", "0")
	if err != nil || d.LockWait != 0 || d.Command != "llmmon down --lock-timeout 0s" {
		t.Errorf("down: %+v %v", d, err)
	}
	for _, build := range []string{"up", "down"} {
		var err error
		if build == "up" {
			_, err = capture(t, newUpCmd, "up", "--lock-timeout", "-1s")
		} else {
			_, err = capture(t, newDownCmd, "down", "--lock-timeout", "-1s")
		}
		if err == nil || !strings.Contains(err.Error(), "invalid --lock-timeout -1s") {
			t.Errorf("%s: %v", build, err)
		}
	}
}

// What the user sees when another llmmon works on --dir.
func TestLockBusyOutput(t *testing.T) {
	dir := t.TempDir()
	held, err := stack.LockDir(context.Background(), dir, stack.LockOptions{Command: "llmmon up --name other"})
	if err != nil {
		t.Fatal(err)
	}
	eng := enginetest.New()
	holder := fmt.Sprintf("%s is in use by `llmmon up --name other` (pid %d, since ", dir, os.Getpid())

	_, _, err = runFake(t, eng, "up", "--dir", dir, "--lock-timeout", "0")
	if err == nil || !strings.HasPrefix(err.Error(), holder) || !strings.Contains(err.Error(), "--lock-timeout 0 does not wait") {
		t.Errorf("up: %v\nwant it to start with %s", err, holder)
	}
	_, errOut, err := runFake(t, eng, "down", "--dir", dir, "--lock-timeout", "300ms")
	if !strings.HasPrefix(errOut, holder) || !strings.Contains(errOut, "waiting up to 300ms for it (--lock-timeout)") {
		t.Errorf("down's stderr: %q", errOut)
	}
	if err == nil || !strings.Contains(err.Error(), "gave up after waiting 300ms (--lock-timeout): let it finish and run this again, or stop it (kill ") {
		t.Errorf("down: %v", err)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("the engine was used without the lock: %q", calls)
	}

	// Released while waiting: down goes on.
	time.AfterFunc(300*time.Millisecond, held.Unlock)
	out, _, err := runFake(t, eng, "down", "--dir", dir, "--lock-timeout", "1m")
	if err != nil || !strings.Contains(out, "nothing to remove") {
		t.Errorf("down after the release: %v\n%s", err, out)
	}
}
