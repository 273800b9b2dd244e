package llmserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/llmmon/llmmon/stack/llmmetrics"
)

// serveOn runs a Server on a real listener through Serve, as llmmon serve
// does (connection limit included), and returns its address.
func serveOn(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	srv, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String()
}

// rawRequest sends head (a request's first lines, without the blank line),
// the header Content-Length: declared and then body, which may be shorter;
// it returns the answer's status line and whether the server then closed
// the connection, waiting for both at most wait.
func rawRequest(t *testing.T, addr, head string, declared int, body string, wait time.Duration) (status string, closed bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "%s\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", head, declared, body)
	c.SetReadDeadline(time.Now().Add(wait))
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", false
	}
	_, err = io.Copy(io.Discard, br)
	return strings.TrimSpace(line), err == nil
}

// A body that never comes holds nothing: every path answers (408 where the
// body is read, at once where it is not) and closes the connection, with
// or without the key; none waits for the body after answering.
func TestBodyThatNeverComes(t *testing.T) {
	o := fastOptions()
	o.APIKey = "k"
	o.BodyReadTimeout = 300 * time.Millisecond
	o.MaxBody = 1000
	_, addr := serveOn(t, o)
	const ctJSON, key = "Content-Type: application/json", "Authorization: Bearer k"
	for _, tc := range []struct {
		name, head string
		declared   int
		status     string
	}{
		{"authorised completion", "POST /v1/completions HTTP/1.1\r\n" + ctJSON + "\r\n" + key, 1000, "408"},
		{"authorised chat", "POST /v1/chat/completions HTTP/1.1\r\n" + ctJSON + "\r\n" + key, 1000, "408"},
		{"no key", "POST /v1/completions HTTP/1.1\r\n" + ctJSON, 1000, "401"},
		{"wrong key", "POST /v1/chat/completions HTTP/1.1\r\n" + ctJSON + "\r\nAuthorization: Bearer nope", 1000, "401"},
		{"wrong method", "PUT /v1/completions HTTP/1.1\r\n" + ctJSON + "\r\n" + key, 1000, "405"},
		{"wrong content type", "POST /v1/completions HTTP/1.1\r\nContent-Type: text/plain\r\n" + key, 1000, "415"},
		{"over --max-body", "POST /v1/completions HTTP/1.1\r\n" + ctJSON + "\r\n" + key, 5000, "413"},
		{"unknown path", "POST /v1/embeddings HTTP/1.1\r\n" + ctJSON, 1000, "404"},
		{"metrics", "GET /metrics HTTP/1.1", 1000, "200"},
		{"health", "GET /health HTTP/1.1", 1000, "200"},
		{"models, no key", "GET /v1/models HTTP/1.1", 1000, "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// 10 s: far beyond the server's 300 ms body timeout and 1 s
			// linger; a server that waits for the body never answers.
			status, closed := rawRequest(t, addr, tc.head, tc.declared, "{", 10*time.Second)
			if !strings.HasPrefix(status, "HTTP/1.1 "+tc.status+" ") || !closed {
				t.Fatalf("answer %q, closed %v; want %s and the connection closed", status, closed, tc.status)
			}
		})
	}
}

// Error answers close the connection rather than read a body nobody wants,
// and never before a body already sent has arrived: the client reads the
// answer, not a reset. A good request keeps its connection.
func TestErrorAnswersCloseTheConnection(t *testing.T) {
	o := fastOptions()
	o.APIKey = "k"
	_, addr := serveOn(t, o)
	big := `{"prompt":"` + strings.Repeat("x", 200<<10) + `"}`
	status, closed := rawRequest(t, addr, "POST /v1/completions HTTP/1.1\r\nContent-Type: application/json", len(big), big, 10*time.Second)
	if !strings.HasPrefix(status, "HTTP/1.1 401 ") || !closed {
		t.Fatalf("401 with a 200 KiB body: %q, closed %v", status, closed)
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	good := `{"prompt":"hi","max_tokens":2}`
	req := fmt.Sprintf("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer k\r\nContent-Length: %d\r\n\r\n%s", len(good), good)
	br := bufio.NewReader(c)
	for i := range 2 {
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on one connection: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("request %d: %d, close %v", i+1, resp.StatusCode, resp.Close)
		}
	}
}

