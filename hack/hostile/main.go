// Command hostile reproduces the attacks of issue 12 on llmmon serve, the
// gateway (serve --upstream) and llmmon load, and measures what they cost
// the process under attack: time to answer, descriptors and peak RSS (from
// /proc, given its pid).
//
//	go run ./hack/hostile slowbody -url http://127.0.0.1:8000 -conns 1000 -pid PID
//	go run ./hack/hostile upstream -kind hugeline -listen 127.0.0.1:9001 -gateway http://127.0.0.1:8000 -pid PID
//	go run ./hack/hostile upstream -kind endless -listen 127.0.0.1:9001   # then run llmmon load against it
//
// slowbody opens -conns connections that each send a request's headers
// with Content-Length: 1000 and then one byte, and waits up to -wait for
// every answer and close. upstream is an OpenAI-compatible engine that
// answers every completion with -kind:
//
//	hugeline   one SSE data line of -size bytes
//	datalines  one SSE event of -lines data lines
//	headers    -size bytes of response headers
//	body       a non-streamed 200 of -size bytes with no Content-Length
//	endless    a stream that never ends: one chunk every 100 ms
//	malformed  an SSE stream whose chunk is not JSON, then [DONE]
//
// With -gateway it also sends one streamed (or, for body, non-streamed)
// completion through that gateway, reports its status, time and size, the
// gateway's llm_requests_total and llm_active_requests, and the gateway's
// peak RSS (-pid); -cancel cuts that request off after the given time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: hostile slowbody|upstream [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "slowbody":
		err = slowbody(os.Args[2:])
	case "upstream":
		err = upstream(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q: want slowbody or upstream", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hostile:", err)
		os.Exit(1)
	}
}

