package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox"
)

// RunOptions say where and how one target's container runs. Zero values mean
// "not asked": no CPU pinning, no memory limit, the engine's cgroup parent,
// no network.
type RunOptions struct {
	// Image is the benchmark image (built or pulled by EnsureImage).
	Image string
	// RunnerBinary is the host path of a static codspeed binary for the
	// image's architecture; it is mounted read-only at RunnerPath and run
	// with RunnerArgs (e.g. "exec", "--profile-folder", ProfileDir, "--",
	// "./bench"). Empty runs the base spec's process args as they are.
	RunnerBinary string
	RunnerArgs   []string
	// ProfileVolume is the host directory mounted at ProfileDir; the caller
	// owns it and reads the results from it after Run.
	ProfileVolume string
	// Workspace is the source tree; it becomes the working directory unless
	// the spec names one.
	Workspace *Mount
	// CPUs is a cpuset ("1", "2-3"), MemoryLimit a byte count, CgroupParent
	// the cgroup the container's cgroup is created under.
	CPUs         string
	MemoryLimit  int64
	CgroupParent string
	// Network attaches the default bridge network; false means none.
	Network bool
	// Mode is the measurement mode (results.Walltime, Simulation, Memory); it
	// decides the capabilities.
	Mode string
	// Stdout and Stderr receive the container's output; nil discards it.
	Stdout, Stderr io.Writer
	// StopGrace is how long a container stopped because ctx ended (Ctrl-C)
	// has, after SIGINT, to finish on its own (the runner inside keeps the
	// benchmarks that finished and writes its results) before SIGKILL;
	// zero means DefaultStopGrace.
	StopGrace time.Duration
}

// DefaultStopGrace is RunOptions.StopGrace's default: enough for the runner
// in the container to stop its benchmark and write its results file.
const DefaultStopGrace = 10 * time.Second

// RunResult is how a target's container ran. The caller stores Spec and
// HostConfig with the results.
type RunResult struct {
	ContainerID string `json:"container_id"`
	// ExitCode is the container's exit status; a target that failed is not
	// an error of Run.
	ExitCode     int                   `json:"exit_code"`
	Capabilities CapabilityPlan        `json:"capabilities"`
	Spec         *specs.Spec           `json:"spec"`
	HostConfig   *container.HostConfig `json:"host_config"`
	Engine       Engine                `json:"engine"`
	// Duration is from container creation to its removal.
	Duration time.Duration `json:"duration_ns"`
}

// Sandbox describes the run in the results model's terms.
func (r *RunResult) Sandbox() results.Sandbox {
	sb := results.Sandbox{Kind: "docker", ContainerImage: r.Spec.Annotations[AnnotationImage]}
	if r.HostConfig != nil {
		sb.CPUs = r.HostConfig.CpusetCpus
		sb.Cgroup = r.HostConfig.CgroupParent
		sb.MemoryLimitBytes = r.HostConfig.Memory
	}
	return sb
}

// WriteRecord writes r as JSON to path, so the container settings travel
// with the results files.
func (r *RunResult) WriteRecord(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("container record: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return fmt.Errorf("container record: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o666); err != nil {
		return fmt.Errorf("container record: %w", err)
	}
	return nil
}

// cleanupTimeout bounds the removal of a container after the run's context
// is gone (Ctrl-C): long enough for the engine to kill and remove, short
// enough not to hang an interrupted CLI.
const cleanupTimeout = 30 * time.Second

// Run runs one target in a fresh container built from base and ro, streams
// its output, waits for it and removes it (with its anonymous volumes)
// whatever happens: a failing target, an engine error, or ctx cancelled, in
// which case the container is killed and removed under a fresh context and
// the error wraps ctx.Err(). On ctx's end the container gets SIGINT, as the
// runner inside would from a terminal, and ro.StopGrace to exit on its own
// (its results are then in the profile volume and ExitCode is set) before
// SIGKILL. A forced exit of the CLI (sandbox.ForcedExit) kills and removes it
// at once. A non-zero exit is reported in ExitCode, not as
// an error. The result is returned, partly filled, with any error after the
// container was created.
func (o *Orchestrator) Run(ctx context.Context, base *specs.Spec, ro RunOptions) (*RunResult, error) {
	start := time.Now()
	plan, err := PlanCapabilities(ro.Mode, o.engine.APIVersion)
	if err != nil {
		return nil, err
	}
	res, err := o.run(ctx, base, ro, plan, start)
	if err != nil && !plan.Fallback && len(plan.Add) > 0 && isUnknownCapability(err) {
		// An engine that reports a new API version but was built against an
		// old capability list (some distribution builds): retry the fallback.
		fb := CapabilityPlan{Add: []string{"CAP_SYS_ADMIN"}, Fallback: true,
			Reason: plan.Reason + "; but the engine rejected them by name, so CAP_SYS_ADMIN stands in"}
		o.log.Warn("engine rejected capability names; retrying with fallback", "error", err, "capabilities", capList(fb.Add))
		return o.run(ctx, base, ro, fb, start)
	}
	return res, err
}

