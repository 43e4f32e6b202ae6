// Package orchestrate runs a project's targets in containers: it builds or
// pulls the benchmark image named by codspeed.yml's `container:` section, then
// gives every target of every mode its own container (through sandbox/docker)
// in which the static codspeed binary measures that one target with its local
// path, and hands the benchmarks back to the run loop, which merges them into
// one run. It is the run loop's Executor for containers; internal/run itself
// knows no Docker.
//
// Layout on the host, under the mode's profile folder PF:
//
//	PF/targets/NN-name/   mounted at /codspeed/profile in target NN's container:
//	                      its results file, profiles, perf maps; output.log
//	PF/sandbox/NN-name.json  the container record: effective OCI spec, HostConfig
//	                      the engine reported, capabilities and why, exit code
//	PF/results/<pid>.json the merged results file (written by the run loop)
package orchestrate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/internal/config"
	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox"
	"github.com/codspeed-go/codspeed-go/sandbox/docker"
)

// WorkspaceDir is where the workspace (the git root, or the config file's
// folder) is mounted in every container, as in the documented
// `docker run -v "$PWD:/src" -w /src` path.
const WorkspaceDir = "/src"

// innerStore is where the runner inside the container keeps its own run
// record: inside the container, so it never lands in the host's store (the
// host records the one merged run).
const innerStore = "/tmp/codspeed-store"

// AnnotationRun labels every container of one run with its id, so leftovers
// of a run can be listed (`docker ps -a --filter label=org.codspeed-go.run`).
const AnnotationRun = docker.AnnotationRun

// Options configure an Executor.
type Options struct {
	// Container is the config's `container:` section (required).
	Container *config.Container
	// Workspace is the host folder mounted at WorkspaceDir; every target's
	// working directory must be inside it.
	Workspace string
	// Runner is the static codspeed binary injected into the containers;
	// empty finds one with FindRunner from os.Executable() for the image's
	// architecture.
	Runner string
	// BuildOutput receives the image build or pull progress; nil discards it.
	BuildOutput io.Writer
	// Docker configures the engine connection; its Log receives the
	// orchestrator's decisions (capabilities and why).
	Docker docker.Options
	// RunnerFlags are passed to every inner runner before the command
	// (flags of the outer run that the inner one must honour, such as
	// --enable-perf and --perf-unwinding-mode).
	RunnerFlags []string
	// RunnerEnv is added to every inner runner's environment (the owner to
	// hand its files to).
	RunnerEnv []string
}

// Executor runs targets in containers of one benchmark image. It implements
// run.Executor. The caller owns it and must Close it.
type Executor struct {
	orch      *docker.Orchestrator
	image     string
	runner    string
	workspace string
	network   bool
	flags     []string
	env       []string
	log       *slog.Logger
	// Records lists the container records written, in run order.
	Records []string
}

// ImageRef is the image a `container:` section runs: its image: as written,
// or for build: a local tag derived from the build context, Dockerfile and
// stage, so that two projects never overwrite each other's image and one
// project reuses its own tag (and the engine's layer cache) run after run.
func ImageRef(c *config.Container) string {
	if c.Build == nil {
		return c.Image
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s", c.Build.Context, c.Build.Dockerfile, c.Build.Target)
	name := strings.ToLower(filepath.Base(c.Build.Context))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, name)
	name = strings.Trim(name, "-_.")
	if name == "" {
		name = "project"
	}
	return fmt.Sprintf("codspeed-bench/%s:%s", name, hex.EncodeToString(h.Sum(nil))[:12])
}

// New connects to the engine, builds (container.build) or pulls
// (container.image, unless present) the benchmark image with its progress on
// o.BuildOutput, and picks the runner binary for the image's architecture.
// Errors wrap docker.ErrEngineUnavailable, docker.ErrImage or
// ErrNoRunnerBinary.
func New(ctx context.Context, o Options) (*Executor, error) {
	if o.Container == nil {
		return nil, errors.New("orchestrate: no container section")
	}
	if !filepath.IsAbs(o.Workspace) {
		return nil, fmt.Errorf("orchestrate: workspace %q is not absolute", o.Workspace)
	}
	log := o.Docker.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	orch, err := docker.NewOrchestrator(ctx, o.Docker)
	if err != nil {
		return nil, err
	}
	e := &Executor{orch: orch, image: ImageRef(o.Container), workspace: o.Workspace, network: o.Container.Network, flags: o.RunnerFlags, env: o.RunnerEnv, log: log}
	var build *docker.BuildSpec
	if b := o.Container.Build; b != nil {
		build = &docker.BuildSpec{Context: b.Context, Dockerfile: b.Dockerfile, Target: b.Target, Args: b.Args}
	}
	if err := orch.EnsureImage(ctx, e.image, build, o.BuildOutput); err != nil {
		orch.Close()
		return nil, err
	}
	img, err := orch.Client().ImageInspect(ctx, e.image)
	if err != nil {
		orch.Close()
		return nil, fmt.Errorf("inspect image %s: %w", e.image, err)
	}
	arch := normalizeArch(img.Architecture)
	e.runner = o.Runner
	if e.runner == "" {
		exe, err := os.Executable()
		if err == nil {
			exe, err = filepath.EvalSymlinks(exe)
		}
		if err != nil {
			orch.Close()
			return nil, fmt.Errorf("%w: locate this executable: %v", ErrNoRunnerBinary, err)
		}
		if e.runner, err = FindRunner(exe, arch); err != nil {
			orch.Close()
			return nil, fmt.Errorf("image %s: %w", e.image, err)
		}
	} else if got, static, err := elfInfo(e.runner); err != nil {
		orch.Close()
		return nil, fmt.Errorf("%w: %v", ErrNoRunnerBinary, err)
	} else if got != arch || !static {
		orch.Close()
		return nil, fmt.Errorf("%w: %s is for %s (static: %v), image %s is %s", ErrNoRunnerBinary, e.runner, got, static, e.image, arch)
	}
	log.Info("benchmark image", "image", e.image, "arch", arch, "runner", e.runner)
	return e, nil
}

