package doctor

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/lasterrors.json from what a real Prometheus reports")

// lastErrorFixture is one lastError string, as a real Prometheus wrote it
// (captured by TestRealPrometheusLastErrors) or as users report it.
type lastErrorFixture struct {
	Scenario  string          `json:"scenario"`
	Source    string          `json:"source"`
	LastError string          `json:"last_error"`
	Kind      ScrapeErrorKind `json:"kind"`
}

const fixturePath = "testdata/lasterrors.json"

func loadFixtures(t *testing.T) []lastErrorFixture {
	t.Helper()
	b, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	var fx []lastErrorFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatalf("%s: %v", fixturePath, err)
	}
	return fx
}

func TestClassifyScrapeErrorFixtures(t *testing.T) {
	fx := loadFixtures(t)
	if len(fx) < 10 {
		t.Fatalf("only %d fixtures in %s", len(fx), fixturePath)
	}
	observed := 0
	for _, f := range fx {
		if strings.HasPrefix(f.Source, "prometheus ") {
			observed++
		}
		t.Run(f.Scenario, func(t *testing.T) {
			d := ClassifyScrapeError(f.LastError, ScrapeTarget{
				Job: "llm-server", LLMJob: true, ScrapeURL: "http://host.docker.internal:8000/metrics",
			})
			if d.Kind != f.Kind {
				t.Fatalf("ClassifyScrapeError(%q).Kind = %s, want %s", f.LastError, d.Kind, f.Kind)
			}
			if d.Cause == "" || d.Fix == "" {
				t.Fatalf("diagnosis lacks cause or fix: %+v", d)
			}
		})
	}
	if observed < 5 {
		t.Errorf("only %d fixtures observed from a real Prometheus; run the integration test with -update", observed)
	}
}

