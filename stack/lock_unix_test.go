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
