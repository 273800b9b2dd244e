package stack

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/llmmon/llmmon/stack/prometheus"
)

// SettingError is one invalid setting (or two that clash), named by its
// path as llmmon.yaml spells it: grafana.port, targets[1].address. The
// CLI words it as the user gave the setting (Named): a flag, a key of
// llmmon.yaml, or what up recorded.
type SettingError struct {
	// Paths are the settings at fault, in the order the message names them.
	Paths []string
	// Origins say where each came from; set by Settings.Validate, empty
	// from Config.Validate.
	Origins []Origin
	text    string // with settingMark where each setting's name goes
}

// settingMark stands in the message for a setting's name until Named.
const settingMark = "\x00setting\x00"

// NewSettingError is an invalid setting found outside Config.Validate
// (render --kubernetes checks its own section): format says what is wrong,
// with {} where each setting of paths is named.
func NewSettingError(paths []string, format string, a ...any) *SettingError {
	format = strings.ReplaceAll(format, "{}", settingMark)
	return &SettingError{Paths: paths, text: fmt.Sprintf(format, a...)}
}

func (e *SettingError) Error() string { return e.Named(e.Paths...) }

// Named is the message with each setting called by the given names, in
// the order of Paths.
func (e *SettingError) Named(names ...string) string {
	s := e.text
	for _, n := range names {
		s = strings.Replace(s, settingMark, n, 1)
	}
	return s
}

// Validate reports every problem at once, each a *SettingError naming the
// settings to fix.
func (c Config) Validate() error {
	var errs []error
	// add takes a format where {} stands for each setting in paths.
	add := func(paths []string, format string, a ...any) {
		errs = append(errs, NewSettingError(paths, format, a...))
	}
	one := func(p string) []string { return []string{p} }

	switch {
	case c.Name == DefaultStackName:
		// The label of the stack started without --name.
		add(one("name"), "{} %q is reserved for the stack started without --name: choose another name", c.Name)
	case c.Name != "" && !stackNameRE.MatchString(c.Name):
		add(one("name"), "invalid stack name %q for {}: use lower-case letters, digits, '-', '_' or '.'", c.Name)
	}
	if c.ScrapeInterval <= 0 {
		add(one("scrape_interval"), "the scrape interval must be positive ({} is %s)", c.ScrapeInterval)
	}
	if c.EvaluationInterval <= 0 {
		add(one("evaluation_interval"), "the evaluation interval must be positive ({} is %s)", c.EvaluationInterval)
	}
	firstJob := map[string]string{} // job name → the setting that named it first
	for i, t := range c.AllTargets() {
		at := "llm_server"
		if i > 0 {
			at = fmt.Sprintf("targets[%d]", i-1)
		}
		switch first, dup := firstJob[t.Name]; {
		case !utf8.ValidString(t.Name) || !jobNameRE.MatchString(t.Name):
			add(one(at+".name"), "invalid job name %q: it must be a valid Prometheus label value made of letters, digits, '_', '.', ':' or '-' ({})", t.Name)
		case t.Name == prometheus.SelfJob || t.Name == AlertmanagerJob:
			add(one(at+".name"), "duplicate job name %q: it is one of the stack's own jobs ({} must be another name)", t.Name)
		case dup:
			add([]string{first, at + ".name"}, "duplicate job name %q: each job needs its own name ({} and {})", t.Name)
		default:
			firstJob[t.Name] = at + ".name"
		}
		validateTarget(t, at, add)
		if t.Path != "" && !strings.HasPrefix(t.Path, "/") {
			add(one(at+".path"), "target %q: metrics path %q must start with / ({})", t.Name, t.Path)
		}
	}
	validateStorage(c, add)
	firstPort := map[int]string{} // host port → the setting that took it first
	for _, p := range c.Parts() {
		path := p.Component + ".port"
		port := c.Part(p.Component).Port
		if port < 1 || port > 65535 {
			add(one(path), "invalid port %d for {}: must be 1-65535", port)
			continue
		}
		if first, dup := firstPort[port]; dup {
			add([]string{first, path}, "{} and {} are both %d: they must differ", port)
			continue
		}
		firstPort[port] = path
	}
	if net.ParseIP(c.Bind) == nil {
		add(one("bind"), "invalid address %q for {}: want an IP such as 127.0.0.1 or 0.0.0.0", c.Bind)
	}
	for _, p := range c.Parts() {
		if c.Part(p.Component).Image == "" {
			add(one(p.Component+".image"), "{} must not be empty")
		}
	}
	a := c.Alerts
	for _, th := range []struct {
		path string
		v    float64
	}{{"alerts.p95_latency_seconds", a.P95LatencySeconds}, {"alerts.ttft_p95_seconds", a.TTFTP95Seconds}} {
		if th.v <= 0 {
			add(one(th.path), "{} is %g: alert latency thresholds must be positive", th.v)
		}
	}
	if a.ErrorRatio <= 0 || a.ErrorRatio >= 1 {
		add(one("alerts.error_ratio"), "{} is %g: alert ratios must be between 0 and 1", a.ErrorRatio)
	}
	if a.KVCacheRatio <= 0 || a.KVCacheRatio > 1 {
		add(one("alerts.kv_cache_ratio"), "{} is %g: alert ratios must be between 0 and 1", a.KVCacheRatio)
	}
	if a.QueueBacklog < 1 {
		add(one("alerts.queue_backlog"), "{} is %d: the queue backlog threshold must be at least 1", a.QueueBacklog)
	}
	if a.MinRequests < 1 {
		add(one("alerts.min_requests"), "{} is %d: a ratio alert needs at least 1 request in its window", a.MinRequests)
	}
	if a.Window < Duration(time.Second) || time.Duration(a.Window)%time.Second != 0 {
		add(one("alerts.window"), "{} is %s: the rate window must be whole seconds, at least 1s", a.Window)
	} else if a.Window < 2*c.ScrapeInterval {
		add([]string{"alerts.window", "scrape_interval"}, "{} (%s) must be at least twice {} (%s): a rate needs two samples in its window", a.Window, c.ScrapeInterval)
	}
	if a.For < 0 {
		add(one("alerts.for"), "{} is %s: it must not be negative", a.For)
	}
	if u, err := url.Parse(a.RunbookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
		add(one("alerts.runbook_url"), "invalid URL %q for {}: want the runbook's http(s) address without #section (each rule adds its own)", a.RunbookURL)
	}
	c.SLO.validate(add)
	c.Alerting.validate(add)
	return errors.Join(errs...)
}

var jobNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)
var stackNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

func validateHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return fmt.Errorf("invalid address %q: want HOST:PORT, e.g. host.docker.internal:8000", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid port %q in %q: must be 1-65535", port, addr)
	}
	return nil
}

// SettingErrors are the *SettingError values err holds (errors.Join'ed).
func SettingErrors(err error) []*SettingError {
	var out []*SettingError
	var walk func(error)
	walk = func(err error) {
		var se *SettingError
		switch e := err.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, x := range e.Unwrap() {
				walk(x)
			}
		default:
			if errors.As(err, &se) {
				out = append(out, se)
			}
		}
	}
	walk(err)
	return out
}
