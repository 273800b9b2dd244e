package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// TextOptions shape the human report.
type TextOptions struct {
	// Terminal turns on ✓ / ! / ✗ marks and colour; otherwise each line
	// starts with a plain word (OK, WARN, FAIL, SKIP), like promtool's
	// SUCCESS/FAILED lines, so logs and grep stay readable.
	Terminal bool
	// Header is printed first, e.g. which stack and folder were checked.
	Header string
}

const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiGrey   = "\x1b[90m"
	ansiBold   = "\x1b[1m"
)

func mark(s Status, terminal bool) string {
	if !terminal {
		switch s {
		case StatusOK:
			return "OK  "
		case StatusWarn:
			return "WARN"
		case StatusFail:
			return "FAIL"
		}
		return "SKIP"
	}
	switch s {
	case StatusOK:
		return ansiGreen + "✓" + ansiReset
	case StatusWarn:
		return ansiYellow + "!" + ansiReset
	case StatusFail:
		return ansiRed + "✗" + ansiReset
	}
	return ansiGrey + "-" + ansiReset
}

// WriteText prints one line per check, grouped, with cause and fix under
// each problem, then a summary line.
func (r Report) WriteText(w io.Writer, o TextOptions) error {
	var b strings.Builder
	if o.Header != "" {
		b.WriteString(o.Header + "\n")
	}
	group := ""
	for _, res := range r.Results {
		if res.Group != group {
			group = res.Group
			if o.Terminal {
				fmt.Fprintf(&b, "\n%s%s%s\n", ansiBold, group, ansiReset)
			} else {
				fmt.Fprintf(&b, "\n%s\n", group)
			}
		}
		msg := res.Message
		if o.Terminal && res.Status == StatusSkip {
			msg = ansiGrey + msg + ansiReset
		}
		fmt.Fprintf(&b, "  %s %s: %s\n", mark(res.Status, o.Terminal), res.Check, msg)
		indent := "       "
		if o.Terminal {
			indent = "    "
		}
		if res.Cause != "" {
			fmt.Fprintf(&b, "%scause: %s\n", indent, res.Cause)
		}
		if res.Fix != "" {
			fmt.Fprintf(&b, "%sfix:   %s\n", indent, res.Fix)
		}
		for _, l := range res.Details {
			fmt.Fprintf(&b, "%s  %s\n", indent, l)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.summary())
	_, err := io.WriteString(w, b.String())
	return err
}

func (r Report) summary() string {
	n := r.Counts()
	s := fmt.Sprintf("%d passed, %s, %d failed", n[StatusOK], plural(n[StatusWarn], "warning", "warnings"), n[StatusFail])
	if n[StatusSkip] > 0 {
		s += fmt.Sprintf(", %d skipped", n[StatusSkip])
	}
	switch r.ExitCode() {
	case 1:
		return "FAILED: " + s
	case 2:
		return "WARNINGS: " + s
	}
	return "SUCCESS: " + s
}

// jsonReport is the --output json form.
type jsonReport struct {
	Stack      string         `json:"stack"`
	Dir        string         `json:"dir"`
	Started    bool           `json:"started"`
	Checks     []Result       `json:"checks"`
	Summary    map[Status]int `json:"summary"`
	ExitCode   int            `json:"exit_code"`
	DurationMS int64          `json:"duration_ms"`
}

// JSONMeta is the context printed with the JSON report.
type JSONMeta struct {
	Stack   string
	Dir     string
	Started bool
}

// WriteJSON prints the report for machines.
func (r Report) WriteJSON(w io.Writer, m JSONMeta) error {
	counts := r.Counts()
	for _, s := range []Status{StatusOK, StatusWarn, StatusFail, StatusSkip} {
		counts[s] += 0
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{
		Stack: m.Stack, Dir: m.Dir, Started: m.Started,
		Checks: r.Results, Summary: counts, ExitCode: r.ExitCode(), DurationMS: r.Duration.Milliseconds(),
	})
}
