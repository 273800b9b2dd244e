package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/llmmon/llmmon/stack"
)

func (d *doctor) configChecks() []Check {
	return []Check{
		{Group: "Rendered config", Name: "prometheus files", Timeout: 2 * dockerTimeout, Run: func(ctx context.Context) Result {
			return d.checkRendered(ctx, d.promObj, d.names.Prometheus, func(r stack.Rendered) []stack.File { return r.Prometheus },
				func(r stack.Rendered, c stack.Config) string { return r.PrometheusHash(c) })
		}},
		{Group: "Rendered config", Name: "grafana files", Timeout: 2 * dockerTimeout, Run: func(ctx context.Context) Result {
			return d.checkRendered(ctx, d.grafObj, d.names.Grafana, func(r stack.Rendered) []stack.File { return r.Grafana },
				func(r stack.Rendered, c stack.Config) string { return r.GrafanaHash(c) })
		}},
	}
}

// checkRendered compares the files in --dir with what a container was
// started with, by its config-hash label, and with what render would write.
func (d *doctor) checkRendered(ctx context.Context, m *memo[stack.Object], name string,
	part func(stack.Rendered) []stack.File, hash func(stack.Rendered, stack.Config) string) Result {
	cfg := d.o.Config
	want, err := stack.Render(cfg)
	if err != nil {
		return Fail("the recorded settings do not render: "+err.Error(), "", d.upCmd())
	}
	var onDisk []stack.File
	var missing, edited []string
	for _, f := range part(want) {
		path := filepath.Join(d.o.Dir, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, path)
			continue
		}
		if err != nil {
			return Fail(fmt.Sprintf("cannot read %s: %v", path, err), "", "")
		}
		if !bytes.Equal(b, f.Content) {
			edited = append(edited, path)
		}
		onDisk = append(onDisk, stack.File{Path: f.Path, Content: b, Mode: f.Mode})
	}
	if !d.started() {
		if len(missing) == len(part(want)) {
			return Skip("%s; nothing rendered in %s yet", d.notStartedCause(), d.o.Dir)
		}
	}
	if len(missing) > 0 {
		return Fail(fmt.Sprintf("missing from %s: %s", d.o.Dir, strings.Join(missing, ", ")),
			"the files were deleted after `llmmon up`",
			d.upCmd()+" renders them again")
	}
	obj, cerr := m.get(ctx)
	if cerr != nil || !obj.Owned(d.names.Stack) {
		if len(edited) > 0 {
			return Warn(fmt.Sprintf("%s edited by hand", strings.Join(edited, ", ")),
				"the next `llmmon up` or `llmmon render` overwrites them with what the settings render",
				"put the change in llmmon.yaml or flags instead")
		}
		return Skip("no %s container to compare with (see Containers)", name)
	}
	var r stack.Rendered
	if name == d.names.Prometheus {
		r.Prometheus = onDisk
	} else {
		r.Grafana = onDisk
	}
	label := obj.Labels[stack.LabelConfigHash]
	if got := hash(r, cfg); label != got {
		return Warn(fmt.Sprintf("the files in %s differ from what %s was started with (config hash %s, container %s)",
			d.o.Dir, name, got, orNone(label)),
			"they were re-rendered or edited after `llmmon up`, so the running container does not use them",
			d.upCmd()+" applies them (it recreates only the changed container and keeps the data)")
	}
	if len(edited) > 0 {
		return Warn(fmt.Sprintf("%s edited by hand (and %s runs with the edit)", strings.Join(edited, ", "), name),
			"the next `llmmon up` or `llmmon render` overwrites the edit with what the settings render",
			"put the change in llmmon.yaml or flags instead")
	}
	return Pass("%s runs the files in %s (config hash %s)", name, d.o.Dir, label)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
