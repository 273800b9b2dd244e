package openai

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cannedServer answers every request with answer, written at once, so that
// the server's own work is small next to the client's. It reads requests
// with a minimal parser of its own for the same reason.
func cannedServer(b *testing.B, answer []byte) string {
	return "http://" + listen(b, func(c net.Conn) {
		br := bufio.NewReaderSize(c, 16<<10)
		for {
			length := 0
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
				if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "content-length") {
					length, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
				}
			}
			if _, err := br.Discard(length); err != nil {
				return
			}
			if _, err := c.Write(answer); err != nil {
				return
			}
		}
	}) + "/v1/completions"
}

// streamAnswer is serve's answer to a 16-token streamed completion: one
// chunk of the chunked body per event, as serve flushes them.
func streamAnswer() []byte {
	a := Answer{ID: "cmpl-063578d88f95a9297d811020", Created: 1795895517, Model: "demo"}
	var events [][]byte
	for i := range 16 {
		events = append(events, a.AppendChunk(nil, fmt.Sprintf(" w%d", i), ""))
	}
	events = append(events, a.AppendChunk(nil, "", "length"), a.AppendUsageChunk(nil, Usage{7, 16}), []byte(DoneEvent))
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
	for _, e := range events {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(e), e)
	}
	b.WriteString("0\r\n\r\n")
	return b.Bytes()
}

func jsonAnswer() []byte {
	a := Answer{ID: "cmpl-063578d88f95a9297d811020", Created: 1795895517, Model: "demo"}
	body := a.AppendCompletion(nil, strings.Repeat(" word", 16), "length", Usage{7, 16})
	return fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// BenchmarkClient is one request as the gateway and load make it, over the
// client's own connections (own) and over net/http's Transport (nethttp),
// against a canned server in this process: the request written, the answer
// read and scanned (a stream event by event, as both do), the connection
// given back. gateway: the request's context can be cancelled (the client
// may leave) and the head is timed (--upstream-timeout); load: a deadline
// (--timeout), and Close for Ctrl-C. The difference between own and
// nethttp is the client's cost; the package doc gives the figures.
func BenchmarkClient(b *testing.B) {
	for _, answer := range []struct {
		name   string
		bytes  []byte
		stream bool
	}{{"json", jsonAnswer(), false}, {"stream", streamAnswer(), true}} {
		for _, use := range []string{"gateway", "load"} {
			for _, own := range []bool{true, false} {
				name := answer.name + "/" + use + "/own"
				if !own {
					name = answer.name + "/" + use + "/nethttp"
				}
				b.Run(name, func(b *testing.B) { benchClient(b, answer.bytes, answer.stream, use == "gateway", own) })
			}
		}
	}
}

func benchClient(b *testing.B, answer []byte, stream, gateway, own bool) {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true, IdleConnTimeout: time.Minute}
	c := &Client{Fallback: tr, MaxIdlePerHost: 64}
	defer c.Close()
	tg, err := c.Target(cannedServer(b, answer))
	if err != nil {
		b.Fatal(err)
	}
	tg.own = own
	body := []byte(`{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":true}`)
	header := []Header{{"Content-Type", "application/json"}, {"Accept", "text/event-stream"}, {"User-Agent", "llmmon-bench"}}
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		br := bufio.NewReaderSize(nil, 16<<10)
		er := NewEventReader(br, Limits{})
		var ss StreamScanner
		buf := make([]byte, 0, 4096)
		for pb.Next() {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			req := &Request{Method: "POST", Header: header, Body: body}
			if gateway {
				ctx, cancel = context.WithCancel(ctx)
				req.HeadTimeout = time.Minute
			} else {
				req.Deadline = time.Now().Add(time.Minute)
			}
			resp, err := c.Do(ctx, tg, req)
			if err != nil {
				cancel()
				b.Error(err)
				return
			}
			tokens := 0
			if stream {
				br.Reset(resp.Body)
				ss.Reset()
				for {
					ev, err := er.Next()
					if err != nil {
						break
					}
					if ch, _ := ss.Scan(ev.Data); ch.Usage {
						tokens = ch.CompletionTokens
					}
				}
			} else {
				buf = buf[:0]
				for {
					n, err := resp.Body.Read(buf[len(buf):cap(buf)])
					buf = buf[:len(buf)+n]
					if err != nil {
						break
					}
				}
				ch, _ := ScanChunk(buf)
				tokens = ch.CompletionTokens
			}
			resp.Close()
			cancel()
			if tokens != 16 {
				b.Errorf("%d tokens, want 16", tokens)
				return
			}
		}
	})
}
