// Command profiled is llmmon with a CPU profile of its whole run written
// to $CPUPROFILE when it exits (serve exits on SIGTERM after draining):
// what hack/profile-serve.sh profiles, so the profile is of the real
// server over real connections, not of a benchmark's stand-in.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/llmmon/llmmon/cmd/llmmon/cli"
)

func main() {
	path := os.Getenv("CPUPROFILE")
	if path == "" {
		fmt.Fprintln(os.Stderr, "profiled: set CPUPROFILE=FILE")
		os.Exit(2)
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "profiled:", err)
		os.Exit(1)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "profiled:", err)
		os.Exit(1)
	}
	code := cli.Main()
	pprof.StopCPUProfile()
	f.Close()
	os.Exit(code)
}
