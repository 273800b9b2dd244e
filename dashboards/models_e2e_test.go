package dashboards_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// TestModelsAndVLLMGenerationsThroughPrometheus runs, under one real
// Prometheus scraping every second:
//   - llmmon serve with two simulated models, "fast" and "slow" (a quarter
//     of the speed, and 30% of its requests failing), and a gateway in
//     front of it; streamed traffic for both models goes through the
//     gateway and so through serve. The dashboard's own Models-row queries
//     must tell the two apart in both jobs: slow's TTFT p95 well above
//     fast's, and only slow with errors, at about its failure rate.
//   - three fake vLLM servers, one per generation of vLLM's metric names
//     (v0's hit-rate gauge, v0.10's gpu_* names, today's), whose
//     expositions grow at every scrape. Every query of the dashboard's
//     vLLM row must return data for each, and the KV-cache alert rule must
//     see each one's full cache.
func TestModelsAndVLLMGenerationsThroughPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts llmmon serve, a gateway and a Prometheus process; -short skips it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	o := llmserver.DefaultOptions()
	o.Model = "fast,slow"
	o.Sim.TTFT = 20 * time.Millisecond // slow: 80 ms
	o.Sim.ITL = 2 * time.Millisecond
	o.Sim.Speed = map[string]float64{"slow": 0.25}
	o.Sim.ModelFailRate = map[string]float64{"slow": 0.3}
	o.Sim.Seed = 11
	serve := startLLMServer(t, ctx, o)

	p, err := proxy.New(proxy.Config{Upstreams: []proxy.Upstream{{URL: "http://" + serve + "/v1"}}, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	gwOpts := llmserver.DefaultOptions()
	gwOpts.Backend = p
	gateway := startLLMServer(t, ctx, gwOpts)

	generations := map[string]string{}
	for _, gen := range []string{"v0", "v0.10", "current"} {
		var scrapes atomic.Int64
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			io.WriteString(w, vllmExposition(gen, scrapes.Add(1)))
		}))
		t.Cleanup(hs.Close)
		generations[gen] = strings.TrimPrefix(hs.URL, "http://")
	}

	cfg := stack.Default()
	cfg.ScrapeInterval = stack.Duration(time.Second)
	cfg.EvaluationInterval = stack.Duration(time.Second)
	cfg.LLMServer.Address = serve
	cfg.Targets = []stack.Target{{Name: "gateway", Address: gateway}}
	for gen, addr := range generations {
		cfg.Targets = append(cfg.Targets, stack.Target{Name: "vllm-" + gen, Address: addr})
	}
	r, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := stack.WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, filepath.Join(dir, filepath.FromSlash(prometheus.ConfigFile)))

	var wg sync.WaitGroup
	for i := range 8 { // slow answers 4x slower: 6 clients for it, 2 for fast
		model := "slow"
		if i%4 == 0 {
			model = "fast"
		}
		wg.Add(1)
		go func() { defer wg.Done(); driveModels(ctx, "http://"+gateway, model) }()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	d, err := dashboards.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	query := func(panel, refID string) string {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if p.Title == panel && tg.RefID == refID {
					return tg.Expr
				}
			}
		}
		t.Fatalf("no panel %q with query %s", panel, refID)
		return ""
	}
	ttftP95 := query("Time to first token p50 / p95 by model", "B")
	errRatio := query("Error ratio by model and error type", "A")

	for _, job := range []string{cfg.LLMServer.Name, "gateway"} {
		t.Run("models through "+job, func(t *testing.T) {
			vals := map[string]string{"job": job, "instance": ".+", "model": ".+", "__rate_interval": "20s"}
			var ttft, errs map[string]float64
			// Wait for enough of each model's requests for slow's error
			// ratio to be near its failure rate (with 200, 0.15–0.45 is over
			// 4 standard deviations either side of 0.3; rate() also misses
			// what an error type's series counted before its first scrape),
			// then judge once.
			testenv.Eventually(t, 60*time.Second, "200 requests of each model", func() error {
				n, err := byModel(ctx, prom, fmt.Sprintf(`sum by (%s) (%s_count{job=%q})`,
					llmmetrics.LabelRequestModel, llmmetrics.GenAIRequestDuration, job))
				if err != nil {
					return err
				}
				if n["slow"] < 200 || n["fast"] < 200 {
					return fmt.Errorf("%v requests so far", n)
				}
				return nil
			})
			var err error
			if ttft, err = byModel(ctx, prom, dashboards.Substitute(ttftP95, vals)); err != nil {
				t.Fatal(err)
			}
			if errs, err = byModel(ctx, prom, dashboards.Substitute(errRatio, vals)); err != nil {
				t.Fatal(err)
			}
			if !(ttft["fast"] > 0) || ttft["slow"] < 2*ttft["fast"] {
				t.Errorf("TTFT p95 %v: slow (80 ms prefill) not apart from fast (20 ms)", ttft)
			}
			if errs["fast"] != 0 || errs["slow"] < 0.15 || errs["slow"] > 0.45 {
				t.Errorf("error ratios %v: want fast 0, slow about 0.3", errs)
			}
			t.Logf("%s: TTFT p95 fast %.3fs slow %.3fs; error ratio fast %.2f slow %.2f", job, ttft["fast"], ttft["slow"], errs["fast"], errs["slow"])
		})
	}

	var kvRule string
	for _, f := range r.Prometheus {
		if f.Path == prometheus.RulesFile {
			kvRule = alertExpr(t, f.Content, "LLMKVCacheNearlyFull")
		}
	}
	for gen, addr := range generations {
		t.Run("vLLM "+gen, func(t *testing.T) {
			vals := map[string]string{"job": ".+", "instance": promQLRegex(addr), "model": ".+", "__rate_interval": "15s"}
			n := 0
			for _, p := range d.Panels {
				if p.Row != "Engine (vLLM)" {
					continue
				}
				for _, tg := range p.Targets {
					q := dashboards.Substitute(tg.Expr, vals)
					n++
					testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%s: panel %q %s", gen, p.Title, tg.RefID), func() error {
						s, err := prom.Query(ctx, q)
						if err != nil {
							return err
						}
						for _, x := range s {
							if !math.IsNaN(x.Value) && !math.IsInf(x.Value, 0) {
								return nil
							}
						}
						return fmt.Errorf("no number in %v: %s", s, q)
					})
				}
			}
			if n < 15 {
				t.Errorf("only %d vLLM queries", n)
			}
			// The alert rule's expression, as Prometheus evaluates it.
			s, err := prom.Query(ctx, kvRule)
			found := false
			for _, x := range s {
				found = found || x.Metric["instance"] == addr
			}
			if err != nil || !found {
				t.Errorf("LLMKVCacheNearlyFull's expression does not see %s's full cache: %v %v", gen, s, err)
			}
		})
	}
}

