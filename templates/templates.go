// Package templates embeds the text/templates llmmon renders into --dir.
// It lives at the top level because go:embed cannot reach "..".
package templates

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"text/template"
)

//go:embed *.tmpl
var files embed.FS

// partials are the templates every render may call with {{ template }}:
// files named _*.tmpl, each holding {{ define }} blocks.
const partials = "_*.tmpl"

// funcs are kept tiny: quote makes any string a safe YAML scalar
// (a JSON string is valid YAML), so user input can never break structure;
// <, > and & stay as they are (they need no escape in YAML).
var funcs = template.FuncMap{
	"quote": func(s string) string {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(s) // a string always encodes
		return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
	},
}

// Render executes the named template with data. Templates are parsed per
// call: rendering happens a handful of times per command, never on a hot path.
func Render(name string, data any) ([]byte, error) {
	tmpl, err := template.New(name).Funcs(funcs).Option("missingkey=error").ParseFS(files, name, partials)
	if err != nil {
		return nil, fmt.Errorf("parse template %s: %w", name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}
