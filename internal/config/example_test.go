package config_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/codspeed-go/codspeed-go/internal/config"
)

// Load a project config, print its warnings, and work out each target's
// effective options: CLI flags over the target's options over the root's.
func ExampleLoad() {
	cfg, err := config.Load("testdata/example/codspeed.yml")
	if err != nil {
		log.Fatal(err) // every problem, one per line: file:line: key: message
	}
	for _, w := range cfg.Warnings {
		fmt.Println("warning:", w)
	}
	cli := config.Options{WarmupTime: ptr(200 * time.Millisecond)} // e.g. --warmup-time 200ms
	for _, t := range cfg.Targets {
		opts := cli.Merge(t.Options.Merge(cfg.Options))
		if err := opts.Validate(); err != nil {
			log.Fatal(err)
		}
		kind, cmd := "exec", t.Exec
		if t.Entrypoint != "" {
			kind, cmd = "entrypoint", t.Entrypoint
		}
		dir, _ := filepath.Rel(cfg.Dir, opts.WorkingDirectory)
		fmt.Printf("%s (line %d): %s %q in %s, warmup %v, max time %v, max rounds %v\n",
			t.Name, t.Line, kind, cmd, dir, *opts.WarmupTime, *opts.MaxTime, deref(opts.MaxRounds))
	}
	// Output:
	// warning: testdata/example/codspeed.yml:13: max-round: unknown key (did you mean "max-rounds"?)
	// fib (line 6): exec "./c/fib 30" in ../../../../examples, warmup 200ms, max time 3s, max rounds 50
	// go suite (line 10): entrypoint "go test -bench=. ./go/..." in ../../../../examples, warmup 200ms, max time 3s, max rounds unset
}

// A file with mistakes fails with all of them at once, each naming the file,
// line and key.
func ExampleParse() {
	_, err := config.Parse("codspeed.yml", []byte(`
options:
  max-rounds: abc
benchmarks:
  - exec: ./bench
    entrypoint: go test -bench=.
`))
	fmt.Println(err)
	// Output:
	// codspeed.yml:3: max-rounds: expected an integer, got "abc"
	// codspeed.yml:6: entrypoint: cannot be used with "exec" (line 5): a benchmark is either exec: (measured by the runner) or entrypoint: (its own harness)
}

// Find the config a bare `codspeed run` would use from the current directory.
func ExampleDiscover() {
	path, err := config.Discover("testdata/example")
	if err != nil {
		log.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, _ := filepath.Rel(wd, path)
	fmt.Println(rel)
	// Output: testdata/example/codspeed.yml
}

func ptr[T any](v T) *T { return &v }

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}
