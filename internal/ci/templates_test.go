package ci

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// The CI templates live at the repository root; these tests parse them, check
// their shape, syntax-check every embedded shell script with bash -n, and run
// the scripts against a recording stand-in for the codspeed CLI.

const repoRoot = "../.."

func readYAML(t *testing.T, rel string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return doc
}

func bashSyntax(t *testing.T, name, script string) {
	t.Helper()
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: bash -n: %v\n%s\n--- script ---\n%s", name, err, out, script)
	}
}

func needBash(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		testenv.Missing(t, "bash is not installed: the templates' scripts are bash")
	}
}

func gitlabJob(t *testing.T) map[string]any {
	doc := readYAML(t, "ci/gitlab/codspeed.gitlab-ci.yml")
	for k := range doc {
		if !strings.HasPrefix(k, ".") {
			t.Errorf("top-level key %q: an included template must only define hidden jobs", k)
		}
	}
	job, ok := doc[".codspeed"].(map[string]any)
	if !ok {
		t.Fatalf("no hidden job .codspeed")
	}
	return job
}

func gitlabScript(t *testing.T, job map[string]any) string {
	lines, ok := job["script"].([]any)
	if !ok || len(lines) == 0 {
		t.Fatal(".codspeed has no script")
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintln(&b, l)
	}
	return b.String()
}

func TestGitLabTemplate(t *testing.T) {
	needBash(t)
	job := gitlabJob(t)
	img, _ := job["image"].(map[string]any)
	vars, _ := job["variables"].(map[string]any)
	if img["name"] != "$CODSPEED_IMAGE" || !strings.Contains(fmt.Sprint(vars["CODSPEED_IMAGE"]), "codspeed-go") {
		t.Errorf("image %v, CODSPEED_IMAGE %v: want the codspeed-go image", img, vars["CODSPEED_IMAGE"])
	}
	script := gitlabScript(t, job)
	for _, want := range []string{`codspeed run --mode "$CODSPEED_MODE"`, "codspeed compare --base", "--format markdown --output"} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q", want)
		}
	}
	bashSyntax(t, "gitlab .codspeed script", script)
	art, _ := job["artifacts"].(map[string]any)
	paths := fmt.Sprint(art["paths"])
	if art["when"] != "always" || !strings.Contains(paths, fmt.Sprint(vars["CODSPEED_REPORT"])) || !strings.Contains(paths, fmt.Sprint(vars["CODSPEED_PROFILE_DIR"])) {
		t.Errorf("artifacts %v: want the report and profile kept always", art)
	}
}

// fakeCodspeed puts a `codspeed` on PATH that records its arguments, makes
// the profile folder on run, writes the report on compare and exits with
// $FAKE_COMPARE_RC; and a `docker` that runs the command after the image.
func fakeCodspeed(t *testing.T) (bin, log string) {
	bin = t.TempDir()
	log = filepath.Join(t.TempDir(), "calls.log")
	codspeed := `#!/bin/bash
echo "codspeed $*" >> "$FAKE_LOG"
sub=$1; shift
case "$sub" in
run)
  while [ $# -gt 0 ]; do
    case "$1" in --profile-folder) mkdir -p "$2/results"; echo '{"benchmarks":[]}' > "$2/results/1.json"; shift;; --) break;; esac
    shift
  done ;;
compare)
  while [ $# -gt 0 ]; do
    case "$1" in --output) printf '| benchmark | change |\n' > "$2"; shift;; esac
    shift
  done
  exit "${FAKE_COMPARE_RC:-0}" ;;
esac
`
	docker := `#!/bin/bash
echo "docker $*" >> "$FAKE_LOG"
while [ $# -gt 0 ] && [ "$1" != codspeed ]; do shift; done
exec "$@"
`
	for name, body := range map[string]string{"codspeed": codspeed, "docker": docker} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, log
}

type scriptRun struct {
	code   int
	stderr string
	calls  string
}

func runScript(t *testing.T, script, dir string, env map[string]string) scriptRun {
	t.Helper()
	bin, log := fakeCodspeed(t)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "FAKE_LOG=" + log, "HOME=" + dir}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	calls, _ := os.ReadFile(log)
	return scriptRun{code: code, stderr: stderr.String(), calls: string(calls)}
}