// Image is the benchmark image the targets run in.
func (e *Executor) Image() string { return e.image }

// Runner is the host path of the binary injected into the containers.
func (e *Executor) Runner() string { return e.runner }

// Engine describes the engine in use.
func (e *Executor) Engine() docker.Engine { return e.orch.Engine() }

// Close releases the engine connection.
func (e *Executor) Close() error { return e.orch.Close() }

// ContainerPath maps a host path inside the workspace to its path in the
// container.
func ContainerPath(workspace, hostPath string) (string, error) {
	rel, err := filepath.Rel(workspace, hostPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%s is outside the workspace %s, the only folder the containers see (move codspeed.yml up, make the project a git checkout, or use --no-container)", hostPath, workspace)
	}
	return filepath.ToSlash(filepath.Join(WorkspaceDir, rel)), nil
}

// RunnerArgs is the command line of the runner inside a target's container:
// `exec` (exec targets, the argv as split on the host) or `run` (entrypoint
// targets, the command line as written), for one mode, with the harness
// options, CPUs and working directory, writing to docker.ProfileDir.
func RunnerArgs(mode string, t instruments.Target, dir, cpus string, showOutput bool, flags ...string) []string {
	sub := "exec"
	if t.Kind == instruments.Entrypoint {
		sub = "run"
	}
	// --no-container: the runner inside measures here, whatever the
	// workspace's codspeed.yml says.
	args := []string{sub, "--mode", mode, "--profile-folder", docker.ProfileDir, "--working-directory", dir, "--no-container"}
	if cpus != "" {
		args = append(args, "--cpus", cpus)
	}
	if sub == "exec" {
		args = append(args, "--name", t.Name)
	}
	o := t.Options
	if o.WarmupTime != nil {
		args = append(args, "--warmup-time", o.WarmupTime.String())
	}
	if o.MaxTime != nil {
		args = append(args, "--max-time", o.MaxTime.String())
	}
	if o.MinTime != nil {
		args = append(args, "--min-time", o.MinTime.String())
	}
	if o.MaxRounds != nil {
		args = append(args, "--max-rounds", fmt.Sprint(*o.MaxRounds))
	}
	if o.MinRounds != nil {
		args = append(args, "--min-rounds", fmt.Sprint(*o.MinRounds))
	}
	if showOutput {
		args = append(args, "--show-output")
	}
	args = append(args, flags...)
	args = append(args, "--")
	if sub == "run" {
		return append(args, t.Command)
	}
	// The exec harness inside gets the argv, or a line that needs a shell
	// whole, under bash -c (instruments.Target.Argv).
	return append(args, t.Argv()...)
}

