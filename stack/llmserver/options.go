// Package llmserver is llmmon serve: an OpenAI-compatible HTTP server
// (completions and chat, streamed and not) instrumented with the llm_*
// metrics (package llmmetrics: requests, duration, tokens, request size,
// requests in flight, TTFT, TPOT, prompt tokens), in front of a
// backend.Backend. The default backend is the embedded simulated engine
// (package sim), which adds vLLM-compatible vllm:* metrics; with a
// backend.Relay (package proxy) it is a gateway to a real engine. Each
// Server has its own Prometheus registry, so several can run in one
// process.
package llmserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/llmmon/llmmon/stack/llmserver/backend"
	"github.com/llmmon/llmmon/stack/llmserver/sim"
)

// Options are everything llmmon serve's flags set.
type Options struct {
	// Host is the address to listen on. 0.0.0.0 lets Prometheus in a Docker
	// container reach the server through host-gateway; 127.0.0.1 cannot be
	// scraped from a container.
	Host string
	Port int
	// Model names the served models, comma-separated (also sim's
	// model_name label); in gateway mode the proxy reads --model itself.
	Model string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/*.
	// /metrics and /health stay open.
	APIKey string
	// MaxBody is the largest request body accepted, in bytes (413 beyond).
	MaxBody int64
	// MaxHeaderBytes bounds a request's headers (431 beyond).
	MaxHeaderBytes int
	// MaxConnections bounds the connections served at once; beyond, new
	// ones wait in the kernel's accept queue until one closes. 0: no bound.
	MaxConnections int

	// ReadHeaderTimeout bounds how long a client may take to send headers.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout bounds reading a request's body: 408 beyond, and the
	// connection is closed. It is lifted once the body is in, so it never
	// cuts a long streamed answer.
	BodyReadTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration
	// ShutdownTimeout is how long in-flight requests may run after the
	// context is cancelled (SIGTERM/SIGINT) before they are cut.
	ShutdownTimeout time.Duration

	// Sim configures the embedded simulated engine. Its Model and
	// Registerer are filled in by New.
	Sim sim.Config
	// Backend, if set, replaces the simulated engine (gateway mode).
	// The Server closes it.
	Backend backend.Backend

	// Logger receives one access log line per request (NewLogger); nil
	// logs nothing.
	Logger *slog.Logger
}

// DefaultOptions are llmmon serve's defaults.
func DefaultOptions() Options {
	return Options{
		Host:              "0.0.0.0",
		Port:              8000,
		Model:             "llmmon-sim",
		MaxBody:           1 << 20,
		MaxHeaderBytes:    64 << 10,
		MaxConnections:    4096,
		ReadHeaderTimeout: 10 * time.Second,
		BodyReadTimeout:   30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ShutdownTimeout:   30 * time.Second,
		Sim:               sim.DefaultConfig(),
	}
}

// Addr is Host:Port.
func (o Options) Addr() string { return net.JoinHostPort(o.Host, strconv.Itoa(o.Port)) }

// Validate reports the first bad option, naming its flag.
func (o Options) Validate() error {
	switch {
	case o.Port < 0 || o.Port > 65535:
		return fmt.Errorf("--port must be in 0..65535, got %d", o.Port)
	case o.Model == "":
		return errors.New("--model must not be empty")
	case o.MaxBody < 1:
		return fmt.Errorf("--max-body must be positive, got %d", o.MaxBody)
	case o.MaxHeaderBytes < 1:
		return fmt.Errorf("--max-header-bytes must be positive, got %d", o.MaxHeaderBytes)
	case o.MaxConnections < 0:
		return fmt.Errorf("--max-connections must not be negative (0: no bound), got %d", o.MaxConnections)
	case o.ReadHeaderTimeout < 0 || o.BodyReadTimeout < 0 || o.IdleTimeout < 0 || o.ShutdownTimeout < 0:
		return errors.New("timeouts must not be negative")
	}
	if o.Backend == nil {
		c := o.Sim
		c.Model = o.Model
		return c.Validate()
	}
	return nil
}
