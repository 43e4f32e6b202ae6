// Command memtrack runs a command under the memory instrument and prints its
// figures as JSON. It exists for benchmarking the instrument against other
// tools (heaptrack, valgrind) with hyperfine; users run `codspeed exec --mode
// memory`.
//
// Usage: memtrack [-ebpf] [-stacks] [-folded FILE] -- command [args...]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"

	"github.com/codspeed-go/codspeed-go/instruments"
	"github.com/codspeed-go/codspeed-go/instruments/memory"
)

func main() {
	stacks := flag.Bool("stacks", false, "record bytes per call stack")
	folded := flag.String("folded", "", "write folded stacks to this file (implies -stacks)")
	ebpfOnly := flag.Bool("ebpf", false, "probe every allocator with eBPF (no LD_PRELOAD interposer)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: memtrack [-stacks] [-folded FILE] -- command [args...]")
		os.Exit(2)
	}
	if err := run(memory.SessionOptions{Stacks: *stacks || *folded != "", EBPFOnly: *ebpfOnly}, *folded, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "memtrack:", err)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.ExitCode())
		}
		os.Exit(1)
	}
}

func run(opts memory.SessionOptions, folded string, argv []string) error {
	s, err := memory.NewSession(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := s.Start(); err != nil {
		return err
	}
	if err := s.Launch(instruments.Direct, cmd); err != nil {
		return err
	}
	waitErr := cmd.Wait()
	snap, err := s.Stop()
	if err != nil {
		return err
	}
	for _, w := range s.Warnings() {
		fmt.Fprintln(os.Stderr, "memtrack: warning:", w)
	}
	if folded != "" {
		f, err := os.Create(folded)
		if err != nil {
			return err
		}
		if err := memory.WriteFolded(f, snap.Stacks); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(snap.Stats)
	fmt.Fprintln(os.Stderr, string(b))
	return waitErr
}
