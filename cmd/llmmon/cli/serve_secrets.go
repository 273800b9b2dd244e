package cli

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// Keys for serve: a flag shows in ps, so a file or the environment is the
// way to pass one in production. Precedence: the flag, else its -file
// flag, else the environment variable (as vLLM reads VLLM_API_KEY).
type secretFlag struct {
	flag, fileFlag, env string
}

var (
	apiKeySecret      = secretFlag{"api-key", "api-key-file", "LLMMON_API_KEY"}
	upstreamKeySecret = secretFlag{"upstream-api-key", "upstream-api-key-file", "LLMMON_UPSTREAM_API_KEY"}
)

// addSecretFileFlags registers the -file flags next to the key flags.
func addSecretFileFlags(cmd *cobra.Command, apiKeyFile, upstreamKeyFile *string) {
	fl := cmd.Flags()
	fl.StringVar(apiKeyFile, apiKeySecret.fileFlag, "", "read --api-key from this file (env LLMMON_API_KEY), so it does not show in ps")
	fl.StringVar(upstreamKeyFile, upstreamKeySecret.fileFlag, "", "gateway mode: read --upstream-api-key from this file (env LLMMON_UPSTREAM_API_KEY)")
}

// resolve fills *value from the file flag or the environment when the key
// flag was not given, and warns (on w) about a key given on the command
// line or a key file others can read.
func (s secretFlag) resolve(cmd *cobra.Command, value *string, file string, w io.Writer) error {
	fl := cmd.Flags()
	switch {
	case fl.Changed(s.flag) && fl.Changed(s.fileFlag):
		return fmt.Errorf("--%s and --%s exclude each other; pass one", s.flag, s.fileFlag)
	case fl.Changed(s.flag):
		if *value == "" {
			return fmt.Errorf("--%s is empty: give the key, or drop the flag", s.flag)
		}
		fmt.Fprintf(w, "note: --%s on the command line shows in ps and shell history; prefer --%s or %s\n", s.flag, s.fileFlag, s.env)
	case fl.Changed(s.fileFlag):
		key, err := readKeyFile(file, s.fileFlag, w)
		if err != nil {
			return err
		}
		*value = key
	default:
		*value = os.Getenv(s.env)
	}
	if strings.ContainsAny(*value, "\r\n") {
		return fmt.Errorf("the key for --%s holds a line break inside it: one key, on one line", s.flag)
	}
	return nil
}

func readKeyFile(path, flag string, w io.Writer) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	key := strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(key) == "" {
		return "", fmt.Errorf("--%s %s is empty: write the key into it", flag, path)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o044 != 0 {
		fmt.Fprintf(w, "warning: --%s %s is readable by other users (mode %04o): chmod 600 %s\n", flag, path, fi.Mode().Perm(), path)
	}
	return key, nil
}

// exposedUpstreamKey is the loud warning for a gateway that spends its
// upstream key for anyone who can reach it: no --api-key, and an address
// other machines can reach.
func exposedUpstreamKey(host string, port int, apiKey, upstreamKey string) string {
	if upstreamKey == "" || apiKey != "" || isLoopback(host) {
		return ""
	}
	return fmt.Sprintf(`WARNING: the gateway listens on %s without an API key of its own, and adds the
upstream key to every request it forwards: anyone who can reach this port spends
that key. Protect it: set --api-key-file (or LLMMON_API_KEY) so clients must
present a key, or listen on 127.0.0.1 only (--host 127.0.0.1).`, net.JoinHostPort(host, strconv.Itoa(port)))
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startURLs are the addresses a person can open for a listener on addr,
// and the one Prometheus in Docker scrapes: a wildcard address is no URL.
func startURLs(addr net.Addr) (local, fromDocker string) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return "http://" + addr.String(), ""
	}
	port := strconv.Itoa(tcp.Port)
	switch {
	case tcp.IP == nil || tcp.IP.IsUnspecified():
		return "http://" + net.JoinHostPort("127.0.0.1", port), "http://" + net.JoinHostPort("host.docker.internal", port) + "/metrics"
	case tcp.IP.IsLoopback():
		return "http://" + net.JoinHostPort(tcp.IP.String(), port), ""
	}
	return "http://" + net.JoinHostPort(tcp.IP.String(), port), "http://" + net.JoinHostPort(tcp.IP.String(), port) + "/metrics"
}

// printStart says where serve answers, in URLs a person can open, and
// whether a container can scrape it.
func printStart(w io.Writer, what string, addr net.Addr) {
	local, docker := startURLs(addr)
	fmt.Fprintf(w, "llmmon serve: %s listening on %s\n", what, addr)
	fmt.Fprintf(w, "  API      %s/v1   (metrics: %s/metrics, health: %s/health)\n", local, local, local)
	if docker != "" {
		fmt.Fprintf(w, "  scraped by Prometheus in Docker (llmmon up) at %s\n", docker)
	} else {
		fmt.Fprintf(w, "  note: a container cannot reach %s; for llmmon up, listen with --host 0.0.0.0 (and --api-key-file)\n", local)
	}
}
