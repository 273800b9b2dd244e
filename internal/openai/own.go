//go:build !openai_nethttp

package openai

// ownConns: plain http:// goes over the client's own connections. Building
// with -tags openai_nethttp sends every request through net/http instead,
// to measure one against the other (the figures in the package doc).
const ownConns = true
