package run

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
)

func TestPairTargets(t *testing.T) {
	base := []instruments.Target{{Name: "a", Command: "./a-base"}, {Name: "gone"}}
	head := []instruments.Target{{Name: "fresh"}, {Name: "a", Command: "./a-head"}}
	pairs := PairTargets(base, head)
	if len(pairs) != 3 {
		t.Fatalf("pairs %+v", pairs)
	}
	if p := pairs[0]; p.Name != "fresh" || p.Base != nil || p.Head == nil {
		t.Errorf("head-only pair %+v", p)
	}
	if p := pairs[1]; p.Name != "a" || p.Base.Command != "./a-base" || p.Head.Command != "./a-head" {
		t.Errorf("paired %+v", p)
	}
	if p := pairs[2]; p.Name != "gone" || p.Base == nil || p.Head != nil {
		t.Errorf("base-only pair %+v", p)
	}
	if v := oneSided(pairs[0]).Verdict; v != "new" {
		t.Errorf("head-only: %q", v)
	}
	if v := oneSided(pairs[2]).Verdict; v != "missing" {
		t.Errorf("base-only: %q", v)
	}
}

// The build step runs the trees' own code: it gets no token or CI
// credential, and a failing one is an ErrABSetup naming the tree.
func TestBuildStepEnvironment(t *testing.T) {
	t.Setenv("CODSPEED_TOKEN", "cst_secret")
	t.Setenv("CI_JOB_TOKEN", "job-secret")
	t.Setenv("CODSPEED_AB_TEST_KEPT", "kept")
	var out bytes.Buffer
	err := BuildStep(context.Background(), "base (main)", `echo "token=${CODSPEED_TOKEN:-none} job=${CI_JOB_TOKEN:-none} kept=$CODSPEED_AB_TEST_KEPT"`, t.TempDir(), &out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "token=none job=none kept=kept") || strings.Contains(out.String(), "secret") {
		t.Errorf("build step output:\n%s", out.String())
	}
	err = BuildStep(context.Background(), "head (working tree)", "exit 3", t.TempDir(), &out)
	if !errors.Is(err, ErrABSetup) || !strings.Contains(err.Error(), "head (working tree)") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("failing build: %v", err)
	}
}
