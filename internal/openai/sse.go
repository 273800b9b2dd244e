package openai

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
)

// EventReader reads a server-sent event stream (text/event-stream) one
// event at a time: what an OpenAI-compatible server streams, one chunk per
// event, then "data: [DONE]". The gateway forwards each event as it was
// received; load reads its data. Buffers are reused from event to event, so
// a stream costs no allocation once they have grown to its largest event.
//
// The rules, after the HTML living standard's "event stream
// interpretation": lines end in LF or CRLF; an event ends at a blank line;
// its data is the value of each "data:" line (less one leading space),
// joined by newlines; comments (":"), "event:", "id:" and "retry:" lines
// belong to the event but carry no data. Blank lines before an event are
// skipped. Unlike a browser, an event that the end of the stream cuts off
// is still returned (engines that close without a last blank line exist),
// while one cut off by a read error is not: the error is returned instead.
//
// A line longer than Limits.MaxLine, or an event larger than
// Limits.MaxEvent, ends the stream with a *LimitError: what a reader holds
// is bounded whatever the server sends.
type EventReader struct {
	br   *bufio.Reader
	lim  Limits
	raw  []byte // the event as received
	data []byte // its data, when it has several data lines
	err  error  // a limit struck: the stream is unreadable from here
}

// Event is one event. Its slices stay valid until the next call to Next.
type Event struct {
	// Raw is the event as received, through the blank line that ends it.
	Raw []byte
	// Data is the event's data; HasData reports whether it had a data line
	// at all (a comment or keep-alive has none).
	Data    []byte
	HasData bool
}

// Done is the data of the event that ends an OpenAI stream.
const Done = "[DONE]"

// IsDone reports whether e is the "data: [DONE]" event.
func (e *Event) IsDone() bool { return e.HasData && string(e.Data) == Done }

// NewEventReader reads events from br within lim. Reset points it at
// another stream.
func NewEventReader(br *bufio.Reader, lim Limits) *EventReader {
	return &EventReader{br: br, lim: lim.orDefault()}
}

// Reset reads from br from now on, keeping the limits and the buffers
// (those of a size a usual stream needs).
func (r *EventReader) Reset(br *bufio.Reader) {
	r.br, r.err = br, nil
	if cap(r.raw) > keepBuffer {
		r.raw = nil
	}
	if cap(r.data) > keepBuffer {
		r.data = nil
	}
}

// keepBuffer is the largest buffer kept from one stream for the next.
const keepBuffer = 64 << 10

// Next returns the next event. At the end of the stream it returns io.EOF;
// any other error is the stream's, or a *LimitError.
func (r *EventReader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	r.raw = r.raw[:0]
	first, lines := Span{}, 0 // the first data value's place in raw; data lines
	for {
		start := len(r.raw)
		line, err := r.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(bytes.TrimSpace(r.raw)) > 0 {
				return r.event(first, lines), nil // cut off by the end: still an event
			}
			return Event{}, err
		}
		if string(line) == "\n" || string(line) == "\r\n" {
			if start == 0 {
				r.raw = r.raw[:0] // a blank line with no event before it
				continue
			}
			return r.event(first, lines), nil
		}
		content := trimEOL(line)
		value, ok := bytes.CutPrefix(content, []byte("data:"))
		if !ok {
			continue
		}
		value = bytes.TrimPrefix(value, []byte(" "))
		lines++
		switch lines {
		case 1: // the usual single line stays a view into raw
			at := start + len(content) - len(value) // value ends content
			first = Span{at, at + len(value)}
		case 2: // several: joined in data, each line appended once
			r.data = grow(r.data[:0], first.End-first.Start+1+len(value), r.lim.MaxEvent)
			r.data = append(append(append(r.data, r.raw[first.Start:first.End]...), '\n'), value...)
		default:
			r.data = grow(r.data, 1+len(value), r.lim.MaxEvent)
			r.data = append(append(r.data, '\n'), value...)
		}
	}
}

// readLine appends the next line, with its line ending, to raw and returns
// it. A line that outgrows br's buffer is read on until its end; the last
// line of a stream may have no line ending. This is the one place an event
// grows: the limits are checked before each append, so raw (and data, made
// of raw's lines) never outgrows them.
func (r *EventReader) readLine() ([]byte, error) {
	start := len(r.raw)
	for {
		part, err := r.br.ReadSlice('\n')
		switch {
		case len(r.raw)-start+len(part) > r.lim.MaxLine:
			r.err = &LimitError{What: WhatLine, Limit: int64(r.lim.MaxLine)}
			return nil, r.err
		case len(r.raw)+len(part) > r.lim.MaxEvent:
			r.err = &LimitError{What: WhatEvent, Limit: int64(r.lim.MaxEvent)}
			return nil, r.err
		}
		r.raw = append(grow(r.raw, len(part), r.lim.MaxEvent), part...)
		switch {
		case err == nil:
			return r.raw[start:], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(r.raw) > start:
			return r.raw[start:], nil
		}
		return nil, err
	}
}

// grow makes room in b for n more bytes, doubling its capacity up to
// limit (never beyond, unless more is needed): append's own growth, by a
// quarter for large slices, would allocate five times a large event to
// read it.
func grow(b []byte, n, limit int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	c := max(min(2*cap(b), limit), need, 512)
	return append(make([]byte, 0, c), b...)
}

func (r *EventReader) event(first Span, lines int) Event {
	switch lines {
	case 0:
		return Event{Raw: r.raw}
	case 1:
		return Event{Raw: r.raw, Data: r.raw[first.Start:first.End], HasData: true}
	}
	return Event{Raw: r.raw, Data: r.data, HasData: true}
}

// trimEOL drops a line's LF or CRLF.
func trimEOL(line []byte) []byte {
	line = bytes.TrimSuffix(line, []byte("\n"))
	return bytes.TrimSuffix(line, []byte("\r"))
}

// Buffered reports whether a whole further event has already arrived, so
// whoever forwards events can write it with the current one, under one
// flush.
func (r *EventReader) Buffered() bool {
	n := r.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := r.br.Peek(n)
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

// Stream reads one streamed answer: its events, and the chunks they carry
// (with a StreamScanner), through a 16 KiB buffer. Streams are many and
// short-lived, so they are pooled: NewStream takes one, Release gives it
// back with its buffers.
type Stream struct {
	br *bufio.Reader
	er EventReader
	ss StreamScanner
}

var streamPool = sync.Pool{New: func() any {
	s := &Stream{br: bufio.NewReaderSize(nil, 16<<10)}
	s.er.br = s.br
	return s
}}

// NewStream reads the event stream body within lim.
func NewStream(body io.Reader, lim Limits) *Stream {
	s := streamPool.Get().(*Stream)
	s.br.Reset(body)
	s.er.Reset(s.br)
	s.er.lim = lim.orDefault()
	s.ss.Reset()
	return s
}

// Next returns the next event, as EventReader.Next.
func (s *Stream) Next() (Event, error) { return s.er.Next() }

// Scan reads an event's data as StreamScanner.Scan.
func (s *Stream) Scan(data []byte) (Chunk, bool) { return s.ss.Scan(data) }

// Buffered reports whether a whole further event has already arrived, as
// EventReader.Buffered.
func (s *Stream) Buffered() bool { return s.er.Buffered() }

// Release gives s back; neither s nor the events it returned may be used
// after.
func (s *Stream) Release() {
	s.br.Reset(nil)
	streamPool.Put(s)
}
