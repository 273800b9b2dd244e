package dashboards_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// absentEngineRows are the only rows whose panels may return no data in
// this test: their engines (and dcgm-exporter) are not running.
var absentEngineRows = []string{"llama.cpp", "TGI", "SGLang", "GPU (dcgm-exporter)"}

// TestEveryPanelReturnsDataFromRealPrometheus runs llmmon serve in-process,
// a real Prometheus process scraping it every second with the config
// llmmon renders, and mixed traffic (streams, injected errors, a queue
// backlog). Then every query of every panel, variables substituted, must
// return data through Prometheus' HTTP API.
func TestEveryPanelReturnsDataFromRealPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts llmmon serve and a Prometheus process; -short skips it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// llmmon serve: two running slots, so eight clients build a queue; a
	// fifth of requests fail by fault injection.
	opts := llmserver.DefaultOptions()
	opts.Host, opts.Port = "127.0.0.1", 0
	opts.Sim.MaxNumSeqs = 2
	opts.Sim.ITL = 4 * time.Millisecond
	opts.Sim.FailRate = 0.2
	opts.Sim.Seed = 7
	srv, err := llmserver.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	addr := ln.Addr().String()

	// Prometheus on the configuration llmmon renders, scraping every 1s.
	cfg := stack.Default()
	cfg.ScrapeInterval = stack.Duration(time.Second)
	cfg.EvaluationInterval = stack.Duration(time.Second)
	cfg.LLMServer.Address = addr
	r, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := stack.WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	// An alert that fires at once, for the dashboard's alert annotations
	// to show: llmmon's own wait minutes before they fire.
	firing := "groups:\n  - name: dashboard-test\n    rules:\n      - alert: DashboardTestErrors\n" +
		"        expr: sum by (job, instance) (rate(llm_requests_total{status=\"error\"}[1m])) > 0\n" +
		"        labels: {severity: info}\n"
	if err := os.WriteFile(filepath.Join(dir, "prometheus", "rules", "dashboard-test.yml"), []byte(firing), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, filepath.Join(dir, filepath.FromSlash(prometheus.ConfigFile)))

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); drive(ctx, "http://"+addr, i) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Grafana regex-escapes a variable's value and then escapes the
	// backslashes for the PromQL string, as promQLRegex does here.
	vals := map[string]string{
		"job":             promQLRegex(cfg.LLMServer.Name),
		"instance":        promQLRegex(addr),
		"model":           promQLRegex(opts.Model),
		"__rate_interval": "15s",
	}
	sel := fmt.Sprintf(`job=%q, instance=%q`, cfg.LLMServer.Name, addr)
	// The traffic really had errors and a backlog.
	prom.WaitForSamples(t, 60*time.Second, fmt.Sprintf(`llm_requests_total{%s, status="error"} > 0`, sel))
	prom.WaitForSamples(t, 60*time.Second, fmt.Sprintf(`max_over_time(vllm:num_requests_waiting{%s}[1m]) > 0`, sel))

	// Prometheus loaded llmmon's alert rules, evaluates them without
	// errors, and the error-ratio alert sees the injected 20% failures.
	testenv.Eventually(t, 60*time.Second, "alert rules loaded, healthy, error ratio pending", func() error {
		return checkRules(ctx, prom.URL)
	})

	d, err := dashboards.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range d.Variables {
		q, ok := dashboards.VariablePromQL(v.Query)
		if !ok {
			continue
		}
		q = dashboards.Substitute(q, vals)
		label := map[string]string{"job": cfg.LLMServer.Name, "instance": addr, "model": opts.Model}[v.Name]
		found := false
		for _, s := range prom.WaitForSamples(t, 30*time.Second, q) {
			found = found || s.Metric[v.Name] == label
		}
		if !found {
			t.Errorf("variable %s (%s) does not offer %q", v.Name, q, label)
		}
	}

	checked, exceptions := 0, 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			q := dashboards.Substitute(tg.Expr, vals)
			if slices.Contains(absentEngineRows, p.Row) {
				// Allowed to be empty, and with nothing scraping those
				// engines it must be: the query is valid but finds nothing.
				s, err := prom.Query(ctx, q)
				if err != nil || len(s) != 0 {
					t.Errorf("%s / %q %s: %v %v, want a valid query with no data", p.Row, p.Title, tg.RefID, err, s)
				}
				exceptions++
				continue
			}
			checked++
			testenv.Eventually(t, 60*time.Second, fmt.Sprintf("data for panel %q query %s: %s", p.Title, tg.RefID, q), func() error {
				s, err := prom.Query(ctx, q)
				if err != nil {
					return err
				}
				for _, x := range s {
					if !math.IsNaN(x.Value) && !math.IsInf(x.Value, 0) {
						return nil
					}
				}
				return fmt.Errorf("%d samples, none a number: %v", len(s), s)
			})
		}
	}
	for _, a := range d.Annotations {
		q := dashboards.Substitute(a.Expr, vals)
		prom.WaitForSamples(t, 60*time.Second, q)
		checked++
	}
	t.Logf("%d queries returned data; %d queries of absent engines returned none, as allowed", checked, exceptions)
	if checked < 30 || exceptions == 0 {
		t.Errorf("checked %d queries with %d exceptions; the walk missed panels", checked, exceptions)
	}
}

// checkRules reads /api/v1/rules: the recording groups and the llmmon
// group with its 16 alert rules, every rule evaluated without error, and
// LLMHighErrorRatio active (pending or firing).
func checkRules(ctx context.Context, base string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/rules", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Groups []struct {
				Name  string `json:"name"`
				Rules []struct {
					Name      string `json:"name"`
					Health    string `json:"health"`
					LastError string `json:"lastError"`
					State     string `json:"state"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return err
	}
	loaded := map[string]int{}
	active := false
	for _, g := range body.Data.Groups {
		loaded[g.Name] = len(g.Rules)
		for _, r := range g.Rules {
			if r.Health != "ok" {
				return fmt.Errorf("group %s, rule %s: health %q %s", g.Name, r.Name, r.Health, r.LastError)
			}
			active = active || (r.Name == "LLMHighErrorRatio" && r.State != "inactive")
		}
	}
	if loaded["llmmon"] != 16 || loaded["llmmon-slo"] == 0 || loaded["llmmon-dashboard"] == 0 {
		return fmt.Errorf("rule groups loaded: %v, want llmmon (16 alert rules), llmmon-slo and llmmon-dashboard", loaded)
	}
	if !active {
		return fmt.Errorf("LLMHighErrorRatio is inactive despite 20%% injected failures")
	}
	return nil
}

func promQLRegex(v string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(v), `\`, `\\`)
}

// drive sends requests until ctx ends: streamed and not, completions and
// chat, of varied lengths.
func drive(ctx context.Context, base string, worker int) {
	client := &http.Client{Timeout: 30 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		stream := (n+worker)%2 == 0
		path, body := "/v1/completions", fmt.Sprintf(`{"model":"llmmon-sim","prompt":"%s","max_tokens":%d,"stream":%t}`,
			bytes.Repeat([]byte("hello world "), 1+n%20), 4+(n*7+worker)%40, stream)
		if n%3 == 0 {
			path = "/v1/chat/completions"
			body = fmt.Sprintf(`{"model":"llmmon-sim","messages":[{"role":"user","content":"count to %d"}],"max_tokens":%d,"stream":%t}`,
				n, 4+(n*5+worker)%30, stream)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader([]byte(body)))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