func TestGitLabTemplateRuns(t *testing.T) {
	needBash(t)
	job := gitlabJob(t)
	script := gitlabScript(t, job)
	base := map[string]string{}
	for k, v := range job["variables"].(map[string]any) {
		base[k] = fmt.Sprint(v)
	}
	base["CI_DEFAULT_BRANCH"] = "main"
	base["CODSPEED_COMMAND"] = "go test -run=^$ -bench=. ./..."
	mr := map[string]string{"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "17"}
	push := map[string]string{"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "main"}
	with := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range append([]map[string]string{base}, ms...) {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	tests := []struct {
		name        string
		env         map[string]string
		baseline    bool
		wantCode    int
		wantCalls   []string
		noCalls     []string
		newBaseline bool
	}{
		{"mr no regression", with(mr), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile --skip-upload -- go test -run=^$ -bench=. ./...",
				"codspeed compare --base .codspeed-baseline --head codspeed-profile --format markdown --output codspeed-report.md"}, nil, false},
		{"mr regression fails", with(mr, map[string]string{"FAKE_COMPARE_RC": "1"}), true, 1, nil, nil, false},
		{"mr compare error fails", with(mr, map[string]string{"FAKE_COMPARE_RC": "2"}), true, 2, nil, nil, false},
		{"mr without baseline warns", with(mr), false, 0, nil, []string{"codspeed compare"}, false},
		{"mr without baseline required", with(mr, map[string]string{"CODSPEED_REQUIRE_BASELINE": "true"}), false, 2, nil, nil, false},
		{"token uploads", with(mr, map[string]string{"CODSPEED_TOKEN": "secret"}), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile -- go test"}, []string{"--skip-upload"}, false},
		{"default branch records baseline", with(push), false, 0, nil, nil, true},
		{"default branch regression still records", with(push, map[string]string{"FAKE_COMPARE_RC": "1"}), true, 1, nil, nil, true},
		{"default branch error keeps baseline", with(push, map[string]string{"FAKE_COMPARE_RC": "2"}), true, 2, nil, nil, false},
		{"config targets", with(mr, map[string]string{"CODSPEED_COMMAND": ""}), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile --skip-upload\n"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old := filepath.Join(dir, ".codspeed-baseline", "old")
			if tt.baseline {
				os.MkdirAll(old, 0o755)
			}
			r := runScript(t, script, dir, tt.env)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.wantCode, r.stderr)
			}
			for _, c := range tt.wantCalls {
				if !strings.Contains(r.calls, c) {
					t.Errorf("calls lack %q:\n%s", c, r.calls)
				}
			}
			for _, c := range tt.noCalls {
				if strings.Contains(r.calls, c) {
					t.Errorf("calls contain %q:\n%s", c, r.calls)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "codspeed-report.md")); err != nil && tt.wantCode != 2 {
				t.Errorf("no report: %v", err)
			}
			_, errNew := os.Stat(filepath.Join(dir, ".codspeed-baseline", "results", "1.json"))
			if (errNew == nil) != tt.newBaseline {
				t.Errorf("baseline replaced: %v, want %v", errNew == nil, tt.newBaseline)
			}
		})
	}
}

var inputRef = regexp.MustCompile(`inputs\.([A-Za-z0-9_-]+)`)

func TestGitHubAction(t *testing.T) {
	needBash(t)
	doc := readYAML(t, "action.yml")
	if doc["name"] == nil || doc["description"] == nil {
		t.Error("action.yml needs name and description")
	}
	inputs, _ := doc["inputs"].(map[string]any)
	for name, v := range inputs {
		if m, _ := v.(map[string]any); m["description"] == nil {
			t.Errorf("input %s has no description", name)
		}
	}
	if !strings.Contains(fmt.Sprint(inputs["image"]), "codspeed-go") {
		t.Errorf("image input %v: want the codspeed-go image", inputs["image"])
	}
	runs, _ := doc["runs"].(map[string]any)
	if runs["using"] != "composite" {
		t.Fatalf("runs.using = %v", runs["using"])
	}
	raw, _ := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	for _, m := range inputRef.FindAllStringSubmatch(string(raw), -1) {
		if _, ok := inputs[m[1]]; !ok {
			t.Errorf("inputs.%s used but not declared", m[1])
		}
	}
	steps, _ := runs["steps"].([]any)
	var sawRun, sawCompare bool
	for i, s := range steps {
		step := s.(map[string]any)
		script, ok := step["run"].(string)
		if !ok {
			if step["uses"] == nil {
				t.Errorf("step %d has neither run nor uses", i)
			}
			continue
		}
		if step["shell"] != "bash" {
			t.Errorf("step %d (%v): composite run steps need shell: bash", i, step["name"])
		}
		bashSyntax(t, fmt.Sprint(step["name"]), expr.ReplaceAllString(script, "x"))
		sawRun = sawRun || strings.Contains(script, "codspeed run --mode")
		sawCompare = sawCompare || strings.Contains(script, "codspeed compare --base")
	}
	if !sawRun || !sawCompare {
		t.Errorf("action runs codspeed run: %v, compare: %v", sawRun, sawCompare)
	}
}

var expr = regexp.MustCompile(`\$\{\{[^}]*\}\}`)

