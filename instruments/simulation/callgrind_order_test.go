package simulation

import (
	"sort"
	"testing"
)

func TestOutPidOrder(t *testing.T) {
	files := []string{"/p/10.out", "/p/9.out", "/p/x.out", "/p/100.out"}
	sort.SliceStable(files, func(i, j int) bool { return outPid(files[i]) < outPid(files[j]) })
	want := []string{"/p/9.out", "/p/10.out", "/p/100.out", "/p/x.out"}
	for i := range want {
		if files[i] != want[i] {
			t.Fatalf("order %v, want %v", files, want)
		}
	}
}
