package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
)

// stackFlags are the settings flags shared by render and up. Only flags
// the user set override llmmon.yaml, which overrides the defaults.
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
}

func addStackFlags(cmd *cobra.Command) *stackFlags {
	s := &stackFlags{cmd: cmd}
	d := stack.Default()
	fl := cmd.Flags()
	fl.StringVar(&s.name, "name", "", "prefix for every Docker object, so two stacks can coexist")
	fl.DurationVar(&s.scrapeInterval, "scrape-interval", time.Duration(d.ScrapeInterval), "how often Prometheus scrapes")
	fl.DurationVar(&s.evaluationInterval, "evaluation-interval", time.Duration(d.EvaluationInterval), "how often Prometheus evaluates alert rules")
	fl.StringVar(&s.llmTarget, "llm-target", d.LLMServer.Address+d.LLMServer.Path, "the LLM server's HOST:PORT[/PATH], as Prometheus in Docker sees it")
	fl.StringVar(&s.llmJob, "llm-job", d.LLMServer.Name, "job name of the LLM server")
	fl.StringArrayVar(&s.targets, "target", nil, "extra scrape job NAME=HOST:PORT[/PATH], e.g. vllm=host.docker.internal:8001 (repeatable)")
	fl.StringVar(&s.bind, "bind", d.Bind, "host address Prometheus and Grafana ports are published on")
	fl.IntVar(&s.prometheusPort, "prometheus-port", d.Prometheus.Port, "host port for Prometheus")
	fl.IntVar(&s.grafanaPort, "grafana-port", d.Grafana.Port, "host port for Grafana")
	fl.StringVar(&s.prometheusImage, "prometheus-image", d.Prometheus.Image, "Prometheus image")
	fl.StringVar(&s.grafanaImage, "grafana-image", d.Grafana.Image, "Grafana image")
	return s
}

// resolve returns defaults, overlaid by llmmon.yaml, overlaid by set flags.
func (s *stackFlags) resolve(g *Globals) (stack.Config, error) {
	cfg := stack.Default()
	path := g.ConfigPath
	if path == "" {
		if _, err := os.Stat("llmmon.yaml"); err == nil {
			path = "llmmon.yaml"
		}
	} else if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return cfg, fmt.Errorf("settings file %s does not exist (check --config)", path)
	}
	if path != "" {
		if err := stack.LoadFile(path, &cfg); err != nil {
			return cfg, err
		}
	}
	fl := s.cmd.Flags()
	set := fl.Changed
	if set("name") {
		cfg.Name = s.name
	}
	if set("scrape-interval") {
		cfg.ScrapeInterval = stack.Duration(s.scrapeInterval)
	}
	if set("evaluation-interval") {
		cfg.EvaluationInterval = stack.Duration(s.evaluationInterval)
	}
	if set("llm-target") {
		t, err := stack.ParseTarget(cfg.LLMServer.Name + "=" + s.llmTarget)
		if err != nil {
			return cfg, fmt.Errorf("--llm-target: %w", err)
		}
		cfg.LLMServer.Address, cfg.LLMServer.Path = t.Address, t.Path
	}
	if set("llm-job") {
		cfg.LLMServer.Name = s.llmJob
	}
	if set("target") {
		cfg.Targets = nil
		for _, v := range s.targets {
			t, err := stack.ParseTarget(v)
			if err != nil {
				return cfg, fmt.Errorf("--target: %w", err)
			}
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	if set("bind") {
		cfg.Bind = s.bind
	}
	if set("prometheus-port") {
		cfg.Prometheus.Port = s.prometheusPort
	}
	if set("grafana-port") {
		cfg.Grafana.Port = s.grafanaPort
	}
	if set("prometheus-image") {
		cfg.Prometheus.Image = s.prometheusImage
	}
	if set("grafana-image") {
		cfg.Grafana.Image = s.grafanaImage
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid settings:\n%w", err)
	}
	return cfg, nil
}
