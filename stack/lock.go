package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// up and down hold an exclusive lock on --dir while they run: two of them
// at once on one folder would both create the stack's objects (Docker
// then holds two networks with one name) and both write its files. The
// lock is flock(2) on DIR/.llmmon.lock, so the kernel releases it when
// its holder dies, and a stale lock cannot exist; the holder writes who
// it is into the file, for the one that waits.

// LockFile is the file in --dir that up and down lock. It exists only
// while one of them runs.
const LockFile = ".llmmon.lock"

// DefaultLockWait is how long up and down wait for another llmmon to
// release --dir (--lock-timeout): longer than a whole up with its
// readiness wait, shorter than forever.
const DefaultLockWait = 5 * time.Minute

// lockPoll is how often a waiting llmmon tries the lock again.
const lockPoll = 100 * time.Millisecond

// LockHolder is who holds a folder's lock, as it wrote itself into the
// lock file.
type LockHolder struct {
	PID      int       `json:"pid"`
	Command  string    `json:"command"` // e.g. "llmmon up --name staging"
	Hostname string    `json:"hostname"`
	Since    time.Time `json:"since"`
}

// String is the holder as the user reads it.
func (h LockHolder) String() string {
	if h.PID == 0 {
		return "another llmmon (it has not said who it is yet)"
	}
	cmd := h.Command
	if cmd == "" {
		cmd = "llmmon"
	}
	host := ""
	if name, _ := os.Hostname(); h.Hostname != "" && h.Hostname != name {
		host = " on " + h.Hostname
	}
	return fmt.Sprintf("`%s` (pid %d%s, since %s, %s ago)", cmd, h.PID, host,
		h.Since.Local().Format("15:04:05"), time.Since(h.Since).Round(time.Second))
}

// LockOptions say who takes a folder's lock and how long it waits.
type LockOptions struct {
	// Command is what the holder is doing, shown to whoever waits.
	Command string
	// Wait bounds the wait for another holder; zero fails at once.
	Wait time.Duration
	// Busy is called once, when the lock is held by another.
	Busy func(LockHolder)
}

// ErrLocked is a folder whose lock another llmmon holds.
var ErrLocked = errors.New("the folder is in use by another llmmon")

// LockedError says who holds a folder and what to do.
type LockedError struct {
	Dir string
	// What is what the lock guards, as the user names it; empty: Dir.
	What   string
	Holder LockHolder
	Waited time.Duration
}

func (e *LockedError) Error() string {
	waited := "--lock-timeout 0 does not wait"
	if e.Waited > 0 {
		waited = fmt.Sprintf("gave up after waiting %s (--lock-timeout)", e.Waited)
	}
	stop := ""
	if e.Holder.PID != 0 {
		stop = fmt.Sprintf(", or stop it (kill %d)", e.Holder.PID)
	}
	what := e.What
	if what == "" {
		what = e.Dir
	}
	return fmt.Sprintf("%s is in use by %s; %s: let it finish and run this again%s", what, e.Holder, waited, stop)
}

func (e *LockedError) Unwrap() error { return ErrLocked }

// DirLock is a held lock on a folder.
type DirLock struct {
	f    *os.File
	path string
	// created are the folders the lock made, innermost first.
	created []string
}

// LockDir takes dir's exclusive lock, creating dir if needed, waiting up
// to o.Wait while another llmmon holds it. Unlock releases it and leaves
// dir as it was found when nothing was written into it.
func LockDir(ctx context.Context, dir string, o LockOptions) (*DirLock, error) {
	path := filepath.Join(dir, LockFile)
	start := time.Now()
	told := false
	var created []string
	for {
		created = append(created, missingDirs(dir)...)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
		if errors.Is(err, fs.ErrNotExist) {
			continue // the last holder removed dir, empty, as it left
		}
		if err != nil {
			return nil, fmt.Errorf("open the lock of %s: %w", dir, err)
		}
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			// The last holder removes the file as it leaves: a lock on a
			// file no longer at path guards nothing, so start again.
			if same, err := samePath(f, path); err != nil || !same {
				f.Close()
				continue
			}
			l := &DirLock{f: f, path: path, created: created}
			if err := l.record(o.Command); err != nil {
				l.Unlock()
				return nil, err
			}
			return l, nil
		}
		holder := readHolder(f)
		f.Close()
		waited := time.Since(start)
		if waited >= o.Wait {
			return nil, &LockedError{Dir: dir, Holder: holder, Waited: o.Wait}
		}
		// A holder writes who it is just after it takes the lock: give it
		// a moment, so the waiting one can say who it waits for.
		if !told && o.Busy != nil && (holder.PID != 0 || waited > time.Second) {
			o.Busy(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s to release %s: %w", holder, dir, ctx.Err())
		case <-time.After(min(lockPoll, o.Wait-waited)):
		}
	}
}

// record writes who holds the lock into the lock file.
func (l *DirLock) record(command string) error {
	host, _ := os.Hostname()
	b, _ := json.Marshal(LockHolder{PID: os.Getpid(), Command: command, Hostname: host, Since: time.Now()})
	if err := l.f.Truncate(0); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	if _, err := l.f.WriteAt(append(b, '\n'), 0); err != nil {
		return fmt.Errorf("write %s: %w", l.path, err)
	}
	return nil
}

// Unlock removes the lock file and releases the lock; a folder the lock
// created is removed again when nothing else was written into it.
func (l *DirLock) Unlock() {
	if l == nil || l.f == nil {
		return
	}
	os.Remove(l.path) // while still held: a waiter then sees the file gone
	l.f.Close()
	l.f = nil
	for _, d := range l.created {
		os.Remove(d) // fails, as it should, unless empty
	}
}

// missingDirs are dir and its parents that do not exist, innermost first.
func missingDirs(dir string) []string {
	var out []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); !errors.Is(err, fs.ErrNotExist) {
			return out
		}
		out = append(out, d)
		if filepath.Dir(d) == d {
			return out
		}
	}
}

func readHolder(f *os.File) LockHolder {
	var h LockHolder
	b := make([]byte, 4096)
	n, _ := f.ReadAt(b, 0)
	json.Unmarshal(b[:n], &h)
	return h
}

// samePath reports whether f is still the file at path.
func samePath(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// StackLockDir is where up keeps one lock per stack name on this machine
// (for this user): two ups of one --name from two folders would both
// create the stack's network, and Docker does not always show one up the
// other's network in time for it to step aside.
func StackLockDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("llmmon-%d", os.Getuid()), "stacks")
}

// lockStackName takes the lock of the stack's name, after Dir's: always
// in that order, so two ups never wait for each other in a circle.
func lockStackName(ctx context.Context, o UpOptions, name string) (*DirLock, error) {
	var busy func(LockHolder)
	if o.StackBusy != nil {
		busy = func(h LockHolder) { o.StackBusy(name, h) }
	}
	l, err := LockDir(ctx, filepath.Join(o.StackLocks, name), LockOptions{Command: o.Lock.Command, Wait: o.Lock.Wait, Busy: busy})
	var locked *LockedError
	if errors.As(err, &locked) {
		locked.What = fmt.Sprintf("stack %q (from another --dir)", name)
	}
	return l, err
}
