package codspeedgo_test

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/codspeed-go/codspeed-go"

// TestFloors checks the import rule of ARCHITECTURE.md: a floor uses only the
// floors below it (cmd -> internal -> server, instruments, sandbox -> results).
func TestFloors(t *testing.T) {
	rules := []struct {
		floor     string
		forbidden []string
	}{
		{"results", []string{"cmd", "internal", "server", "instruments", "sandbox"}},
		{"instruments", []string{"cmd", "internal", "server", "sandbox"}},
		{"sandbox", []string{"cmd", "internal", "server", "instruments"}},
		{"server", []string{"cmd", "internal", "instruments", "sandbox"}},
		{"internal", []string{"cmd"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-e", "-f", `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`, "./"+r.floor+"/...").CombinedOutput()
		if err != nil {
			if strings.Contains(string(out), "matched no packages") {
				continue
			}
			t.Fatalf("go list ./%s/...: %v\n%s", r.floor, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			for _, dep := range fields[1:] {
				for _, f := range r.forbidden {
					if dep == module+"/"+f || strings.HasPrefix(dep, module+"/"+f+"/") {
						t.Errorf("%s imports %s: %s may not use the %s floor", fields[0], dep, r.floor, f)
					}
				}
			}
		}
	}
}
