package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/llmserver"
)

// doctorRun is one `llmmon doctor -o json` run.
type doctorRun struct {
	Checks   []doctor.Result `json:"checks"`
	ExitCode int             `json:"exit_code"`
	code     int             // the process exit code Main would return
	raw      string
}

func (r doctorRun) get(group, check string) doctor.Result {
	for _, c := range r.Checks {
		if c.Group == group && c.Check == check {
			return c
		}
	}
	return doctor.Result{Group: group, Check: check, Status: "missing"}
}

// problems lists every check that is not ok, for failure messages.
func (r doctorRun) problems() string {
	var b strings.Builder
	for _, c := range r.Checks {
		if c.Status != doctor.StatusOK {
			fmt.Fprintf(&b, "\n  %s %s › %s: %s", c.Status, c.Group, c.Check, c.Message)
		}
	}
	return b.String()
}

// doctorStack is one real stack (the real Docker engine, the Prometheus
// image built from Debian's binary, the Grafana test double) shared by
// the doctor scenarios, and the LLM server on the host it scrapes.
type doctorStack struct {
	t                           *testing.T
	name, dir                   string
	promPort, grafPort, llmPort int
	names                       stack.Names
	llm                         *http.Server
}

func doctorCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	streams := IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code := exitCode(streams, Run(ctx, streams, args))
	return out.String() + errOut.String(), code
}

func doctorSuffix(t *testing.T) string {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func startDoctorStack(t *testing.T) *doctorStack {
	t.Helper()
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.GrafanaDoubleImage, testenv.AlertmanagerImage)
	s := &doctorStack{t: t, name: "drt-" + doctorSuffix(t), dir: t.TempDir(),
		promPort: testenv.FreePort(t), grafPort: testenv.FreePort(t), llmPort: testenv.FreePort(t)}
	s.names = stack.NamesFor(s.name)
	t.Cleanup(s.cleanup)
	s.serve(t, "0.0.0.0")
	// Someone to notify, so a healthy stack passes every check.
	hook := startHook(t, 0)
	out, code := doctorCLI(t, "up", "--dir", s.dir, "--name", s.name,
		"--prometheus-port", strconv.Itoa(s.promPort), "--grafana-port", strconv.Itoa(s.grafPort),
		"--alertmanager-port", strconv.Itoa(testenv.FreePort(t)),
		"--alert-webhook", "http://host.docker.internal:"+strconv.Itoa(hook.port)+"/alerts",
		"--llm-target", "host.docker.internal:"+strconv.Itoa(s.llmPort),
		"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage, "--alertmanager-image", testenv.AlertmanagerImage,
		"--pull", "never", "--scrape-interval", "1s", "--wait", "90s")
	if code != 0 {
		t.Fatalf("llmmon up exited %d:\n%s", code, out)
	}
	return s
}

// cleanup removes everything the stack created, even when up or a
// scenario failed half-way: down, then anything left with our label.
func (s *doctorStack) cleanup() {
	s.stopServe()
	if out, code := doctorCLI(s.t, "down", "--dir", s.dir, "--name", s.name, "--volumes"); code != 0 {
		s.t.Logf("llmmon down: %s", out)
	}
	filter := "label=" + stack.LabelStack + "=" + s.names.Stack
	if ids, _ := testenv.DockerErr("ps", "-aq", "--filter", filter); ids != "" {
		testenv.DockerErr(append([]string{"rm", "-f", "-v"}, strings.Fields(ids)...)...)
	}
	if ids, _ := testenv.DockerErr("network", "ls", "-q", "--filter", filter); ids != "" {
		testenv.DockerErr(append([]string{"network", "rm"}, strings.Fields(ids)...)...)
	}
	if ids, _ := testenv.DockerErr("volume", "ls", "-q", "--filter", filter); ids != "" {
		testenv.DockerErr(append([]string{"volume", "rm"}, strings.Fields(ids)...)...)
	}
}

// serveHandler runs h on host:llmPort until stopServe.
func (s *doctorStack) serveHandler(t *testing.T, host string, h http.Handler) {
	t.Helper()
	s.stopServe()
	var l net.Listener
	var err error
	testenv.Eventually(t, 10*time.Second, "listen on the LLM port", func() error {
		l, err = net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.llmPort)))
		return err
	})
	s.llm = &http.Server{Handler: h}
	go s.llm.Serve(l)
}

