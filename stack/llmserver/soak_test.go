package llmserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// soakKind is one kind of request the soak test sends: what it does, and
// the llm_requests_total series it must add one to ("" for none).
type soakKind struct {
	name   string
	series string // endpoint/status
	send   func(t *testing.T, s *soak) error
}

type soak struct {
	addr, base string
	client     *http.Client
}

const soakKey = "soak-key"

// TestSoak runs 10,000 requests of every kind at once — good ones
// streamed and not, streams the client abandons, slow clients, bodies
// that never come or are too large or are not JSON, max_tokens that would
// overflow, junk paths and missing keys — and then checks that nothing
// leaked or was miscounted: each llm_requests_total series moved by
// exactly the number of its requests, the active gauges and the engine's
// queues are back to 0, and the goroutines and open descriptors of the
// process (server and client) are back to their baseline.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: 10,000 requests; runs without -short (make test)")
	}
	o := fastOptions()
	o.APIKey = soakKey
	o.Sim.ITL = time.Millisecond // streams last long enough to be abandoned midway
	o.BodyReadTimeout = 200 * time.Millisecond
	o.MaxBody = 4 << 10
	o.IdleTimeout = 2 * time.Second
	srv, addr := serveOn(t, o)
	s := &soak{addr: addr, base: "http://" + addr, client: &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64, DisableCompression: true}}}

	kinds := []soakKind{
		{"completion", "nonstream/success", func(t *testing.T, s *soak) error {
			return s.api("/v1/completions", `{"model":"llmmon-sim","prompt":"hi","max_tokens":4}`, 200, -1)
		}},
		{"chat stream", "stream/success", func(t *testing.T, s *soak) error {
			return s.api("/v1/chat/completions", `{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":4,"stream":true}`, 200, -1)
		}},
		{"stream abandoned", "stream/error", func(t *testing.T, s *soak) error {
			// 1,000 tokens at 1 ms each: the client leaves after the first.
			return s.api("/v1/completions", `{"model":"llmmon-sim","prompt":"hi","max_tokens":1000,"stream":true}`, 200, 1)
		}},
		{"slow client", "stream/success", func(t *testing.T, s *soak) error { return s.slowClient() }},
		{"body never comes", "nonstream/error", func(t *testing.T, s *soak) error {
			return s.raw("POST /v1/completions", 1000, "{", "408")
		}},
		{"body too large", "nonstream/error", func(t *testing.T, s *soak) error {
			return s.raw("POST /v1/chat/completions", 5000, strings.Repeat("x", 5000), "413")
		}},
		{"not JSON", "nonstream/error", func(t *testing.T, s *soak) error {
			return s.api("/v1/completions", `{"model":`, 400, -1)
		}},
		{"max_tokens overflow", "nonstream/error", func(t *testing.T, s *soak) error {
			return s.api("/v1/completions", `{"model":"llmmon-sim","prompt":"hi","max_tokens":9223372036854775807}`, 400, -1)
		}},
		{"junk path", "", func(t *testing.T, s *soak) error {
			return s.raw("POST /v1/embeddings", 1000, "{", "404")
		}},
		{"no key", "", func(t *testing.T, s *soak) error {
			return s.raw("POST /v1/chat/completions", 1000, "{", "401")
		}},
	}

	series := []string{"stream/success", "stream/error", "nonstream/success", "nonstream/error"}
	count := func() map[string]float64 {
		m := map[string]float64{}
		for _, es := range series {
			ep, st, _ := strings.Cut(es, "/")
			m[es] = metricValue(t, srv, llmmetrics.Requests, "endpoint", ep, "status", st)
		}
		return m
	}

	// One request of each kind first, so that what stays for the life of
	// the process (the client's idle pool, lazily started runtime and
	// net/http goroutines) is in the baseline.
	for _, k := range kinds {
		if err := k.send(t, s); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
	}
	s.client.CloseIdleConnections()
	before := count()
	// The server lingers up to 1 s on a connection it closes after an
	// error answer; the baseline is taken once those are gone.
	time.Sleep(2 * time.Second)
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)

	const total, workers = 10000, 64
	var next atomic.Int64
	sent := make([]atomic.Int64, len(kinds))
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				k := int(i) % len(kinds)
				sent[k].Add(1)
				if err := kinds[k].send(t, s); err != nil && failures.Add(1) <= 5 {
					t.Errorf("request %d (%s): %v", i, kinds[k].name, err)
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests, %d at a time, in %s", total, workers, time.Since(start).Round(time.Millisecond))
	if failures.Load() > 0 {
		t.Fatalf("%d requests did not get their answer", failures.Load())
	}

	want := map[string]float64{}
	for i, k := range kinds {
		if k.series != "" {
			want[k.series] += float64(sent[i].Load())
		}
	}
	eventually(t, "every series moved by exactly its requests", func() error {
		after := count()
		for _, es := range series {
			if got := after[es] - before[es]; got != want[es] {
				return fmt.Errorf("llm_requests_total %s moved by %v, want %v", es, got, want[es])
			}
		}
		return nil
	})
	s.client.CloseIdleConnections()
	eventually(t, "the gauges, goroutines and descriptors back to their baseline", func() error {
		for _, ep := range []string{"stream", "nonstream"} {
			if a := metricValue(t, srv, llmmetrics.Active, "endpoint", ep); a != 0 {
				return fmt.Errorf("llm_active_requests{endpoint=%q} = %v", ep, a)
			}
		}
		for _, g := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting"} {
			if v := metricValue(t, srv, g); v != 0 {
				return fmt.Errorf("%s = %v", g, v)
			}
		}
		if g, fd := runtime.NumGoroutine(), openFDs(t); g > baseG || fd > baseFD {
			return fmt.Errorf("%d goroutines and %d descriptors, baseline %d and %d", g, fd, baseG, baseFD)
		}
		return nil
	})
}

