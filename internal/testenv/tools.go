package testenv

import (
	"os/exec"
	"testing"
)

// Command returns the path of a required binary that Debian's package pkg
// installs, or fails the test saying how to install it.
func Command(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: install Debian's %s package (apt-get install %s), or run bash .ci/run", name, pkg, pkg)
	}
	return p
}

// LlmmonImage is llmmon's own image as hack/build-test-images.sh builds it
// with make image's recipe (hack/build-image.sh).
const LlmmonImage = "llmmon-test/llmmon:dev"
