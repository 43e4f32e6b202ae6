package server

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering keeps the floors apart: server/ builds on results/ and
// below, never on internal/ or cmd/; results/, instruments/ and sandbox/
// never import server/.
func TestLayering(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	deps := func(pattern string) []string {
		out, err := exec.Command("go", "list", "-deps", pattern).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pattern, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/codspeed-go/codspeed-go/"
	for _, d := range deps("../server/...") {
		if strings.HasPrefix(d, mod+"internal/") || strings.HasPrefix(d, mod+"cmd/") {
			t.Errorf("server/ depends on %s", d)
		}
	}
	for _, lower := range []string{"../results/...", "../instruments/...", "../sandbox/..."} {
		for _, d := range deps(lower) {
			if strings.HasPrefix(d, mod+"server") {
				t.Errorf("%s depends on %s", lower, d)
			}
		}
	}
}