// fds counts pid's open descriptors; -1 when pid is 0 or gone.
func fds(pid int) int {
	if pid == 0 {
		return -1
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// procStatus reads a field of /proc/pid/status, such as VmHWM (peak RSS).
func procStatus(pid int, field string) string {
	if pid == 0 {
		return "?"
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func slowbody(args []string) error {
	fs := flag.NewFlagSet("slowbody", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8000", "the server")
	path := fs.String("path", "/v1/completions", "request path")
	key := fs.String("key", "", "send this API key")
	conns := fs.Int("conns", 1000, "connections")
	wait := fs.Duration("wait", 60*time.Second, "longest wait for each answer and close")
	pid := fs.Int("pid", 0, "the server's pid, for its descriptors")
	fs.Parse(args)
	host := strings.TrimPrefix(strings.TrimPrefix(*base, "http://"), "https://")
	auth := ""
	if *key != "" {
		auth = "Authorization: Bearer " + *key + "\r\n"
	}
	req := "POST " + *path + " HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/json\r\n" + auth +
		"Content-Length: 1000\r\n\r\n{"
	before := fds(*pid)
	type result struct {
		status         string
		answer, closed time.Duration
	}
	results := make([]result, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	peak := before
	opened := make(chan struct{}, *conns)
	for i := range *conns {
		wg.Go(func() {
			r := &results[i]
			c, err := net.DialTimeout("tcp", host, 10*time.Second)
			if err != nil {
				r.status = "dial: " + err.Error()
				opened <- struct{}{}
				return
			}
			defer c.Close()
			t0 := time.Now()
			c.SetDeadline(t0.Add(*wait))
			_, err = io.WriteString(c, req)
			opened <- struct{}{}
			if err != nil {
				r.status = "write: " + err.Error()
				return
			}
			br := bufio.NewReader(c)
			line, err := br.ReadString('\n')
			if err != nil {
				r.status = "no answer (" + shortErr(err) + ")"
				return
			}
			r.answer = time.Since(t0)
			r.status = strings.TrimSpace(line)
			if _, err := io.Copy(io.Discard, br); err != nil {
				r.status += ", not closed (" + shortErr(err) + ")"
				return
			}
			r.closed = time.Since(t0)
		})
	}
	for range *conns {
		<-opened
	}
	time.Sleep(500 * time.Millisecond)
	if n := fds(*pid); n > peak {
		peak = n
	}
	wg.Wait()
	after := fds(*pid)
	byStatus := map[string]int{}
	var answers, closes []time.Duration
	for _, r := range results {
		byStatus[r.status]++
		if r.answer > 0 {
			answers = append(answers, r.answer)
		}
		if r.closed > 0 {
			closes = append(closes, r.closed)
		}
	}
	fmt.Printf("slowbody %d conns to %s%s, %s in all\n", *conns, *base, *path, time.Since(start).Round(time.Millisecond))
	for s, n := range byStatus {
		fmt.Printf("  %5d  %s\n", n, s)
	}
	fmt.Printf("  answered %d: %s\n  closed by the server %d: %s\n", len(answers), spread(answers), len(closes), spread(closes))
	if *pid != 0 {
		fmt.Printf("  server descriptors: %d before, %d with the connections open, %d after\n", before, peak, after)
	}
	return nil
}

func shortErr(err error) string {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return fmt.Sprintf("min %s, median %s, max %s", ds[0].Round(time.Millisecond),
		ds[len(ds)/2].Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
}

func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ExitOnError)
	kind := fs.String("kind", "hugeline", "hugeline, datalines, headers, body, endless or malformed")
	listen := fs.String("listen", "127.0.0.1:9001", "address of the hostile engine")
	size := fs.Int64("size", 400<<20, "bytes of the hugeline, headers or body")
	lines := fs.Int("lines", 240000, "data lines of the datalines event")
	gateway := fs.String("gateway", "", "send one completion through this gateway and measure it; empty: serve until killed")
	pid := fs.Int("pid", 0, "the gateway's pid, for its peak RSS and descriptors")
	cancel := fs.Duration("cancel", 0, "cut the request through the gateway off after this long")
	fs.Parse(args)
	switch *kind {
	case "hugeline", "datalines", "headers", "body", "endless", "malformed":
	default:
		return fmt.Errorf("unknown -kind %q", *kind)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveHostile(c, *kind, *size, *lines)
		}
	}()
	if *gateway == "" {
		fmt.Printf("hostile engine (%s) on http://%s/v1; Ctrl-C stops it\n", *kind, ln.Addr())
		select {}
	}
	return throughGateway(*gateway, *kind, *pid, *cancel)
}

// serveHostile answers every request on c: /v1/models honestly, completions
// with kind.
func serveHostile(c net.Conn, kind string, size int64, lines int) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		bw := bufio.NewWriterSize(c, 64<<10)
		if strings.HasSuffix(req.URL.Path, "/models") {
			body := `{"object":"list","data":[{"id":"hostile","object":"model","created":0,"owned_by":"hack"}]}`
			fmt.Fprintf(bw, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			bw.Flush()
			continue
		}
		chunk := `{"id":"x","object":"chat.completion.chunk","created":0,"model":"hostile","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`
		sse := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
		switch kind {
		case "hugeline":
			bw.WriteString(sse + "data: ")
			writeFill(bw, size, 'x')
			bw.WriteString("\n\ndata: [DONE]\n\n")
		case "datalines":
			bw.WriteString(sse)
			for range lines {
				bw.WriteString("data: x\n")
			}
			bw.WriteString("\ndata: [DONE]\n\n")
		case "headers":
			bw.WriteString("HTTP/1.1 200 OK\r\n")
			line := "X-Junk: " + strings.Repeat("a", 1014) + "\r\n"
			for n := int64(0); n < size; n += int64(len(line)) {
				if _, err := bw.WriteString(line); err != nil {
					return
				}
			}
			bw.WriteString("Content-Type: text/event-stream\r\nConnection: close\r\n\r\ndata: " + chunk + "\n\ndata: [DONE]\n\n")
		case "body":
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
			bw.WriteString(`{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"`)
			writeFill(bw, size, 'x')
			bw.WriteString(`"},"finish_reason":"stop"}]}`)
		case "endless":
			bw.WriteString(sse)
			for {
				if _, err := bw.WriteString("data: " + chunk + "\n\n"); err != nil || bw.Flush() != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		case "malformed":
			bw.WriteString(sse + "data: {this is not json\n\ndata: [DONE]\n\n")
		}
		bw.Flush()
		return
	}
}

func writeFill(w *bufio.Writer, n int64, c byte) {
	buf := bytes.Repeat([]byte{c}, 64<<10)
	for n > 0 {
		k := min(n, int64(len(buf)))
		if _, err := w.Write(buf[:k]); err != nil {
			return
		}
		n -= k
	}
}

func throughGateway(gateway, kind string, pid int, cancel time.Duration) error {
	stream := kind != "body"
	body := fmt.Sprintf(`{"model":"hostile","messages":[{"role":"user","content":"hi"}],"stream":%t}`, stream)
	ctx := context.Background()
	if cancel > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeout(ctx, cancel)
		defer stop()
	}
	hreq, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(gateway, "/")+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		return err
	}
	hreq.Header.Set("Content-Type", "application/json")
	fdBefore := fds(pid)
	start := time.Now()
	resp, err := http.DefaultClient.Do(hreq)
	var status string
	var n int64
	var tail string
	if err != nil {
		status = "error: " + err.Error()
	} else {
		status = resp.Status
		var last bytes.Buffer
		n, err = io.Copy(&tailWriter{b: &last, max: 300}, resp.Body)
		resp.Body.Close()
		if err != nil {
			status += " (body: " + err.Error() + ")"
		}
		tail = last.String()
	}
	took := time.Since(start)
	fmt.Printf("%s through %s: %s after %s, %d bytes\n", kind, gateway, status, took.Round(time.Millisecond), n)
	if tail != "" {
		fmt.Printf("  answer ends: %q\n", tail)
	}
	// The gauge is read now and again after a second: work that goes on
	// after the client has gone keeps it up.
	fmt.Printf("  gateway now: %s\n", gatewayMetrics(gateway))
	time.Sleep(time.Second)
	fmt.Printf("  gateway 1 s later: %s\n", gatewayMetrics(gateway))
	if pid != 0 {
		fmt.Printf("  gateway peak RSS (VmHWM) %s, RSS now %s, descriptors %d before, %d after\n",
			procStatus(pid, "VmHWM"), procStatus(pid, "VmRSS"), fdBefore, fds(pid))
	}
	return nil
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	b   *bytes.Buffer
	max int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	if len(p) > t.max {
		t.b.Reset()
		t.b.Write(p[len(p)-t.max:])
		return len(p), nil
	}
	t.b.Write(p)
	if t.b.Len() > 2*t.max {
		rest := append([]byte(nil), t.b.Bytes()[t.b.Len()-t.max:]...)
		t.b.Reset()
		t.b.Write(rest)
	}
	return len(p), nil
}

func gatewayMetrics(gateway string) string {
	resp, err := http.Get(strings.TrimRight(gateway, "/") + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "llm_requests_total{") || strings.HasPrefix(line, "llm_active_requests{") {
			if f := strings.Fields(line); len(f) == 2 {
				if v, _ := strconv.ParseFloat(f[1], 64); v != 0 {
					out = append(out, line)
				}
			}
		}
	}
	if len(out) == 0 {
		return "all llm_requests_total and llm_active_requests at 0"
	}
	return strings.Join(out, "; ")
}
