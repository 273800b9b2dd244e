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
	var checks []Check
	for _, p := range d.o.Config.Parts() {
		checks = append(checks, Check{Group: "Rendered config", Name: p.Component + " files", Timeout: 2 * dockerTimeout,
			Run: func(ctx context.Context) Result { return d.checkRendered(ctx, p.Component) }})
	}
	return checks
}

// diskFiles reads the rendered files of one container back from --dir.
// edited lists those that differ from what the settings render.
func (d *doctor) diskFiles(want []stack.File) (files []stack.File, missing, edited []string, err error) {
	for _, f := range want {
		path := filepath.Join(d.o.Dir, filepath.FromSlash(f.Path))
		b, rerr := os.ReadFile(path)
		if errors.Is(rerr, fs.ErrNotExist) {
			missing = append(missing, path)
			continue
		}
		if rerr != nil {
			return nil, nil, nil, rerr
		}
		if !bytes.Equal(b, f.Content) {
			edited = append(edited, path)
		}
		files = append(files, stack.File{Path: f.Path, Content: b, Mode: f.Mode})
	}
	return files, missing, edited, nil
}

// userDashboards reads DIR/grafana/dashboards/*.json, which up copies
// into Grafana along with the provisioning.
func (d *doctor) userDashboards() ([]stack.File, error) {
	return stack.ReadUserDashboards(d.o.Dir)
}

// checkRendered compares the files in --dir with what the running
// container was started with: up labels each container with the hash of
// its whole spec (stack.BuildSpecs), files included, so the same spec
// built from the files on disk must carry the same label.
func (d *doctor) checkRendered(ctx context.Context, component string) Result {
	cfg := d.o.Config
	want, err := stack.Render(cfg)
	if err != nil {
		return Fail("the recorded settings do not render: "+err.Error(), "", d.upCmd())
	}
	name, m, part := d.names.Container(component), d.objs[component], want.Of(component)
	onDisk, missing, edited, err := d.diskFiles(part)
	if err != nil {
		return Fail("cannot read the rendered files: "+err.Error(), "", "")
	}
	if !d.started() && len(missing) == len(part) {
		return Skip("%s; nothing rendered there yet", d.notStartedCause())
	}
	if len(missing) > 0 {
		return Fail(fmt.Sprintf("missing from %s: %s", d.o.Dir, strings.Join(missing, ", ")),
			"the files were deleted after `llmmon up`", d.upCmd()+" renders them again")
	}
	editedWarn := func(runs string) Result {
		return Warn(fmt.Sprintf("%s differ from what the recorded settings render%s", strings.Join(edited, ", "), runs),
			"they were edited by hand or rendered with other settings; the next `llmmon up` renders the recorded settings over them",
			"put the change in llmmon.yaml or flags, then "+d.upCmd())
	}
	obj, cerr := m.get(ctx)
	if cerr != nil || !obj.Owned(d.names.Stack) || obj.Container == nil {
		if len(edited) > 0 {
			return editedWarn("")
		}
		return Skip("no %s container to compare with (see Containers)", name)
	}
	info, _ := d.info.get(ctx)
	netObj, _ := d.netObj.get(ctx)
	imageID, err := d.o.Engine.ImageID(ctx, obj.Container.Image)
	if err != nil {
		return Warn(fmt.Sprintf("cannot resolve image %s to compare %s's config: %v", obj.Container.Image, name, err),
			"the image was removed or re-tagged since `llmmon up`", d.upCmd())
	}
	in := stack.SpecInput{Config: cfg, HostGateway: stack.HostGatewayFor(info, netObj), Engine: info,
		ImageIDs: map[string]string{component: imageID}}
	var got, label string
	var filesStale bool
	delivered := obj.Labels[stack.LabelFilesHash]
	if st := d.o.State; st != nil {
		if h := st.Delivered(component, obj.ID); h != "" {
			delivered = h
		}
	}
	switch component {
	case stack.ComponentPrometheus:
		in.Rendered.Prometheus, in.Rendered.Secrets = onDisk, want.Secrets
		// Only the paths of the files from this machine count.
		for _, s := range want.Secrets {
			in.PrometheusSecrets = append(in.PrometheusSecrets, stack.File{Path: s.Path, Mode: 0o400})
		}
		spec := stack.BuildSpecs(in).Prometheus
		got, label = spec.Labels[stack.LabelConfigHash], obj.Labels[stack.LabelConfigHash]
		filesStale = stack.FilesHash(spec) != delivered
	case stack.ComponentAlertmanager:
		// The receivers' secrets count by path only: their names are in
		// the settings, their content in no hash.
		in.Rendered.Alertmanager = onDisk
		in.AlertSecrets = stack.SecretPlaceholders(cfg.Alerting)
		got, label = stack.BuildSpecs(in).Alertmanager.Labels[stack.LabelConfigHash], obj.Labels[stack.LabelConfigHash]
	default:
		in.Rendered.Grafana = onDisk
		if in.UserDashboards, err = d.userDashboards(); err != nil {
			return Fail("cannot read the user dashboards: "+err.Error(), "", "")
		}
		spec := stack.BuildSpecs(in).Grafana
		got, label = spec.Labels[stack.LabelConfigHash], obj.Labels[stack.LabelConfigHash]
		filesStale = stack.FilesHash(spec) != delivered
	}
	if got != label || filesStale {
		res := Warn(fmt.Sprintf("the files and settings in %s differ from what %s runs", d.o.Dir, name),
			"they were re-rendered or edited after `llmmon up` (or its image was re-pulled), so the running container does not use them",
			d.upCmd()+" applies them (only the changed container is touched; data volumes are kept)")
		if len(edited) > 0 {
			res.Details = append([]string{"differ from what the recorded settings render:"}, edited...)
		}
		return res
	}
	if len(edited) > 0 {
		return editedWarn(fmt.Sprintf(" (and %s runs with them)", name))
	}
	return Pass("%s runs the files in %s (config hash %s)", name, d.o.Dir, label)
}
