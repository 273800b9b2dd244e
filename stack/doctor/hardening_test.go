package doctor

import (
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

// Several networks with the stack network's name: doctor says whose each
// is and how to clean up (it used to print Docker's "ambiguous").
func TestSharedNetworkName(t *testing.T) {
	cfg := stack.Default()
	cfg.Name = "dup"
	ours := map[string]string{stack.LabelStack: "dup"}
	for _, tc := range []struct {
		name   string
		labels []map[string]string
		want   []string
	}{
		{"two of ours", []map[string]string{ours, ours}, []string{`2 networks are named "dup-monitoring"`, "all of them llmmon's", "keeps one and removes the others"}},
		{"ours and another", []map[string]string{ours, nil}, []string{"llmmon's", "not", "docker network rm net", "(it removes its own duplicates)"}},
		{"none of ours", []map[string]string{nil, nil}, []string{"none of them llmmon's", "docker network rm net", "--name NAME"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := enginetest.New()
			for _, l := range tc.labels {
				f.Add(stack.KindNetwork, "dup-monitoring", l)
			}
			r := runChecks(t, Options{Dir: t.TempDir(), Config: cfg, Engine: f})
			assertResult(t, r.get("Network", "monitoring network"), StatusFail, append(tc.want, "starts no container on it")...)
		})
	}
}
