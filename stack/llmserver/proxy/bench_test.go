package proxy_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack/llmserver"
)

// BenchmarkGateway is one request through the gateway to a llmmon serve
// with no simulated delay, over real HTTP (both in this process). Compare
// with BenchmarkDirect for the gateway's cost; hack/bench-gateway.sh
// measures the same with separate processes and wrk.
func BenchmarkGateway(b *testing.B) {
	for _, stream := range []bool{false, true} {
		b.Run(map[bool]string{false: "nonstream", true: "stream"}[stream], func(b *testing.B) {
			_, uhs := startSim(b, func(o *llmserver.Options) { o.Model = "demo"; o.Sim.MaxNumSeqs = 256 })
			_, ghs := startGateway(b, upstreamTo(uhs.URL))
			benchPost(b, ghs.URL, stream)
		})
	}
}

func BenchmarkDirect(b *testing.B) {
	for _, stream := range []bool{false, true} {
		b.Run(map[bool]string{false: "nonstream", true: "stream"}[stream], func(b *testing.B) {
			_, uhs := startSim(b, func(o *llmserver.Options) { o.Model = "demo"; o.Sim.MaxNumSeqs = 256 })
			benchPost(b, uhs.URL, stream)
		})
	}
}

func benchPost(b *testing.B, base string, stream bool) {
	body := `{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":false}`
	if stream {
		body = strings.Replace(body, `"stream":false`, `"stream":true`, 1)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(base+"/v1/completions", "application/json", strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
