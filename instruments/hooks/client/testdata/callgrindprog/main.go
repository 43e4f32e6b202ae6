// Command callgrindprog exercises package client the way a benchmark would;
// the client tests run it natively and under valgrind --tool=callgrind.
package main

import (
	"fmt"
	"os"

	"github.com/codspeed-go/codspeed-go/instruments/hooks/client"
)

var sink uint64

//go:noinline
func work(n int) {
	for i := 0; i < n; i++ {
		sink = sink*6364136223846793005 + uint64(i)
	}
}

func main() {
	fmt.Printf("running_on_valgrind=%d\n", client.RunningOnValgrind())
	c, err := client.Connect()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("active=%v valgrind=%v\n", c.Active(), c.Valgrind())
	c.SetIntegration("callgrindprog", "1.0")
	c.StartBenchmark()
	work(100000)
	c.StopBenchmark()
	c.CurrentBenchmark("prog.go::BenchmarkWork")
	work(100000) // outside the measured region: must not be counted
	fmt.Printf("dump_stats_at=%d\n", client.DumpStatsAt("direct dump"))
}
