package changes_test

import (
	"fmt"

	"github.com/codspeed-go/codspeed-go/server/changes"
)

func ExampleDetect() {
	// Twelve runs of a benchmark (ns per iteration): a commit made the
	// seventh run and the ones after it 20% slower.
	history := []float64{100, 102, 99, 101, 100, 98, 121, 119, 122, 120, 118, 121}
	for _, c := range changes.Detect(history, changes.Options{MinMagnitude: 0.05}) {
		fmt.Printf("run %d: %.1f -> %.1f (%+.0f%%), p=%.1g\n", c.Index, c.Before, c.After, 100*c.Change, c.P)
	}
	// Output: run 6: 100.0 -> 120.2 (+20%), p=3e-10
}

func ExampleExact() {
	// Instructions per iteration under callgrind: exact, so any change
	// beyond the threshold (here 2%) is one.
	history := []float64{5761227, 5761227, 5761230, 7341904, 7341904}
	for _, c := range changes.Exact(history, 0.02) {
		fmt.Printf("run %d: %.0f -> %.0f (%+.1f%%)\n", c.Index, c.Before, c.After, 100*c.Change)
	}
	// Output: run 3: 5761227 -> 7341904 (+27.4%)
}
