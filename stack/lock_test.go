package stack_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

func TestLockDirSaysWhoHoldsIt(t *testing.T) {
	dir := t.TempDir()
	held, err := stack.LockDir(context.Background(), dir, stack.LockOptions{Command: "llmmon up --name a"})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	_, err = stack.LockDir(context.Background(), dir, stack.LockOptions{Command: "llmmon down"})
	var le *stack.LockedError
	if !errors.Is(err, stack.ErrLocked) || !errors.As(err, &le) {
		t.Fatalf("err = %v", err)
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Command != "llmmon up --name a" || time.Since(le.Holder.Since) > time.Minute {
		t.Errorf("holder %+v", le.Holder)
	}
	want := fmt.Sprintf("%s is in use by `llmmon up --name a` (pid %d, since ", dir, os.Getpid())
	if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, "--lock-timeout 0 does not wait: let it finish and run this again, or stop it (kill ") {
		t.Errorf("err = %s\nwant it to start with %s", msg, want)
	}

	// A bounded wait gives up, saying so.
	_, err = stack.LockDir(context.Background(), dir, stack.LockOptions{Wait: 300 * time.Millisecond})
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "gave up after waiting 300ms (--lock-timeout)") {
		t.Errorf("err = %v", err)
	}
	// So does a cancelled one.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := stack.LockDir(ctx, dir, stack.LockOptions{Wait: time.Hour}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled wait: %v", err)
	}
}

func TestLockDirWaitsForTheHolder(t *testing.T) {
	dir := t.TempDir()
	first, err := stack.LockDir(context.Background(), dir, stack.LockOptions{Command: "llmmon up"})
	if err != nil {
		t.Fatal(err)
	}
	busy := make(chan stack.LockHolder, 1)
	got := make(chan error, 1)
	go func() {
		second, err := stack.LockDir(context.Background(), dir, stack.LockOptions{Command: "llmmon down", Wait: time.Minute,
			Busy: func(h stack.LockHolder) { busy <- h }})
		if err == nil {
			// the first is gone: the second holds the folder now
			_, err = stack.LockDir(context.Background(), dir, stack.LockOptions{})
			if !errors.Is(err, stack.ErrLocked) {
				err = fmt.Errorf("the second lock is not exclusive: %v", err)
			} else {
				err = nil
			}
			second.Unlock()
		}
		got <- err
	}()
	select {
	case h := <-busy:
		if h.Command != "llmmon up" || h.PID != os.Getpid() {
			t.Errorf("busy with %+v", h)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiter was never told who holds the folder")
	}
	first.Unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, stack.LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left behind: %v", err)
	}
}

// Many takers at once, each releasing at once: never two holders.
func TestLockDirExclusiveUnderContention(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	holders, most := 0, 0
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				l, err := stack.LockDir(context.Background(), dir, stack.LockOptions{Wait: time.Minute})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				holders++
				most = max(most, holders)
				mu.Unlock()
				time.Sleep(time.Millisecond)
				mu.Lock()
				holders--
				mu.Unlock()
				l.Unlock()
			}
		}()
	}
	wg.Wait()
	if most != 1 {
		t.Fatalf("%d holders at once", most)
	}
}

// A folder the lock had to create is gone again when nothing was written.
func TestLockDirLeavesTheFolderAsFound(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	l, err := stack.LockDir(context.Background(), dir, stack.LockOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// lockstep blocks the first CreateNetwork until the test lets it go, so
// a second up can be caught at the lock (or, without one, at the engine).
type lockstep struct {
	*enginetest.Fake
	once    sync.Once
	reached chan struct{}
	release chan struct{}
}

func (l *lockstep) CreateNetwork(ctx context.Context, spec stack.NetworkSpec) (stack.Object, error) {
	first := false
	l.once.Do(func() { first = true })
	if first {
		close(l.reached)
		<-l.release
	} else {
		close(l.release) // a second up got this far while the first was creating: no lock
	}
	return l.Fake.CreateNetwork(ctx, spec)
}

// Two ups at once on one --dir and a new name: the second waits for the
// first, then finds the stack up to date.
func TestConcurrentUpsOnOneDir(t *testing.T) {
	eng := &lockstep{Fake: fakeEngine(), reached: make(chan struct{}), release: make(chan struct{})}
	dir := t.TempDir()
	cfg := testConfig(func(c *stack.Config) { c.Name = "race" })
	errs := make(chan error, 2)
	go func() {
		_, _, err := up(t, eng, dir, cfg, func(o *stack.UpOptions) { o.Lock = stack.LockOptions{Command: "first", Wait: time.Minute} })
		errs <- err
	}()
	<-eng.reached
	var second *events
	go func() {
		var err error
		_, second, err = up(t, eng, dir, cfg, func(o *stack.UpOptions) {
			o.Lock = stack.LockOptions{Command: "second", Wait: time.Minute, Busy: func(stack.LockHolder) { close(eng.release) }}
		})
		errs <- err
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("up: %v", err)
		}
	}
	if nets := eng.Names(stack.KindNetwork); len(nets) != 1 {
		t.Errorf("networks %v", nets)
	}
	if second != nil && !second.has(stack.Action{Kind: stack.KindNetwork, Name: "race-monitoring", Verb: "unchanged"}) {
		t.Errorf("the second up did not find the first's stack:\n%s", second)
	}
}
