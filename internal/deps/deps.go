//go:build deps

// Package deps pins modules the project is adopting before code imports
// them, so parallel work does not race on go.mod. Never built.
package deps

import (
	_ "github.com/docker/docker/client"
	_ "github.com/grafana-tools/sdk"
	_ "github.com/openai/openai-go/v3"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/tiktoken-go/tokenizer"
	_ "golang.org/x/term"
)
