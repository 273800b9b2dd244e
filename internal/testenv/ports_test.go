package testenv

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

func TestFreePortIsOutsideTheEphemeralRangeAndHeld(t *testing.T) {
	lo, hi, err := ephemeralRange()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for range 50 {
		p := FreePort(t)
		if p >= lo && p <= hi {
			t.Errorf("port %d is in the ephemeral range %d-%d", p, lo, hi)
		}
		if p < firstPort || p > 65535 {
			t.Errorf("port %d is outside %d-65535", p, firstPort)
		}
		if seen[p] {
			t.Errorf("port %d given twice", p)
		}
		seen[p] = true
		// Another process opening the lock file gets a new open file
		// description, just as this does: the lock must refuse it.
		f, err := os.Open(filepath.Join(os.TempDir(), "llmmon-test-ports", strconv.Itoa(p)))
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			t.Errorf("port %d: its lock file could be locked again", p)
		}
		f.Close()
	}
}
