package load

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestZZProf(t *testing.T) {
	u := os.Getenv("PROF_URL")
	if u == "" {
		t.Skip("-short")
	}
	o := DefaultOptions()
	o.URL, o.Endpoint, o.Stream, o.MaxTokens = u, EndpointCompletions, os.Getenv("PROF_STREAM") == "1", 16
	o.PromptTokens = Range{5, 5}
	o.Concurrency, o.Requests, o.Duration = 32, 0, 5*time.Second
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%.0f req/s", r.RequestsPerSecond)
}
