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
	"github.com/codspeed-go/codspeed-go/instruments/simulation/callgrind"
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
		"let t = 0; for (let i = 0; i < 4; i++) t += fibonacci(25); console.log(t);\n"
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
	var total, js, anyJS, raw float64
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
		if strings.Contains(stack, "JS:") {
			anyJS += v
		}
		leaf := stack[strings.LastIndexByte(stack, ';')+1:]
		if strings.HasPrefix(leaf, "0x") {
			raw += v
		}
	}
	// The same run's callgrind file, unnamed: what the profile showed
	// before.
	outs, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Join(env.ProfileFolder, pr.Folded)), "*.out"))
	if len(outs) != 1 {
		t.Fatalf("callgrind files: %v", outs)
	}
	cg, err := callgrind.ParseFile(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	var before, cgTotal float64
	for _, part := range cg.Parts {
		for _, fn := range part.Funcs {
			cgTotal += float64(fn.Self[0])
			if _, _, ok := callgrind.AddressName(fn.Name); ok && fn.Object == callgrind.UnknownObject {
				before += float64(fn.Self[0])
			}
		}
	}
	t.Logf("of %.0f instructions: JIT code named by address %.2f%% before, %.3f%% after; %.1f%% under a JavaScript frame, %.1f%% under fibonacci",
		total, 100*before/cgTotal, 100*raw/total, 100*anyJS/total, 100*js/total)
	if before/cgTotal < 0.005 {
		t.Errorf("only %.2f%% of the instructions ran in JIT code; the test shows nothing", 100*before/cgTotal)
	}
	if raw/total > 0.0005 {
		t.Errorf("%.3f%% of the instructions are still in functions named by address", 100*raw/total)
	}
	if js/total < 0.005 {
		t.Errorf("only %.2f%% of the instructions are under a fibonacci frame", 100*js/total)
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
