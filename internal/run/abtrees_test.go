package run

import (
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
