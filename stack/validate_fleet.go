package stack

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// Checks of the fleet settings: a job's addresses, scheme and
// credentials, remote_write, external labels and retention. add is
// Validate's (paths, format with {} per setting).
type addFunc func(paths []string, format string, a ...any)

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// validateTarget checks one job, at its path (llm_server, targets[0]).
func validateTarget(t Target, at string, add addFunc) {
	one := func(p string) []string { return []string{at + "." + p} }
	switch {
	case t.Address != "" && len(t.Addresses) > 0:
		add([]string{at + ".address", at + ".addresses"}, "target %q sets both {} and {}: give its addresses in one of them", t.Name)
	case len(t.Addrs()) == 0:
		add(one("addresses"), "target %q has no address ({}): give at least one HOST:PORT", t.Name)
	}
	addrPath := at + ".address"
	if len(t.Addresses) > 0 {
		addrPath = at + ".addresses"
	}
	seen := map[string]bool{}
	for _, a := range t.Addrs() {
		if err := validateHostPort(a); err != nil {
			add([]string{addrPath}, "target %q: %v ({})", t.Name, err)
		} else if seen[a] {
			add([]string{addrPath}, "target %q lists %s twice ({})", t.Name, a)
		}
		seen[a] = true
	}
	if t.Scheme != "" && t.Scheme != "http" && t.Scheme != "https" {
		add(one("scheme"), "target %q: scheme %q ({}) must be http or https", t.Name, t.Scheme)
	}
	if t.TLS != (TLS{}) && t.Scheme != "https" {
		add(one("tls"), "target %q: {} applies to https only: set scheme: https or remove tls", t.Name)
	}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") || k == "job" || k == "instance" {
			add(one("labels"), "target %q: label %q ({}) must be a Prometheus label name (letters, digits, '_'), not job, instance or __*", t.Name, k)
		}
	}
	validateAuth(t.BasicAuth, t.BearerTokenFile, at, fmt.Sprintf("target %q", t.Name), add)
}

// validateAuth checks basic_auth and bearer_token_file at a path.
func validateAuth(b BasicAuth, token, at, what string, add addFunc) {
	switch {
	case b.Username != "" && b.PasswordFile == "":
		add([]string{at + ".basic_auth.password_file"}, "%s: basic_auth needs {}: a file holding the password (never the password itself)", what)
	case b.Username == "" && b.PasswordFile != "":
		add([]string{at + ".basic_auth.username"}, "%s: basic_auth needs {}", what)
	}
	if b != (BasicAuth{}) && token != "" {
		add([]string{at + ".basic_auth", at + ".bearer_token_file"}, "%s sets both {} and {}: choose one", what)
	}
}

// reservedHeaders are the headers Prometheus refuses in remote_write.
var reservedHeaders = []string{"Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type",
	"User-Agent", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Www-Authenticate",
	"Accept-Encoding", "X-Prometheus-Remote-Write-Version", "X-Prometheus-Remote-Read-Version"}

var retentionSizeRE = regexp.MustCompile(`^[0-9]+(B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)$`)

// validateStorage checks retention, remote_write and external labels.
func validateStorage(c Config, add addFunc) {
	one := func(p string) []string { return []string{p} }
	if r := c.Prometheus.Retention; r != "" {
		if d, err := model.ParseDuration(r); err != nil || d <= 0 {
			add(one("prometheus.retention"), "invalid retention %q for {}: use Prometheus' syntax such as 15d, 12h or 1y", r)
		}
	}
	if s := c.Prometheus.RetentionSize; s != "" && !retentionSizeRE.MatchString(s) {
		add(one("prometheus.retention_size"), "invalid size %q for {}: use a number and a unit such as 512MB, 10GB or 1TB", s)
	}
	for i, rw := range c.RemoteWrite {
		at := fmt.Sprintf("remote_write[%d]", i)
		u, err := url.Parse(rw.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(one(at+".url"), "invalid URL %q for {}: want http(s)://HOST[:PORT]/PATH, e.g. http://mimir:9009/api/v1/push", rw.URL)
		} else if u.User != nil {
			add(one(at+".url"), "{} holds a password: move it to basic_auth.password_file, a file only Prometheus' container reads")
		}
		validateAuth(rw.BasicAuth, rw.BearerTokenFile, at, "remote_write "+rw.URL, add)
		for _, h := range slices.Sorted(maps.Keys(rw.Headers)) {
			if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(h)) {
				add(one(at+".headers"), "{}: Prometheus sets header %q itself; use basic_auth or bearer_token_file for credentials", h)
			}
		}
		q := rw.QueueConfig
		if q.Capacity < 0 || q.MinShards < 0 || q.MaxShards < 0 || q.MaxSamplesPerSend < 0 || q.BatchSendDeadline < 0 || q.MinBackoff < 0 || q.MaxBackoff < 0 {
			add(one(at+".queue_config"), "{} values must not be negative")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.ExternalLabels)) {
		v := c.ExternalLabels[k]
		if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") {
			add(one("external_labels"), "external label %q ({}) must be a Prometheus label name (letters, digits, '_')", k)
		}
		if v == "" {
			add(one("external_labels"), "external label %q ({}) is empty: give it a value such as the cluster's name", k)
		}
	}
}
