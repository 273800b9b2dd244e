package openai

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A line or an event over its limit ends the stream with a LimitError
// naming it, and the reader never holds more than the limit; an event
// right at both limits still reads.
func TestEventReaderLimits(t *testing.T) {
	lim := Limits{MaxLine: 64, MaxEvent: 256}
	atLine := "data: " + strings.Repeat("x", 64-len("data: \n")) + "\n"
	tests := []struct {
		name, in string
		events   int    // read before the error
		what     string // the LimitError's, or "" for none (io.EOF)
	}{
		{"a line at the limit", atLine + "\n", 1, ""},
		{"a line over it", "data: 1\n\n" + "data: " + strings.Repeat("x", 64) + "\n\n", 1, WhatLine},
		{"a line over it with no end", "data: " + strings.Repeat("x", 1000), 0, WhatLine},
		{"an event at the limit", strings.Repeat(atLine, 3) + "data: " + strings.Repeat("y", 256-3*64-len("data: \n\n")) + "\n\n", 1, ""},
		{"an event over it", strings.Repeat(atLine, 4) + "\n", 0, WhatEvent},
		{"comments over it", strings.Repeat(": keep-alive\n", 100), 0, WhatEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewEventReader(bufio.NewReaderSize(strings.NewReader(tt.in), 16), lim)
			n := 0
			var err error
			for {
				var ev Event
				if ev, err = r.Next(); err != nil {
					break
				}
				if len(ev.Raw) > lim.MaxEvent {
					t.Fatalf("an event of %d bytes came through", len(ev.Raw))
				}
				n++
			}
			var le *LimitError
			switch {
			case tt.what == "" && err != io.EOF:
				t.Fatalf("after %d events: %v, want io.EOF", n, err)
			case tt.what != "" && (!errors.As(err, &le) || le.What != tt.what || !errors.Is(err, ErrTooLarge)):
				t.Fatalf("after %d events: %v, want a LimitError for %s", n, err, tt.what)
			case n != tt.events:
				t.Fatalf("%d events before %v, want %d", n, err, tt.events)
			case cap(r.raw) > max(lim.MaxEvent, 512):
				t.Fatalf("the reader holds %d bytes", cap(r.raw))
			}
			if tt.what != "" {
				if _, again := r.Next(); again != err {
					t.Errorf("Next after the limit: %v, want the same error", again)
				}
			}
		})
	}
}

// FuzzEventReader reads arbitrary streams with arbitrary small limits: it
// must read them as a plain reference parser does, refuse exactly the
// streams with a line or event over a limit, and never hold buffers larger
// than the event limit, whatever the stream.
func FuzzEventReader(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\n: ping\n\ndata: a\ndata: b\r\n\r\ndata: [DONE]\n\n"), uint16(64), uint16(256), uint8(16))
	f.Add([]byte("data: "+strings.Repeat("x", 300)+"\n\n"), uint16(64), uint16(1024), uint8(16))
	f.Add([]byte(strings.Repeat("data: x\n", 100)+"\n"), uint16(64), uint16(200), uint8(0))
	f.Add([]byte("\n\n\ndata:tail"), uint16(8), uint16(8), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, maxLine, maxEvent uint16, bufSize uint8) {
		lim := Limits{MaxLine: int(maxLine%2048) + 1, MaxEvent: int(maxEvent%4096) + 1}
		r := NewEventReader(bufio.NewReaderSize(bytes.NewReader(in), int(bufSize)+16), lim)
		want, wantErr := referenceEvents(in, lim)
		for i := 0; ; i++ {
			ev, err := r.Next()
			if bound := max(lim.MaxEvent, 512); cap(r.raw) > bound || cap(r.data) > bound {
				t.Fatalf("limits %+v: the reader holds %d and %d bytes", lim, cap(r.raw), cap(r.data))
			}
			if err != nil {
				if i != len(want) || (wantErr == "") != (err == io.EOF) || (wantErr != "" && !limitIn(err, wantErr)) {
					t.Fatalf("limits %+v: %v after %d events; want %q after %d", lim, err, i, wantErr, len(want))
				}
				return
			}
			if i >= len(want) {
				t.Fatalf("limits %+v: event %d %q is one too many", lim, i, ev.Raw)
			}
			got := refEvent{raw: string(ev.Raw), data: string(ev.Data), hasData: ev.HasData}
			if got != want[i] {
				t.Fatalf("limits %+v: event %d = %+v, want %+v", lim, i, got, want[i])
			}
		}
	})
}

// limitIn reports whether err is a LimitError for one of the "|"-separated
// names in whats.
func limitIn(err error, whats string) bool {
	var le *LimitError
	return errors.As(err, &le) && strings.Contains("|"+whats+"|", "|"+le.What+"|")
}

