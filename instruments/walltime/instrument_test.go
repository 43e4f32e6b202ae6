package walltime

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// The runner's own merged results from an earlier run in a reused profile
// folder are not an integration's output; an integration's file is taken
// and moved aside.
func TestCollectIntegrationResults(t *testing.T) {
	pf := t.TempDir()
	dir := filepath.Join(pf, "results")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "1.json"), []byte(`{"creator":{"name":"codspeed-go","pid":1},"instrument":{"type":"walltime"},"benchmarks":[{"name":"old","uri":"x::old"}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "2.json"), []byte(`{"creator":{"name":"pytest-codspeed","pid":2},"instrument":{"type":"walltime"},"benchmarks":[{"name":"new","uri":"t.py::new"}]}`), 0o644)
	var c instruments.IntegrationResults
	benches, err := c.Collect(pf)
	if err != nil {
		t.Fatal(err)
	}
	if len(benches) != 1 || benches[0].URI != "t.py::new" {
		t.Fatalf("collected %+v", benches)
	}
	if _, err := os.Stat(filepath.Join(pf, "integration-results", "2.json")); err != nil {
		t.Fatal("the integration's file was not moved aside")
	}
	if _, err := os.Stat(filepath.Join(dir, "1.json")); err != nil {
		t.Fatal("the runner's own file must stay")
	}
}

func TestLastValue(t *testing.T) {
	if got := lastValue([]string{"A=1", "GOFLAGS=-tags=x", "B=2", "GOFLAGS=-tags=y -race"}, "GOFLAGS"); got != "-tags=y -race" {
		t.Fatal(got)
	}
	if lastValue([]string{"A=1"}, "GOFLAGS") != "" {
		t.Fatal("absent key")
	}
}

// slowHandOff is a launcher whose hand-off to its forking thread takes
// delay, and that tells when it forked (instruments.ForkClock).
type slowHandOff struct {
	delay time.Duration
	at    time.Time
}

func (l *slowHandOff) Start(cmd *exec.Cmd) error {
	time.Sleep(l.delay)
	l.at = time.Now()
	return cmd.Start()
}

func (l *slowHandOff) ForkedAt() time.Time { return l.at }

// TestRoundTimedFromTheFork: a round is timed from the launcher's fork, so
// its hand-off to a launcher thread is not in the figure.
func TestRoundTimedFromTheFork(t *testing.T) {
	const delay = 200 * time.Millisecond
	l := &slowHandOff{delay: delay}
	r, err := newRoundRunner(instruments.Target{Name: "true", Command: "true", Args: []string{"true"}}, instruments.Env{Launcher: l})
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	d, err := r.round(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// `true` takes about a millisecond; the hand-off alone takes 200.
	if d >= delay {
		t.Errorf("round of `true` took %v: the launcher's hand-off (%v) is in it", d, delay)
	}
}
