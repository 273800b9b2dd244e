package proxy_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/llmmetrics"
	"github.com/llmmon/llmmon/stack/llmserver"
	"github.com/llmmon/llmmon/stack/llmserver/proxy"
)

// TestGatewayGenAILabels: the gateway labels its GenAI series with the
// exposed model, the upstream's own name for it and the engine kind its
// model list gives, and with no model at all for a name nobody serves.
func TestGatewayGenAILabels(t *testing.T) {
	_, uhs := startSim(t, func(o *llmserver.Options) { o.Model = "org/Model-8B,other" })
	for _, tc := range []struct {
		name          string
		models        []proxy.ModelMap
		ask, exposed  string
		upstreamModel string
	}{
		{"renamed", []proxy.ModelMap{{Exposed: "small", Upstream: "org/Model-8B"}}, "small", "small", "org/Model-8B"},
		{"whatever the engine lists", nil, "other", "other", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := upstreamTo(uhs.URL)
			cfg.Models = tc.models
			gw, ghs := startGateway(t, cfg)
			reg := gw.Registry()
			// The engine kind comes from its model list, read in the
			// background at start; a client listing the models reads it too.
			r, err := http.Get(ghs.URL + "/v1/models")
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			for _, req := range []struct {
				path, body string
				status     int
			}{
				{"/v1/completions", `{"model":"` + tc.ask + `","prompt":"hi","max_tokens":3,"stream":true}`, 200},
				{"/v1/chat/completions", `{"model":"` + tc.ask + `","messages":[{"role":"user","content":"hi"}],"max_tokens":3}`, 200},
				{"/v1/completions", `{"model":"no-such-model","prompt":"hi"}`, 404},
			} {
				resp := post(t, context.Background(), ghs.URL+req.path, req.body)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != req.status {
					t.Errorf("%s %s: status %d, want %d", req.path, req.body, resp.StatusCode, req.status)
				}
			}
			eventually(t, "three requests counted", func() error {
				if n := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration); n != 3 {
					return errorf("%v counted", n)
				}
				return nil
			})
			model := []string{llmmetrics.LabelRequestModel, tc.exposed, llmmetrics.LabelResponseModel, tc.upstreamModel,
				llmmetrics.LabelProvider, "llmmon", llmmetrics.LabelErrorType, ""}
			if n := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration, model...); n != 2 {
				t.Errorf("%v successes labelled %v, want 2", n, model)
			}
			if n := testenv.Sum(t, reg, llmmetrics.GenAITTFT, model[:6]...); n != 1 {
				t.Errorf("%v TTFT observations, want the one stream's", n)
			}
			if n := testenv.Sum(t, reg, llmmetrics.GenAIRequestDuration, llmmetrics.LabelRequestModel, "",
				llmmetrics.LabelErrorType, "model_not_found"); n != 1 {
				t.Errorf("the unknown model's 404 counted %v times without a model label, want 1", n)
			}
		})
	}
}

// TestRequestIDGoesUpstream: the engine gets the X-Request-Id the client
// gets back, whether the client sent one or not.
func TestRequestIDGoesUpstream(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ids = append(ids, r.Header.Get("X-Request-Id"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"text_completion","model":"m","choices":[{"index":0,"text":"ok","finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	})
	_, ghs := startGateway(t, upstreamTo(up.URL))
	var got []string
	for _, id := range []string{"client-chosen-7", ""} {
		req, _ := http.NewRequest("POST", ghs.URL+"/v1/completions", strings.NewReader(`{"model":"m","prompt":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got = append(got, resp.Header.Get("X-Request-Id"))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 2 || ids[0] != "client-chosen-7" || got[0] != "client-chosen-7" || ids[1] != got[1] || len(got[1]) != 32 {
		t.Errorf("upstream saw %q, client got %q", ids, got)
	}
}
