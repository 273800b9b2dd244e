package testenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// FreePort returns a TCP port that nothing listens on, that no other test
// process holds, and that stays this process's until it exits.
//
// A port from a closed ":0" listener is not enough: it lies in the kernel's
// ephemeral range, so any ":0" listener or outgoing connection, in this
// process or in the other binaries of `go test -p N`, may be handed it
// before the test binds it (CI once failed on "port ... is in use"). So the
// port comes from outside that range, where the kernel never hands ports
// out, and a lock file claims it across processes.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := claimPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

var ports struct {
	sync.Mutex
	held []*os.File // open lock files: closing one (or a finalizer) frees its port
}

const firstPort = 10000 // below: well-known services a test must not shadow

func claimPort() (int, error) {
	lo, hi, err := ephemeralRange()
	if err != nil {
		return 0, err
	}
	// Candidates are [firstPort, lo) and (hi, 65535].
	below, above := max(lo-firstPort, 0), max(65535-hi, 0)
	if below+above < 100 {
		return 0, fmt.Errorf("testenv: the kernel's ephemeral port range %d-%d leaves no ports for tests; narrow it: sysctl -w net.ipv4.ip_local_port_range='32768 60999'", lo, hi)
	}
	dir := filepath.Join(os.TempDir(), "llmmon-test-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("testenv: port locks: %w", err)
	}
	ports.Lock()
	defer ports.Unlock()
	for range 1000 {
		n := rand.IntN(below + above)
		port := firstPort + n
		if n >= below {
			port = hi + 1 + n - below
		}
		f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return 0, fmt.Errorf("testenv: port lock: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close() // another test process holds it (or this one: flock is per open file)
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				return 0, fmt.Errorf("testenv: lock port %d: %w", port, err)
			}
			continue
		}
		if !bindable(port) { // a real service, or a container we did not start
			f.Close()
			continue
		}
		ports.held = append(ports.held, f)
		return port, nil
	}
	return 0, errors.New("testenv: no free port found in 1000 tries")
}

// bindable reports whether port can be listened on, on loopback and on
// every address (containers publish on either).
func bindable(port int) bool {
	for _, host := range []string{"127.0.0.1", "0.0.0.0"} {
		l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return false
		}
		l.Close()
	}
	return true
}

func ephemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, fmt.Errorf("testenv: the kernel's ephemeral port range: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("testenv: ip_local_port_range is %q, want two numbers", b)
	}
	if lo, err = strconv.Atoi(f[0]); err == nil {
		hi, err = strconv.Atoi(f[1])
	}
	if err != nil {
		return 0, 0, fmt.Errorf("testenv: ip_local_port_range is %q: %w", b, err)
	}
	return lo, hi, nil
}