// --max-connections: beyond it, a new connection waits for one to close.
func TestMaxConnections(t *testing.T) {
	o := fastOptions()
	o.MaxConnections = 2
	_, addr := serveOn(t, o)
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	c, err := net.Dial("tcp", addr) // the kernel accepts it; the server does not, yet
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a third connection was served with two held: %v", err)
	}
	held[0].Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("once one closed, the third: %v %v", resp, err)
	}
	resp.Body.Close()
}

// max_tokens that would overflow prompt + max_tokens is a 400
// context_length_exceeded, on both endpoints and both parameters, and the
// engine serves on (it used to take the request, then wedge on it).
func TestMaxTokensOverflowIs400(t *testing.T) {
	_, hs := startServer(t, nil)
	for _, body := range []string{
		fmt.Sprintf(`{"prompt":"hi","max_tokens":%d}`, math.MaxInt64),
		fmt.Sprintf(`{"prompt":"hi","max_tokens":%d,"stream":true}`, math.MaxInt64-1),
		fmt.Sprintf(`{"messages":[{"role":"user","content":"hi"}],"max_tokens":%d}`, math.MaxInt64),
		fmt.Sprintf(`{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":%d}`, math.MaxInt64),
		fmt.Sprintf(`{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":%d,"stream":true}`, math.MaxInt64-1),
	} {
		path := "/v1/completions"
		if strings.Contains(body, "messages") {
			path = "/v1/chat/completions"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp := post(t, ctx, hs.URL+path, body)
		var eb errorBody
		err := decodeJSON(resp.Body, &eb)
		resp.Body.Close()
		cancel()
		if err != nil || resp.StatusCode != 400 || deref(eb.Error.Code) != "context_length_exceeded" {
			t.Fatalf("%s: %d %+v %v, want 400 context_length_exceeded", body, resp.StatusCode, eb.Error, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp := post(t, ctx, hs.URL+"/v1/completions", `{"prompt":"hi","max_tokens":3}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("a request after them: %d", resp.StatusCode)
	}
}

func decodeJSON(r io.Reader, v any) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// llmSeries is every llm_* series of srv, in the text format.
func llmSeries(t *testing.T, srv *Server) string {
	t.Helper()
	mfs, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "llm_") {
			expfmt.MetricFamilyToText(&b, mf)
		}
	}
	return b.String()
}

// Requests that are not API requests — unknown paths, other routes, a
// wrong method or a missing key on an API route — change no llm_* series:
// nobody can raise the error ratio (or the request rate) with junk.
func TestJunkCountsInNoLLMSeries(t *testing.T) {
	o := fastOptions()
	o.APIKey = "k"
	srv, addr := serveOn(t, o)
	base := "http://" + addr
	before := llmSeries(t, srv)
	junk := []struct{ method, path, body, key string }{
		{"GET", "/", "", ""},
		{"POST", "/v1/embeddings", `{"input":"x"}`, "k"},
		{"GET", "/wp-login.php", "", ""},
		{"POST", "/v1/completions/../../etc/passwd", "x", ""},
		{"GET", "/v1/completions", "", "k"},
		{"DELETE", "/v1/chat/completions", "", ""},
		{"POST", "/v1/completions", `{"prompt":"hi"}`, ""},
		{"POST", "/v1/chat/completions", `{"messages":[]}`, "wrong"},
		{"GET", "/v1/models", "", ""},
		{"POST", "/metrics", "x", ""},
		{"GET", "/metrics", "", ""},
		{"GET", "/health", "", ""},
		{"GET", "/v1/models/nope", "", "k"},
	}
	for i := range 200 {
		j := junk[i%len(junk)]
		req, _ := http.NewRequest(j.method, base+j.path, strings.NewReader(j.body))
		req.Header.Set("Content-Type", "application/json")
		if j.key != "" {
			req.Header.Set("Authorization", "Bearer "+j.key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", j.method, j.path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if after := llmSeries(t, srv); after != before {
		t.Fatalf("junk changed llm_* series:\n%s", diffLines(before, after))
	}
	// An API request still counts.
	req, _ := http.NewRequest("POST", base+"/v1/completions", strings.NewReader(`{"prompt":`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := metricValue(t, srv, llmmetrics.Requests, "endpoint", "nonstream", "status", "error"); resp.StatusCode != 400 || v != 1 {
		t.Fatalf("a bad API request: %d, counted %v, want 400 counted once", resp.StatusCode, v)
	}
}

func diffLines(a, b string) string {
	in := map[string]bool{}
	for _, l := range strings.Split(a, "\n") {
		in[l] = true
	}
	var out []string
	for _, l := range strings.Split(b, "\n") {
		if !in[l] {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
