package cli

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
)

func TestTargetFlags(t *testing.T) {
	tests := []struct {
		args []string
		want targetOptions
	}{
		{[]string{"target", "add", "vllm", "gpu3:8000", "gpu4:8000", "--label", "model=llama"},
			targetOptions{Job: "vllm", Addresses: []string{"gpu3:8000", "gpu4:8000"}, Labels: []string{"model=llama"}}},
		{[]string{"target", "rm", "vllm", "gpu4:8000"}, targetOptions{Remove: true, Job: "vllm", Addresses: []string{"gpu4:8000"}}},
		{[]string{"target", "rm", "dcgm"}, targetOptions{Remove: true, Job: "dcgm", Addresses: []string{}}},
		{[]string{"target", "ls", "-o", "json"}, targetOptions{Output: "json"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var got *targetOptions
			f := &Factory{IO: IOStreams{Out: &bytes.Buffer{}, ErrOut: &bytes.Buffer{}}, Globals: &Globals{}}
			root := newTargetCmd(f, func(_ context.Context, o *targetOptions) error { got = o; return nil })
			root.SetArgs(tt.args[1:])
			if err := root.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Job != tt.want.Job || got.Remove != tt.want.Remove || !slices.Equal(got.Addresses, tt.want.Addresses) ||
				!slices.Equal(got.Labels, tt.want.Labels) || (tt.want.Output != "" && got.Output != tt.want.Output) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
	if _, _, err := run(t, "target", "add", "vllm"); err == nil {
		t.Error("target add without an address was accepted")
	}
	if _, _, err := run(t, "target", "add", "vllm", "a:1", "--label", "novalue", "--dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "NAME=VALUE") {
		t.Errorf("bad label: %v", err)
	}
}

func TestPrintTargetList(t *testing.T) {
	var out bytes.Buffer
	printTargetList(&out, stack.TargetList{Jobs: []stack.JobStatus{{Name: "vllm", Engine: "vLLM", Rows: []string{"Engine (vLLM)"},
		Labels:  map[string]string{"model": "llama"},
		Targets: []stack.AddressStatus{{ScrapeURL: "http://gpu1:8000/metrics", Health: "up"}, {ScrapeURL: "http://gpu2:8000/metrics", Health: "down", LastError: "connection refused"}}}}}, false)
	want := "vllm  (vLLM)\n  dashboard rows: Engine (vLLM)\n  labels: model=llama\n  up      http://gpu1:8000/metrics\n  down    http://gpu2:8000/metrics  connection refused\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
