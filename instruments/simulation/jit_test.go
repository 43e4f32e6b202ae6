package simulation

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/codspeed-go/codspeed-go/instruments"
)

// Node under callgrind with a perf map (--perf-basic-prof): the flame graph
// names the JavaScript functions instead of showing their addresses, and
// the map is kept beside the callgrind file.
func TestNodeJITSymbols(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("node is not installed (.ci/run installs nodejs): %v", err)
		}
		t.Skip("node is not installed")
	}
	in := needValgrind(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "fib.js")
	src := "function fibonacci(n) { return n < 2 ? n : fibonacci(n - 1) + fibonacci(n - 2); }\n" +
		"let t = 0; for (let i = 0; i < 20; i++) t += fibonacci(20); console.log(t);\n"
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The V8 flags of CodSpeed's Node integrations in this mode, plus the
	// perf map.
	args := []string{node, "--perf-basic-prof", "--interpreted-frames-native-stack", "--allow-natives-syntax",
		"--hash-seed=1", "--random-seed=1", "--no-opt", "--predictable", "--predictable-gc-schedule",
		"--expose-gc", "--no-concurrent-sweeping", "--max-old-space-size=4096", script}
	bs, env := measure(t, in, instruments.Target{Name: "node fib", Kind: instruments.Exec, Args: args, Dir: dir})
	pr := bs[0].Profile
	if pr == nil || pr.Folded == "" {
		t.Fatalf("no folded profile: %+v", bs[0])
	}
	f, err := os.Open(filepath.Join(env.ProfileFolder, pr.Folded))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var total, js, raw float64
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		v, _ := strconv.ParseFloat(line[i+1:], 64)
		total += v
		stack := line[:i]
		if strings.Contains(stack, "fibonacci /") {
			js += v
		}
		leaf := stack[strings.LastIndexByte(stack, ';')+1:]
		if strings.HasPrefix(leaf, "0x") {
			raw += v
		}
	}
	t.Logf("of %.0f instructions: %.1f%% under a named fibonacci frame, %.2f%% in functions named by address", total, 100*js/total, 100*raw/total)
	if js/total < 0.2 {
		t.Errorf("only %.1f%% of the instructions are under a fibonacci frame", 100*js/total)
	}
	if raw/total > 0.005 {
		t.Errorf("%.2f%% of the instructions are still in functions named by address", 100*raw/total)
	}
	maps, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Join(env.ProfileFolder, pr.Folded)), "perf-*.map"))
	if len(maps) != 1 {
		t.Fatalf("perf maps kept: %v", maps)
	}
	data, err := os.ReadFile(maps[0])
	if err != nil || !strings.Contains(string(data), "fibonacci") {
		t.Fatalf("kept map (%v) does not name fibonacci", err)
	}
	pid := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(maps[0]), "perf-"), ".map")
	if _, err := os.Stat(filepath.Join(filepath.Dir(maps[0]), pid+".out")); err != nil {
		t.Errorf("the kept map's pid has no callgrind file: %v", err)
	}
	os.Remove(filepath.Join(os.TempDir(), "perf-"+pid+".map"))
}
