package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/orchestrate"
	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/sandbox/docker"
)

// containerExecutor prepares the containers of a config with a `container:`
// section: the engine, the benchmark image (built or pulled, progress on
// stderr) and the runner binary to inject. The caller closes it.
func containerExecutor(ctx context.Context, cfg *config.Config, workspace string, progress *run.Progress, runnerFlags []string) (*orchestrate.Executor, error) {
	// The orchestrator's decisions that deserve attention (a capability
	// fallback, an engine warning) are shown once each, like other warnings.
	log := slog.New(slog.NewTextHandler(&warnLines{p: progress}, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return a
		},
	}))
	fmt.Fprintf(os.Stderr, "preparing the benchmark image (%s)\n", describeContainer(cfg.Container))
	return orchestrate.New(ctx, orchestrate.Options{
		Container:   cfg.Container,
		Workspace:   workspace,
		Runner:      os.Getenv("CODSPEED_RUNNER_BINARY"),
		BuildOutput: os.Stderr,
		Docker:      docker.Options{Log: log},
		RunnerFlags: runnerFlags,
		RunnerEnv:   fileOwnerEnv(),
	})
}

// containerWorkspace is the folder mounted in every container: the git root
// when the config is inside a git work tree, else the config's folder. Every
// target's working directory must be inside it, which is checked here, before
// an image is built.
func containerWorkspace(cfg *config.Config, gitRoot string, targets []instruments.Target) (string, error) {
	workspace := cfg.Dir
	if gitRoot != "" {
		if rel, err := filepath.Rel(gitRoot, cfg.Dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			workspace = gitRoot
		}
	}
	var errs []error
	for _, t := range targets {
		if _, err := orchestrate.ContainerPath(workspace, t.Dir); err != nil {
			errs = append(errs, fmt.Errorf("%s: working directory %w", t.Name, err))
		}
	}
	return workspace, errors.Join(errs...)
}

func describeContainer(c *config.Container) string {
	if c.Build != nil {
		df := c.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		return "build " + filepath.Join(c.Build.Context, df)
	}
	return "image " + c.Image
}

// warnLines turns each log line into a run warning.
type warnLines struct {
	p   *run.Progress
	buf bytes.Buffer
}

func (w *warnLines) Write(b []byte) (int, error) {
	w.buf.Write(b)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			break
		}
		w.p.Warn("docker: " + strings.TrimSpace(strings.TrimPrefix(line, "msg=")))
	}
	return len(b), nil
}
