package openai

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

// readAll reads every event of in through a reader with a 16-byte buffer,
// so lines outgrow it; "<no data>" stands for an event without data.
func readAll(t *testing.T, in io.Reader) (data, raw []string, err error) {
	t.Helper()
	r := NewEventReader(bufio.NewReaderSize(in, 16), Limits{})
	for {
		ev, err := r.Next()
		if err != nil {
			return data, raw, err
		}
		d := string(ev.Data)
		if !ev.HasData {
			d = "<no data>"
		}
		data, raw = append(data, d), append(raw, string(ev.Raw))
	}
}

// The gateway's reader was held to this stream.
func TestEventReader(t *testing.T) {
	in := ": ping\n\n" + // a comment
		"\n" + // a stray blank line
		"data:{\"a\":1}\r\n\r\n" + // TGI-style, CRLF
		"event: message\ndata: {\"b\":\ndata: 2}\n\n" + // two data lines
		"data: " + strings.Repeat("x", 40000) + "\n\n" + // longer than the reader's buffer
		"data: a\ndata:\ndata: c\n\n" + // three, one of them empty
		"data: [DONE]\n\n" +
		"data: {\"partial\""
	got, raw, err := readAll(t, strings.NewReader(in))
	if !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
	want := []string{"<no data>", `{"a":1}`, "{\"b\":\n2}", strings.Repeat("x", 40000), "a\n\nc", "[DONE]", `{"partial"`}
	if len(got) != len(want) {
		t.Fatalf("got %d events %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %.60q, want %.60q", i, got[i], want[i])
		}
	}
	// Raw is the stream itself, less the stray blank line.
	if strings.Join(raw, "") != strings.Replace(in, "\n\n\n", "\n\n", 1) {
		t.Errorf("raw events do not add up to the stream:\n%.200q", strings.Join(raw, ""))
	}
}

// load's reader was held to this one: fields that are not data, CRLF, a
// line longer than the buffer, and a last line without a line ending.
func TestEventReaderSkipsFieldsAndReadsTheLastLine(t *testing.T) {
	long := strings.Repeat("x", 40000)
	stream := ": comment\r\n" +
		"event: message\n" +
		"data: {\"a\":1}\r\n\r\n" +
		"id: 7\n" +
		"data:{\"b\":2}\n\n" +
		"data: " + long + "\n\n" +
		"retry: 100\n" +
		"data: [DONE]\n\n" +
		"data: tail-without-newline"
	got, _, err := readAll(t, strings.NewReader(stream))
	want := []string{`{"a":1}`, `{"b":2}`, long, "[DONE]", "tail-without-newline"}
	if !errors.Is(err, io.EOF) || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %.80q, %v; want %.80q, EOF", got, err, want)
	}
}

// A read error is passed on, never taken for the end of the stream, and an
// event it cut off is not returned.
func TestEventReaderPassesReadErrors(t *testing.T) {
	for _, in := range []string{"data: {}\n\n", "data: {}\n\ndata: {\"cut\n"} {
		got, _, err := readAll(t, io.MultiReader(strings.NewReader(in), errReader{}))
		if len(got) != 1 || got[0] != "{}" || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: events %q, err %v; want [{}] and the body's read error", in, got, err)
		}
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

// Buffered tells whether a whole event waits in the buffer.
func TestEventReaderBuffered(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("data: 1\n\ndata: 2\r\n\r\ndata: 3\n"))
	r := NewEventReader(br, Limits{})
	br.Peek(1) // fill the buffer
	for i, want := range []bool{true, false} {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if got := r.Buffered(); got != want {
			t.Errorf("after event %d: Buffered = %v, want %v", i+1, got, want)
		}
	}
}

func BenchmarkEventReader(b *testing.B) {
	ev := "data: " + string(benchChunk) + "\n\n"
	stream := strings.NewReader(strings.Repeat(ev, 64))
	br := bufio.NewReaderSize(stream, 16<<10)
	r := NewEventReader(br, Limits{})
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			stream.Seek(0, io.SeekStart)
			br.Reset(stream)
		}
	}
}
