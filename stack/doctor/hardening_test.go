package doctor

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

// Several networks with the stack network's name: doctor says whose each
// is and how to clean up (it used to print Docker's "ambiguous").
func TestSharedNetworkName(t *testing.T) {
	cfg := stack.Default()
	cfg.Name = "dup"
	ours := map[string]string{stack.LabelStack: "dup"}
	for _, tc := range []struct {
		name   string
		labels []map[string]string
		want   []string
	}{
		{"two of ours", []map[string]string{ours, ours}, []string{`2 networks are named "dup-monitoring"`, "all of them llmmon's", "keeps one and removes the others"}},
		{"ours and another", []map[string]string{ours, nil}, []string{"llmmon's", "not", "docker network rm net", "(it removes its own duplicates)"}},
		{"none of ours", []map[string]string{nil, nil}, []string{"none of them llmmon's", "docker network rm net", "--name NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := enginetest.New()
			for _, l := range tc.labels {
				f.Add(stack.KindNetwork, "dup-monitoring", l)
			}
			r := runChecks(t, Options{Dir: t.TempDir(), Config: cfg, Engine: f})
			assertResult(t, r.get("Network", "monitoring network"), StatusFail, append(tc.want, "starts no container on it")...)
		})
	}
}

// The kernel's socket tables as /proc/net prints them.
func TestListenersFromProc(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "tcp"), []byte(
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
			"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 101 1 0 100 0 0 10 0\n"+
			"   1: 010011AC:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 102 1 0 100 0 0 10 0\n"+
			"   2: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 103 1 0 100 0 0 10 0\n"+
			"   3: 00000000:0BB8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 104 1 0 100 0 0 10 0\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "tcp6"), []byte(
		"  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"+
			"   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 105 1 0 100 0 0 10 0\n"), 0o644)
	old := procNet
	procNet = dir
	defer func() { procNet = old }()

	ls, ok := listeners(8080)
	if !ok || len(ls) != 2 || !ls[0].ip.Equal(net.IPv4(127, 0, 0, 1)) || !ls[1].ip.Equal(net.IPv4(172, 17, 0, 1)) || ls[1].inode != "102" {
		t.Fatalf("listeners(8080) = %+v %v (an established connection is not one)", ls, ok)
	}
	if ls, _ := listeners(8081); len(ls) != 1 || !ls[0].ip.Equal(net.IPv6loopback) {
		t.Errorf("listeners(8081) = %+v", ls)
	}
	for _, tc := range []struct {
		bind string
		port int
		want int
	}{
		{"127.0.0.1", 8080, 1},  // the loopback one only
		{"172.17.0.1", 8080, 1}, // the bridge one only
		{"0.0.0.0", 8080, 2},    // publishing on every address needs both free
		{"", 8080, 2},
		{"10.0.0.5", 8080, 0},
		{"10.0.0.5", 3000, 1}, // a listener on 0.0.0.0 takes every address
	} {
		if got, _ := takenBy(tc.bind, tc.port); len(got) != tc.want {
			t.Errorf("takenBy(%q, %d) = %+v, want %d", tc.bind, tc.port, got, tc.want)
		}
	}
}

// bridgeIP is the Docker bridge's address on this machine, where
// host.docker.internal leads.
func bridgeIP(t *testing.T) string {
	t.Helper()
	ifc, err := net.InterfaceByName("docker0")
	if err != nil {
		t.Fatalf("no docker0 bridge (%v): start dockerd, or run bash .ci/run", err)
	}
	addrs, _ := ifc.Addrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	t.Fatal("docker0 has no IPv4 address")
	return ""
}

