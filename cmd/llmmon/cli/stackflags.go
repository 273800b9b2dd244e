package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

// stackFlags are the settings flags shared by render, up and doctor.
// Only the flags the user set override anything (stack.Resolve).
type stackFlags struct {
	cmd                *cobra.Command
	name               string
	scrapeInterval     time.Duration
	evaluationInterval time.Duration
	llmTarget          string
	llmJob             string
	targets            []string
	bind               string
	prometheusPort     int
	grafanaPort        int
	prometheusImage    string
	grafanaImage       string
	retention          string
	retentionSize      string
	remoteWrite        []string
	externalLabels     []string
	alertmanagerPort   int
	alertmanagerImage  string
	alertWebhook       string
}

// settingFlags are the flags that set each setting, by its path in
// llmmon.yaml (stack.SettingPaths); the alerts, SLOs, receivers and
// most of the kubernetes: section have none.
var settingFlags = map[string]string{
	"name":                      "--name",
	"scrape_interval":           "--scrape-interval",
	"evaluation_interval":       "--evaluation-interval",
	"llm_server.name":           "--llm-job",
	"llm_server.address":        "--llm-target",
	"llm_server.path":           "--llm-target",
	"llm_server.addresses":      "--llm-target",
	"llm_server.scheme":         "--llm-target",
	"targets":                   "--target",
	"bind":                      "--bind",
	"prometheus.image":          "--prometheus-image",
	"prometheus.port":           "--prometheus-port",
	"grafana.image":             "--grafana-image",
	"grafana.port":              "--grafana-port",
	"prometheus.retention":      "--retention",
	"prometheus.retention_size": "--retention-size",
	"remote_write":              "--remote-write",
	"external_labels":           "--external-label",
	"alertmanager.image":        "--alertmanager-image",
	"alertmanager.port":         "--alertmanager-port",
	"alerting.webhook":          "--alert-webhook",
	// render --kubernetes' own (render_export.go).
	"kubernetes.namespace":         "--namespace",
	"kubernetes.release":           "--release",
	"kubernetes.monitor":           "--monitor",
	"kubernetes.gateway.upstreams": "--gateway-upstream",
	"kubernetes.gateway.image":     "--gateway-image",
	"kubernetes.grafana.operator":  "--grafana-operator",
}

func addStackFlags(cmd *cobra.Command) *stackFlags {
	s := &stackFlags{cmd: cmd}
	d := stack.Default()
	fl := cmd.Flags()
	fl.StringVar(&s.name, "name", "", "prefix for every Docker object, so two stacks can coexist")
	fl.DurationVar(&s.scrapeInterval, "scrape-interval", time.Duration(d.ScrapeInterval), "how often Prometheus scrapes")
	fl.DurationVar(&s.evaluationInterval, "evaluation-interval", time.Duration(d.EvaluationInterval), "how often Prometheus evaluates alert rules")
	fl.StringVar(&s.llmTarget, "llm-target", d.LLMServer.Address+d.LLMServer.Path, "the LLM server's [https://]HOST:PORT[/PATH], as Prometheus in Docker sees it; several replicas: HOST:PORT,HOST:PORT")
	fl.StringVar(&s.llmJob, "llm-job", d.LLMServer.Name, "job name of the LLM server")
	fl.StringArrayVar(&s.targets, "target", nil, "extra scrape job NAME=[https://]HOST:PORT[/PATH][,HOST:PORT...], e.g. vllm=gpu1:8000,gpu2:8000 (repeatable)")
	fl.StringVar(&s.bind, "bind", d.Bind, "host address the Prometheus, Alertmanager and Grafana ports are published on")
	fl.IntVar(&s.prometheusPort, "prometheus-port", d.Prometheus.Port, "host port for Prometheus")
	fl.IntVar(&s.grafanaPort, "grafana-port", d.Grafana.Port, "host port for Grafana")
	fl.IntVar(&s.alertmanagerPort, "alertmanager-port", d.Alertmanager.Port, "host port for Alertmanager")
	fl.StringVar(&s.prometheusImage, "prometheus-image", d.Prometheus.Image, "Prometheus image")
	fl.StringVar(&s.grafanaImage, "grafana-image", d.Grafana.Image, "Grafana image")
	fl.StringVar(&s.retention, "retention", "", "how long Prometheus keeps samples, e.g. 15d (default: Prometheus' own, 15d)")
	fl.StringVar(&s.retentionSize, "retention-size", "", "the most disk Prometheus' samples may use, e.g. 10GB (default: no limit)")
	fl.StringArrayVar(&s.remoteWrite, "remote-write", nil, "also send every sample to this Prometheus remote-write URL, e.g. http://mimir:9009/api/v1/push (repeatable; credentials go in llmmon.yaml)")
	fl.StringArrayVar(&s.externalLabels, "external-label", nil, "label NAME=VALUE on every sample sent out, e.g. cluster=eu-prod (repeatable)")
	fl.StringVar(&s.alertmanagerImage, "alertmanager-image", d.Alertmanager.Image, "Alertmanager image")
	fl.StringVar(&s.alertWebhook, "alert-webhook", "", "a webhook URL Alertmanager posts every critical and warning alert to (more receivers: alerting.receivers in llmmon.yaml)")
	return s
}

