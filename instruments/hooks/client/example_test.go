package client_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/codspeed-go/codspeed-go/instruments/hooks"
	"github.com/codspeed-go/codspeed-go/instruments/hooks/client"
)

// A benchmark harness marks each measured region and then names it. Without
// a runner (and outside valgrind) every call is a no-op, so the harness
// needs no special case.
func Example() {
	c, err := client.Connect()
	if err != nil {
		log.Fatal(err) // the runner refused us (for example a protocol version mismatch)
	}
	defer c.Close()
	c.SetIntegration("my-harness", "1.0.0")

	c.StartBenchmark()
	// ... the code being measured ...
	c.StopBenchmark()
	c.CurrentBenchmark("bench_test.go::BenchmarkParse")
}

// The runner's side and the client's side together, through private FIFOs.
func Example_withRunner() {
	dir, _ := os.MkdirTemp("", "hooks-example")
	defer os.RemoveAll(dir)

	srv, err := hooks.NewServer(dir, nil, hooks.WithMode(hooks.ModeWalltime))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- srv.Serve(ctx) }()

	c, err := client.ConnectWith(client.Options{Dir: dir, IgnoreValgrind: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("active:", c.Active(), "mode:", c.Mode())
	c.SetIntegration("my-harness", "1.0.0")
	for _, name := range []string{"BenchmarkA", "BenchmarkB"} {
		c.StartBenchmark()
		start := client.Now()
		// ... one round ...
		c.AddMarker(hooks.BenchmarkStart, start)
		c.AddMarker(hooks.BenchmarkEnd, client.Now())
		c.StopBenchmark()
		c.CurrentBenchmark("bench_test.go::" + name)
	}
	c.Close()

	cancel() // what the runner does once the benchmark process has exited
	if err := <-served; err != nil {
		log.Fatal(err)
	}
	sess := srv.Session()
	fmt.Println("integration:", sess.Integration.Name, sess.Integration.Version, "protocol:", sess.ProtocolVersion)
	for _, b := range sess.Benchmarks {
		fmt.Println(b.URI, "regions:", len(b.Intervals), "markers:", len(b.Markers))
	}
	// Output:
	// active: true mode: walltime
	// integration: my-harness 1.0.0 protocol: 2
	// bench_test.go::BenchmarkA regions: 1 markers: 2
	// bench_test.go::BenchmarkB regions: 1 markers: 2
}
