// Command llmmon gives any LLM inference server production monitoring in one command.
package main

import (
	"os"

	"github.com/llmmon/llmmon/cmd/llmmon/cli"
)

func main() { os.Exit(cli.Main()) }
