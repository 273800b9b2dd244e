//go:build unix

package stack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// The holder writes who it is just after taking the lock; the one that
// waits used to say "another llmmon (it has not said who it is yet)" when
// it came in between, instead of naming the holder.
func TestLockDirWaitsForTheHolderToSayWhoItIs(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, stack.LockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintf(f, `{"pid":4242,"command":"llmmon up --name late","since":%q}`, time.Now().Format(time.RFC3339))
	}()
	var told []stack.LockHolder
	_, err = stack.LockDir(context.Background(), dir, stack.LockOptions{Wait: 800 * time.Millisecond,
		Busy: func(h stack.LockHolder) { told = append(told, h) }})
	if !errors.Is(err, stack.ErrLocked) || !strings.Contains(err.Error(), "`llmmon up --name late` (pid 4242") {
		t.Errorf("LockDir: %v", err)
	}
	if len(told) != 1 || told[0].PID != 4242 {
		t.Errorf("told %+v, want the holder once", told)
	}
}

// An up of a --name another up holds from another --dir waits for it,
// says whom it waits for, and gives up with an error naming the stack.
func TestUpWaitsForTheSameNameFromAnotherDir(t *testing.T) {
	locks := t.TempDir()
	holder, err := stack.LockDir(context.Background(), filepath.Join(locks, "llm"), stack.LockOptions{Command: "llmmon up --dir a --name llm"})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Unlock()
	eng := fakeEngine()
	var told []string
	_, _, err = up(t, eng, t.TempDir(), testConfig(func(c *stack.Config) { c.Name = "llm" }), func(o *stack.UpOptions) {
		o.StackLocks, o.Lock.Wait = locks, 300*time.Millisecond
		o.StackBusy = func(name string, h stack.LockHolder) { told = append(told, name+": "+h.Command) }
	})
	var locked *stack.LockedError
	if !errors.As(err, &locked) || !strings.HasPrefix(err.Error(), `stack "llm" (from another --dir) is in use by `+"`llmmon up --dir a --name llm`") {
		t.Fatalf("err = %v", err)
	}
	if len(told) != 1 || told[0] != "llm: llmmon up --dir a --name llm" {
		t.Errorf("told %q", told)
	}
	if calls := eng.Calls(); len(calls) != 0 {
		t.Errorf("up changed things while another held the name: %q", calls)
	}
	// Once the holder is gone, up goes ahead and leaves no lock behind.
	holder.Unlock()
	if _, _, err := up(t, eng, t.TempDir(), testConfig(func(c *stack.Config) { c.Name = "llm" }), func(o *stack.UpOptions) { o.StackLocks = locks }); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(locks); len(entries) != 0 {
		t.Errorf("left in the locks folder: %v", entries)
	}
}
