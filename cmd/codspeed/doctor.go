package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/perf"
	"github.com/codspeed-go/codspeed-go/instruments/walltime"
	"github.com/codspeed-go/codspeed-go/internal/gitrepo"
	"github.com/codspeed-go/codspeed-go/internal/run"
	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox"
	"github.com/codspeed-go/codspeed-go/version"
)

// cmdDoctor prints what this host can and cannot do, from the same probes the
// runner uses when it decides (sandbox.Probe, each instrument's Check).
func cmdDoctor(_ context.Context, args []string) int {
	fs := pflag.NewFlagSet("doctor", pflag.ContinueOnError)
	if code, ok := parseFlags(fs, args, "codspeed doctor\n\nReport what this host supports: cgroups, CPU pinning, perf, BPF, valgrind, and\nwhich instruments can run, with what to change for each lack."); !ok {
		return code
	}
	fmt.Printf("%s %s\n\nHost\n", version.Name, version.String())
	if err := sandbox.Probe().Report(os.Stdout); err != nil {
		return fail(exitFailed, "%v", err)
	}
	cwd, _ := os.Getwd()
	gitRoot := gitrepo.Root(cwd)
	fmt.Println("\nProfiling (walltime)")
	if c, err := perf.Probe(); err != nil {
		fmt.Printf("  [MISS] perf sampling: %v\n", err)
	} else {
		fmt.Printf("  [ok  ] perf sampling on %s (perf_event_paranoid %d)\n", c.Event, c.Paranoid)
	}
	fmt.Println("\nInstruments")
	unavailable := 0
	for _, mode := range []string{results.Walltime, results.Simulation, results.Memory} {
		in, err := run.NewInstrument(mode, gitRoot, walltime.Options{Perf: true, PerfUnwinding: perf.FramePointer})
		if err == nil {
			err = in.Check()
		}
		switch {
		case err == nil:
			fmt.Printf("  %-10s ok\n", mode)
		case errors.Is(err, instruments.ErrNotSupported):
			unavailable++
			fmt.Printf("  %-10s unavailable: %v\n", mode, err)
		default:
			unavailable++
			fmt.Printf("  %-10s unavailable: %v\n", mode, err)
		}
		if d, ok := in.(interface{ Describe() []string }); ok && err == nil {
			for _, line := range d.Describe() {
				fmt.Printf("  %-10s %s\n", "", line)
			}
		}
	}
	if unavailable > 0 {
		return exitUnsupported
	}
	return exitOK
}
