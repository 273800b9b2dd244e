package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/llmmon/llmmon/stack/alertmanager"
	"github.com/llmmon/llmmon/stack/prometheus"
)

// Users the containers run as: the official images' own non-root users.
const (
	PrometheusUser   = "65534:65534" // nobody
	GrafanaUser      = "472:0"       // grafana, root group as in the official image
	AlertmanagerUser = "65534:65534" // nobody, as in the official image
	prometheusUID    = 65534
	grafanaUID       = 472
	grafanaGID       = 0
	alertmanagerUID  = 65534

	// AdminUser is Grafana's admin login.
	AdminUser = "admin"
	// HostGatewayName is how containers reach the host, as on Docker Desktop.
	HostGatewayName = "host.docker.internal"
	// HostGateway is the engine's own placeholder for the host's address.
	HostGateway = "host-gateway"

	grafanaContainerPort = 3000
	restartPolicy        = "unless-stopped"
	// The admin password reaches Grafana as a file, so it never shows in
	// docker inspect (Grafana reads any GF_* variable from NAME__FILE).
	passwordEnv  = "GF_SECURITY_ADMIN_PASSWORD__FILE"
	passwordPath = "grafana/llmmon/admin-password"
)

// PortSpec publishes ContainerPort (tcp) on HostIP:HostPort.
type PortSpec struct {
	HostIP        string `json:"host_ip"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
}

// Mount puts a named volume at Target.
type Mount struct {
	Volume string `json:"volume"`
	Target string `json:"target"`
}

// ContainerFile is a file copied into a container before it starts.
type ContainerFile struct {
	Path    string      `json:"path"` // absolute, in the container
	Content []byte      `json:"content"`
	Mode    os.FileMode `json:"mode"`
	UID     int         `json:"uid"`
	GID     int         `json:"gid"`
	// Secret content never enters a hash or label.
	Secret bool `json:"secret,omitempty"`
}

// ContainerDir is a folder created (or re-owned) in a container before it starts.
type ContainerDir struct {
	Path string      `json:"path"`
	Mode os.FileMode `json:"mode"`
	UID  int         `json:"uid"`
	GID  int         `json:"gid"`
}

// ContainerSpec is everything a container is created from. It holds no
// engine types; stack/docker translates it.
type ContainerSpec struct {
	Name          string            `json:"name"`
	Image         string            `json:"image"`
	Cmd           []string          `json:"cmd,omitempty"` // arguments to the image's entrypoint
	Env           []string          `json:"env,omitempty"`
	User          string            `json:"user"`
	Labels        map[string]string `json:"labels"`
	Ports         []PortSpec        `json:"ports,omitempty"`
	ExtraHosts    []string          `json:"extra_hosts,omitempty"`
	Network       string            `json:"network"`
	Aliases       []string          `json:"aliases,omitempty"`
	Mounts        []Mount           `json:"mounts,omitempty"`
	Dirs          []ContainerDir    `json:"dirs,omitempty"`
	Files         []ContainerFile   `json:"files,omitempty"`
	RestartPolicy string            `json:"restart_policy"`
	// SecretsLive says the container reads its secret files each time it
	// uses them, so up copies them in again on every run (no hash covers
	// their content) and a changed secret applies without a restart.
	SecretsLive bool `json:"secrets_live,omitempty"`
}

// NetworkSpec is the stack's bridge network.
type NetworkSpec struct {
	Name   string
	Labels map[string]string
}

// VolumeSpec is one of the stack's named volumes.
type VolumeSpec struct {
	Name   string
	Labels map[string]string
}

// Specs are all the engine objects of one stack.
type Specs struct {
	Names        Names
	Network      NetworkSpec
	Volumes      []VolumeSpec
	Prometheus   ContainerSpec
	Alertmanager ContainerSpec
	Grafana      ContainerSpec
}

// Containers returns the container specs in start order (Config.Parts).
func (s Specs) Containers() []ContainerSpec {
	return []ContainerSpec{s.Prometheus, s.Alertmanager, s.Grafana}
}

// SpecInput is what the specs are built from.
type SpecInput struct {
	Config   Config
	Rendered Rendered
	// UserDashboards are the JSON files found in DIR/grafana/dashboards,
	// with paths relative to --dir.
	UserDashboards []File
	AdminPassword  string
	// PrometheusSecrets are Rendered.Secrets as read from this machine
	// (ReadSecretFiles).
	PrometheusSecrets []File
	// HostGateway is what host.docker.internal resolves to in Prometheus:
	// HostGateway, a gateway IP, or "" to leave it to the engine (Docker Desktop).
	HostGateway string
	// ImageIDs are the images as resolved on the engine, by component,
	// so a re-pulled tag recreates.
	ImageIDs map[string]string
	// Dir is the absolute --dir, labelled on the containers; "" for none.
	Dir string
	// AlertSecrets are the receivers' secret files (ReadReceiverSecrets),
	// copied into Alertmanager's secrets folder and nowhere else.
	AlertSecrets []File
	// Engine says where this machine reaches the published ports: the
	// external URLs in alert notifications point there.
	Engine EngineInfo
}

// BuildSpecs turns the settings into engine object specs. It is a pure
// function: no engine, no disk. Each container's LabelConfigHash covers
// everything in its spec except the admin password, so a second up with
// the same settings recreates nothing and a changed setting recreates
// only the container it concerns.
func BuildSpecs(in SpecInput) Specs {
	c := in.Config
	n := NamesFor(c.Name)
	labels := func(component string) map[string]string { return labelsFor(n, component) }

	prom := ContainerSpec{
		Name:  n.Prometheus,
		Image: c.Prometheus.Image,
		// The image's entrypoint is /bin/prometheus; its default flags are
		// not relied on, so any Prometheus image (or a plain binary
		// image) starts the same.
		Cmd: []string{
			"--config.file=/etc/prometheus/prometheus.yml",
			"--storage.tsdb.path=/prometheus",
			"--web.listen-address=:" + strconv.Itoa(prometheus.Port),
			// Where alerts' "source" links lead.
			"--web.external-url=" + EndpointURL(c.Bind, c.Prometheus.Port, in.Engine),
		},
		User:          PrometheusUser,
		Labels:        labels(ComponentPrometheus),
		Ports:         []PortSpec{{HostIP: c.Bind, HostPort: c.Prometheus.Port, ContainerPort: prometheus.Port}},
		Network:       n.Network,
		Aliases:       []string{PrometheusAlias},
		Mounts:        []Mount{{Volume: n.PrometheusData, Target: "/prometheus"}},
		RestartPolicy: restartPolicy,
		// Prometheus reads its passwords and tokens on each scrape and push.
		SecretsLive: true,
	}
	if in.HostGateway != "" {
		prom.ExtraHosts = []string{HostGatewayName + ":" + in.HostGateway}
	}
	if r := c.Prometheus.Retention; r != "" {
		prom.Cmd = append(prom.Cmd, "--storage.tsdb.retention.time="+r)
	}
	if s := c.Prometheus.RetentionSize; s != "" {
		prom.Cmd = append(prom.Cmd, "--storage.tsdb.retention.size="+s)
	}
	prom.Dirs, prom.Files = containerFiles(append(append([]File{}, in.Rendered.Prometheus...), in.PrometheusSecrets...), 2, prometheusUID, prometheusUID)
	// Passwords and tokens: readable by Prometheus' user only, and kept
	// out of every hash and label.
	promSecrets := containerPath(prometheus.SecretsDir)
	for i, d := range prom.Dirs {
		if strings.HasPrefix(d.Path, promSecrets) {
			prom.Dirs[i].Mode = 0o700
		}
	}
	for i, f := range prom.Files {
		prom.Files[i].Secret = isSecretPath(in.Rendered.Secrets, strings.TrimPrefix(f.Path, "/etc/"))
	}

	graf := ContainerSpec{
		Name:  n.Grafana,
		Image: c.Grafana.Image,
		Env: []string{
			"GF_SECURITY_ADMIN_USER=" + AdminUser,
			passwordEnv + "=" + containerPath(passwordPath),
			"GF_USERS_ALLOW_SIGN_UP=false",
			"GF_USERS_ALLOW_ORG_CREATE=false",
			"GF_AUTH_ANONYMOUS_ENABLED=false",
			"GF_PATHS_PROVISIONING=/etc/grafana/provisioning",
			"GF_ANALYTICS_REPORTING_ENABLED=false",
			"GF_ANALYTICS_CHECK_FOR_UPDATES=false",
		},
		User:          GrafanaUser,
		Labels:        labels(ComponentGrafana),
		Ports:         []PortSpec{{HostIP: c.Bind, HostPort: c.Grafana.Port, ContainerPort: grafanaContainerPort}},
		Network:       n.Network,
		Aliases:       []string{GrafanaAlias},
		Mounts:        []Mount{{Volume: n.GrafanaData, Target: "/var/lib/grafana"}},
		RestartPolicy: restartPolicy,
	}
	gfiles := append(append([]File{}, in.Rendered.Grafana...), in.UserDashboards...)
	gfiles = append(gfiles, File{Path: passwordPath, Content: []byte(in.AdminPassword), Mode: 0o400})
	graf.Dirs, graf.Files = containerFiles(gfiles, 3, grafanaUID, grafanaGID)
	for i := range graf.Files {
		graf.Files[i].Secret = graf.Files[i].Path == containerPath(passwordPath)
	}
	// The user-dashboards folder exists even when empty: the provider reads it.
	graf.Dirs = addDir(graf.Dirs, ContainerDir{Path: containerPath("grafana/dashboards"), Mode: 0o755, UID: grafanaUID, GID: grafanaGID})

	am := ContainerSpec{
		Name:  n.Alertmanager,
		Image: c.Alertmanager.Image,
		Cmd: []string{
			"--config.file=" + containerPath(alertmanager.ConfigFile),
			"--storage.path=/alertmanager",
			"--web.listen-address=:" + strconv.Itoa(alertmanager.Port),
			// One Alertmanager: no gossip port, no peers to wait for.
			"--cluster.listen-address=",
			// Where notifications' links to Alertmanager lead.
			"--web.external-url=" + EndpointURL(c.Bind, c.Alertmanager.Port, in.Engine),
		},
		User:          AlertmanagerUser,
		Labels:        labels(ComponentAlertmanager),
		Ports:         []PortSpec{{HostIP: c.Bind, HostPort: c.Alertmanager.Port, ContainerPort: alertmanager.Port}},
		Network:       n.Network,
		Aliases:       []string{AlertmanagerAlias},
		Mounts:        []Mount{{Volume: n.AlertmanagerData, Target: "/alertmanager"}},
		RestartPolicy: restartPolicy,
		// Alertmanager reads every *_file at each notification.
		SecretsLive: true,
	}
	if in.HostGateway != "" {
		// Receivers on this machine (a webhook) are host.docker.internal too.
		am.ExtraHosts = []string{HostGatewayName + ":" + in.HostGateway}
	}
	amFiles := append(append([]File{}, in.Rendered.Alertmanager...), in.AlertSecrets...)
	am.Dirs, am.Files = containerFiles(amFiles, 2, alertmanagerUID, alertmanagerUID)
	if len(in.AlertSecrets) > 0 {
		// Only Alertmanager's user may list or read its secrets.
		for i := range am.Dirs {
			if am.Dirs[i].Path == containerPath(alertSecretsDir) {
				am.Dirs[i].Mode = 0o700
			}
		}
		for i := range am.Files {
			am.Files[i].Secret = strings.HasPrefix(am.Files[i].Path, containerPath(alertSecretsDir)+"/")
		}
	}

	if in.Dir != "" {
		prom.Labels[LabelDir], graf.Labels[LabelDir], am.Labels[LabelDir] = in.Dir, in.Dir, in.Dir
	}
	// Prometheus' file contents (prometheus.yml, rules, targets files) are
	// delivered to the running container and reloaded (HUP): a new scrape
	// job or interval must cost Prometheus neither its container nor a
	// restart; a new job only adds files. Its command (retention), image,
	// ports and mounts still recreate it.
	bare := prom
	bare.Dirs, bare.Files = nil, nil
	prom.Labels[LabelConfigHash] = specHash(bare, in.ImageIDs[ComponentPrometheus], false)
	prom.Labels[LabelFilesHash] = FilesHash(prom)
	// Secrets are delivered on every up instead (see ensureContainer):
	// Alertmanager reads them at each notification.
	am.Labels[LabelConfigHash] = specHash(am, in.ImageIDs[ComponentAlertmanager], true)
	// Grafana's file contents (provisioning, dashboards) are delivered to
	// the running container instead, followed by a restart: a changed
	// scrape interval (the datasource's timeInterval) must not cost
	// Grafana its container. Adding or removing a file still recreates it.
	graf.Labels[LabelConfigHash] = specHash(graf, in.ImageIDs[ComponentGrafana], false)
	graf.Labels[LabelFilesHash] = FilesHash(graf)

	return Specs{
		Names:   n,
		Network: NetworkSpecFor(n),
		Volumes: []VolumeSpec{
			{Name: n.PrometheusData, Labels: labels(ComponentPrometheus)},
			{Name: n.AlertmanagerData, Labels: labels(ComponentAlertmanager)},
			{Name: n.GrafanaData, Labels: labels(ComponentGrafana)},
		},
		Prometheus:   prom,
		Alertmanager: am,
		Grafana:      graf,
	}
}

// NetworkSpecFor is the stack's network: up creates it before the other
// specs can be built, since older engines reach the host through its gateway.
func NetworkSpecFor(n Names) NetworkSpec {
	return NetworkSpec{Name: n.Network, Labels: labelsFor(n, "")}
}

// labelsFor labels one object of the stack; component "" for the network.
func labelsFor(n Names, component string) map[string]string {
	l := map[string]string{LabelStack: n.Stack}
	if component != "" {
		l[LabelComponent] = component
	}
	return l
}

// containerPath maps a path under --dir to where its container reads it:
// prometheus/... → /etc/prometheus/..., grafana/... → /etc/grafana/...,
// alertmanager/... → /etc/alertmanager/...
func containerPath(rel string) string { return "/etc/" + strings.TrimPrefix(path.Clean(rel), "/") }

// containerFiles places files in the container, owned by the container's
// user, with each folder they need owned too, from depth from down
// (2: /etc/prometheus, /etc/alertmanager; 3: /etc/grafana/provisioning, leaving /etc/grafana
// and its grafana.ini as the image has them).
func containerFiles(files []File, from, uid, gid int) ([]ContainerDir, []ContainerFile) {
	var dirs []ContainerDir
	var out []ContainerFile
	for _, f := range files {
		p := containerPath(f.Path)
		parts := strings.Split(strings.TrimPrefix(path.Dir(p), "/"), "/")
		for i := from; i <= len(parts); i++ {
			dirs = addDir(dirs, ContainerDir{Path: "/" + strings.Join(parts[:i], "/"), Mode: 0o755, UID: uid, GID: gid})
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o644
		}
		out = append(out, ContainerFile{Path: p, Content: f.Content, Mode: mode, UID: uid, GID: gid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return dirs, out
}

func addDir(dirs []ContainerDir, d ContainerDir) []ContainerDir {
	for _, x := range dirs {
		if x.Path == d.Path {
			return dirs
		}
	}
	dirs = append(dirs, d)
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Path < dirs[j].Path })
	return dirs
}

// FilesHash identifies the content of the files a spec copies in,
// secrets aside.
func FilesHash(s ContainerSpec) string {
	b, _ := json.Marshal(struct {
		Dirs  []ContainerDir
		Files []ContainerFile
	}{s.Dirs, withoutSecrets(s.Files, false)})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}

func withoutSecrets(files []ContainerFile, all bool) []ContainerFile {
	out := make([]ContainerFile, len(files))
	for i, f := range files {
		if all || f.Secret {
			f.Content = nil
		}
		out[i] = f
	}
	return out
}

// specHash identifies a container's whole spec (minus the admin password,
// which only matters on Grafana's first start) and the image it runs;
// with withContent false, files count by path and owner only.
func specHash(s ContainerSpec, imageID string, withContent bool) string {
	s.Labels = nil
	s.Files = withoutSecrets(s.Files, !withContent)
	b, _ := json.Marshal(struct {
		Spec    ContainerSpec
		ImageID string
	}{s, imageID})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:16]
}
