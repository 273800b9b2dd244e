package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/llmmon/llmmon/stack"
)

// addLockFlag adds --lock-timeout to a command that holds --dir's lock.
func addLockFlag(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "lock-timeout", stack.DefaultLockWait,
		"how long to wait while another llmmon up or down works on --dir (0: fail at once)")
}

// lockOptions is who this command is, for another llmmon that waits on
// it, and where it says that it waits itself.
func lockOptions(command, dir string, wait time.Duration, errOut io.Writer) stack.LockOptions {
	return stack.LockOptions{
		Command: command,
		Wait:    wait,
		Busy: func(h stack.LockHolder) {
			fmt.Fprintf(errOut, "%s is in use by %s: waiting up to %s for it (--lock-timeout)\n", dir, h, wait)
		},
	}
}

// commandLine is the command with the flags the user set, e.g.
// "llmmon up --dir d --name staging".
func commandLine(cmd *cobra.Command) string {
	parts := []string{cmd.CommandPath()}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		v := f.Value.String()
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			v = strings.Join(sv.GetSlice(), ",")
		}
		if f.Value.Type() == "bool" {
			parts = append(parts, "--"+f.Name)
			return
		}
		if v == "" || strings.ContainsAny(v, " \t'\"") {
			v = fmt.Sprintf("%q", v)
		}
		parts = append(parts, "--"+f.Name, v)
	})
	return strings.Join(parts, " ")
}