type refEvent struct {
	raw, data string
	hasData   bool
}

// referenceEvents reads a whole stream the simplest way: split into lines,
// then events; wantErr names the limit it breaks first, if any.
func referenceEvents(in []byte, lim Limits) (events []refEvent, wantErr string) {
	var cur refEvent
	var data []string
	for len(in) > 0 {
		n := bytes.IndexByte(in, '\n') + 1
		if n == 0 {
			n = len(in)
		}
		line := string(in[:n])
		in = in[n:]
		overLine, overEvent := len(line) > lim.MaxLine, len(cur.raw)+len(line) > lim.MaxEvent
		switch {
		case overLine && overEvent:
			return events, "" + WhatLine + "|" + WhatEvent // which one strikes first depends on the reads
		case overLine:
			return events, WhatLine
		case overEvent:
			return events, WhatEvent
		}
		if line == "\n" || line == "\r\n" {
			if cur.raw != "" {
				cur.raw += line
				cur.data = strings.Join(data, "\n")
				events = append(events, cur)
			}
			cur, data = refEvent{}, nil
			continue
		}
		cur.raw += line
		content := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if v, ok := strings.CutPrefix(content, "data:"); ok {
			data = append(data, strings.TrimPrefix(v, " "))
			cur.hasData = true
		}
	}
	if strings.TrimSpace(cur.raw) != "" {
		cur.data = strings.Join(data, "\n")
		events = append(events, cur)
	}
	return events, ""
}

// BenchmarkEventReaderDataLines reads one event of many data lines: the
// time per line stays flat from 24k to 240k lines (assembly is linear).
func BenchmarkEventReaderDataLines(b *testing.B) {
	for _, lines := range []int{24_000, 240_000} {
		b.Run(fmt.Sprint(lines), func(b *testing.B) {
			stream := []byte(strings.Repeat("data: x\n", lines) + "\n")
			br := bufio.NewReaderSize(nil, 16<<10)
			r := NewEventReader(br, Limits{})
			b.SetBytes(int64(len(stream)))
			for b.Loop() {
				br.Reset(bytes.NewReader(stream))
				r.Reset(br)
				if ev, err := r.Next(); err != nil || len(ev.Data) != 2*lines-1 {
					b.Fatalf("%d bytes of data, %v", len(ev.Data), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(lines), "ns/line")
		})
	}
}

// An answer whose head outgrows MaxResponseHeaderBytes is refused, over
// the client's own connections and through the Fallback, and so is a
// server that sends 100 Continue for ever.
func TestClientResponseHeaderLimit(t *testing.T) {
	junk := "X-Junk: " + strings.Repeat("a", 1000) + "\r\n"
	heads := map[string]string{
		"many headers": "HTTP/1.1 200 OK\r\n" + strings.Repeat(junk, 100) + "Content-Length: 2\r\n\r\n{}",
		"100 Continue for ever": strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 10_000) +
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
	}
	for name, head := range heads {
		t.Run(name, func(t *testing.T) {
			addr := listen(t, func(c net.Conn) {
				http.ReadRequest(bufio.NewReader(c))
				io.WriteString(c, head)
			})
			c := newClient(nil)
			c.MaxResponseHeaderBytes = 64 << 10
			defer c.Close()
			_, _, err := send(t, c, context.Background(), "POST", "http://"+addr+"/v1/completions", "{}")
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != 64<<10 {
				t.Fatalf("err = %v, want a LimitError at 64KiB", err)
			}
			c.MaxResponseHeaderBytes = 1 << 20
			if code, body, err := send(t, c, context.Background(), "POST", "http://"+addr+"/v1/completions", "{}"); err != nil || code != 200 || body != "{}" {
				t.Fatalf("under the limit: %d %q %v", code, body, err)
			}
		})
	}
	t.Run("through the Fallback", func(t *testing.T) {
		ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range 100 {
				w.Header().Set(fmt.Sprintf("X-Junk-%d", i), strings.Repeat("a", 1000))
			}
			w.Write([]byte("{}"))
		}))
		defer ts.Close()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxResponseHeaderBytes: 64 << 10}
		c := newClient(tr)
		c.MaxResponseHeaderBytes = 64 << 10
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, _, err := send(t, c, ctx, "POST", ts.URL, "{}"); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "4MiB": 4 << 20, "512 KiB": 512 << 10, "1GiB": 1 << 30, "0": 0} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "4MB", "-1", "1.5MiB", "99999999999GiB"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) accepted", in)
		}
	}
	if s := FormatBytes(4 << 20); s != "4MiB" {
		t.Errorf("FormatBytes(4MiB) = %q", s)
	}
}
