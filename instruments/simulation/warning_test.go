package simulation

import (
	"strings"
	"testing"
)

// TestPreemptionWarningNamesAnAction: the warning says how large the error
// can be and what the user can do about it.
func TestPreemptionWarningNamesAnAction(t *testing.T) {
	w := preemptionWarning("BenchmarkSort/n=1000", 3, 1002)
	for _, want := range []string{"BenchmarkSort/n=1000", "all 3 runs of 1002 iterations", "1e-4", "run simulation again when the machine is less loaded"} {
		if !strings.Contains(w, want) {
			t.Errorf("warning lacks %q: %s", want, w)
		}
	}
}
