package prometheus

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Test-only: llmmon detects engines from what Prometheus stored
// (Client.DetectJob); the tests also classify a /metrics body directly.

// DetectExposition reads a Prometheus text exposition (a /metrics body)
// and classifies it by its metric names.
func DetectExposition(r io.Reader) (Detection, error) {
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			f := strings.Fields(rest)
			if len(f) >= 2 && (f[0] == "TYPE" || f[0] == "HELP") {
				names[f[1]] = true
			}
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return Detection{}, fmt.Errorf("read metrics: %w", err)
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	return DetectEngine(list), nil
}