// The exact cause and fix wording users see for each classic failure.
func TestClassifyScrapeErrorWording(t *testing.T) {
	llm := ScrapeTarget{Job: "llm-server", LLMJob: true, ScrapeURL: "http://host.docker.internal:8000/metrics", BridgeSubnet: "172.18.0.0/16"}
	vllm := ScrapeTarget{Job: "vllm", ScrapeURL: "http://host.docker.internal:8001/metrics"}
	cases := []struct {
		name      string
		lastError string
		target    ScrapeTarget
		kind      ScrapeErrorKind
		cause     []string
		fix       []string
	}{
		{"refused names the bind", `Get "http://host.docker.internal:8000/metrics": dial tcp 172.17.0.1:8000: connect: connection refused`, llm,
			KindRefused, []string{"not running", "127.0.0.1"}, []string{"llmmon serve --host 0.0.0.0 --port 8000"}},
		{"refused extra target", `Get "http://host.docker.internal:8001/metrics": dial tcp 172.17.0.1:8001: connect: connection refused`, vllm,
			KindRefused, []string{"127.0.0.1"}, []string{"vllm bound to 0.0.0.0", "port 8001"}},
		{"no such host is host-gateway", `Get "http://host.docker.internal:8000/metrics": dial tcp: lookup host.docker.internal on 127.0.0.11:53: no such host`, llm,
			KindNoSuchHost, []string{"host-gateway"}, []string{"extra_hosts", "--add-host host.docker.internal:host-gateway"}},
		{"no such host, other name", `Get "http://myserver:8000/metrics": dial tcp: lookup myserver on 127.0.0.11:53: no such host`,
			ScrapeTarget{Job: "llm-server", LLMJob: true, ScrapeURL: "http://myserver:8000/metrics"},
			KindNoSuchHost, []string{`"myserver" does not resolve`}, []string{"--llm-target host.docker.internal:8000/metrics"}},
		{"dns timeout is dns, not firewall", `Get "http://host.docker.internal:8000/metrics": dial tcp: lookup host.docker.internal on 127.0.0.11:53: read udp 127.0.0.1:40000->127.0.0.11:53: i/o timeout`, llm,
			KindNoSuchHost, []string{"host-gateway"}, []string{"extra_hosts"}},
		{"timeout is the firewall, with the bridge subnet", `Get "http://host.docker.internal:8000/metrics": context deadline exceeded`, llm,
			KindTimeout, []string{"firewall", "ufw"}, []string{"sudo ufw allow from 172.18.0.0/16 to any port 8000 proto tcp"}},
		{"timeout without a known subnet", `Get "http://host.docker.internal:8001/metrics": dial tcp 172.17.0.1:8001: i/o timeout`, vllm,
			KindTimeout, []string{"firewall"}, []string{"sudo ufw allow from 172.16.0.0/12 to any port 8001 proto tcp"}},
		{"no route is a rejecting firewall", `Get "http://host.docker.internal:8000/metrics": dial tcp 172.17.0.1:8000: connect: no route to host`, llm,
			KindNoRoute, []string{"firewall"}, []string{"ufw allow from 172.18.0.0/16"}},
		{"404 on a custom path", `server returned HTTP status 404 Not Found`,
			ScrapeTarget{Job: "llm-server", LLMJob: true, ScrapeURL: "http://host.docker.internal:8000/prom"},
			KindNotFound, []string{"wrong metrics path", "/prom"}, []string{"--llm-target host.docker.internal:8000/metrics"}},
		{"404 on /metrics", `server returned HTTP status 404 Not Found`, llm,
			KindNotFound, []string{"wrong metrics path"}, []string{"--llm-target host.docker.internal:PORT/PATH"}},
		{"html is the wrong port", `"INVALID" is not a valid start token`, llm,
			KindNotMetrics, []string{"wrong port"}, []string{"--llm-target host.docker.internal:PORT/metrics", "curl -s http://127.0.0.1:8000/metrics"}},
		{"prometheus 3 html", `received unsupported Content-Type "text/html; charset=utf-8" and no fallback_scrape_protocol specified for target`, vllm,
			KindNotMetrics, []string{"wrong port"}, []string{"--target vllm=host.docker.internal:PORT/metrics"}},
		{"401", `server returned HTTP status 401 Unauthorized`, llm,
			KindHTTPStatus, []string{"HTTP 401"}, []string{"/metrics open"}},
		{"500", `server returned HTTP status 500 Internal Server Error`, llm,
			KindHTTPStatus, []string{"HTTP 500"}, []string{"curl -si http://127.0.0.1:8000/metrics"}},
		{"unknown keeps the original", `something new`, llm,
			KindUnclassified, []string{"something new"}, []string{"curl"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := ClassifyScrapeError(c.lastError, c.target)
			if d.Kind != c.kind {
				t.Fatalf("kind = %s, want %s (%+v)", d.Kind, c.kind, d)
			}
			for _, s := range c.cause {
				if !strings.Contains(d.Cause, s) {
					t.Errorf("cause %q lacks %q", d.Cause, s)
				}
			}
			for _, s := range c.fix {
				if !strings.Contains(d.Fix, s) {
					t.Errorf("fix %q lacks %q", d.Fix, s)
				}
			}
		})
	}
}

func FuzzClassifyScrapeError(f *testing.F) {
	if b, err := os.ReadFile(filepath.Clean(fixturePath)); err == nil {
		var fx []lastErrorFixture
		if json.Unmarshal(b, &fx) == nil {
			for _, x := range fx {
				f.Add(x.LastError, "http://host.docker.internal:8000/metrics")
			}
		}
	}
	f.Fuzz(func(t *testing.T, lastError, scrapeURL string) {
		d := ClassifyScrapeError(lastError, ScrapeTarget{Job: "j", ScrapeURL: scrapeURL})
		if d.Kind == "" || d.Cause == "" || d.Fix == "" {
			t.Fatalf("incomplete diagnosis %+v", d)
		}
	})
}
