package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
)

// NodeIntrospectionVar is how the stand-in asks @codspeed/core for the V8
// flags its mode needs: set to a file's path, the integration writes
// {"flags": [...]} there and exits before running any benchmark
// (docs/runtimes.md).
const NodeIntrospectionVar = "__CODSPEED_NODE_CORE_INTROSPECTION_PATH__"

// NodeWrapperMain is the runner binary invoked as `node` (the link that
// prepareNodeWrapper puts first on the benchmark's PATH). As CodSpeed's
// runner does, it runs the real node once with NodeIntrospectionVar set; a
// program using a CodSpeed integration writes its flags and exits, and the
// program is then run again by the real node with those flags first. A
// program without an integration writes nothing: that first run was the
// real one, and its exit code is the answer. It returns the exit code.
func NodeWrapperMain(args []string) int {
	os.Unsetenv(NodeIntrospectionVar) // never passed on to children
	real, err := realNode(os.Getenv("PATH"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "codspeed node stand-in: %v\n", err)
		return 127
	}
	f, err := os.CreateTemp("", "codspeed-node-introspection-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "codspeed node stand-in: %v\n", err)
		return 1
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)

	code, err := runForwardingSignals(real, args, append(os.Environ(), NodeIntrospectionVar+"="+path))
	if err != nil {
		fmt.Fprintf(os.Stderr, "codspeed node stand-in: %v\n", err)
		return 1
	}
	if code != 0 {
		return code
	}
	flags, err := readNodeFlags(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "codspeed node stand-in: %s: %v\n", path, err)
		return 1
	}
	if flags == nil {
		return 0 // no integration asked: the first run was the run
	}
	os.Remove(path)
	argv := append(append([]string{real}, flags...), args...)
	// Replacing this process keeps the benchmark where the runner put it
	// (its cgroup, under valgrind or perf) with nothing of ours around it.
	err = syscall.Exec(real, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "codspeed node stand-in: exec %s: %v\n", real, err)
	return 1
}

// readNodeFlags reads the introspection file: nil when the integration
// wrote nothing, its flags otherwise.
func readNodeFlags(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseNodeFlags(data)
}

// parseNodeFlags parses what @codspeed/core writes: {"flags": ["--flag", ...]}.
// Empty input means no integration ran; an empty flags list is a real
// answer (no flags) and gives a non-nil empty slice.
func parseNodeFlags(data []byte) ([]string, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, nil
	}
	var doc struct {
		Flags *[]string `json:"flags"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("introspection file is not the expected JSON: %w", err)
	}
	if doc.Flags == nil {
		return nil, errors.New(`introspection file has no "flags" list`)
	}
	flags := make([]string, 0, len(*doc.Flags))
	for _, fl := range *doc.Flags {
		if fl = strings.TrimSpace(fl); fl != "" {
			flags = append(flags, fl)
		}
	}
	return flags, nil
}

// realNode finds the node that the stand-in stands for: the first `node` on
// PATH that is not a link to this runner's own binary.
func realNode(path string) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	selfInfo, err := os.Stat(self)
	if err != nil {
		return "", err
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		candidate := filepath.Join(dir, NodeWrapperName)
		info, err := os.Stat(candidate)
		if err != nil || info.IsDir() || info.Mode()&0o111 == 0 || os.SameFile(info, selfInfo) {
			continue
		}
		return candidate, nil
	}
	return "", errors.New("node not found in PATH (besides codspeed's stand-in); is Node.js installed?")
}

// runForwardingSignals runs name with args and env, passing on the signals
// a terminal or the runner sends to this process, and returns its exit code
// (128+n when a signal ended it, as a shell reports it).
func runForwardingSignals(name string, args, env []string) (int, error) {
	cmd := exec.Command(name, args...)
	cmd.Args[0] = NodeWrapperName
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return exit.ExitCode(), nil
	}
	if err != nil {
		return 0, err
	}
	return 0, nil
}
