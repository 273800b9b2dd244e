package stack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/grafana"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// probe is one readiness check of one container.
type probe struct {
	name, container, what, url string
	check                      func(context.Context) error
}

// waiter waits for probes, reporting progress as events, and fails fast
// with the container's last log lines when it exits or restarts.
type waiter struct {
	eng   Engine
	emit  func(Event)
	wait  time.Duration // --wait, for the messages
	start time.Time     // when up started: events count from there
}

// waitReady returns once every probe passes, or with the reason one did
// not within ctx (which --wait bounds).
func (w *waiter) waitReady(ctx context.Context, probes []probe) error {
	done := make([]bool, len(probes))
	lastErr := make([]error, len(probes))
	restarts := map[string]int{}
	info := make([]ProbeInfo, len(probes))
	for i, p := range probes {
		info[i] = ProbeInfo{Component: p.name, Endpoint: p.what}
	}
	w.emit(Waiting{Timeout: w.wait, Probes: info})
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastInspect := time.Time{}
	for {
		all := true
		for i, p := range probes {
			if done[i] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := p.check(cctx)
			cancel()
			if err == nil {
				done[i] = true
				w.emit(Ready{Component: p.name, URL: p.url, Elapsed: time.Since(w.start)})
				continue
			}
			lastErr[i] = err
			all = false
		}
		if all {
			return nil
		}
		// The engine knows sooner than a timeout that a container crashed.
		if time.Since(lastInspect) > time.Second {
			lastInspect = time.Now()
			for i, p := range probes {
				if done[i] {
					continue
				}
				if err := w.crashed(ctx, p.container, restarts); err != nil {
					return err
				}
			}
		}
		var pending []string
		for i, p := range probes {
			if !done[i] {
				pending = append(pending, p.name)
			}
		}
		w.emit(StillWaiting{Pending: pending, Elapsed: time.Since(w.start)})
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				for i, p := range probes {
					if !done[i] {
						return w.notReady(p, lastErr[i])
					}
				}
			}
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// crashed reports a container that exited or restarted, with its logs.
func (w *waiter) crashed(ctx context.Context, name string, restarts map[string]int) error {
	obj, err := w.eng.Find(ctx, KindContainer, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("container %s disappeared while starting (removed by someone else?): run llmmon up again", name)
		}
		return nil // the engine hiccuped; the probe decides
	}
	st := obj.Container
	if st == nil {
		return nil
	}
	first, seen := restarts[name]
	if !seen {
		restarts[name] = st.RestartCount
		first = st.RestartCount
	}
	var what string
	switch {
	case st.Status == "exited" || st.Status == "dead":
		what = fmt.Sprintf("exited with code %d", st.ExitCode)
	case st.RestartCount > first || st.Status == "restarting":
		what = fmt.Sprintf("keeps restarting (exit code %d)", st.ExitCode)
	default:
		return nil
	}
	if st.OOMKilled {
		what += ", killed for lack of memory"
	}
	return fmt.Errorf("container %s %s%s\n  see llmmon doctor, or docker logs %s", name, what, w.logTail(ctx, obj.ID), name)
}

func (w *waiter) logTail(ctx context.Context, id string) string {
	logs, err := w.eng.Logs(context.WithoutCancel(ctx), id, 15)
	logs = strings.TrimRight(logs, "\n")
	if err != nil || logs == "" {
		return ""
	}
	return "; its last log lines:\n    " + strings.ReplaceAll(logs, "\n", "\n    ")
}

func (w *waiter) notReady(p probe, err error) error {
	tail := ""
	if obj, ferr := w.eng.Find(context.Background(), KindContainer, p.container); ferr == nil {
		tail = w.logTail(context.Background(), obj.ID)
	}
	return fmt.Errorf("%s at %s was not ready within %s (--wait): %v%s\n  see llmmon doctor, or pass a longer --wait", p.name, p.url, w.wait, err, tail)
}

// readinessProbes are each part's readiness check, in start order:
// Prometheus' and Alertmanager's /-/ready, Grafana's /api/health.
func readinessProbes(n Names, c Config, urls map[string]string, graf *grafana.Client) []probe {
	var probes []probe
	for _, p := range c.Parts() {
		pr := probe{name: p.Component, container: n.Container(p.Component), what: p.ReadyPath, url: urls[p.Component]}
		switch p.Component {
		case ComponentGrafana:
			pr.check = func(ctx context.Context) error {
				_, err := graf.Health(ctx)
				return err
			}
		case ComponentAlertmanager:
			pr.check = alertmanager.NewClient(pr.url).Ready
		default:
			pr.check = prometheus.NewClient(pr.url).Ready
		}
		probes = append(probes, pr)
	}
	return probes
}
