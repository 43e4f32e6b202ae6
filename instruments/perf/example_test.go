package perf_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/codspeed-go/codspeed-go/instruments/perf"
)

// Sample a command, then write its flame graph and the other profile files.
func Example() {
	c, err := perf.Probe()
	if err != nil {
		fmt.Println("profiling skipped:", err) // says what to change
		return
	}
	s, err := perf.Start(perf.Config{Event: c.Event, Unwinding: perf.FramePointer})
	if err != nil {
		fmt.Println(err)
		return
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done")
	if err := s.Launcher(nil).Start(cmd); err == nil {
		cmd.Wait()
	}
	rec, err := s.Stop()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rec.Close()
	profiles := rec.Symbolize("")
	dir, _ := os.MkdirTemp("", "profile")
	defer os.RemoveAll(dir)
	files, err := profiles.WriteFiles(rec, filepath.Join(dir, "perf"), dir, "sh loop")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(files.Folded, files.Flamegraph, profiles.Samples > 0)
	// Output: perf/all.folded perf/all.svg true
}
