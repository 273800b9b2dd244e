package stack

import (
	"path/filepath"
	"sort"
)

// WriteTree writes files under dir the way WriteFiles does (atomically,
// leaving unchanged files alone) but adds nothing else: for outputs that
// are not a stack's --dir, such as render --kubernetes.
func WriteTree(dir string, files []File) ([]WriteResult, error) {
	sorted := append([]File(nil), files...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var out []WriteResult
	for _, f := range sorted {
		path := filepath.Join(dir, filepath.FromSlash(f.Path))
		changed, err := writeAtomic(path, f.Content, f.Mode)
		if err != nil {
			return out, err
		}
		out = append(out, WriteResult{Path: path, Changed: changed})
	}
	return out, nil
}
