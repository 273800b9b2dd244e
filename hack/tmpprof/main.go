package main

import (
	"net/http"
	_ "net/http/pprof"
	"os"

	"github.com/llmmon/llmmon/cmd/llmmon/cli"
)

func main() {
	go http.ListenAndServe("127.0.0.1:6060", nil)
	os.Exit(cli.Main())
}
