package grafanadouble

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// provision loads $PROVISIONING/datasources and $PROVISIONING/dashboards,
// as Grafana does at start. Any error stops the start.
func (s *Server) provision() error {
	if s.cfg.ProvisioningDir == "" {
		return nil
	}
	if err := s.provisionDatasources(filepath.Join(s.cfg.ProvisioningDir, "datasources")); err != nil {
		return fmt.Errorf("Datasource provisioning error: %w", err)
	}
	if err := s.provisionDashboards(filepath.Join(s.cfg.ProvisioningDir, "dashboards")); err != nil {
		return fmt.Errorf("Dashboard provisioning error: %w", err)
	}
	return nil
}

// yamlFiles lists *.yaml and *.yml in dir, sorted. A missing dir is empty.
func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// expand interpolates $VAR and ${VAR} from the environment; $$ is a literal $.
func (s *Server) expand(v string) string {
	env := s.cfg.Env
	if env == nil {
		env = os.Getenv
	}
	parts := strings.Split(v, "$$")
	for i, p := range parts {
		parts[i] = os.Expand(p, env)
	}
	return strings.Join(parts, "$")
}

// expandNode expands env references in every scalar value (not in keys).
func (s *Server) expandNode(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			s.expandNode(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			s.expandNode(n.Content[i])
		}
	case yaml.ScalarNode:
		if strings.Contains(n.Value, "$") {
			n.Value = s.expand(n.Value)
		}
	}
}

