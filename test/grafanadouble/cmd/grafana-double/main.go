// Command grafana-double is llmmon's TEST DOUBLE of Grafana's HTTP API (see
// package test/grafanadouble, two folders up). It is not Grafana.
// hack/build-test-images.sh packs it into the image
// llmmon-test/grafana-double:dev.
//
// It is configured like the real Grafana image, by environment:
//
//	GF_SERVER_HTTP_PORT        port (3000)
//	GF_SERVER_HTTP_ADDR        listen address (all interfaces)
//	GF_SECURITY_ADMIN_USER     admin user on first start (admin)
//	GF_SECURITY_ADMIN_PASSWORD admin password on first start only (admin)
//	GF_PATHS_PROVISIONING      provisioning dir (/etc/grafana/provisioning)
//	GF_PATHS_DATA              state dir (/var/lib/grafana)
//	GF_USERS_ALLOW_SIGN_UP     true|false (false)
//	GF_AUTH_ANONYMOUS_ENABLED  true|false (false)
//	GF_AUTH_ANONYMOUS_ORG_ROLE Viewer|Editor|Admin (Viewer)
//	GRAFANA_DOUBLE_TOKENS      double-only: comma-separated Bearer tokens accepted as Admin
//
// Each GF_* variable may instead be given as NAME__FILE naming a file, as
// in the Grafana image (for example GF_SECURITY_ADMIN_PASSWORD__FILE).
//
// Commands:
//
//	grafana-double [server]                         serve
//	grafana-double reset-admin-password [--password-from-stdin] NEWPASS
//	grafana cli admin reset-admin-password NEWPASS  (same, as Grafana spells it)
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/test/grafanadouble"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stderr))
}

// env reads a GF_* setting. Like the Grafana image, NAME__FILE names a file
// holding the value (for secrets).
// The file wins over NAME itself, as in the image's run.sh.
func env(key, def string) string {
	if p := os.Getenv(key + "__FILE"); p != "" {
		if b, err := os.ReadFile(p); err == nil {
			return strings.TrimRight(string(b), "\r\n")
		}
	}
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func envBool(key string) bool {
	b, _ := strconv.ParseBool(env(key, "false"))
	return b
}

func run(args []string, stdin io.Reader, stderr io.Writer) int {
	// Accept Grafana's own spellings: `grafana server`, `grafana cli admin
	// reset-admin-password X`, `grafana-cli admin reset-admin-password X`.
	for len(args) > 0 && (args[0] == "cli" || args[0] == "admin" || args[0] == "server") {
		args = args[1:]
	}
	// Skip Grafana flags such as --homepath=/usr/share/grafana.
	for len(args) > 0 && strings.HasPrefix(args[0], "--") && args[0] != "--password-from-stdin" {
		args = args[1:]
	}
	dataDir := env("GF_PATHS_DATA", "/var/lib/grafana")
	if len(args) > 0 && args[0] == "reset-admin-password" {
		return resetPassword(args[1:], dataDir, stdin, stderr)
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "grafana-double (test double): unknown command %q\n", args[0])
		return 2
	}
	var tokens []string
	for _, t := range strings.Split(os.Getenv("GRAFANA_DOUBLE_TOKENS"), ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	srv, err := grafanadouble.New(grafanadouble.Config{
		AdminUser:        env("GF_SECURITY_ADMIN_USER", "admin"),
		AdminPassword:    env("GF_SECURITY_ADMIN_PASSWORD", "admin"),
		ProvisioningDir:  env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
		DataDir:          dataDir,
		Tokens:           tokens,
		AnonymousEnabled: envBool("GF_AUTH_ANONYMOUS_ENABLED"),
		AnonymousRole:    env("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer"),
		AllowSignUp:      envBool("GF_USERS_ALLOW_SIGN_UP"),
		Log:              stderr,
	})
	if err != nil {
		fmt.Fprintf(stderr, "grafana-double (test double): refusing to start: %v\n", err)
		return 1
	}
	addr := net.JoinHostPort(os.Getenv("GF_SERVER_HTTP_ADDR"), env("GF_SERVER_HTTP_PORT", "3000"))
	hs := &http.Server{Addr: addr, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "grafana-double (test double): refusing to start: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "grafana-double (test double, not Grafana; claims version %s): HTTP server listening on %s\n", grafanadouble.Version, ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "grafana-double (test double): %v\n", err)
		return 1
	case <-ctx.Done():
	}
	fmt.Fprintln(stderr, "grafana-double (test double): shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "grafana-double (test double): shutdown: %v\n", err)
		return 1
	}
	return 0
}

func resetPassword(args []string, dataDir string, stdin io.Reader, stderr io.Writer) int {
	var pw string
	switch {
	case len(args) == 1 && args[0] == "--password-from-stdin":
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "grafana-double (test double): read password: %v\n", err)
			return 1
		}
		pw = strings.TrimRight(line, "\r\n")
	case len(args) == 1:
		pw = args[0]
	default:
		fmt.Fprintln(stderr, "usage: grafana-double reset-admin-password [--password-from-stdin] NEWPASS")
		return 2
	}
	if err := grafanadouble.ResetAdminPassword(dataDir, env("GF_SECURITY_ADMIN_USER", "admin"), pw); err != nil {
		fmt.Fprintf(stderr, "grafana-double (test double): failed to reset admin password: %v\n", err)
		return 1
	}
	fmt.Fprintln(stderr, "Admin password changed successfully ✔ (grafana test double)")
	return 0
}