// Execute implements run.Executor: one container for job's target, whose
// results come back through the target's profile subfolder.
func (e *Executor) Execute(ctx context.Context, job run.Job) ([]results.Benchmark, error) {
	t := job.Target
	name := fmt.Sprintf("%02d-%s", job.Index+1, instruments.FileName(t.Name, "target"))
	dir := filepath.Join(job.ProfileFolder, "targets", name)
	if err := results.MkdirAll(dir); err != nil {
		return nil, fmt.Errorf("target profile folder: %w", err)
	}
	cdir, err := ContainerPath(e.workspace, t.Dir)
	if err != nil {
		return nil, err
	}
	cpus := t.CPUs
	if cpus == "" {
		allowed, err := sandbox.AllowedCPUs()
		if err != nil {
			return nil, err
		}
		cpus = sandbox.DefaultCPUs(allowed).String()
	}
	env := append([]string{
		"CODSPEED_STORE=" + innerStore,
		sandbox.EnvContainerSandbox + "=1",
	}, append(append([]string(nil), e.env...), t.Env...)...)
	base := &specs.Spec{
		Process:     &specs.Process{Env: env, Cwd: cdir},
		Annotations: map[string]string{AnnotationRun: job.RunID},
	}

	logPath := filepath.Join(dir, "output.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("container output log: %w", err)
	}
	defer logFile.Close()
	tail := &tailBuffer{max: 4096}
	var stdout, stderr io.Writer = io.MultiWriter(logFile, tail), io.MultiWriter(logFile, tail)
	if job.ShowOutput && job.Output != nil {
		stderr = io.MultiWriter(stderr, job.Output)
	}
	ro := docker.RunOptions{
		Image:         e.image,
		RunnerBinary:  e.runner,
		RunnerArgs:    RunnerArgs(job.Mode, t, cdir, cpus, job.ShowOutput, e.flags...),
		ProfileVolume: dir,
		Workspace:     &docker.Mount{Source: e.workspace, Target: WorkspaceDir},
		CPUs:          cpus,
		MemoryLimit:   t.MemoryLimit,
		Network:       e.network,
		Mode:          job.Mode,
		Stdout:        stdout,
		Stderr:        stderr,
	}
	if job.Progress != nil {
		job.Progress.Phase(t.Name, "in a container of "+e.image)
	}
	res, runErr := e.orch.Run(ctx, base, ro)
	if res != nil && res.Spec != nil {
		rec := filepath.Join(job.ProfileFolder, "sandbox", name+".json")
		if err := res.WriteRecord(rec); err != nil {
			runErr = errors.Join(runErr, err)
		} else {
			e.Records = append(e.Records, rec)
		}
	}
	if runErr != nil {
		if ctx.Err() != nil && res != nil {
			// Interrupted: the container was stopped gracefully, and the
			// runner in it wrote the benchmarks that finished before it.
			benches, _ := collect(job.ProfileFolder, dir, res.Sandbox())
			return benches, fmt.Errorf("%s: %w", t.Name, runErr)
		}
		return nil, fmt.Errorf("%s: %w", t.Name, runErr)
	}

	benches, err := collect(job.ProfileFolder, dir, res.Sandbox())
	if err != nil {
		return benches, err
	}
	if job.Integrations != nil {
		job.Integrations.Keep(collectMetadata(dir))
	}
	if res.ExitCode != 0 {
		err := fmt.Errorf("the runner in container %s exited with %d (output: %s): %s",
			shortID(res.ContainerID), res.ExitCode, logPath, lastLine(tail.String()))
		if len(benches) == 0 {
			return nil, err
		}
		if !anyFailed(benches) {
			return benches, err
		}
	}
	return benches, nil
}

// collect reads the results file(s) the runner wrote in the target's folder
// and makes their artifact paths relative to the mode's profile folder pf.
func collect(pf, dir string, sb results.Sandbox) ([]results.Benchmark, error) {
	files, err := filepath.Glob(filepath.Join(dir, "results", "*.json"))
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(pf, dir)
	if err != nil {
		return nil, err
	}
	var out []results.Benchmark
	for _, path := range files {
		f, err := results.ReadResults(path)
		if err != nil {
			return out, fmt.Errorf("results from the container: %w", err)
		}
		for _, b := range f.Benchmarks {
			inner := b.Sandbox
			s := sb
			if inner != nil {
				s.CPUUsageNs, s.PeakMemoryBytes = inner.CPUUsageNs, inner.PeakMemoryBytes
			}
			b.Sandbox = &s
			if p := b.Profile; p != nil {
				q := *p
				for _, f := range []*string{&q.Folded, &q.Flamegraph, &q.Raw} {
					if *f != "" && !filepath.IsAbs(*f) {
						*f = filepath.ToSlash(filepath.Join(rel, *f))
					}
				}
				b.Profile = &q
			}
			out = append(out, b)
		}
	}
	return out, nil
}

// collectMetadata is the top-level metadata of the results files the runner
// in the container wrote (what it kept from the integrations' own files).
// collect has already read them and reported a corrupt one.
func collectMetadata(dir string) map[string]json.RawMessage {
	files, _ := filepath.Glob(filepath.Join(dir, "results", "*.json"))
	var meta map[string]json.RawMessage
	for _, path := range files {
		f, err := results.ReadResults(path)
		if err != nil {
			continue
		}
		for k, v := range f.Metadata {
			if meta == nil {
				meta = map[string]json.RawMessage{}
			}
			meta[k] = v
		}
	}
	return meta
}

func anyFailed(bs []results.Benchmark) bool {
	for _, b := range bs {
		if b.Error != "" {
			return true
		}
	}
	return false
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }

// lastLine is the last non-empty line of s, or "no output".
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "no output"
}