// readYAML parses path, expands env references, checks apiVersion and
// decodes into v.
func (s *Server) readYAML(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if doc.Kind == 0 { // empty file
		return nil
	}
	s.expandNode(&doc)
	var head struct {
		APIVersion any `yaml:"apiVersion"`
	}
	if err := doc.Decode(&head); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch head.APIVersion {
	case nil, 1, "1":
	default:
		return fmt.Errorf("%s: unsupported apiVersion %v (the Grafana test double knows apiVersion 1)", path, head.APIVersion)
	}
	if err := doc.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

type dsFile struct {
	Datasources []struct {
		Name            string            `yaml:"name"`
		UID             string            `yaml:"uid"`
		Type            string            `yaml:"type"`
		Access          string            `yaml:"access"`
		OrgID           int64             `yaml:"orgId"`
		URL             string            `yaml:"url"`
		User            string            `yaml:"user"`
		Database        string            `yaml:"database"`
		BasicAuth       bool              `yaml:"basicAuth"`
		BasicAuthUser   string            `yaml:"basicAuthUser"`
		WithCredentials bool              `yaml:"withCredentials"`
		IsDefault       bool              `yaml:"isDefault"`
		Editable        bool              `yaml:"editable"`
		JSONData        map[string]any    `yaml:"jsonData"`
		SecureJSONData  map[string]string `yaml:"secureJsonData"`
	} `yaml:"datasources"`
	DeleteDatasources []struct {
		Name string `yaml:"name"`
	} `yaml:"deleteDatasources"`
}

func (s *Server) provisionDatasources(dir string) error {
	files, err := yamlFiles(dir)
	if err != nil {
		return err
	}
	var all []dsFile
	defaults := 0
	for _, p := range files {
		var f dsFile
		if err := s.readYAML(p, &f); err != nil {
			return err
		}
		for i, d := range f.Datasources {
			if d.Name == "" {
				return fmt.Errorf("%s: datasource #%d has no name", p, i+1)
			}
			if d.Type == "" {
				return fmt.Errorf("%s: datasource %q has no type", p, d.Name)
			}
			if len(d.UID) > 40 || !validUID(d.UID) {
				return fmt.Errorf("%s: datasource %q: invalid uid %q", p, d.Name, d.UID)
			}
			if d.IsDefault {
				defaults++
			}
		}
		all = append(all, f)
	}
	if defaults > 1 {
		return errors.New("datasource.yaml config is invalid. Only one datasource per organization can be marked as default")
	}
	for _, f := range all {
		for _, del := range f.DeleteDatasources {
			if i, _ := s.findDatasource(func(d *datasource) bool { return d.Name == del.Name }); i >= 0 {
				s.st.Datasources = append(s.st.Datasources[:i], s.st.Datasources[i+1:]...)
			}
		}
	}
	for _, f := range all {
		for _, p := range f.Datasources {
			_, d := s.findDatasource(func(d *datasource) bool { return d.Name == p.Name })
			if p.UID != "" {
				if _, o := s.findDatasource(func(d *datasource) bool { return d.UID == p.UID }); o != nil && o != d {
					return fmt.Errorf("datasource %q: data source with the same uid (%q) already exists: %q", p.Name, p.UID, o.Name)
				}
			}
			if d == nil {
				d = &datasource{ID: s.st.NextDatasourceID, OrgID: 1, UID: p.UID}
				s.st.NextDatasourceID++
				s.st.Datasources = append(s.st.Datasources, d)
			} else {
				d.Version++
			}
			if p.UID != "" {
				d.UID = p.UID
			}
			if d.UID == "" {
				d.UID = randomString(14)
			}
			if p.Access == "" {
				p.Access = "proxy"
			}
			d.Name, d.Type, d.Access, d.URL, d.User, d.Database = p.Name, p.Type, p.Access, p.URL, p.User, p.Database
			d.BasicAuth, d.BasicAuthUser, d.WithCredentials, d.IsDefault = p.BasicAuth, p.BasicAuthUser, p.WithCredentials, p.IsDefault
			d.JSONData, d.Secure = p.JSONData, p.SecureJSONData
			d.ReadOnly, d.Provisioned = !p.Editable, true
			if d.Version == 0 {
				d.Version = 1
			}
			if d.IsDefault {
				for _, o := range s.st.Datasources {
					if o != d {
						o.IsDefault = false
					}
				}
			}
			s.log.Printf("provisioned datasource %q (uid %s, type %s, url %s)", d.Name, d.UID, d.Type, d.URL)
		}
	}
	return nil
}

type dashProviderFile struct {
	Providers []struct {
		Name           string `yaml:"name"`
		OrgID          int64  `yaml:"orgId"`
		Folder         string `yaml:"folder"`
		FolderUID      string `yaml:"folderUid"`
		Type           string `yaml:"type"`
		AllowUIUpdates bool   `yaml:"allowUiUpdates"`
		Options        struct {
			Path   string `yaml:"path"`
			Folder string `yaml:"folder"` // old name of path
		} `yaml:"options"`
	} `yaml:"providers"`
}

func (s *Server) provisionDashboards(dir string) error {
	files, err := yamlFiles(dir)
	if err != nil {
		return err
	}
	for _, p := range files {
		var f dashProviderFile
		if err := s.readYAML(p, &f); err != nil {
			return err
		}
		for i, pr := range f.Providers {
			if pr.Type != "" && pr.Type != "file" {
				s.log.Printf("dashboard provider %q: type %q is not supported by the Grafana test double; skipped", pr.Name, pr.Type)
				continue
			}
			path := pr.Options.Path
			if path == "" {
				path = pr.Options.Folder
			}
			if path == "" {
				return fmt.Errorf("%s: provider #%d (%q) has no options.path", p, i+1, pr.Name)
			}
			if pr.Name == "" {
				pr.Name = fmt.Sprintf("%s#%d", filepath.Base(p), i+1)
			}
			folderUID := ""
			if pr.Folder != "" {
				f := s.folderByUID(pr.FolderUID)
				if f == nil {
					f = s.folderByTitle(pr.Folder)
				}
				if f == nil {
					var se *saveError
					if f, se = s.createFolderLocked(pr.FolderUID, pr.Folder, "", "provisioning"); se != nil {
						return fmt.Errorf("provider %q: folder %q: %s", pr.Name, pr.Folder, se.message)
					}
				}
				folderUID = f.UID
			}
			if err := s.loadProviderDashboards(pr.Name, path, folderUID, pr.AllowUIUpdates); err != nil {
				return fmt.Errorf("provider %q: %w", pr.Name, err)
			}
		}
	}
	return nil
}

// loadProviderDashboards loads every *.json under path. Like Grafana, a bad
// dashboard file is logged and skipped; an unchanged file keeps the stored
// dashboard (and any UI edits to it); a removed file removes its dashboard.
func (s *Server) loadProviderDashboards(provider, root, folderUID string, allowUI bool) error {
	seen := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == root {
				s.log.Printf("dashboard provider %q: cannot read directory %s: %v", provider, root, err)
				return filepath.SkipAll
			}
			return nil
		}
		if e.IsDir() || strings.ToLower(filepath.Ext(path)) != ".json" {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		data, err := os.ReadFile(path)
		if err != nil {
			s.log.Printf("failed to load dashboard from %s: %v", path, err)
			return nil
		}
		sum := sha256.Sum256(data)
		info := &provInfo{Provider: provider, File: rel, Checksum: hex.EncodeToString(sum[:]), AllowUIUpdates: allowUI}
		var dash map[string]any
		if err := unmarshalNumbers(data, &dash); err != nil || dash == nil {
			s.log.Printf("failed to load dashboard from %s: not a JSON object: %v", path, err)
			return nil
		}
		seen[rel] = true
		uid, _ := dash["uid"].(string)
		var existing *dashboard
		if uid != "" {
			existing = s.dashboardByUID(uid)
		} else {
			for _, d := range s.st.Dashboards {
				if d.Provisioned != nil && d.Provisioned.Provider == provider && d.Provisioned.File == rel {
					existing = d
				}
			}
			if existing != nil {
				dash["uid"] = existing.UID
			}
		}
		if existing != nil && existing.Provisioned != nil && existing.Provisioned.Checksum == info.Checksum && existing.FolderUID == folderUID {
			existing.Provisioned.AllowUIUpdates = allowUI
			return nil
		}
		dash["id"] = nil
		if existing != nil {
			dash["version"] = num(existing.Version)
		}
		d, err := s.saveDashboardLocked(saveCmd{Data: dash, FolderUID: folderUID, Overwrite: true, User: "provisioning", provisioning: info})
		if err != nil {
			s.log.Printf("failed to provision dashboard %s: %v", path, err)
			return nil
		}
		s.log.Printf("provisioned dashboard %q (uid %s) from %s", d.Title, d.UID, path)
		return nil
	})
	if err != nil {
		return err
	}
	kept := s.st.Dashboards[:0]
	for _, d := range s.st.Dashboards {
		if d.Provisioned != nil && d.Provisioned.Provider == provider && !seen[d.Provisioned.File] {
			s.log.Printf("removed provisioned dashboard %q: its file %s is gone", d.Title, d.Provisioned.File)
			continue
		}
		kept = append(kept, d)
	}
	s.st.Dashboards = kept
	return nil
}
