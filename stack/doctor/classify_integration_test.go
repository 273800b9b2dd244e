package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// hangingListener accepts connections and never answers, like a server
// behind a firewall that lets the SYN through but nothing else.
func hangingListener(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// A real Prometheus (Debian's binary) on a config from stack.Render
// scrapes each classic broken target; its lastError strings are asserted
// to classify correctly, and -update stores them as table fixtures.
func TestRealPrometheusLastErrors(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts a prometheus process")
	}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><html><body>Welcome</body></html>")
		case "/v1/models":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"object":"list","data":[{"id":"llmmon-sim","object":"model"}]}`)
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprint(w, "hello world\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer web.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")
	closed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))

	want := map[string]struct {
		target stack.Target
		kind   ScrapeErrorKind
	}{
		"closed port":               {stack.Target{Name: "refused", Address: closed}, KindRefused},
		"404 path":                  {stack.Target{Name: "notfound", Address: webAddr, Path: "/metrics"}, KindNotFound},
		"html page (wrong port)":    {stack.Target{Name: "html", Address: webAddr, Path: "/html"}, KindNotMetrics},
		"json api (wrong port)":     {stack.Target{Name: "json", Address: webAddr, Path: "/v1/models"}, KindNotMetrics},
		"plain text (wrong port)":   {stack.Target{Name: "text", Address: webAddr, Path: "/text"}, KindNotMetrics},
		"unresolvable host":         {stack.Target{Name: "nohost", Address: "llmmon-no-such-host.invalid:8000"}, KindNoSuchHost},
		"accepts but never answers": {stack.Target{Name: "hang", Address: hangingListener(t)}, KindTimeout},
	}
	cfg := stack.Default()
	cfg.ScrapeInterval = stack.Duration(time.Second) // and so a 1s scrape timeout
	cfg.LLMServer = want["closed port"].target
	for name, w := range want {
		if name != "closed port" {
			cfg.Targets = append(cfg.Targets, w.target)
		}
	}
	sort.Slice(cfg.Targets, func(i, j int) bool { return cfg.Targets[i].Name < cfg.Targets[j].Name })
	r, err := stack.Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := stack.WriteFiles(dir, r.All()); err != nil {
		t.Fatal(err)
	}
	p := testenv.StartPrometheus(t, filepath.Join(dir, prometheus.ConfigFile))

	byJob := map[string]prometheus.Target{}
	testenv.Eventually(t, 60*time.Second, "every broken target scraped once", func() error {
		ts, err := p.Client.Targets(context.Background())
		if err != nil {
			return err
		}
		for _, tg := range ts {
			byJob[tg.Job] = tg
		}
		for _, w := range want {
			if tg := byJob[w.target.Name]; tg.Health != "down" || tg.LastError == "" {
				return fmt.Errorf("target %s: health %q, lastError %q", w.target.Name, tg.Health, tg.LastError)
			}
		}
		return nil
	})

	var observed []lastErrorFixture
	for scenario, w := range want {
		tg := byJob[w.target.Name]
		d := ClassifyScrapeError(tg.LastError, ScrapeTarget{Job: tg.Job, ScrapeURL: tg.ScrapeURL})
		t.Logf("%-26s %-20s %s", scenario, d.Kind, tg.LastError)
		if d.Kind != w.kind {
			t.Errorf("%s: lastError %q classified %s, want %s", scenario, tg.LastError, d.Kind, w.kind)
		}
		observed = append(observed, lastErrorFixture{
			Scenario: scenario, Source: "prometheus " + prometheusVersion(t, p.URL) + " (observed by TestRealPrometheusLastErrors)",
			LastError: tg.LastError, Kind: w.kind,
		})
	}
	if !*update {
		// The stored fixtures must hold this version's string for each scenario.
		stored := map[string]bool{}
		for _, f := range loadFixtures(t) {
			stored[f.Scenario+"\x00"+f.Kind.String()] = true
		}
		for _, o := range observed {
			if !stored[o.Scenario+"\x00"+o.Kind.String()] {
				t.Errorf("scenario %q (%s) missing from %s: run go test -run TestRealPrometheusLastErrors -update", o.Scenario, o.Kind, fixturePath)
			}
		}
		return
	}
	writeFixtures(t, observed)
}

func (k ScrapeErrorKind) String() string { return string(k) }

// writeFixtures replaces the observed fixtures and keeps the reported ones.
func writeFixtures(t *testing.T, observed []lastErrorFixture) {
	t.Helper()
	var keep []lastErrorFixture
	if b, err := os.ReadFile(fixturePath); err == nil {
		var old []lastErrorFixture
		if err := json.Unmarshal(b, &old); err != nil {
			t.Fatal(err)
		}
		for _, f := range old {
			if !strings.Contains(f.Source, "observed by TestRealPrometheusLastErrors") {
				keep = append(keep, f)
			}
		}
	}
	sort.Slice(observed, func(i, j int) bool { return observed[i].Scenario < observed[j].Scenario })
	all := append(observed, keep...)
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fixturePath, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func prometheusVersion(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/status/buildinfo")
	if err != nil {
		return "unknown"
	}
	defer resp.Body.Close()
	var bi struct {
		Data struct{ Version string } `json:"data"`
	}
	if json.NewDecoder(resp.Body).Decode(&bi) != nil || bi.Data.Version == "" {
		return "unknown"
	}
	return bi.Data.Version
}
