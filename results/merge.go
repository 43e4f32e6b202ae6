package results

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// MergeFolders makes one run in s of the profile folders of a sharded
// suite's jobs (each job's --profile-folder, kept as a CI artifact): per mode,
// one results file holding every folder's benchmarks, with each folder's
// profiles copied under part-K/ (K its place in dirs, from 1). A folder holds
// results/*.json, or a subfolder per mode that does. A benchmark found in two
// folders is an error: the folders are not shards of one suite.
func MergeFolders(s *Store, dirs []string, args []string) (_ *RunMeta, err error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("merge: no profile folders given")
	}
	type source struct {
		dir  string // the folder holding results/
		k    int
		file *File
	}
	byMode := map[string][]source{}
	var modes []string
	var first *File
	for k, dir := range dirs {
		var found []string
		for _, pat := range []string{filepath.Join(dir, "results", "*.json"), filepath.Join(dir, "*", "results", "*.json")} {
			m, err := filepath.Glob(pat)
			if err != nil {
				return nil, fmt.Errorf("merge: %s: %w", dir, err)
			}
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("merge: %s holds no results file (results/*.json, or MODE/results/*.json): is it a profile folder?", dir)
		}
		sort.Strings(found)
		for _, p := range found {
			f, err := ReadResults(p)
			if err != nil {
				return nil, fmt.Errorf("merge: %w", err)
			}
			mode := f.Instrument.Type
			if f.Run != nil && f.Run.Mode != "" {
				mode = f.Run.Mode
			}
			if mode == "" {
				return nil, fmt.Errorf("merge: %s: no instrument type", p)
			}
			if first == nil {
				first = f
			}
			if !slices.Contains(modes, mode) {
				modes = append(modes, mode)
			}
			byMode[mode] = append(byMode[mode], source{dir: filepath.Dir(filepath.Dir(p)), k: k + 1, file: f})
		}
	}
	now := time.Now()
	meta := &RunMeta{ID: NewRunID(now), Status: StatusRunning, StartedAt: now, Args: args, Modes: modes}
	if first.Run != nil {
		meta.Git, meta.Host = first.Run.Git, first.Run.Host
	}
	if err := s.Create(meta); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			os.RemoveAll(s.Dir(meta.ID)) // a failed merge leaves no run
		}
	}()
	for i, mode := range modes {
		pf := filepath.Join(s.Dir(meta.ID), mode)
		merged := &File{Creator: byMode[mode][0].file.Creator, Instrument: Instrument{Type: mode},
			Run: &RunInfo{ID: meta.ID, Mode: mode, Part: i, StartedAt: now, Git: meta.Git, Host: meta.Host}}
		seen := map[string]source{}
		copied := map[string]bool{}
		failed := 0
		for _, src := range byMode[mode] {
			prefix := fmt.Sprintf("part-%d", src.k)
			if !copied[src.dir] {
				if err := copyArtifacts(src.dir, filepath.Join(pf, prefix)); err != nil {
					return nil, fmt.Errorf("merge: copy %s: %w", src.dir, err)
				}
				copied[src.dir] = true
			}
			for _, b := range src.file.Benchmarks {
				key := b.URI
				if key == "" {
					key = b.Name
				}
				if other, dup := seen[key]; dup && other.k != src.k {
					return nil, fmt.Errorf("merge: %s benchmark %q is in both %s and %s: the folders are not shards of one suite", mode, key, dirs[other.k-1], dirs[src.k-1])
				}
				seen[key] = src
				if b.Profile != nil {
					p := *b.Profile
					for _, f := range []*string{&p.Folded, &p.Flamegraph, &p.Raw} {
						if *f != "" && !filepath.IsAbs(*f) {
							*f = filepath.ToSlash(filepath.Join(prefix, *f))
						}
					}
					b.Profile = &p
				}
				if b.Error != "" {
					failed++
				}
				merged.Benchmarks = append(merged.Benchmarks, b)
			}
		}
		if merged.Benchmarks == nil {
			merged.Benchmarks = []Benchmark{}
		}
		path, err := WriteResults(pf, merged)
		if err != nil {
			return nil, fmt.Errorf("merge: %w", err)
		}
		rel, _ := filepath.Rel(s.Dir(meta.ID), path)
		meta.Parts = append(meta.Parts, Part{Mode: mode, Index: i, ProfileFolder: pf, Results: rel,
			Benchmarks: len(merged.Benchmarks), Failed: failed})
	}
	meta.Status = StatusComplete
	for _, p := range meta.Parts {
		if p.Failed > 0 {
			meta.Status = StatusFailed
		}
	}
	meta.FinishedAt = time.Now()
	return meta, s.Save(meta)
}

// copyArtifacts copies the profile folder src (its profiles: everything but
// results/) into dst.
func copyArtifacts(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == "results" || strings.HasPrefix(rel, "results"+string(filepath.Separator)) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return MkdirAll(target)
		}
		if !d.Type().IsRegular() {
			return nil // sockets, FIFOs, links: not artifacts
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, FileMode())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}