// Servers bound to the Docker bridge address only, as Prometheus in
// Docker reaches them: doctor used to call their ports free, and the LLM
// server "not running".
func TestServersOnTheBridgeAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs dockerd's docker0 bridge")
	}
	ip := bridgeIP(t)
	llm, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	served.Store(3)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, seedExposition, served.Load())
	}))
	srv.Listener.Close()
	srv.Listener = llm
	srv.Start()
	defer srv.Close()
	other, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	llmPort, otherPort := llm.Addr().(*net.TCPAddr).Port, other.Addr().(*net.TCPAddr).Port

	closed := func() string { return closedURL(t) }
	options := func(bind string) Options {
		cfg := stack.Default()
		cfg.Bind = bind
		cfg.Prometheus.Port = otherPort
		cfg.LLMServer.Address = fmt.Sprintf("host.docker.internal:%d", llmPort)
		return Options{Dir: t.TempDir(), Config: cfg, Engine: enginetest.New(),
			PrometheusURL: closed(), GrafanaURL: closed(), MetricsURL: fmt.Sprintf("http://127.0.0.1:%d/metrics", llmPort)}
	}
	pid := fmt.Sprintf("(pid %d ", os.Getpid())

	r := runChecks(t, options("0.0.0.0"))
	assertResult(t, r.get("Ports", "llm server port"), StatusOK, fmt.Sprintf("%d is held by the LLM server %s", llmPort, pid), "on "+ip+")")
	assertResult(t, r.get("Ports", "prometheus port"), StatusFail,
		fmt.Sprintf("%d is in use by another program %s", otherPort, pid), "on "+ip+"), not by llm-prometheus", "--prometheus-port")
	assertResult(t, r.get("LLM server", "/metrics"), StatusOK, fmt.Sprintf("http://%s:%d/metrics serves the LLM metrics", ip, llmPort))
	assertResult(t, r.get("LLM server", "requests"), StatusOK, "3 requests served")
	assertResult(t, r.get("LLM server", "bind address"), StatusWarn, fmt.Sprintf("listens on %s:%d only, not on 127.0.0.1", ip, llmPort))

	served.Store(0)
	r = runChecks(t, options("0.0.0.0"))
	assertResult(t, r.get("LLM server", "requests"), StatusWarn, fmt.Sprintf("`llmmon load --url http://%s:%d/v1 --requests 20`", ip, llmPort))

	// On another loopback address Prometheus in Docker does not reach it.
	lo2, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lo2.Close()
	lo2Port := lo2.Addr().(*net.TCPAddr).Port
	o := options("127.0.0.1")
	o.Config.LLMServer.Address = fmt.Sprintf("host.docker.internal:%d", lo2Port)
	o.MetricsURL = fmt.Sprintf("http://127.0.0.1:%d/metrics", lo2Port)
	r = runChecks(t, o)
	assertResult(t, r.get("LLM server", "bind address"), StatusFail,
		fmt.Sprintf("listens on 127.0.0.2:%d only, not on 127.0.0.1", lo2Port), "(host.docker.internal → gateway "+ip+"), where nothing listens")

	// Published on 127.0.0.1 only, the prometheus port does not meet the bridge's.
	r = runChecks(t, options("127.0.0.1"))
	assertResult(t, r.get("Ports", "prometheus port"), StatusOK, fmt.Sprintf("%d is free", otherPort))
}

// llmmon's own paused container holds its ports (through docker-proxy)
// and answers nothing: doctor used to call it another container's and
// advise moving the port.
func TestPausedContainer(t *testing.T) {
	f, n, o := fakeStack(t, "paused")
	l, err := net.Listen("tcp", "127.0.0.1:0") // what docker-proxy holds for it
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	o.Config.Prometheus.Port = port
	f.Set(n.Prometheus, func(s *stack.ContainerState) {
		s.Status = "paused"
		s.Ports = []stack.PortSpec{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 9090}}
	})
	r := runChecks(t, o)
	fix := "`llmmon up --dir " + o.Dir + " --name paused` resumes it (or `docker unpause paused-llm-prometheus`)"
	assertResult(t, r.get("Ports", "prometheus port"), StatusFail, fmt.Sprintf("%d is published by paused-llm-prometheus, which is paused", port), fix)
	assertResult(t, r.get("Containers", "prometheus"), StatusFail, "paused-llm-prometheus is paused", "`docker pause` froze it", fix)
	if p := r.get("Ports", "prometheus port"); strings.Contains(p.Message+p.Fix, "another") {
		t.Errorf("called another program's: %+v", p)
	}
}