func isUnknownCapability(err error) bool {
	return cerrdefs.IsInvalidArgument(err) && strings.Contains(err.Error(), "unknown capability")
}

func (o *Orchestrator) run(ctx context.Context, base *specs.Spec, ro RunOptions, plan CapabilityPlan, start time.Time) (_ *RunResult, err error) {
	spec, err := EffectiveSpec(base, ro, plan)
	if err != nil {
		return nil, err
	}
	cfg, hc, err := ContainerConfig(spec)
	if err != nil {
		return nil, err
	}
	level := o.log.Info
	if plan.Fallback {
		level = o.log.Warn
	}
	level("container capabilities", "mode", ro.Mode, "add", capList(plan.Add), "fallback", plan.Fallback,
		"engine_api", o.engine.APIVersion, "reason", plan.Reason)

	name := "codspeed-" + randomSuffix()
	res := &RunResult{Capabilities: plan, Spec: spec, Engine: o.engine}
	// Created under a context that ctx's cancellation does not cut: an engine
	// that received the request creates the container even when the client
	// hangs up, possibly after a removal by name found nothing, which would
	// leave it behind. Creation is quick; a cancelled ctx is honoured right
	// after it, with the container removed below.
	cctx, cancelCreate := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	created, err := o.cli.ContainerCreate(cctx, client.ContainerCreateOptions{Name: name, Config: cfg, HostConfig: hc})
	cancelCreate()
	if err != nil {
		return nil, fmt.Errorf("create container for %s: %w", ro.Image, err)
	}
	id := created.ID
	res.ContainerID = id
	unregister := sandbox.OnForcedExit(func() {
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = o.cli.ContainerRemove(fctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	})
	defer unregister()
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_, rerr := o.cli.ContainerRemove(rctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if rerr != nil && !cerrdefs.IsNotFound(rerr) {
			err = errors.Join(err, fmt.Errorf("remove container %s: %w", shortID(id), rerr))
		}
		res.Duration = time.Since(start)
	}()
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("container %s: %w", shortID(id), err)
	}
	for _, w := range created.Warnings {
		o.log.Warn("engine warning", "container", shortID(id), "warning", w)
	}
	if insp, ierr := o.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); ierr == nil {
		res.HostConfig = insp.Container.HostConfig
	} else {
		return res, fmt.Errorf("inspect container %s: %w", shortID(id), ierr)
	}

	// Wait is registered before start so a fast exit is not missed; it runs
	// under a context that outlives ctx, because after a cancel we still want
	// to see the container die.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	wait := o.cli.ContainerWait(waitCtx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNextExit})

	if _, err := o.cli.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		return res, fmt.Errorf("start container %s (%s): %w", shortID(id), ro.Image, err)
	}
	var logs sync.WaitGroup
	logStream, lerr := o.cli.ContainerLogs(waitCtx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if lerr != nil {
		o.log.Warn("container logs unavailable", "container", shortID(id), "error", lerr)
	} else {
		logs.Go(func() {
			defer logStream.Close()
			_, _ = stdcopy.StdCopy(orDiscard(ro.Stdout), orDiscard(ro.Stderr), logStream)
		})
	}

	select {
	case w := <-wait.Result:
		logs.Wait()
		res.ExitCode = int(w.StatusCode)
		if w.Error != nil && w.Error.Message != "" {
			return res, fmt.Errorf("container %s: %s", shortID(id), w.Error.Message)
		}
		return res, nil
	case werr := <-wait.Error:
		return res, fmt.Errorf("wait for container %s: %w", shortID(id), werr)
	case <-ctx.Done():
		// A graceful stop: the runner inside handles SIGINT as Ctrl-C,
		// keeping what finished; the engine sends SIGKILL after the grace.
		grace := ro.StopGrace
		if grace <= 0 {
			grace = DefaultStopGrace
		}
		secs := int((grace + time.Second - 1) / time.Second)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace+cleanupTimeout)
		defer cancel()
		if _, serr := o.cli.ContainerStop(sctx, id, client.ContainerStopOptions{Signal: "SIGINT", Timeout: &secs}); serr != nil && !cerrdefs.IsNotFound(serr) && !cerrdefs.IsConflict(serr) {
			o.log.Warn("stop container", "container", shortID(id), "error", serr)
		}
		select {
		case w := <-wait.Result:
			res.ExitCode = int(w.StatusCode)
		case <-wait.Error:
		case <-sctx.Done():
		}
		stopWait()
		logs.Wait()
		return res, fmt.Errorf("container %s: %w", shortID(id), ctx.Err())
	}
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func randomSuffix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
