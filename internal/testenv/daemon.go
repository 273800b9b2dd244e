package testenv

import (
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// HungDaemon is a Docker daemon that accepts connections and never
// answers, as a hung dockerd (or a proxy in front of a dead one) does.
// network is "unix" or "tcp"; the result is a DOCKER_HOST value. The
// listener and every connection it took are closed when the test ends.
func HungDaemon(t testing.TB, network string) string {
	t.Helper()
	var (
		l    net.Listener
		err  error
		host string
	)
	switch network {
	case "unix":
		// Short: a socket path is limited to 108 bytes.
		path := filepath.Join(shortTempDir(t), "docker.sock")
		l, err = net.Listen("unix", path)
		host = "unix://" + path
	case "tcp":
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			host = "tcp://" + l.Addr().String()
		}
	default:
		t.Fatalf("HungDaemon: unknown network %q", network)
	}
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, never read or answered
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return host
}

// Within runs f and fails the test if it has not returned after limit:
// a guard against a hang, not a speed target. It returns how long f took.
func Within(t testing.TB, limit time.Duration, what string, f func()) time.Duration {
	t.Helper()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return time.Since(start)
	case <-time.After(limit):
		t.Fatalf("%s still running after %s: it hangs", what, limit)
		return limit
	}
}

// shortTempDir is a temporary folder with a short path, for unix sockets
// (t.TempDir's path carries the test's name and may be too long).
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "llmmon-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
