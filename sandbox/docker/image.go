package docker

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// BuildSpec says how to build a benchmark image (codspeed.yml's
// container.build).
type BuildSpec struct {
	// Context is the build context directory. Its .dockerignore is honoured.
	Context string
	// Dockerfile is relative to Context; empty means "Dockerfile".
	Dockerfile string
	// Args are build arguments (--build-arg).
	Args map[string]string
	// Target names a stage of a multi-stage Dockerfile.
	Target string
}

// ErrImage is wrapped when an image cannot be built or pulled; the message
// carries the engine's own error (a failed RUN, an unknown image).
var ErrImage = errors.New("image")

// EnsureImage makes ref available on the engine. With a BuildSpec it builds
// the image from the context (every time: the engine's layer cache makes an
// unchanged context cheap) and tags it ref. Without one it pulls ref unless
// the engine already has it. Build output and pull progress go to progress
// (nil discards it) as lines of text.
func (o *Orchestrator) EnsureImage(ctx context.Context, ref string, spec *BuildSpec, progress io.Writer) error {
	progress = orDiscard(progress)
	if spec != nil {
		return o.build(ctx, ref, spec, progress)
	}
	if _, err := o.cli.ImageInspect(ctx, ref); err == nil {
		o.log.Info("image present", "image", ref)
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", ref, err)
	}
	o.log.Info("pulling image", "image", ref)
	resp, err := o.cli.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("%w: pull %s: %w", ErrImage, ref, err)
	}
	defer resp.Close()
	if err := printMessages(resp, progress); err != nil {
		return fmt.Errorf("%w: pull %s: %w", ErrImage, ref, err)
	}
	return nil
}

func (o *Orchestrator) build(ctx context.Context, ref string, spec *BuildSpec, progress io.Writer) error {
	dockerfile := spec.Dockerfile
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(spec.Context, dockerfile)); err != nil {
		return fmt.Errorf("%w: build %s: %w", ErrImage, ref, err)
	}
	o.log.Info("building image", "image", ref, "context", spec.Context, "dockerfile", dockerfile)
	tarball, err := ContextTar(spec.Context, dockerfile)
	if err != nil {
		return fmt.Errorf("%w: build %s: %w", ErrImage, ref, err)
	}
	defer tarball.Close()
	args := map[string]*string{}
	for k, v := range spec.Args {
		args[k] = &v
	}
	resp, err := o.cli.ImageBuild(ctx, tarball, client.ImageBuildOptions{
		Tags:        []string{ref},
		Dockerfile:  filepath.ToSlash(dockerfile),
		BuildArgs:   args,
		Target:      spec.Target,
		Remove:      true,
		ForceRemove: true,
		// The classic builder needs no BuildKit session and works on every
		// engine; BuildKit-only syntax is not supported here.
		Version: build.BuilderV1,
	})
	if err != nil {
		return fmt.Errorf("%w: build %s: %w", ErrImage, ref, err)
	}
	defer resp.Body.Close()
	if err := printMessages(resp.Body, progress); err != nil {
		return fmt.Errorf("%w: build %s: %w", ErrImage, ref, err)
	}
	return nil
}

// printMessages turns the engine's JSON message stream into text lines and
// returns the first error message in it. Per-byte progress updates are
// dropped; each layer's state changes are kept.
func printMessages(r io.Reader, w io.Writer) error {
	dec := json.NewDecoder(r)
	for {
		var m jsonstream.Message
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read engine messages: %w", err)
		}
		switch {
		case m.Error != nil:
			return errors.New(strings.TrimSpace(m.Error.Message))
		case m.Stream != "":
			io.WriteString(w, m.Stream)
		case m.Status != "" && (m.Progress == nil || m.Progress.Total == 0):
			if m.ID != "" {
				fmt.Fprintf(w, "%s: %s\n", m.ID, m.Status)
			} else {
				fmt.Fprintln(w, m.Status)
			}
		}
	}
}

// ContextTar returns the build context dir as a tar stream, leaving out what
// its .dockerignore excludes, the way the docker CLI does: the Dockerfile and
// .dockerignore are always sent. The caller closes the reader; a walk error
// surfaces as the reader's error.
func ContextTar(dir, dockerfile string) (io.ReadCloser, error) {
	var patterns []string
	if f, err := os.Open(filepath.Join(dir, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, ".dockerignore"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read .dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
	}
	keep := map[string]bool{filepath.Clean(dockerfile): true, ".dockerignore": true}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			if rel == "." {
				return nil
			}
			if !keep[rel] {
				excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
				if err != nil {
					return fmt.Errorf("match %s: %w", rel, err)
				}
				if excluded {
					if d.IsDir() && !pm.Exclusions() {
						return filepath.SkipDir
					}
					return nil
				}
			}
			return addToTar(tw, path, filepath.ToSlash(rel), d)
		})
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}

func addToTar(tw *tar.Writer, path, name string, d fs.DirEntry) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	link := ""
	if info.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(path); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	hdr.Name = name
	if d.IsDir() {
		hdr.Name += "/"
	}
	// The build host's owners mean nothing in the image (the CLI does the same).
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(tw, f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
