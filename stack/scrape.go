package stack

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// SecretFile is a file on this machine that Prometheus reads in its
// container (a password, a token, a CA): copied in by up, never written
// to --dir, never part of a label or docker inspect.
type SecretFile struct {
	// Path is where it goes, under --dir's layout (prometheus/secrets/...).
	Path string
	// Source is the file on this machine; Setting names it (targets[0].basic_auth.password_file).
	Source, Setting string
}

// jobSecretDir is where one job's files go in the container.
func jobSecretDir(job string) string { return prometheus.SecretsDir + "/jobs/" + job }

// scrapeJobs are the configured jobs as prometheus.yml renders them, and
// the files from this machine they need.
func scrapeJobs(c Config) ([]prometheus.Job, []SecretFile) {
	var jobs []prometheus.Job
	var secrets []SecretFile
	for i, t := range c.AllTargets() {
		at := "llm_server"
		if i > 0 {
			at = fmt.Sprintf("targets[%d]", i-1)
		}
		j := prometheus.Job{
			Name: t.Name, MetricsPath: t.MetricsPath(), Addresses: t.Addrs(), Labels: t.Labels,
			InsecureSkipVerify: t.TLS.InsecureSkipVerify,
		}
		if t.Scheme != "" && t.Scheme != "http" {
			j.Scheme = t.Scheme
		}
		dir := jobSecretDir(t.Name)
		if t.TLS.CAFile != "" {
			j.CAFile = dir + "/ca.crt"
			secrets = append(secrets, SecretFile{Path: j.CAFile, Source: t.TLS.CAFile, Setting: at + ".tls.ca_file"})
		}
		if t.BasicAuth.Username != "" {
			j.Username, j.PasswordFile = t.BasicAuth.Username, dir+"/password"
			secrets = append(secrets, SecretFile{Path: j.PasswordFile, Source: t.BasicAuth.PasswordFile, Setting: at + ".basic_auth.password_file"})
		}
		if t.BearerTokenFile != "" {
			j.BearerTokenFile = dir + "/bearer-token"
			secrets = append(secrets, SecretFile{Path: j.BearerTokenFile, Source: t.BearerTokenFile, Setting: at + ".bearer_token_file"})
		}
		jobs = append(jobs, j)
	}
	return jobs, secrets
}

// remoteWrites are the remote_write endpoints as prometheus.yml renders
// them, and the files from this machine they need.
func remoteWrites(c Config) ([]prometheus.RemoteWrite, []SecretFile) {
	var out []prometheus.RemoteWrite
	var secrets []SecretFile
	for i, rw := range c.RemoteWrite {
		at := fmt.Sprintf("remote_write[%d]", i)
		dir := prometheus.SecretsDir + "/remote_write/" + strconv.Itoa(i)
		r := prometheus.RemoteWrite{URL: rw.URL, Headers: rw.Headers}
		if rw.BasicAuth.Username != "" {
			r.Auth.Username, r.Auth.PasswordFile = rw.BasicAuth.Username, dir+"/password"
			secrets = append(secrets, SecretFile{Path: r.Auth.PasswordFile, Source: rw.BasicAuth.PasswordFile, Setting: at + ".basic_auth.password_file"})
		}
		if rw.BearerTokenFile != "" {
			r.Auth.BearerTokenFile = dir + "/bearer-token"
			secrets = append(secrets, SecretFile{Path: r.Auth.BearerTokenFile, Source: rw.BearerTokenFile, Setting: at + ".bearer_token_file"})
		}
		q := rw.QueueConfig
		add := func(k string, v int) {
			if v != 0 {
				r.Queue = append(r.Queue, prometheus.KeyValue{Key: k, Value: strconv.Itoa(v)})
			}
		}
		addD := func(k string, d Duration) {
			if d != 0 {
				r.Queue = append(r.Queue, prometheus.KeyValue{Key: k, Value: d.PromString()})
			}
		}
		add("capacity", q.Capacity)
		add("min_shards", q.MinShards)
		add("max_shards", q.MaxShards)
		add("max_samples_per_send", q.MaxSamplesPerSend)
		addD("batch_send_deadline", q.BatchSendDeadline)
		addD("min_backoff", q.MinBackoff)
		addD("max_backoff", q.MaxBackoff)
		out = append(out, r)
	}
	return out, secrets
}

// externalLabels are c's external labels, sorted by name.
func externalLabels(c Config) []prometheus.KeyValue {
	var out []prometheus.KeyValue
	for k, v := range c.ExternalLabels {
		out = append(out, prometheus.KeyValue{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// ReadSecretFiles reads the files a stack's Prometheus needs from this
// machine, as 0400 files for its container. An unreadable file is an
// error naming the setting that names it.
func ReadSecretFiles(secrets []SecretFile) ([]File, error) {
	var out []File
	for _, s := range secrets {
		b, err := os.ReadFile(s.Source)
		if err != nil {
			return nil, NewSettingError([]string{s.Setting}, "cannot read %s (named by {}): %v; give a file llmmon can read", s.Source, err)
		}
		out = append(out, File{Path: s.Path, Content: b, Mode: 0o400})
	}
	return out, nil
}

// isSecretPath reports whether a file under --dir's layout comes from
// this machine (a password, a token, a CA): its content is kept out of
// every hash, and up copies it in again on each run instead.
func isSecretPath(secrets []SecretFile, p string) bool {
	for _, s := range secrets {
		if path.Clean(s.Path) == path.Clean(p) {
			return true
		}
	}
	return false
}