// startLLMServer serves o on a fresh port of 127.0.0.1 until ctx ends.
func startLLMServer(t *testing.T, ctx context.Context, o llmserver.Options) string {
	t.Helper()
	srv, err := llmserver.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return ln.Addr().String()
}

// byModel runs q and returns its values summed per gen_ai_request_model.
func byModel(ctx context.Context, prom *testenv.Prometheus, q string) (map[string]float64, error) {
	s, err := prom.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for _, x := range s {
		if !math.IsNaN(x.Value) {
			out[x.Metric[llmmetrics.LabelRequestModel]] += x.Value
		}
	}
	return out, nil
}

// alertExpr is the expression of one alert in a rendered rules file.
func alertExpr(t *testing.T, rules []byte, alert string) string {
	t.Helper()
	var rf struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string } `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(rules, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return r.Expr
			}
		}
	}
	t.Fatalf("no alert %s", alert)
	return ""
}

// driveModels sends streamed chat requests for model until ctx ends.
func driveModels(ctx context.Context, base, model string) {
	client := &http.Client{Timeout: 30 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		body := fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"count to %d"}],"max_tokens":%d,"stream":true}`, model, n, 4+n%8)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", bytes.NewReader([]byte(body)))
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

// vllmExposition is what a vLLM of one generation exposes after n scrapes:
// the counters and histograms grow with n. The generations differ in the
// families vLLM renamed: "v0" has the old KV-cache and time-per-token
// names and v0's prefix-cache hit-rate gauge, "v0.10" the old names and
// the gpu_prefix_cache counters, "current" the names of today.
func vllmExposition(gen string, n int64) string {
	var b strings.Builder
	lbl := `model_name="m-` + gen + `",engine="0"`
	metric := func(typ, name string, value float64) {
		fmt.Fprintf(&b, "# TYPE %s %s\n%s{%s} %g\n", name, typ, name, lbl, value)
	}
	hist := func(name string, les []float64, at float64, perScrape int64) {
		fmt.Fprintf(&b, "# TYPE %s histogram\n", name)
		c := n * perScrape
		for _, le := range les {
			v := int64(0)
			if le >= at {
				v = c
			}
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"%g\"} %d\n", name, lbl, le, v)
		}
		fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n%s_sum{%s} %g\n%s_count{%s} %d\n", name, lbl, c, name, lbl, float64(c)*at*0.9, name, lbl, c)
	}
	seconds := []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10}
	tokens := []float64{1, 10, 100, 1000}
	metric("gauge", "vllm:num_requests_running", 3)
	metric("gauge", "vllm:num_requests_waiting", 1)
	metric("counter", "vllm:prompt_tokens_total", float64(n*500))
	metric("counter", "vllm:generation_tokens_total", float64(n*200))
	metric("counter", "vllm:num_preemptions_total", float64(n))
	fmt.Fprintf(&b, "# TYPE vllm:request_success_total counter\nvllm:request_success_total{%s,finished_reason=\"stop\"} %d\n", lbl, n*4)
	hist("vllm:time_to_first_token_seconds", seconds, 0.1, 5)
	hist("vllm:e2e_request_latency_seconds", seconds, 1, 5)
	hist("vllm:request_queue_time_seconds", seconds, 0.05, 5)
	hist("vllm:request_prefill_time_seconds", seconds, 0.05, 5)
	hist("vllm:request_decode_time_seconds", seconds, 1, 5)
	hist("vllm:request_prompt_tokens", tokens, 100, 5)
	hist("vllm:request_generation_tokens", tokens, 100, 5)
	switch gen {
	case "current":
		metric("gauge", llmmetrics.VLLMKVCacheUsage, 0.95)
		hist(llmmetrics.VLLMInterTokenLatency, seconds, 0.05, 50)
		metric("counter", llmmetrics.VLLMPrefixCacheQueries, float64(n*500))
		metric("counter", llmmetrics.VLLMPrefixCacheHits, float64(n*200))
	case "v0.10":
		metric("gauge", llmmetrics.VLLMKVCacheUsageOld, 0.95)
		hist(llmmetrics.VLLMInterTokenLatencyOld, seconds, 0.05, 50)
		metric("counter", llmmetrics.VLLMPrefixCacheQueriesOld, float64(n*500))
		metric("counter", llmmetrics.VLLMPrefixCacheHitsOld, float64(n*200))
	case "v0":
		metric("gauge", llmmetrics.VLLMKVCacheUsageOld, 0.95)
		hist(llmmetrics.VLLMInterTokenLatencyOld, seconds, 0.05, 50)
		metric("gauge", llmmetrics.VLLMPrefixCacheHitRateV0, 0.4)
	}
	return b.String()
}
