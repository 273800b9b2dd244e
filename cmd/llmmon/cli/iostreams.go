package cli

import (
	"io"
	"os"

	"github.com/mattn/go-isatty"
)

// IOStreams are the command's input and output, injected so tests capture
// them. Whether each output stream is a terminal is known per stream:
// `llmmon status | less` still draws load's live line on a terminal's
// stderr, and `llmmon load 2>log` still gets a report coloured for its
// terminal.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// OutTerminal and ErrTerminal say whether Out and ErrOut are terminals.
	OutTerminal bool
	ErrTerminal bool
	// Plain keeps even a terminal free of colour, ✓/✗ marks and escape
	// sequences: NO_COLOR is set, or TERM=dumb.
	Plain bool
}

// DecorateOut reports whether Out gets colour, ✓/✗ marks and lines
// redrawn in place (spinners, progress bars).
func (s IOStreams) DecorateOut() bool { return s.OutTerminal && !s.Plain }

// DecorateErr is DecorateOut for ErrOut.
func (s IOStreams) DecorateErr() bool { return s.ErrTerminal && !s.Plain }

// SystemStreams are the process's stdin, stdout and stderr, each checked
// for a terminal, with NO_COLOR (https://no-color.org: set to anything
// but "") and TERM=dumb honoured.
func SystemStreams() IOStreams {
	return streamsFor(os.Stdin, os.Stdout, os.Stderr, os.Getenv)
}

func streamsFor(in, out, errOut *os.File, getenv func(string) string) IOStreams {
	return IOStreams{
		In: in, Out: out, ErrOut: errOut,
		OutTerminal: isTerminal(out),
		ErrTerminal: isTerminal(errOut),
		Plain:       getenv("NO_COLOR") != "" || getenv("TERM") == "dumb",
	}
}

func isTerminal(f *os.File) bool {
	return isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
}