// api posts body with the key and checks the status; stopAfter >= 0
// abandons a stream after that many data lines, else it is read to its
// end, which must be [DONE] for a streamed 200.
func (s *soak) api(path, body string, status, stopAfter int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+soakKey)
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("status %d, want %d: %.200s", resp.StatusCode, status, b)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return readEvents(resp.Body, stopAfter)
}

// readEvents reads an SSE answer to its [DONE], or stops after stopAfter
// data lines when stopAfter >= 0.
func readEvents(r io.Reader, stopAfter int) error {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if line == "[DONE]" {
			return nil
		}
		if n++; n == stopAfter {
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// raw sends a request line with the key, a JSON content type and
// Content-Length: declared, then body (maybe shorter), and expects status
// and the connection closed after it.
func (s *soak) raw(line string, declared int, body, status string) error {
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	key := "Authorization: Bearer " + soakKey + "\r\n"
	if status == "401" {
		key = ""
	}
	fmt.Fprintf(c, "%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%sContent-Length: %d\r\n\r\n%s", line, key, declared, body)
	br := bufio.NewReader(c)
	got, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if !strings.HasPrefix(got, "HTTP/1.1 "+status+" ") {
		return fmt.Errorf("answer %q, want %s", strings.TrimSpace(got), status)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return fmt.Errorf("the connection was not closed after %s: %w", status, err)
	}
	return nil
}

// slowClient trickles a streamed request out a few bytes at a time and
// reads the answer slowly, one small read every few milliseconds.
func (s *soak) slowClient() error {
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	body := `{"model":"llmmon-sim","messages":[{"role":"user","content":"hi"}],"max_tokens":8,"stream":true}`
	req := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", soakKey, len(body), body)
	for len(req) > 0 {
		n := min(len(req), 40)
		if _, err := io.WriteString(c, req[:n]); err != nil {
			return err
		}
		req = req[n:]
		time.Sleep(2 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(slowReader{c}), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return readEvents(resp.Body, -1)
}

// slowReader reads at most 16 bytes at a time, 1 ms apart.
type slowReader struct{ r io.Reader }

func (s slowReader) Read(p []byte) (int, error) {
	time.Sleep(time.Millisecond)
	return s.r.Read(p[:min(len(p), 16)])
}

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("count descriptors: %v", err)
	}
	return len(ents)
}
