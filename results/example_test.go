package results_test

import (
	"fmt"
	"os"

	"github.com/codspeed-go/codspeed-go/results"
)

func ExampleComputeStats() {
	// Per-iteration times of five rounds of 10 iterations each.
	s := results.ComputeStats([]float64{105, 101, 99, 100, 180}, 10, 20)
	fmt.Printf("median %g, q1 %g, q3 %g, IQR outliers %d, total %gs\n",
		s.MedianNs, s.Q1Ns, s.Q3Ns, s.IQROutlierRounds, s.TotalTime)
	// Output: median 101, q1 99.5, q3 142.5, IQR outliers 0, total 5.85e-06s
}

func ExampleRenderTable() {
	fast := results.ComputeStats([]float64{812, 815, 809, 820, 811}, 1, 0)
	slow := results.ComputeStats([]float64{2.01e9, 2.03e9, 1.99e9, 2.0e9, 2.02e9}, 1, 0)
	benches := []results.Benchmark{
		{Name: "fast", Stats: &fast},
		{Name: "slow", Stats: &slow},
		{Name: "broken", Error: "exit status 1"},
	}
	if err := results.RenderTable(os.Stdout, results.Walltime, benches); err != nil {
		fmt.Println(err)
	}
	// Output:
	// benchmark  median   stdev     min     max  rounds  outliers
	// -----------------------------------------------------------
	// fast       812 ns  0.526%  809 ns  820 ns       5         0
	// slow       2.01 s  0.787%  1.99 s  2.03 s       5         0
	// broken     FAILED: exit status 1
}
