package cli

import (
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/enginetest"
)

// complete runs cobra's hidden __complete command, as the shell scripts
// do, and returns the offered values.
func complete(t *testing.T, eng stack.Engine, args ...string) []string {
	t.Helper()
	out, _, err := runFake(t, eng, append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			vals = append(vals, strings.SplitN(l, "\t", 2)[0])
		}
	}
	return vals
}

func TestCompletionOffersFlagValues(t *testing.T) {
	eng := enginetest.New()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"up", "--pull", ""}, "missing always never"},
		{[]string{"status", "-o", ""}, "text json"},
		{[]string{"import", "--output", ""}, "text json"},
		{[]string{"load", "--endpoint", ""}, "chat completions"},
		{[]string{"serve", "--mode", ""}, "random echo"},
	} {
		if got := strings.Join(complete(t, eng, tt.args...), " "); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.args, got, tt.want)
		}
	}
}

// --name completes the stacks whose objects the engine holds, by their
// label: not the unnamed default stack, not objects llmmon did not create.
func TestCompletionOffersStackNames(t *testing.T) {
	eng := enginetest.New()
	eng.Add(stack.KindContainer, "prod-llm-prometheus", map[string]string{stack.LabelStack: "prod"})
	eng.Add(stack.KindVolume, "lab-llm-grafana-data", map[string]string{stack.LabelStack: "lab"})
	eng.Add(stack.KindContainer, "llm-grafana", map[string]string{stack.LabelStack: stack.DefaultStackName})
	eng.Add(stack.KindContainer, "someone-elses", map[string]string{"com.example": "x"})
	for _, cmd := range []string{"status", "down", "up", "doctor"} {
		if got := strings.Join(complete(t, eng, cmd, "--name", ""), " "); got != "lab prod" {
			t.Errorf("%s --name: got %q, want \"lab prod\"", cmd, got)
		}
	}
}