// serve runs llmmon's own LLM server (fresh counters) on host.
func (s *doctorStack) serve(t *testing.T, host string) {
	t.Helper()
	opts := llmserver.DefaultOptions()
	opts.Host, opts.Port = host, s.llmPort
	srv, err := llmserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.serveHandler(t, host, srv.Handler())
}

func (s *doctorStack) stopServe() {
	if s.llm != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.llm.Shutdown(ctx)
		s.llm = nil
	}
}

func (s *doctorStack) doctor(t *testing.T) doctorRun {
	t.Helper()
	out, code := doctorCLI(t, "doctor", "--dir", s.dir, "-o", "json")
	var r doctorRun
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("doctor -o json: %v\n%s", err, out)
	}
	r.code, r.raw = code, out
	if r.code != r.ExitCode {
		t.Fatalf("exit code %d, but the JSON says %d", r.code, r.ExitCode)
	}
	return r
}

// waitDoctor runs doctor until cond holds (Prometheus scrapes every 1s,
// so a change on the host shows up within a few runs).
func (s *doctorStack) waitDoctor(t *testing.T, what string, cond func(doctorRun) error) doctorRun {
	t.Helper()
	var r doctorRun
	testenv.Eventually(t, 60*time.Second, what, func() error {
		r = s.doctor(t)
		if err := cond(r); err != nil {
			return fmt.Errorf("%w; not ok:%s", err, r.problems())
		}
		return nil
	})
	return r
}

func doctorStatusIs(group, check string, want doctor.Status) func(doctorRun) error {
	return func(r doctorRun) error {
		if got := r.get(group, check); got.Status != want {
			return fmt.Errorf("%s › %s is %s (%s), want %s", group, check, got.Status, got.Message, want)
		}
		return nil
	}
}

// expect asserts one check's status and that its cause and fix name the
// problem and the exact command.
func expectCheck(t *testing.T, r doctorRun, group, check string, status doctor.Status, cause, fix []string) {
	t.Helper()
	got := r.get(group, check)
	if got.Status != status {
		t.Errorf("%s › %s: status %s (%s), want %s", group, check, got.Status, got.Message, status)
		return
	}
	for _, s := range cause {
		if !strings.Contains(got.Cause, s) && !strings.Contains(got.Message, s) {
			t.Errorf("%s › %s: cause %q (message %q) lacks %q", group, check, got.Cause, got.Message, s)
		}
	}
	for _, s := range fix {
		if !strings.Contains(got.Fix, s) {
			t.Errorf("%s › %s: fix %q lacks %q", group, check, got.Fix, s)
		}
	}
}

func expectDoctorExit(t *testing.T, r doctorRun, want int) {
	t.Helper()
	if r.code != want {
		t.Errorf("exit code %d, want %d; not ok:%s", r.code, want, r.problems())
	}
}