// TestGitHubActionRuns runs the run and compare steps with the inputs'
// defaults and a docker stand-in: the token must travel by name only, and a
// regression must fail the step.
func TestGitHubActionRuns(t *testing.T) {
	needBash(t)
	doc := readYAML(t, "action.yml")
	inputs := doc["inputs"].(map[string]any)
	steps := doc["runs"].(map[string]any)["steps"].([]any)
	stepNamed := func(name string) map[string]any {
		for _, s := range steps {
			if m := s.(map[string]any); m["name"] == name {
				return m
			}
		}
		t.Fatalf("no step %q", name)
		return nil
	}
	// env of a step, with ${{ inputs.X }} replaced by the input's default
	// (or an override).
	stepEnv := func(step map[string]any, over map[string]string) map[string]string {
		env := map[string]string{}
		e, _ := step["env"].(map[string]any)
		for k, v := range e {
			s := fmt.Sprint(v)
			if m := inputRef.FindStringSubmatch(s); m != nil {
				s = fmt.Sprint(inputs[m[1]].(map[string]any)["default"])
				if o, ok := over[m[1]]; ok {
					s = o
				}
			}
			env[k] = s
		}
		return env
	}
	ws := t.TempDir()
	event := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(event, []byte("{}"), 0o644)
	gh := map[string]string{"GITHUB_WORKSPACE": ws, "GITHUB_EVENT_PATH": event, "GITHUB_OUTPUT": filepath.Join(ws, "out"),
		"GITHUB_STEP_SUMMARY": filepath.Join(ws, "summary")}
	merge := func(a, b map[string]string) map[string]string {
		for k, v := range b {
			a[k] = v
		}
		return a
	}

	run := stepNamed("Run benchmarks")
	r := runScript(t, run["run"].(string), ws, merge(stepEnv(run, map[string]string{"run": "go test -bench=.", "token": "cs_secret_token"}), gh))
	if r.code != 0 {
		t.Fatalf("run step exit %d:\n%s", r.code, r.stderr)
	}
	if strings.Contains(r.calls, "cs_secret_token") || !strings.Contains(r.calls, "-e CODSPEED_TOKEN") {
		t.Errorf("token must be passed to docker by name only:\n%s", r.calls)
	}
	if !strings.Contains(r.calls, "codspeed run --mode walltime --profile-folder "+ws+"/codspeed-profile -- go test -bench=.") {
		t.Errorf("run step calls:\n%s", r.calls)
	}

	cmp := stepNamed("Compare with the baseline")
	for _, tt := range []struct {
		rc, want int
		fail     string
	}{{0, 0, "true"}, {1, 1, "true"}, {1, 0, "false"}, {2, 2, "false"}} {
		os.MkdirAll(filepath.Join(ws, ".codspeed-baseline"), 0o755)
		env := merge(stepEnv(cmp, map[string]string{"fail-on-regression": tt.fail}), gh)
		env["FAKE_COMPARE_RC"] = fmt.Sprint(tt.rc)
		r := runScript(t, cmp["run"].(string), ws, env)
		if r.code != tt.want {
			t.Errorf("compare rc %d, fail-on-regression %s: step exit %d, want %d\n%s", tt.rc, tt.fail, r.code, tt.want, r.stderr)
		}
		summary, _ := os.ReadFile(gh["GITHUB_STEP_SUMMARY"])
		if !strings.Contains(string(summary), "| benchmark | change |") {
			t.Errorf("report not in the job summary: %q", summary)
		}
	}
}

// TestJenkinsfile checks what can be checked without a Jenkins: braces
// balance outside strings and comments, the shell blocks parse, and the
// pipeline runs, compares and archives the report.
func TestJenkinsfile(t *testing.T) {
	needBash(t)
	data, err := os.ReadFile(filepath.Join(repoRoot, "ci/jenkins/Jenkinsfile"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(data)
	for _, want := range []string{"pipeline {", "codspeed-go", `codspeed run --mode "$CODSPEED_MODE"`, "codspeed compare --base", "--format markdown --output", "archiveArtifacts", "changeRequest()"} {
		if !strings.Contains(src, want) {
			t.Errorf("Jenkinsfile lacks %q", want)
		}
	}
	if err := groovyBalanced(src); err != nil {
		t.Error(err)
	}
	blocks := regexp.MustCompile(`(?s)'''(.*?)'''`).FindAllStringSubmatch(src, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d shell blocks, want the run and compare blocks", len(blocks))
	}
	for i, b := range blocks {
		// Groovy joins a backslash-newline in ''' strings; bash does the same.
		bashSyntax(t, fmt.Sprintf("Jenkinsfile sh block %d", i), b[1])
	}
}

// groovyBalanced checks (), [] and {} nesting, skipping comments and string
// literals (single-, double- and triple-single-quoted).
func groovyBalanced(src string) error {
	var stack []byte
	line := 1
	pairs := map[byte]byte{')': '(', ']': '[', '}': '{'}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\n':
			line++
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			line++
		case strings.HasPrefix(src[i:], "'''"):
			end := strings.Index(src[i+3:], "'''")
			if end < 0 {
				return fmt.Errorf("line %d: unterminated '''", line)
			}
			line += strings.Count(src[i:i+3+end], "\n")
			i += end + 5
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(src) && src[j] != c {
				if src[j] == '\\' {
					j++
				}
				if j < len(src) && src[j] == '\n' {
					return fmt.Errorf("line %d: unterminated string", line)
				}
				j++
			}
			i = j
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != pairs[c] {
				return fmt.Errorf("line %d: unbalanced %c", line, c)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) > 0 {
		return fmt.Errorf("unclosed %q at end of file", stack)
	}
	return nil
}
