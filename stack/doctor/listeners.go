package doctor

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A port is taken when anything listens on it at an address that overlaps
// the one we would bind: dialling 127.0.0.1 misses a server bound to the
// Docker bridge address (172.17.0.1) or to a LAN address, and such a
// server still keeps `llmmon serve --host 0.0.0.0` or a publish on 0.0.0.0
// from binding. The kernel's socket table says it exactly.

// listener is one listening TCP socket on this machine.
type listener struct {
	ip    net.IP
	port  int
	inode string
}

// procNet is where the socket tables are read (tests point it elsewhere).
var procNet = "/proc/net"

// listeners reads the listening TCP sockets on port from the kernel's
// tables; ok is false where they cannot be read (not Linux).
func listeners(port int) (out []listener, ok bool) {
	for _, name := range []string{"tcp", "tcp6"} {
		f, err := os.Open(filepath.Join(procNet, name))
		if err != nil {
			continue
		}
		ok = true
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexIP, hexPort, found := strings.Cut(fields[1], ":")
			if !found {
				continue
			}
			p, err := strconv.ParseUint(hexPort, 16, 16)
			if err != nil || int(p) != port {
				continue
			}
			if ip := procIP(hexIP); ip != nil {
				out = append(out, listener{ip: ip, port: int(p), inode: fields[9]})
			}
		}
		f.Close()
	}
	return out, ok
}

// procIP decodes an address of /proc/net/tcp{,6}: 32-bit words, each in
// the host's (little-endian) byte order.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil
	}
	ip := make(net.IP, len(b))
	for i := 0; i < len(b); i += 4 {
		ip[i], ip[i+1], ip[i+2], ip[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip
}

// overlaps reports whether a listener on l keeps a bind to addr from
// succeeding: the same address, or either of them every address.
func overlaps(l, addr net.IP) bool {
	return l.IsUnspecified() || addr == nil || addr.IsUnspecified() || l.Equal(addr)
}

// takenBy returns the listeners on port that overlap bind ("" or an
// unspecified address: every one). ok is false when the kernel's tables
// cannot be read, and the caller must dial instead.
func takenBy(bind string, port int) (in []listener, ok bool) {
	all, ok := listeners(port)
	addr := net.ParseIP(bind)
	if bind == "" {
		addr = net.IPv4zero
	}
	for _, l := range all {
		if overlaps(l.ip, addr) {
			in = append(in, l)
		}
	}
	return in, ok
}

// where says on which address a listener is, when that is not obvious.
func where(ls []listener) string {
	if len(ls) == 0 || ls[0].ip.IsUnspecified() {
		return ""
	}
	return " on " + ls[0].ip.String()
}

// owner names the process that holds an inode's socket, e.g.
// "pid 1234 python3", from /proc; "" when unknown (another user's).
func owner(inodes map[string]bool) string {
	if len(inodes) == 0 {
		return ""
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		fds, err := os.ReadDir(filepath.Join(p, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(p, "fd", fd.Name()))
			if err == nil && strings.HasPrefix(link, "socket:[") && inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join(p, "comm"))
				return fmt.Sprintf("pid %s %s", filepath.Base(p), strings.TrimSpace(string(comm)))
			}
		}
	}
	return ""
}
