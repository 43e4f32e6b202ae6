package testenv

import "testing"

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"": false, "0": false, "false": false, "FALSE": false, "true": true, "1": true, "yes": true} {
		t.Setenv("CI", v)
		if got := InCI(); got != want {
			t.Errorf("CI=%q: InCI %v, want %v", v, got, want)
		}
	}
}

// fakeT records how Missing ended a test.
type fakeT struct {
	testing.TB
	skipped, failed bool
}

func (f *fakeT) Helper()               {}
func (f *fakeT) Skip(...any)           { f.skipped = true }
func (f *fakeT) Fatalf(string, ...any) { f.failed = true }

func TestMissingFailsInCI(t *testing.T) {
	t.Setenv("CI", "true")
	f := &fakeT{}
	Missing(f, "no valgrind")
	if !f.failed || f.skipped {
		t.Fatalf("in CI: failed %v skipped %v", f.failed, f.skipped)
	}
	t.Setenv("CI", "")
	f = &fakeT{}
	Missing(f, "no valgrind")
	if f.failed || !f.skipped {
		t.Fatalf("locally: failed %v skipped %v", f.failed, f.skipped)
	}
}
