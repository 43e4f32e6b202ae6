package run

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/results"
)

// Runtimes: what the benchmark's environment gets so that CodSpeed's
// integrations for interpreted and JIT-compiled languages behave as under
// CodSpeed's runner (docs/runtimes.md).

// NodeWrapperName is the name the runner binary answers to when it stands in
// for node (see NodeWrapperMain), and the prefix of the folder that holds
// that stand-in.
const (
	NodeWrapperName   = "node"
	nodeWrapperFolder = "codspeed-introspected-node-"
)

// runtimeEnv is the per-mode environment of the language runtimes:
//   - PYTHON_PERF_JIT_SUPPORT: CPython 3.12+ writes perf maps (and jitdump
//     files) for its frames, so walltime profiles name Python functions; off
//     in the other modes, where it only costs.
//   - JAVA_TOOL_OPTIONS (walltime): frame pointers kept by the JIT, perf maps
//     dumped at exit, and self-attach allowed for codspeed-jvm's perf-map
//     agent. Added after the user's own options, which the JVM reads first.
func runtimeEnv(mode string, base []string) map[string]string {
	env := map[string]string{"PYTHON_PERF_JIT_SUPPORT": "0"}
	if mode != results.Walltime {
		return env
	}
	env["PYTHON_PERF_JIT_SUPPORT"] = "1"
	java := "-XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions -XX:+DebugNonSafepoints " +
		"-XX:+EnableDynamicAgentLoading -Djdk.attach.allowAttachSelf=true"
	if user := lookupEnv(base, "JAVA_TOOL_OPTIONS"); user != "" {
		java = user + " " + java
	}
	env["JAVA_TOOL_OPTIONS"] = java
	return env
}

// withRuntimes completes env (BenchmarkEnv's) for target t in mode: the
// runtimes' variables, and for entrypoint targets the node stand-in first on
// PATH. Exec targets are timed by the harness, whose rounds must run the
// user's command as given, so they get no stand-in (as under CodSpeed's
// runner).
func withRuntimes(env []string, mode string, kind instruments.Kind, nodeDir string) []string {
	set := runtimeEnv(mode, env)
	if nodeDir != "" && kind == instruments.Entrypoint {
		set["PATH"] = nodeDir + string(os.PathListSeparator) + lookupEnv(env, "PATH")
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for _, k := range []string{"PATH", "PYTHON_PERF_JIT_SUPPORT", "JAVA_TOOL_OPTIONS"} {
		if v, ok := set[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if val, ok := strings.CutPrefix(kv, key+"="); ok {
			v = val // the last one wins, as in os/exec
		}
	}
	return v
}

// prepareNodeWrapper makes a private folder holding `node`, a link to this
// runner's own binary: put first on PATH, every `node` the benchmark starts
// runs NodeWrapperMain. The caller removes the folder. It fails where the
// runner cannot find its own binary or /tmp is not writable; the run then
// goes on without the stand-in, and Node integrations warn about their
// missing flags themselves.
func prepareNodeWrapper() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("node stand-in: %w", err)
	}
	removeStaleNodeWrappers()
	// The runner's pid in the name lets a later run remove the folder of a
	// runner that was killed before it could.
	dir, err := os.MkdirTemp("", nodeWrapperFolder+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", fmt.Errorf("node stand-in: %w", err)
	}
	// Readable by a benchmark that runs as another user (under sudo).
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("node stand-in: %w", err)
	}
	if err := os.Symlink(self, filepath.Join(dir, NodeWrapperName)); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("node stand-in: %w", err)
	}
	return dir, nil
}

// removeStaleNodeWrappers removes the stand-in folders of runners that are
// gone (killed, or ended by a second Ctrl-C before their cleanup ran).
func removeStaleNodeWrappers() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), nodeWrapperFolder+"*"))
	for _, d := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(d), nodeWrapperFolder), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}