// overrides are llmmon.yaml (--config, or ./llmmon.yaml when it exists)
// and the flags the user set, for stack.Resolve to layer.
func (s *stackFlags) overrides(g *Globals) (stack.Overrides, error) {
	var o stack.Overrides
	o.File = g.ConfigPath
	if o.File == "" {
		if _, err := os.Stat("llmmon.yaml"); err == nil {
			o.File = "llmmon.yaml"
		}
	} else if _, err := os.Stat(o.File); errors.Is(err, fs.ErrNotExist) {
		return o, fmt.Errorf("settings file %s does not exist (check --config)", o.File)
	}
	fl := s.cmd.Flags()
	c := &o.Flags
	set := func(path string) { o.Set = append(o.Set, path) }
	if fl.Changed("name") {
		c.Name = s.name
		set("name")
	}
	if fl.Changed("scrape-interval") {
		c.ScrapeInterval = stack.Duration(s.scrapeInterval)
		set("scrape_interval")
	}
	if fl.Changed("evaluation-interval") {
		c.EvaluationInterval = stack.Duration(s.evaluationInterval)
		set("evaluation_interval")
	}
	if fl.Changed("llm-target") {
		t, err := stack.ParseTarget(s.llmJob + "=" + s.llmTarget)
		if err != nil {
			return o, fmt.Errorf("--llm-target: %w", err)
		}
		c.LLMServer.Address, c.LLMServer.Addresses, c.LLMServer.Path, c.LLMServer.Scheme = t.Address, t.Addresses, t.Path, t.Scheme
		set("llm_server.address")
		set("llm_server.path")
		set("llm_server.scheme")
	}
	if fl.Changed("llm-job") {
		c.LLMServer.Name = s.llmJob
		set("llm_server.name")
	}
	if fl.Changed("target") {
		for _, v := range s.targets {
			t, err := stack.ParseTarget(v)
			if err != nil {
				return o, fmt.Errorf("--target: %w", err)
			}
			c.Targets = append(c.Targets, t)
		}
		set("targets")
	}
	if fl.Changed("bind") {
		c.Bind = s.bind
		set("bind")
	}
	if fl.Changed("prometheus-port") {
		c.Prometheus.Port = s.prometheusPort
		set("prometheus.port")
	}
	if fl.Changed("grafana-port") {
		c.Grafana.Port = s.grafanaPort
		set("grafana.port")
	}
	if fl.Changed("prometheus-image") {
		c.Prometheus.Image = s.prometheusImage
		set("prometheus.image")
	}
	if fl.Changed("grafana-image") {
		c.Grafana.Image = s.grafanaImage
		set("grafana.image")
	}
	if fl.Changed("retention") {
		c.Prometheus.Retention = s.retention
		set("prometheus.retention")
	}
	if fl.Changed("retention-size") {
		c.Prometheus.RetentionSize = s.retentionSize
		set("prometheus.retention_size")
	}
	if fl.Changed("remote-write") {
		for _, u := range s.remoteWrite {
			c.RemoteWrite = append(c.RemoteWrite, stack.RemoteWrite{URL: u})
		}
		set("remote_write")
	}
	if fl.Changed("external-label") {
		labels, err := parseLabels("--external-label", s.externalLabels)
		if err != nil {
			return o, err
		}
		c.ExternalLabels = labels
		set("external_labels")
	}
	if fl.Changed("alertmanager-port") {
		c.Alertmanager.Port = s.alertmanagerPort
		set("alertmanager.port")
	}
	if fl.Changed("alertmanager-image") {
		c.Alertmanager.Image = s.alertmanagerImage
		set("alertmanager.image")
	}
	if fl.Changed("alert-webhook") {
		c.Alerting.Webhook = s.alertWebhook
		set("alerting.webhook")
	}
	return o, nil
}

// parseLabels reads NAME=VALUE flag values.
func parseLabels(flag string, vals []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range vals {
		k, val, ok := strings.Cut(v, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s %q: want NAME=VALUE, e.g. cluster=eu-prod", flag, v)
		}
		out[k] = val
	}
	return out, nil
}

// settingName words a setting as the user gave it: the flag; the key and
// line in llmmon.yaml; or where up recorded it. A default is named by its
// flag, where one sets it, since that is how to change it.
func settingName(path string, o stack.Origin) string {
	flag := settingFlags[path]
	if i := strings.IndexByte(path, '['); i >= 0 && flag == "" {
		flag = settingFlags[path[:i]]
	}
	switch o.Kind {
	case stack.FromFile:
		if o.Line > 0 {
			return fmt.Sprintf("%s (%s line %d)", path, o.File, o.Line)
		}
		return fmt.Sprintf("%s (%s)", path, o.File)
	case stack.FromRecorded:
		return fmt.Sprintf("%s (recorded in %s)", path, o.File)
	}
	if flag != "" {
		return flag
	}
	return path
}

// userSettingsError words err's invalid settings as the user gave them;
// any other error passes through.
func userSettingsError(err error) error {
	bad := stack.SettingErrors(err)
	if len(bad) == 0 {
		return err
	}
	lines := make([]string, len(bad))
	for i, e := range bad {
		names := make([]string, len(e.Paths))
		for j, p := range e.Paths {
			var o stack.Origin
			if j < len(e.Origins) {
				o = e.Origins[j]
			}
			names[j] = settingName(p, o)
		}
		lines[i] = e.Named(names...)
	}
	return fmt.Errorf("invalid settings:\n%s", strings.Join(lines, "\n"))
}
