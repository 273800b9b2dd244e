package cli

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/creack/pty"
)

// TestMain lets a test start this binary as llmmon itself, so the real
// Main decides from the real file descriptors what is a terminal.
func TestMain(m *testing.M) {
	if os.Getenv("LLMMON_TEST_RUN_MAIN") == "1" {
		os.Exit(Main())
	}
	os.Exit(m.Run())
}

// llmmonOn runs `llmmon args...` as a child process with the given
// environment, its stdout and stderr each on a pseudo-terminal when asked
// (else a pipe), and returns what each received.
func llmmonOn(t *testing.T, env []string, stdoutTTY, stderrTTY bool, args ...string) (stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"LLMMON_TEST_RUN_MAIN=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(),
		"DOCKER_HOST=unix:///nonexistent/docker.sock"}, env...)
	var outBuf, errBuf bytes.Buffer
	var ttys []*os.File
	var reads []chan string
	attach := func(onTTY bool) *os.File {
		if !onTTY {
			return nil
		}
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Fatalf("open a pseudo-terminal: %v", err)
		}
		t.Cleanup(func() { ptmx.Close() })
		ttys = append(ttys, tty)
		done := make(chan string, 1)
		reads = append(reads, done)
		go func() {
			b, err := io.ReadAll(ptmx)
			if err != nil && !errors.Is(err, syscall.EIO) { // EIO: the child closed its side
				t.Errorf("read the terminal: %v", err)
			}
			done <- string(b)
		}()
		return tty
	}
	if tty := attach(stdoutTTY); tty != nil {
		cmd.Stdout = tty
	} else {
		cmd.Stdout = &outBuf
	}
	if tty := attach(stderrTTY); tty != nil {
		cmd.Stderr = tty
	} else {
		cmd.Stderr = &errBuf
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, tty := range ttys {
		tty.Close() // the child holds its own copy
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("llmmon %s: %v", strings.Join(args, " "), err)
	}
	stdout, stderr = outBuf.String(), errBuf.String()
	i := 0
	if stdoutTTY {
		stdout = <-reads[i]
		i++
	}
	if stderrTTY {
		stderr = <-reads[i]
	}
	return stdout, stderr
}

// Colour, ✓/✗ marks and lines redrawn in place reach a terminal, each
// stream judged on its own, and never with NO_COLOR set or TERM=dumb.
func TestTerminalOutput(t *testing.T) {
	url, _ := openAIDouble(t, 0)
	dir := t.TempDir()
	doctor := []string{"doctor", "--dir", dir, "--timeout", "4s", "--prometheus-port", "1", "--grafana-port", "2", "--llm-target", "host.docker.internal:3"}
	load := []string{"load", "--url", url, "-n", "20", "-c", "1", "--progress-every", "1ms"}
	for _, tc := range []struct {
		name     string
		env      []string
		decorate bool
	}{
		{"terminal", []string{"TERM=xterm-256color"}, true},
		{"NO_COLOR", []string{"TERM=xterm-256color", "NO_COLOR=1"}, false},
		{"TERM=dumb", []string{"TERM=dumb"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// doctor's report on stdout: coloured marks, or plain words.
			out, _ := llmmonOn(t, tc.env, true, false, doctor...)
			if !strings.Contains(out, "daemon: cannot reach the Docker daemon") {
				t.Fatalf("doctor printed:\n%q", out)
			}
			if got := strings.Contains(out, "\x1b[31m✗\x1b[0m daemon"); got != tc.decorate {
				t.Errorf("coloured ✗ on the terminal = %v, want %v:\n%q", got, tc.decorate, out)
			}
			if !tc.decorate && (strings.ContainsAny(out, "\x1b✓✗") || !strings.Contains(out, "FAIL daemon")) {
				t.Errorf("escape codes or marks without decoration:\n%q", out)
			}
			// load's live line on stderr, its report on stdout (a pipe).
			out, errOut := llmmonOn(t, tc.env, false, true, load...)
			if !strings.Contains(out, "requests    20 sent: 20 ok") || strings.ContainsAny(out, "\x1b\r") {
				t.Errorf("report on the pipe:\n%q", out)
			}
			if got := strings.Contains(errOut, "\r\x1b[K"); got != tc.decorate {
				t.Errorf("live line on the terminal = %v, want %v:\n%q", got, tc.decorate, errOut)
			}
			if !tc.decorate && (strings.Contains(errOut, "\x1b") || !strings.Contains(errOut, "done ")) {
				t.Errorf("progress without decoration:\n%q", errOut)
			}
		})
	}
	// Only the stream that is a terminal is decorated: doctor's stdout on
	// a pipe stays plain while stderr is a terminal.
	out, _ := llmmonOn(t, []string{"TERM=xterm-256color"}, false, true, doctor...)
	if strings.ContainsAny(out, "\x1b✓✗") || !strings.Contains(out, "FAIL daemon") {
		t.Errorf("doctor on a pipe:\n%q", out)
	}
}
