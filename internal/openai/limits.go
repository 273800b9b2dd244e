package openai

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// What an answer may cost its reader. A broken or hostile server must not
// be able to make the gateway or load hold more than these, whatever it
// sends: one endless SSE line, headers without end, a body of gigabytes.

// Limits bound what reading one event may hold. A zero field takes its
// default.
type Limits struct {
	// MaxLine is the longest line, its line ending included
	// (DefaultMaxLine).
	MaxLine int
	// MaxEvent is the largest event as received, all its lines included
	// (DefaultMaxEvent).
	MaxEvent int
}

// The default limits: far above any chunk an engine streams (a chunk with
// top-20 logprobs is a few KiB), far below what would hurt a server
// reading a thousand streams.
const (
	DefaultMaxLine  = 4 << 20
	DefaultMaxEvent = 8 << 20
)

func (l Limits) orDefault() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxEvent <= 0 {
		l.MaxEvent = DefaultMaxEvent
	}
	return l
}

// ErrTooLarge is what every *LimitError Is.
var ErrTooLarge = errors.New("too large")

// LimitError reports that an answer outgrew one of the reader's limits.
type LimitError struct {
	What  string // WhatLine, WhatEvent, "response headers", "a body"
	Limit int64  // in bytes
}

// What an EventReader's LimitError names.
const (
	WhatLine  = "an SSE line"
	WhatEvent = "an SSE event"
)

func (e *LimitError) Error() string {
	return fmt.Sprintf("%s over the %s limit", e.What, FormatBytes(e.Limit))
}

// Is makes every LimitError match ErrTooLarge.
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// FormatBytes words a size for messages: "4MiB", "512KiB", "1000 bytes".
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ParseBytes reads a size as the flags take it: a count of bytes, or one
// with a KiB, MiB or GiB suffix ("4MiB", "512KiB", "1048576").
func ParseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if v, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q: want bytes, like 1048576, or 4MiB, 512KiB", s)
	}
	return n * mult, nil
}
