//go:build openai_nethttp

package openai

// ownConns is off: every request goes through net/http (see own.go).
const ownConns = false
