package llmserver

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// TestLineHandlerMatchesSlog: the access log's handler writes what slog's
// own TextHandler and JSONHandler write, byte for byte.
func TestLineHandlerMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 1, 9, 8, 7, 654321000, time.UTC)
	strs := []string{"", "plain", "with space", "a=b", `quo"te`, `back\slash`, "new\nline", "tab\t", "\x01ctl",
		"ünïcode", "\u2028sep", "bad\xffutf8", "emoji 🙂", "/v1/models/{model}", "<html>&"}
	var records []slog.Record
	for _, s := range strs {
		r := slog.NewRecord(at, slog.LevelInfo, s, 0)
		r.AddAttrs(slog.String("s", s), slog.String(s+"k", "v"))
		records = append(records, r)
	}
	r := slog.NewRecord(at, slog.LevelWarn, "request", 0)
	r.AddAttrs(slog.String("request_id", "0123abcd"), slog.Int("status", 503), slog.Int64("n", -7), slog.Uint64("u", 9),
		slog.Bool("stream", true), slog.Duration("duration", 1234567*time.Nanosecond), slog.Duration("zero", 0),
		slog.Float64("f", 0.25), slog.Time("t", at.Add(time.Hour)), slog.Group("g", slog.Int("a", 1), slog.String("b", "x y")),
		slog.Any("", nil))
	records = append(records, r, slog.NewRecord(time.Time{}, slog.LevelDebug-1, "no time", 0))
	// Times: whole seconds, trailing zeros, other zones, the same second
	// twice (the cached prefix) and the next one.
	east := time.FixedZone("east", 5*3600+30*60)
	for _, tm := range []time.Time{at.Truncate(time.Second), at.Add(300 * time.Millisecond), at.Add(time.Nanosecond),
		at.In(east), at.Add(time.Second), at.Add(999999999), time.Date(1999, 1, 2, 3, 4, 5, 120000000, time.Local)} {
		r := slog.NewRecord(tm, slog.LevelError, "t", 0)
		r.AddAttrs(slog.Time("at", tm))
		records = append(records, r)
	}

	for _, json := range []bool{false, true} {
		for i, rec := range records {
			var want, got bytes.Buffer
			var std slog.Handler = slog.NewTextHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug - 4})
			if json {
				std = slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug - 4})
			}
			ours := newLineHandler(&got, json, slog.LevelDebug-4)
			std, oursH := std.WithAttrs([]slog.Attr{slog.String("pre", "set")}), ours.WithAttrs([]slog.Attr{slog.String("pre", "set")})
			if json && rec.NumAttrs() > 5 {
				// slog nests groups in JSON objects; ours flattens them
				// (g.a): the access log has no groups.
				continue
			}
			std.Handle(context.Background(), rec)
			oursH.Handle(context.Background(), rec)
			if got.String() != want.String() {
				t.Errorf("json=%v record %d:\n got %s\nwant %s", json, i, got.String(), want.String())
			}
		}
	}
	if newLineHandler(nil, false, slog.LevelInfo).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("debug enabled at level info")
	}
}