// Every classic failure (Prometheus can't scrape, Grafana can't reach
// Prometheus, metrics don't appear), reproduced for real on
// one stack: the real Docker engine, Prometheus (Debian's binary in an
// image), the Grafana test double, and llmmon's LLM server on the host.
func TestDoctorOnRealStack(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts containers on the Docker engine")
	}
	s := startDoctorStack(t)
	port := strconv.Itoa(s.llmPort)
	llmTarget := "target llm-server"

	t.Run("no requests yet", func(t *testing.T) {
		r := s.waitDoctor(t, "every target scraped", func(r doctorRun) error {
			for _, c := range r.Checks {
				if c.Group == "Prometheus" && c.Status != doctor.StatusOK {
					return fmt.Errorf("%s: %s", c.Check, c.Message)
				}
			}
			return nil
		})
		expectCheck(t, r, "LLM server", "requests", doctor.StatusWarn,
			[]string{"no requests yet; metrics appear after requests", "llm_requests_total"},
			[]string{"llmmon load --url http://127.0.0.1:" + port + "/v1 --requests 20"})
		for _, c := range r.Checks {
			if c.Status != doctor.StatusOK && c.Check != "requests" {
				t.Errorf("%s › %s is %s: %s", c.Group, c.Check, c.Status, c.Message)
			}
		}
		expectDoctorExit(t, r, ExitWarning)
	})

	t.Run("healthy stack with serve running", func(t *testing.T) {
		// The fix printed above, run as printed.
		if out, code := doctorCLI(t, "load", "--url", "http://127.0.0.1:"+port+"/v1", "--requests", "20"); code != 0 {
			t.Fatalf("llmmon load exited %d:\n%s", code, out)
		}
		r := s.waitDoctor(t, "every check ok", func(r doctorRun) error {
			if r.code != 0 {
				return fmt.Errorf("exit code %d", r.code)
			}
			return nil
		})
		for _, c := range r.Checks {
			if c.Status != doctor.StatusOK {
				t.Errorf("%s › %s is %s: %s", c.Group, c.Check, c.Status, c.Message)
			}
		}
		if len(r.Checks) < 20 {
			t.Errorf("only %d checks ran", len(r.Checks))
		}
		expectCheck(t, r, "Network", "grafana → prometheus", doctor.StatusOK, []string{"datasource health OK"}, nil)
		expectCheck(t, r, "Rendered config", "prometheus files", doctor.StatusOK, []string{"runs the files in"}, nil)
		expectDoctorExit(t, r, ExitOK)

		// The text form: one plain OK line per check off a terminal.
		out, code := doctorCLI(t, "doctor", "--dir", s.dir)
		if code != 0 || !strings.Contains(out, "  OK   daemon: Docker Engine") || !strings.Contains(out, "SUCCESS: ") ||
			strings.ContainsAny(out, "✓✗\x1b") {
			t.Errorf("text report (exit %d):\n%s", code, out)
		}
	})

	t.Run("serve bound to 127.0.0.1", func(t *testing.T) {
		s.serve(t, "127.0.0.1")
		r := s.waitDoctor(t, "llm-server target down", doctorStatusIs("Prometheus", llmTarget, doctor.StatusFail))
		expectCheck(t, r, "LLM server", "bind address", doctor.StatusFail,
			[]string{"listens on 127.0.0.1:" + port + " only", "host.docker.internal"},
			[]string{"llmmon serve --host 0.0.0.0 --port " + port})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusFail,
			[]string{"connection refused", "bound to 127.0.0.1"},
			[]string{"llmmon serve --host 0.0.0.0 --port " + port})
		expectCheck(t, r, "LLM server", "/metrics", doctor.StatusOK, nil, nil)
		expectDoctorExit(t, r, ExitError)
	})

	t.Run("serve not running", func(t *testing.T) {
		s.stopServe()
		r := s.waitDoctor(t, "llm-server target down, not running", func(r doctorRun) error {
			if c := r.get("Prometheus", llmTarget); !strings.Contains(c.Cause, "not running") {
				return fmt.Errorf("target cause %q", c.Cause)
			}
			return nil
		})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusFail,
			[]string{"connection refused", "nothing listens on port " + port, "not running"},
			[]string{"llmmon serve --host 0.0.0.0 --port " + port})
		expectCheck(t, r, "LLM server", "/metrics", doctor.StatusFail,
			[]string{"nothing listens on 127.0.0.1:" + port, "the LLM server is not running"},
			[]string{"llmmon serve --host 0.0.0.0 --port " + port})
		expectCheck(t, r, "LLM server", "requests", doctor.StatusSkip, nil, nil)
		expectDoctorExit(t, r, ExitError)
	})

	t.Run("target on the wrong path", func(t *testing.T) {
		// Something else holds the port and has nothing at /metrics.
		s.serveHandler(t, "0.0.0.0", http.NotFoundHandler())
		r := s.waitDoctor(t, "llm-server target 404", func(r doctorRun) error {
			if c := r.get("Prometheus", llmTarget); !strings.Contains(c.Message, "404") {
				return fmt.Errorf("target: %s", c.Message)
			}
			return nil
		})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusFail,
			[]string{"server returned HTTP status 404 Not Found", "wrong metrics path"},
			[]string{"llmmon up --dir " + s.dir + " --name " + s.name + " --llm-target host.docker.internal:PORT/PATH"})
		expectCheck(t, r, "LLM server", "/metrics", doctor.StatusFail, []string{"HTTP 404", "wrong metrics path"}, []string{"--llm-target"})
		expectDoctorExit(t, r, ExitError)
	})

	t.Run("target on the wrong port, held by a foreign listener", func(t *testing.T) {
		// A web UI, not an LLM server, on the port Prometheus scrapes.
		s.serveHandler(t, "0.0.0.0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><html><body>Welcome to the admin UI</body></html>")
		}))
		r := s.waitDoctor(t, "llm-server target not metrics", func(r doctorRun) error {
			if c := r.get("Prometheus", llmTarget); !strings.Contains(c.Cause, "not with Prometheus metrics") {
				return fmt.Errorf("target: %s / %s", c.Message, c.Cause)
			}
			return nil
		})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusFail,
			[]string{"not with Prometheus metrics", "wrong port"},
			[]string{"--llm-target host.docker.internal:PORT/metrics", "curl -s http://127.0.0.1:" + port + "/metrics"})
		expectCheck(t, r, "LLM server", "/metrics", doctor.StatusFail, []string{"text/html", "wrong port"}, []string{"--llm-target host.docker.internal:PORT"})
		expectCheck(t, r, "Ports", "llm server port", doctor.StatusFail,
			[]string{"in use by another program", "not an LLM server"},
			[]string{"llmmon serve --host 0.0.0.0 --port"})
		expectDoctorExit(t, r, ExitError)
		s.serve(t, "0.0.0.0")
	})

	t.Run("grafana container stopped", func(t *testing.T) {
		testenv.Docker(t, "stop", s.names.Grafana)
		r := s.doctor(t)
		expectCheck(t, r, "Containers", "grafana", doctor.StatusFail,
			[]string{s.names.Grafana + " is exited", "it was stopped"},
			[]string{"llmmon up --dir " + s.dir + " --name " + s.name, "starts it again"})
		if d := strings.Join(r.get("Containers", "grafana").Details, "\n"); !strings.Contains(d, "last log lines (docker logs "+s.names.Grafana+")") ||
			!strings.Contains(d, "grafana-double") {
			t.Errorf("no log lines for the stopped container: %q", d)
		}
		expectCheck(t, r, "Grafana", "health", doctor.StatusFail, []string{s.names.Grafana + " is exited (see Containers)"}, []string{"llmmon up"})
		expectCheck(t, r, "Grafana", "dashboard", doctor.StatusSkip, nil, nil)
		expectDoctorExit(t, r, ExitError)
	})

	t.Run("a port held by a foreign listener", func(t *testing.T) {
		// With Grafana stopped, another program takes its port.
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.grafPort)))
		if err != nil {
			t.Fatal(err)
		}
		r := s.doctor(t)
		l.Close()
		expectCheck(t, r, "Ports", "grafana port", doctor.StatusFail,
			[]string{fmt.Sprintf("%d is in use by another program (pid %d", s.grafPort, os.Getpid()), "cannot publish " + s.names.Grafana},
			[]string{"llmmon up --dir " + s.dir + " --name " + s.name + " --grafana-port "})
		// The first free port from 10000 above (or from the one below, near the top).
		first, step := s.grafPort+10000, 1
		if first > 65535 {
			first, step = s.grafPort-1, -1
		}
		if m := regexp.MustCompile(`--grafana-port (\d+)`).FindStringSubmatch(r.get("Ports", "grafana port").Fix); m == nil {
			t.Error("the fix names no port")
		} else if p, _ := strconv.Atoi(m[1]); (p-first)*step < 0 || (p-first)*step >= 100 {
			t.Errorf("suggested --grafana-port %d, want the first free one from %d", p, first)
		}
		expectDoctorExit(t, r, ExitError)

		testenv.Docker(t, "start", s.names.Grafana)
		s.waitDoctor(t, "grafana healthy again", doctorStatusIs("Grafana", "dashboard", doctor.StatusOK))
	})

	t.Run("wrong stored grafana password", func(t *testing.T) {
		file := filepath.Join(s.dir, stack.AdminPasswordFile)
		orig, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		const other = "not-the-password-grafana-has"
		if err := os.WriteFile(file, []byte(other), 0o600); err != nil {
			t.Fatal(err)
		}
		r := s.doctor(t)
		expectCheck(t, r, "Grafana", "admin password", doctor.StatusFail,
			[]string{"refuses the admin password stored in " + file, "GF_SECURITY_ADMIN_PASSWORD applies only when Grafana first creates its database", s.names.GrafanaData},
			[]string{"docker exec " + s.names.Grafana + " grafana cli admin reset-admin-password \"$(cat " + file + ")\"", "llmmon down --volumes"})
		expectCheck(t, r, "Grafana", "datasource", doctor.StatusSkip, nil, nil)
		expectDoctorExit(t, r, ExitError)

		// The fix, as printed (the shell's $(cat FILE) expanded).
		testenv.Docker(t, "exec", s.names.Grafana, "grafana", "cli", "admin", "reset-admin-password", other)
		r = s.waitDoctor(t, "the stored password works again", doctorStatusIs("Grafana", "admin password", doctor.StatusOK))
		expectCheck(t, r, "Grafana", "datasource", doctor.StatusOK, nil, nil)
		// Leave Grafana with the password up stored, for later scenarios.
		testenv.Docker(t, "exec", s.names.Grafana, "grafana", "cli", "admin", "reset-admin-password", strings.TrimSpace(string(orig)))
		if err := os.WriteFile(file, orig, 0o600); err != nil {
			t.Fatal(err)
		}
		s.waitDoctor(t, "the restored password works", doctorStatusIs("Grafana", "admin password", doctor.StatusOK))
	})

	t.Run("host firewall drops the docker bridge", func(t *testing.T) {
		// As ufw's default deny does: drop what the stack's bridge sends
		// to the LLM server's port on the host (only this stack's subnet).
		subnet := testenv.Docker(t, "network", "inspect", "-f", "{{(index .IPAM.Config 0).Subnet}}", s.names.Network)
		drop := []string{"INPUT", "-s", subnet, "-p", "tcp", "--dport", port, "-j", "DROP"}
		accept := []string{"INPUT", "-s", subnet, "-p", "tcp", "--dport", port, "-j", "ACCEPT"}
		iptables := func(op string, rule []string) error {
			out, err := exec.Command("iptables", append([]string{op}, rule...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("iptables %s %v: %v: %s", op, rule, err, out)
			}
			return nil
		}
		if err := iptables("-I", drop); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			iptables("-D", drop)
			for iptables("-D", accept) == nil {
			}
		})
		r := s.waitDoctor(t, "llm-server target timing out", func(r doctorRun) error {
			if c := r.get("Prometheus", llmTarget); !strings.Contains(c.Message, "context deadline exceeded") {
				return fmt.Errorf("target: %s", c.Message)
			}
			return nil
		})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusFail,
			[]string{"timed out", "host firewall", "ufw"},
			[]string{"sudo ufw allow from " + subnet + " to any port " + port + " proto tcp",
				"sudo iptables -I INPUT -s " + subnet + " -p tcp --dport " + port + " -j ACCEPT"})
		expectDoctorExit(t, r, ExitError)

		// The printed iptables fix (as root, so without sudo) clears it.
		if err := iptables("-I", accept); err != nil {
			t.Fatal(err)
		}
		s.waitDoctor(t, "llm-server target up through the firewall", doctorStatusIs("Prometheus", llmTarget, doctor.StatusOK))
	})

	t.Run("docker unreachable", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix:///nonexistent.sock")
		done := make(chan doctorRun, 1)
		go func() { done <- s.doctor(t) }()
		var r doctorRun
		select {
		case r = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("doctor hung with Docker unreachable")
		}
		expectCheck(t, r, "Docker", "daemon", doctor.StatusFail,
			[]string{"cannot reach the Docker daemon via DOCKER_HOST=unix:///nonexistent.sock", "no engine answers"},
			[]string{"unset DOCKER_HOST"})
		expectCheck(t, r, "Containers", "prometheus", doctor.StatusSkip, []string{"Docker unreachable"}, nil)
		expectCheck(t, r, "Docker", "host-gateway", doctor.StatusSkip, nil, nil)
		expectDoctorExit(t, r, ExitError)
	})

	t.Run("prometheus container removed", func(t *testing.T) {
		testenv.Docker(t, "rm", "-f", s.names.Prometheus)
		r := s.waitDoctor(t, "grafana sees prometheus gone", doctorStatusIs("Network", "grafana → prometheus", doctor.StatusFail))
		expectCheck(t, r, "Containers", "prometheus", doctor.StatusFail,
			[]string{"container " + s.names.Prometheus + " does not exist", "removed after `llmmon up`"},
			[]string{"llmmon up --dir " + s.dir + " --name " + s.name})
		expectCheck(t, r, "Prometheus", "ready", doctor.StatusFail,
			[]string{"does not answer", s.names.Prometheus + " does not exist"}, []string{"llmmon up"})
		expectCheck(t, r, "Prometheus", llmTarget, doctor.StatusSkip, nil, nil)
		expectCheck(t, r, "Network", "grafana → prometheus", doctor.StatusFail, []string{s.names.Prometheus + " does not exist"}, []string{"llmmon up"})
		expectDoctorExit(t, r, ExitError)
	})
}
