package llmserver

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Access logs: one structured line per request, through log/slog, written
// by finish when the request ends.

// Log formats for NewLogger.
const (
	LogText = "text"
	LogJSON = "json"
)

// NewLogger returns the access logger llmmon serve writes to w: lines in
// the layout of slog's text (the default, format "") or JSON handler, at
// level and above. Requests log at Info, 5xx
// answers at Warn, /health and /metrics at Debug.
func NewLogger(w io.Writer, format string, level slog.Level) (*slog.Logger, error) {
	switch format {
	case LogText, "":
		return slog.New(newLineHandler(w, false, level)), nil
	case LogJSON:
		return slog.New(newLineHandler(w, true, level)), nil
	}
	return nil, fmt.Errorf("--log-format must be %s or %s, got %q", LogText, LogJSON, format)
}

// ParseLogLevel reads --log-level: debug, info, warn or error.
func ParseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return l, fmt.Errorf("--log-level must be debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// LogWriter buffers log lines and writes them out at least every
// interval, when the buffer fills, and on Close: one write(2) per line
// would cost more than the rest of a request's instrumentation.
type LogWriter struct {
	mu     sync.Mutex
	w      *bufio.Writer
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

// NewLogWriter starts a LogWriter in front of w that flushes every interval.
func NewLogWriter(w io.Writer, interval time.Duration) *LogWriter {
	lw := &LogWriter{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lw.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				lw.Flush()
			case <-lw.stop:
				return
			}
		}
	}()
	return lw
}

func (lw *LogWriter) Write(p []byte) (int, error) {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.closed {
		return 0, io.ErrClosedPipe
	}
	return lw.w.Write(p)
}

// Flush writes out what is buffered.
func (lw *LogWriter) Flush() error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Flush()
}

// Close flushes and stops the background flushes.
func (lw *LogWriter) Close() error {
	lw.mu.Lock()
	if lw.closed {
		lw.mu.Unlock()
		return nil
	}
	lw.closed = true
	lw.mu.Unlock()
	close(lw.stop)
	<-lw.done
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.w.Flush()
}

// logRequest writes x's access log line. With llmmon's own handler it
// hands the attributes over directly; through slog.Logger, a request's
// line would cost a caller lookup (runtime.Callers) and a record copied
// to the heap on top.
func (s *Server) logRequest(x *exchange, r *http.Request, status int, end time.Time) {
	level := slog.LevelInfo
	switch {
	case x.route == routeHealth || x.route == routeMetrics:
		level = slog.LevelDebug
	case status >= 500:
		level = slog.LevelWarn
	}
	ctx := context.Background()
	h := s.log.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	var buf [15]slog.Attr
	attrs := append(buf[:0],
		slog.String("request_id", x.id),
		slog.String("method", r.Method),
		slog.String("route", routeNames[x.route]),
	)
	if x.route == routeOther {
		attrs = append(attrs, slog.String("path", clip(r.URL.Path)))
	}
	// Durations, not float milliseconds: slog's JSON handler formats
	// floats through encoding/json, ten times the cost of an integer.
	attrs = append(attrs, slog.Int("status", status), slog.Duration("duration", end.Sub(x.start)))
	if x.completion {
		attrs = append(attrs,
			slog.String("model", clip(x.requested)),
			slog.Bool("stream", x.stream),
			slog.String("error_type", x.errType),
			slog.Int("prompt_tokens", x.prompt),
			slog.Int("output_tokens", x.output),
		)
		if !x.first.IsZero() {
			attrs = append(attrs, slog.Duration("ttft", x.first.Sub(x.start)))
		}
	}
	if x.detail != "" {
		attrs = append(attrs, slog.String("error", x.detail))
	}
	if lh, ok := h.(*lineHandler); ok {
		lh.handleAttrs(end, level, "request", attrs)
		return
	}
	rec := slog.NewRecord(end, level, "request", 0)
	rec.AddAttrs(attrs...)
	h.Handle(ctx, rec)
}

// clip bounds what a client controls in a log line.
func clip(s string) string {
	if len(s) > 256 {
		return s[:256] + "…"
	}
	return s
}
