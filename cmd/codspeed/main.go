// Command codspeed is the codspeed-go runner: it runs benchmarks under an
// instrument (walltime, simulation, memory), keeps the results locally and
// renders them. This package only wires flags to the packages that do the
// work.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/sandbox"
	"github.com/codspeed-go/codspeed-go/version"
)

// Exit codes, documented in the README.
const (
	exitOK          = 0
	exitFailed      = 1 // a benchmark or target failed, or nothing was measured
	exitUsage       = 2 // bad flags, bad config, unknown run
	exitUnsupported = 3 // the host cannot run the chosen instrument
	exitInterrupted = 130
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"run", "run benchmarks: a command with its own harness, or the targets of codspeed.yml", cmdRun},
		{"exec", "benchmark any command with the exec harness (or several, from stdin with `-`)", cmdExec},
		{"runs", "list the runs kept in the local store", cmdRuns},
		{"ab", "measure two commands against each other, interleaved (paired A/B); exit 1 on a regression", cmdAB},
		{"compare", "compare two runs: per benchmark the change and a verdict; exit 1 on a regression", cmdCompare},
		{"report", "render one run as a table, Markdown, HTML with flame graphs, or JSON", cmdReport},
		{"merge", "merge the profile folders of a sharded suite's jobs into one run in the local store", cmdMerge},
		{"serve", "run the results server (history, comparisons, web pages); `serve token create` makes upload tokens", cmdServe},
		{"upload", "upload a stored run with the CodSpeed protocol (retries a failed upload)", cmdUpload},
		{"mr-comment", "post a Markdown report as the one comment of the job's merge or pull request (updated by later runs)", cmdMRComment},
		{"fetch-baseline", "GitLab CI: fetch the baseline profile folder from the target branch's job artifacts", cmdFetchBaseline},
		{"doctor", "report what this host supports and what to change", cmdDoctor},
		{"seccomp-profile", "print the seccomp profile for `docker run --security-opt seccomp=FILE`", cmdSeccompProfile},
		{"container-options", "print the `docker run` options a mode needs in the runner image", cmdContainerOptions},
		{"version", "print the version", cmdVersion},
		{"help", "show help for a command", cmdHelp},
	}
}

func main() {
	if filepath.Base(os.Args[0]) == run.NodeWrapperName {
		// The runner stands in for node on the benchmark's PATH.
		os.Exit(run.NodeWrapperMain(os.Args[1:]))
	}
	ctx, stop := interruptContext()
	code := dispatch(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// duplicateWindow: signals this close to the first are the same interrupt.
const duplicateWindow = 250 * time.Millisecond

// interruptContext is cancelled by the first SIGINT or SIGTERM: the run stops
// the benchmark in flight, keeps what finished and exits 130. A second one
// exits 130 at once, whatever is still being cleaned up; the processes the
// runner started die with it (their parent-death signal), and a cgroup it
// leaves is removed by the next run.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-done:
			return
		}
		// The same interrupt often arrives twice at once: `timeout -s INT`
		// signals the command and then its whole process group, which
		// includes the command. Only a signal that comes later is a second
		// Ctrl-C.
		first := time.Now()
		for {
			select {
			case <-done:
				return
			case <-sigs:
			}
			if time.Since(first) >= duplicateWindow {
				break
			}
		}
		fmt.Fprintln(os.Stderr, "codspeed: interrupted again; exiting now")
		// Containers are killed and removed first (a few seconds at most);
		// local processes die with this one.
		sandbox.ForcedExit(5 * time.Second)
		os.Exit(exitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel()
	}
}

func dispatch(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		usage(os.Stdout)
		return exitOK
	case "-V", "--version":
		return cmdVersion(ctx, nil)
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:])
		}
	}
	fmt.Fprintf(os.Stderr, "codspeed: unknown command %q\n\n", args[0])
	usage(os.Stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "codspeed-go %s: continuous benchmarking, locally or in CI\n\nUsage:\n  codspeed <command> [flags] [-- command...]\n\nCommands:\n", version.String())
	for _, c := range commands {
		fmt.Fprintf(w, "  %-17s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun `codspeed <command> --help` for the flags of a command.\n")
}

func cmdVersion(context.Context, []string) int {
	fmt.Printf("%s %s\n", version.Name, version.String())
	return exitOK
}

func cmdHelp(ctx context.Context, args []string) int {
	if len(args) == 0 {
		usage(os.Stdout)
		return exitOK
	}
	return dispatch(ctx, []string{args[0], "--help"})
}

// parseFlags parses a command's flags; help goes to stdout with exit 0, errors
// to stderr with exit 2. ok is false when the caller should return code.
func parseFlags(fs *pflag.FlagSet, args []string, synopsis string) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fmt.Fprintf(os.Stdout, "Usage:\n  %s\n\nFlags:\n%s", synopsis, fs.FlagUsages())
		return exitOK, false
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "codspeed %s: %v\nRun `codspeed %s --help` for usage.\n", fs.Name(), err, fs.Name())
		return exitUsage, false
	}
	return 0, true
}

func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, "codspeed: "+format+"\n", a...)
	return code
}
