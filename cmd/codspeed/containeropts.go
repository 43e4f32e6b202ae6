package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	target "github.com/codspeed-go/codspeed-go/internal/targets"
	"github.com/codspeed-go/codspeed-go/sandbox/docker"
)

// cmdSeccompProfile prints the seccomp profile benchmark containers run
// under (Docker's default plus perf_event_open and bpf), so that CI files and
// `docker run` lines take it from the image itself, with no source checkout.
func cmdSeccompProfile(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("seccomp-profile", pflag.ContinueOnError)
	if code, ok := parseFlags(fs, args, "codspeed seccomp-profile > seccomp.json\n\nPrint the seccomp profile for `docker run --security-opt seccomp=FILE`: Docker's\ndefault profile plus perf_event_open and bpf (the kernel still checks the\ncapability of each). See docs/docker.md."); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "seccomp-profile takes no arguments")
	}
	if _, err := os.Stdout.WriteString(docker.SeccompProfile()); err != nil {
		return fail(exitFailed, "%v", err)
	}
	return exitOK
}

// cmdContainerOptions prints the `docker run` options a mode needs in the
// runner image, exactly what docs/docker.md grants and the orchestrator
// gives its containers: the mode's capabilities for this engine, and the
// seccomp profile.
func cmdContainerOptions(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("container-options", pflag.ContinueOnError)
	var modesIn []string
	fs.StringSliceVarP(&modesIn, "mode", "m", nil, "the mode(s) the container will run, comma-separated (required)")
	api := fs.String("engine-api", "", "the engine's API version (`docker version --format '{{.Server.APIVersion}}'`); below 1.42 (Docker < 23.0) CAP_SYS_ADMIN stands in for CAP_PERFMON and CAP_BPF (required)")
	seccomp := fs.String("seccomp", "", "path of the file `codspeed seccomp-profile` wrote (required)")
	if code, ok := parseFlags(fs, args, "codspeed container-options --mode M --engine-api V --seccomp FILE\n\nPrint the options `docker run` needs for the runner image to measure in mode M,\nand nothing more (docs/docker.md): no capability for simulation, PERFMON for\nwalltime, BPF and PERFMON for memory (SYS_ADMIN on engines below API 1.42),\nalways with the project's seccomp profile, never unconfined."); !ok {
		return code
	}
	if len(modesIn) == 0 || *api == "" || *seccomp == "" {
		return fail(exitUsage, "container-options needs --mode, --engine-api and --seccomp")
	}
	if strings.ContainsAny(*seccomp, " \t\n'\"") {
		return fail(exitUsage, "--seccomp %q: the path must not contain spaces or quotes (it is printed as one word)", *seccomp)
	}
	modes, err := target.ParseModes(modesIn)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	var caps []string
	seen := map[string]bool{}
	for _, m := range modes {
		plan, err := docker.PlanCapabilities(m, *api)
		if err != nil {
			return fail(exitUsage, "%v", err)
		}
		if plan.Fallback {
			fmt.Fprintf(os.Stderr, "warning: %s\n", plan.Reason)
		}
		for _, c := range plan.Add {
			if name := strings.TrimPrefix(c, "CAP_"); !seen[name] {
				seen[name] = true
				caps = append(caps, name)
			}
		}
	}
	var out []string
	for _, c := range caps {
		out = append(out, "--cap-add", c)
	}
	out = append(out, "--security-opt", "seccomp="+*seccomp)
	fmt.Println(strings.Join(out, " "))
	return exitOK
}
