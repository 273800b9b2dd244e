package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/llmmon/llmmon/stack/doctor"
)

// ANSI colours for doctor's report on a terminal.
const (
	ansiReset  = "\x1b[0m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiRed    = "\x1b[31m"
	ansiGrey   = "\x1b[90m"
	ansiBold   = "\x1b[1m"
)

// doctorMark starts each check's line: a coloured ✓ / ! / ✗ / - when
// decorated; otherwise a plain word (OK, WARN, FAIL, SKIP), like
// promtool's SUCCESS/FAILED lines, so logs and grep stay readable.
func doctorMark(s doctor.Status, decorated bool) string {
	if !decorated {
		switch s {
		case doctor.StatusOK:
			return "OK  "
		case doctor.StatusWarn:
			return "WARN"
		case doctor.StatusFail:
			return "FAIL"
		}
		return "SKIP"
	}
	switch s {
	case doctor.StatusOK:
		return ansiGreen + markOK + ansiReset
	case doctor.StatusWarn:
		return ansiYellow + "!" + ansiReset
	case doctor.StatusFail:
		return ansiRed + markFail + ansiReset
	}
	return ansiGrey + "-" + ansiReset
}

// writeDoctorText prints header, then one line per check, grouped, with
// cause and fix under each problem, then a summary line.
func writeDoctorText(w io.Writer, r doctor.Report, header string, decorated bool) error {
	var b strings.Builder
	if header != "" {
		b.WriteString(header + "\n")
	}
	group := ""
	for _, res := range r.Results {
		if res.Group != group {
			group = res.Group
			if decorated {
				fmt.Fprintf(&b, "\n%s%s%s\n", ansiBold, group, ansiReset)
			} else {
				fmt.Fprintf(&b, "\n%s\n", group)
			}
		}
		msg := res.Message
		if decorated && res.Status == doctor.StatusSkip {
			msg = ansiGrey + msg + ansiReset
		}
		fmt.Fprintf(&b, "  %s %s: %s\n", doctorMark(res.Status, decorated), res.Check, msg)
		indent := "       "
		if decorated {
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
	fmt.Fprintf(&b, "\n%s\n", doctorSummary(r))
	_, err := io.WriteString(w, b.String())
	return err
}

func doctorSummary(r doctor.Report) string {
	n := r.Counts()
	s := fmt.Sprintf("%d passed, %s, %d failed", n[doctor.StatusOK], plural(n[doctor.StatusWarn], "warning", "warnings"), n[doctor.StatusFail])
	if n[doctor.StatusSkip] > 0 {
		s += fmt.Sprintf(", %d skipped", n[doctor.StatusSkip])
	}
	switch r.ExitCode() {
	case ExitError:
		return "FAILED: " + s
	case ExitWarning:
		return "WARNINGS: " + s
	}
	return "SUCCESS: " + s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// doctorJSON is doctor's --output json.
type doctorJSON struct {
	Stack      string                `json:"stack"`
	Dir        string                `json:"dir"`
	Started    bool                  `json:"started"`
	Checks     []doctor.Result       `json:"checks"`
	Summary    map[doctor.Status]int `json:"summary"`
	ExitCode   int                   `json:"exit_code"`
	DurationMS int64                 `json:"duration_ms"`
}

func newDoctorJSON(r doctor.Report, stackName, dir string, started bool) doctorJSON {
	counts := r.Counts()
	for _, s := range []doctor.Status{doctor.StatusOK, doctor.StatusWarn, doctor.StatusFail, doctor.StatusSkip} {
		counts[s] += 0
	}
	return doctorJSON{Stack: stackName, Dir: dir, Started: started, Checks: r.Results, Summary: counts,
		ExitCode: r.ExitCode(), DurationMS: r.Duration.Milliseconds()}
}
