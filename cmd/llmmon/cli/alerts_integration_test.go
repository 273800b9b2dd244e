package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/grafana"
)

// webhookPayload is what Alertmanager posts to a webhook receiver
// (its documented version 4 payload), in the fields the test reads.
type webhookPayload struct {
	Version     string `json:"version"`
	Status      string `json:"status"`
	Receiver    string `json:"receiver"`
	ExternalURL string `json:"externalURL"`
	Alerts      []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"alerts"`
}

// hookReceiver is a webhook receiver on the host, on 0.0.0.0 so
// Alertmanager in Docker reaches it as host.docker.internal.
type hookReceiver struct {
	port     int
	srv      *http.Server
	mu       sync.Mutex
	payloads []webhookPayload
}

func startHook(t *testing.T, port int) *hookReceiver {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort("0.0.0.0", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	h := &hookReceiver{port: l.Addr().(*net.TCPAddr).Port}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p webhookPayload
		if r.URL.Path != "/alerts" || json.Unmarshal(body, &p) != nil {
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.payloads = append(h.payloads, p)
		h.mu.Unlock()
	})}
	go h.srv.Serve(l)
	t.Cleanup(func() { h.srv.Close() })
	return h
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.payloads)
}

// find returns the first payload alert of the given name and status.
func (h *hookReceiver) find(name, status string) (webhookPayload, int, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, p := range h.payloads {
		for i, a := range p.Alerts {
			if a.Labels["alertname"] == name && a.Status == status {
				return p, i, true
			}
		}
	}
	return webhookPayload{}, 0, false
}

// background runs one llmmon command line in-process until stop.
type background struct {
	cancel context.CancelFunc
	done   chan error
}

func startCLI(args ...string) *background {
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{cancel: cancel, done: make(chan error, 1)}
	go func() {
		b.done <- Run(ctx, IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard}, args)
	}()
	return b
}

func (b *background) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	select {
	case <-b.done:
	case <-time.After(45 * time.Second):
		t.Fatal("command did not stop within 45s of its cancel")
	}
}

// An alert that reaches someone, end to end with real parts: `llmmon
// serve --fail-rate 0.5` on the host under `llmmon load`; the stack from
// the test images (Debian's Prometheus and Alertmanager, the Grafana test
// double) evaluating every second with thresholds lowered through
// llmmon.yaml; a webhook receiver on the host reached through
// host-gateway. The error alert fires and arrives with its severity,
// summary and runbook; it shows in Alertmanager, in Grafana (through the
// Alertmanager datasource) and in `llmmon alerts`; it resolves after the
// fault stops. Then the receiver goes down: Alertmanager retries, and
// doctor reports the failed notifications.
func TestAlertsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: starts containers on the Docker engine")
	}
	testenv.RequireDocker(t, testenv.PrometheusImage, testenv.AlertmanagerImage, testenv.GrafanaDoubleImage)
	hook := startHook(t, 0)
	llmPort := testenv.FreePort(t)
	name := randomName(t, "itest-alerts")
	removeStack(t, name)
	dir := t.TempDir()
	promPort, grafPort, amPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)

	// Real settings, tuned for seconds instead of minutes.
	settings := filepath.Join(t.TempDir(), "llmmon.yaml")
	os.WriteFile(settings, []byte(`scrape_interval: 1s
evaluation_interval: 1s
alerts:
  error_ratio: 0.2
  window: 10s
  for: 2s
  min_requests: 5
alerting:
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  resolve_timeout: 30s
`), 0o644)
	serveArgs := []string{"serve", "--host", "0.0.0.0", "--port", strconv.Itoa(llmPort), "--itl", "1ms", "--ttft", "5ms"}
	serve := startCLI(append(serveArgs, "--fail-rate", "0.5")...)
	defer func() { serve.stop(t) }()
	testenv.Eventually(t, 20*time.Second, "serve listening", func() error {
		c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(llmPort))
		if err == nil {
			c.Close()
		}
		return err
	})
	load := startCLI("load", "--url", "http://127.0.0.1:"+strconv.Itoa(llmPort)+"/v1", "--rate", "20", "-d", "10m",
		"--max-tokens", "8", "--prompt-tokens", "8", "--max-error-ratio", "1")
	defer load.stop(t)

	out, errOut, err := run(t, "--config", settings, "up", "--dir", dir, "--name", name,
		"--prometheus-image", testenv.PrometheusImage, "--grafana-image", testenv.GrafanaDoubleImage,
		"--alertmanager-image", testenv.AlertmanagerImage, "--pull", "never",
		"--prometheus-port", strconv.Itoa(promPort), "--grafana-port", strconv.Itoa(grafPort), "--alertmanager-port", strconv.Itoa(amPort),
		"--llm-target", "host.docker.internal:"+strconv.Itoa(llmPort),
		"--alert-webhook", "http://host.docker.internal:"+strconv.Itoa(hook.port)+"/alerts", "--wait", "90s")
	if err != nil {
		t.Fatalf("up: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"created   container " + name + "-llm-alertmanager", "datasource llmmon-alertmanager healthy",
		"Alerts        notify alert-webhook (webhook http://host.docker.internal:"} {
		if !strings.Contains(out, want) {
			t.Errorf("up output lacks %q:\n%s", want, out)
		}
	}

	t.Run("the error alert fires and reaches the webhook", func(t *testing.T) {
		var p webhookPayload
		var i int
		testenv.Eventually(t, 90*time.Second, "a firing LLMHighErrorRatio at the webhook", func() error {
			var ok bool
			if p, i, ok = hook.find("LLMHighErrorRatio", "firing"); !ok {
				return fmt.Errorf("%d payloads so far", hook.count())
			}
			return nil
		})
		a := p.Alerts[i]
		if p.Receiver != stack.AlertWebhookReceiver || a.Labels["severity"] != "critical" || a.Labels["job"] != "llm-server" {
			t.Errorf("payload: receiver %q labels %v", p.Receiver, a.Labels)
		}
		if !strings.HasPrefix(a.Annotations["summary"], "LLM error ratio on host.docker.internal:"+strconv.Itoa(llmPort)+" is ") {
			t.Errorf("summary %q", a.Annotations["summary"])
		}
		if a.Annotations["runbook_url"] != stack.DefaultRunbookURL+"#llmhigherrorratio" {
			t.Errorf("runbook_url %q", a.Annotations["runbook_url"])
		}
		// Alertmanager's links lead to its published port.
		if p.ExternalURL != fmt.Sprintf("http://127.0.0.1:%d", amPort) {
			t.Errorf("externalURL %q", p.ExternalURL)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("visible in Alertmanager, Grafana and llmmon alerts", func(t *testing.T) {
		isError := func(a map[string]string) bool { return a["alertname"] == "LLMHighErrorRatio" }
		held, err := alertmanager.NewClient(fmt.Sprintf("http://127.0.0.1:%d", amPort)).Alerts(t.Context())
		found := false
		for _, a := range held {
			found = found || (isError(a.Labels) && a.State == "active")
		}
		if err != nil || !found {
			t.Errorf("alertmanager: %v %+v", err, held)
		}
		pw, _ := stack.ReadAdminPassword(dir)
		g := grafana.NewClient(fmt.Sprintf("http://127.0.0.1:%d", grafPort), grafana.Auth{User: stack.AdminUser, Password: pw})
		var viaGrafana []struct {
			Labels map[string]string `json:"labels"`
		}
		if err := g.DatasourceProxy(t.Context(), stack.AlertmanagerDatasourceUID, "/api/v2/alerts", &viaGrafana); err != nil {
			t.Errorf("grafana's alertmanager datasource: %v", err)
		}
		found = false
		for _, a := range viaGrafana {
			found = found || isError(a.Labels)
		}
		if !found {
			t.Errorf("the alert is not in Grafana: %+v", viaGrafana)
		}

		out, _, err := run(t, "alerts", "--dir", dir, "-o", "json")
		var r stack.AlertsReport
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			t.Fatalf("llmmon alerts -o json: %v\n%s", err, out)
		}
		var got *stack.Alert
		for i := range r.Alerts {
			if r.Alerts[i].Name == "LLMHighErrorRatio" {
				got = &r.Alerts[i]
			}
		}
		if got == nil || got.Severity != "critical" || got.Delivery != "notified" || strings.Join(got.Receivers, ",") != stack.AlertWebhookReceiver ||
			got.RunbookURL == "" || got.Summary == "" {
			t.Errorf("llmmon alerts: %+v", r.Alerts)
		}
		text, _, _ := run(t, "alerts", "--dir", dir)
		for _, want := range []string{"critical  LLMHighErrorRatio  llm-server host.docker.internal:" + strconv.Itoa(llmPort) + "  firing",
			"runbook  " + stack.DefaultRunbookURL + "#llmhigherrorratio", "sent to  alert-webhook"} {
			if !strings.Contains(text, want) {
				t.Errorf("llmmon alerts lacks %q:\n%s", want, text)
			}
		}
		status, _, _ := run(t, "status", "--dir", dir)
		for _, want := range []string{"prometheus →  alertmanager: ok", "LLMHighErrorRatio", "notifications webhook: "} {
			if !strings.Contains(status, want) {
				t.Errorf("status lacks %q:\n%s", want, status)
			}
		}
	})

	t.Run("the resolved notification arrives after the fault stops", func(t *testing.T) {
		serve.stop(t)
		serve = startCLI(serveArgs...) // the same server, healthy
		testenv.Eventually(t, 90*time.Second, "a resolved LLMHighErrorRatio at the webhook", func() error {
			if _, _, ok := hook.find("LLMHighErrorRatio", "resolved"); !ok {
				return fmt.Errorf("%d payloads so far", hook.count())
			}
			return nil
		})
	})

	t.Run("a receiver that is down: retries, and doctor reports the failures", func(t *testing.T) {
		hook.srv.Close()
		serve.stop(t)
		serve = startCLI(append(serveArgs, "--fail-rate", "0.5")...)
		am := alertmanager.NewClient(fmt.Sprintf("http://127.0.0.1:%d", amPort))
		testenv.Eventually(t, 120*time.Second, "failed webhook notifications, retried", func() error {
			n, err := am.Notifications(t.Context())
			if err != nil {
				return err
			}
			for _, i := range n {
				if i.Name == "webhook" && i.Failed >= 2 {
					return nil
				}
			}
			return fmt.Errorf("notifications %+v", n)
		})
		var r doctorRun
		testenv.Eventually(t, 60*time.Second, "doctor reports the failed notifications", func() error {
			out, code := doctorCLI(t, "doctor", "--dir", dir, "-o", "json")
			r = doctorRun{}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				return fmt.Errorf("doctor -o json: %v", err)
			}
			r.code = code
			if c := r.get("Alertmanager", "notifications"); c.Status != "fail" {
				return fmt.Errorf("notifications check: %s %s", c.Status, c.Message)
			}
			return nil
		})
		expectCheck(t, r, "Alertmanager", "notifications", "fail",
			[]string{"webhook: ", "attempts failed", "connection refused"},
			[]string{"host.docker.internal", "llmmon up --dir " + dir})
		expectCheck(t, r, "Alertmanager", "firing alerts", "warn", []string{"firing"}, []string{"llmmon alerts"})
		expectDoctorExit(t, r, ExitError)
	})

	out, _, err = run(t, "down", "--dir", dir, "--volumes")
	if err != nil || !strings.Contains(out, "removed container "+name+"-llm-alertmanager") || !strings.Contains(out, "removed volume "+name+"-llm-alertmanager-data") {
		t.Errorf("down --volumes: %v\n%s", err, out)
	}
}
