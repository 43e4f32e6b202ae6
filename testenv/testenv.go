// Package testenv decides, for the project's tests, what a missing facility
// means. On a developer's machine a test that needs what the host lacks
// (valgrind, perf events, eBPF, cgroups, a Docker engine, Node) is skipped
// with the reason. In CI (CI=true, as .ci/run and every CI provider set it)
// the host was prepared with all of them (.ci/run installs and starts them),
// so the same test fails: a CI run cannot pass by skipping.
//
// It imports nothing of the project, so tests of every layer may use it.
package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// InCI reports whether the tests run in CI: CI is set to anything but
// "", "0" or "false".
func InCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "0", "false":
		return false
	}
	return true
}

// Missing ends the test because a facility it needs is missing: skipped on
// a developer's machine, failed in CI.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: .ci/run provides this, so a missing facility is a failure, not a skip)", msg)
		return
	}
	t.Skip(msg)
}

// Golden compares got with the golden file at path, or writes got there
// when UPDATE_GOLDEN is set (`UPDATE_GOLDEN=1 go test ./...` rewrites every
// golden file of the project; review the diff).
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (UPDATE_GOLDEN=1 go test creates it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("output differs from %s (UPDATE_GOLDEN=1 go test rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}
