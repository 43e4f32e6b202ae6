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
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

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
  if [ -n "${FAKE_COMPARE_ERR:-}" ]; then echo "$FAKE_COMPARE_ERR" >&2; fi
  exit "${FAKE_COMPARE_RC:-0}" ;;
upload)
  if [ "$*" = "--token-file -" ]; then echo "upload token on stdin: $(cat)" >> "$FAKE_LOG"; fi ;;
fetch-baseline)
  rc=${FAKE_FETCH_RC:-3}
  while [ $# -gt 0 ]; do
    case "$1" in --dir) if [ "$rc" = 0 ]; then mkdir -p "$2/results"; echo '{}' > "$2/results/1.json"; fi; shift;; esac
    shift
  done
  exit "$rc" ;;
mr-comment) ;;
ab)
  while [ $# -gt 0 ]; do
    case "$1" in --output) printf '| benchmark | ratio |\n' > "$2"; shift;; esac
    shift
  done
  exit "${FAKE_AB_RC:-0}" ;;
seccomp-profile|container-options)
  # The real runner decides these: the image's own profile and options.
  exec "$REAL_CODSPEED" "$sub" "$@" ;;
esac
`
	docker := `#!/bin/bash
echo "docker $*" >> "$FAKE_LOG"
if [ "$1" = version ]; then echo "${FAKE_DOCKER_API:-1.43}"; exit 0; fi
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

var (
	realOnce sync.Once
	realBin  string
	realErr  error
)

// realCodspeed builds the runner once: the templates take the container
// options and the seccomp profile from it, as from the image.
func realCodspeed(t *testing.T) string {
	t.Helper()
	realOnce.Do(func() {
		dir, err := os.MkdirTemp("", "codspeed-templates-")
		if err != nil {
			realErr = err
			return
		}
		realBin = filepath.Join(dir, "codspeed")
		build := exec.Command("go", "build", "-o", realBin, "../../cmd/codspeed")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			realErr = fmt.Errorf("build codspeed: %v\n%s", err, out)
		}
	})
	if realErr != nil {
		t.Fatal(realErr)
	}
	return realBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if realBin != "" {
		os.RemoveAll(filepath.Dir(realBin))
	}
	os.Exit(code)
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
	cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "FAKE_LOG=" + log, "HOME=" + dir, "REAL_CODSPEED=" + realCodspeed(t)}
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
	srv := map[string]string{"CODSPEED_SERVER_URL": "http://bench:8787/", "CODSPEED_TOKEN": "cst_x"}
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
		name      string
		env       map[string]string
		baseline  bool // fetch-baseline finds one
		wantCode  int
		wantCalls []string
		noCalls   []string
	}{
		{"mr no regression", with(mr), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile --skip-upload -- go test -run=^$ -bench=. ./...",
				"codspeed fetch-baseline --dir .codspeed-baseline --artifact-path codspeed-profile",
				"codspeed compare --base .codspeed-baseline --head codspeed-profile --format markdown --output codspeed-report.md"},
			[]string{"codspeed mr-comment"}},
		{"mr regression fails", with(mr, map[string]string{"FAKE_COMPARE_RC": "1"}), true, 1, nil, nil},
		{"mr compare error fails", with(mr, map[string]string{"FAKE_COMPARE_RC": "2"}), true, 2, nil, nil},
		{"mr without baseline fails", with(mr), false, 2, nil, []string{"codspeed compare"}},
		{"mr without baseline allowed", with(mr, map[string]string{"CODSPEED_REQUIRE_BASELINE": "false"}), false, 0, nil, []string{"codspeed compare"}},
		{"mr fetch error fails", with(mr, map[string]string{"FAKE_FETCH_RC": "1"}), false, 2, nil, []string{"codspeed compare"}},
		{"mr comment by the runner", with(mr, map[string]string{"CODSPEED_GITLAB_TOKEN": "glpat-x"}), true, 0,
			[]string{"codspeed mr-comment codspeed-report.md"}, []string{"curl", "glpat-x"}},
		{"token uploads", with(mr, map[string]string{"CODSPEED_TOKEN": "secret"}), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile -- go test"}, []string{"--skip-upload"}},
		{"default branch without baseline passes", with(push), false, 0, []string{"codspeed fetch-baseline"}, []string{"codspeed compare"}},
		{"default branch without baseline required", with(push, map[string]string{"CODSPEED_REQUIRE_BASELINE": "true"}), false, 2, nil, nil},
		{"default branch regression fails", with(push, map[string]string{"FAKE_COMPARE_RC": "1"}), true, 1, nil, nil},
		{"default branch error fails", with(push, map[string]string{"FAKE_COMPARE_RC": "2"}), true, 2, nil, nil},
		{"config targets", with(mr, map[string]string{"CODSPEED_COMMAND": ""}), true, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile --skip-upload\n"}, nil},
		// With a results server: upload there, compare with its runs, no artifacts.
		{"server mr", with(mr, srv, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "release"}), false, 0,
			[]string{"codspeed run --mode walltime --profile-folder codspeed-profile --upload-url http://bench:8787/upload -- go test",
				"codspeed compare --server http://bench:8787 --base release --head codspeed-profile --format markdown --output codspeed-report.md"},
			[]string{"--skip-upload", ".codspeed-baseline", "fetch-baseline"}},
		{"server mr regression fails", with(mr, srv, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "FAKE_COMPARE_RC": "1"}), false, 1, nil, nil},
		{"server push compares with the commit before", with(push, srv, map[string]string{"CI_COMMIT_BEFORE_SHA": "abc123"}), true, 0,
			[]string{"codspeed compare --server http://bench:8787 --base abc123 "}, nil},
		{"server first push", with(push, srv, map[string]string{"CI_COMMIT_BEFORE_SHA": "0000000000000000000000000000000000000000"}), false, 0,
			nil, []string{"codspeed compare"}},
		{"server other branch compares with the default", with(srv, map[string]string{"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": "feature"}), false, 0,
			[]string{"codspeed compare --server http://bench:8787 --base main "}, nil},
		{"server mr without a base run yet fails", with(mr, srv, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "FAKE_COMPARE_RC": "2",
			"FAKE_COMPARE_ERR": `codspeed: base: "main" is no run id, branch or commit with runs in acme/w: not found`}), false, 2, nil, nil},
		{"server mr without a base run yet allowed", with(mr, srv, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "FAKE_COMPARE_RC": "2",
			"CODSPEED_REQUIRE_BASELINE": "false",
			"FAKE_COMPARE_ERR":          `codspeed: base: "main" is no run id, branch or commit with runs in acme/w: not found`}), false, 0, nil, nil},
		{"server error fails", with(mr, srv, map[string]string{"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "FAKE_COMPARE_RC": "2",
			"FAKE_COMPARE_ERR": "codspeed: base: results server: connection refused"}), false, 2, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			env := tt.env
			if tt.baseline {
				env = with(env, map[string]string{"FAKE_FETCH_RC": "0"})
			}
			r := runScript(t, script, dir, env)
			if r.code != tt.wantCode {
				t.Errorf("exit %d, want %d\n%s", r.code, tt.wantCode, r.stderr)
			}
			for _, c := range tt.wantCalls {
				if !strings.Contains(r.calls, c) {
					t.Errorf("calls lack %q:\n%s", c, r.calls)
				}
			}
			for _, c := range tt.noCalls {
				if strings.Contains(r.calls+r.stderr, c) {
					t.Errorf("calls or output contain %q:\n%s\n%s", c, r.calls, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "codspeed-report.md")); err != nil && tt.wantCode != 2 {
				t.Errorf("no report: %v", err)
			}
		})
	}
}

func mustRead(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return data
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
	if strings.Contains(string(mustRead(t, "action.yml")), "seccomp=unconfined") {
		t.Error("action.yml mentions seccomp=unconfined")
	}
	if d := fmt.Sprint(inputs["container-options"].(map[string]any)["default"]); d != "" {
		t.Errorf("container-options default %q: the mode decides (empty)", d)
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
		sawRun = sawRun || strings.Contains(script, "codspeed run --skip-upload --mode")
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

	secrets := map[string]string{"ACTIONS_ID_TOKEN_REQUEST_URL": "https://token.example/req", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc_request_secret"}
	run := stepNamed("Run benchmarks")
	seccomp := filepath.Join(ws, "codspeed-seccomp.json")
	// Per mode exactly what docs/docker.md grants, from the image itself.
	for _, tt := range []struct {
		mode, api string
		caps      []string
	}{
		{"walltime", "1.43", []string{"PERFMON"}},
		{"simulation", "1.43", nil},
		{"memory", "1.43", []string{"BPF", "PERFMON"}},
		{"walltime", "1.41", []string{"SYS_ADMIN"}},
	} {
		env := merge(merge(stepEnv(run, map[string]string{"run": "go test -bench=.", "mode": tt.mode}), gh), secrets)
		env["FAKE_DOCKER_API"] = tt.api
		r := runScript(t, run["run"].(string), ws, env)
		if r.code != 0 {
			t.Fatalf("run step (%s) exit %d:\n%s", tt.mode, r.code, r.stderr)
		}
		var benchCall string
		for _, l := range strings.Split(r.calls, "\n") {
			if strings.HasPrefix(l, "docker run") && strings.Contains(l, "codspeed run") {
				benchCall = l
			}
		}
		want := ""
		for _, c := range tt.caps {
			want += "--cap-add " + c + " "
		}
		want = "docker run --rm " + want + "--security-opt seccomp=" + seccomp + " -e "
		if !strings.HasPrefix(benchCall, want) {
			t.Errorf("%s on API %s: benchmark container\n%s\nwant it to start with\n%s", tt.mode, tt.api, benchCall, want)
		}
		if strings.Contains(r.calls, "unconfined") || (tt.api != "1.41" && strings.Contains(r.calls, "SYS_ADMIN")) {
			t.Errorf("%s: more than the mode needs:\n%s", tt.mode, r.calls)
		}
		// No credential, no upload setting reaches the benchmark's container.
		for _, name := range []string{"CODSPEED_TOKEN", "CODSPEED_UPLOAD_URL", "ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN", "ACTIONS_RUNTIME_TOKEN"} {
			if strings.Contains(benchCall, "-e "+name) {
				t.Errorf("%s passed to the benchmark container:\n%s", name, benchCall)
			}
		}
		if !strings.Contains(r.calls, "codspeed run --skip-upload --mode "+tt.mode+" --profile-folder "+ws+"/codspeed-profile -- go test -bench=.") {
			t.Errorf("run step calls:\n%s", r.calls)
		}
	}
	profile, err := os.ReadFile(seccomp)
	if err != nil || !strings.Contains(string(profile), `"perf_event_open"`) || !strings.Contains(string(profile), `"bpf"`) {
		t.Errorf("the seccomp profile the image printed: %v\n%.200s", err, profile)
	}
	// Explicit container-options replace the defaults.
	env := merge(stepEnv(run, map[string]string{"container-options": "--cap-add PERFMON --security-opt seccomp=/etc/mine.json"}), gh)
	if r := runScript(t, run["run"].(string), ws, env); r.code != 0 || !strings.Contains(r.calls, "docker run --rm --cap-add PERFMON --security-opt seccomp=/etc/mine.json -e CI") || strings.Contains(r.calls, "container-options") {
		t.Errorf("explicit container-options: exit %d\n%s", r.code, r.calls)
	}

	// The upload runs in its own container after the benchmark's: the token
	// on standard input, the OIDC request variables only without a token.
	up := stepNamed("Upload")
	if fmt.Sprint(up["if"]) != "inputs.skip-upload != 'true'" {
		t.Errorf("upload step if: %v", up["if"])
	}
	r := runScript(t, up["run"].(string), ws, merge(merge(stepEnv(up, map[string]string{"token": "cs_secret_token"}), gh), secrets))
	if r.code != 0 || !strings.Contains(r.calls, "upload token on stdin: cs_secret_token") || !strings.Contains(r.calls, ":ro") {
		t.Errorf("upload with a token: exit %d\n%s%s", r.code, r.calls, r.stderr)
	}
	for _, l := range strings.Split(r.calls, "\n") {
		if strings.HasPrefix(l, "docker") && (strings.Contains(l, "cs_secret_token") || strings.Contains(l, "ACTIONS_ID_TOKEN")) {
			t.Errorf("token on a command line, or OIDC variables passed beside a token: %s", l)
		}
	}
	r = runScript(t, up["run"].(string), ws, merge(merge(stepEnv(up, nil), gh), secrets))
	if r.code != 0 || !strings.Contains(r.calls, "-e ACTIONS_ID_TOKEN_REQUEST_URL -e ACTIONS_ID_TOKEN_REQUEST_TOKEN") || strings.Contains(r.calls, "oidc_request_secret") {
		t.Errorf("upload with OIDC: exit %d\n%s", r.code, r.calls)
	}
	r = runScript(t, up["run"].(string), ws, merge(stepEnv(up, nil), gh))
	if r.code != 0 || strings.Contains(r.calls, "docker") || !strings.Contains(r.stderr, "Not uploading") {
		t.Errorf("upload without any credential: exit %d\n%s%s", r.code, r.calls, r.stderr)
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

	// With a results server: the base is read from it, the token travels by
	// name, no cached baseline is needed.
	os.RemoveAll(filepath.Join(ws, ".codspeed-baseline"))
	for _, tt := range []struct {
		ref, baseRef, before, want string
		rc, code                   int
	}{
		{"refs/pull/3/merge", "main", "", "--base main ", 1, 1},
		{"refs/heads/main", "", "abc123", "--base abc123 ", 0, 0},
		{"refs/heads/main", "", "0000000000000000000000000000000000000000", "", 0, 0},
		{"refs/heads/feature", "", "abc123", "--base main ", 0, 0},
	} {
		env := merge(stepEnv(cmp, map[string]string{"server-url": "http://bench:8787", "token": "cst_secret"}), gh)
		env["BASE_REF"], env["BEFORE_SHA"], env["DEFAULT_BRANCH"], env["GITHUB_REF"], env["GITHUB_REPOSITORY"] = tt.baseRef, tt.before, "main", tt.ref, "acme/w"
		env["FAKE_COMPARE_RC"] = fmt.Sprint(tt.rc)
		r := runScript(t, cmp["run"].(string), ws, env)
		if r.code != tt.code {
			t.Errorf("server, %s: exit %d, want %d\n%s", tt.ref, r.code, tt.code, r.stderr)
		}
		if tt.want == "" {
			if strings.Contains(r.calls, "codspeed compare") {
				t.Errorf("server, %s: compared with nothing:\n%s", tt.ref, r.calls)
			}
			continue
		}
		if !strings.Contains(r.calls, "codspeed compare --server http://bench:8787 --project acme/w "+tt.want) ||
			!strings.Contains(r.calls, "-e CODSPEED_TOKEN") || strings.Contains(r.calls, "cst_secret") {
			t.Errorf("server, %s: calls:\n%s", tt.ref, r.calls)
		}
	}

	// A matrix shard: --shard reaches codspeed run.
	env = merge(stepEnv(run, map[string]string{"shard": "2/3"}), gh)
	if r := runScript(t, run["run"].(string), ws, env); r.code != 0 || !strings.Contains(r.calls, "codspeed run --skip-upload --mode walltime --profile-folder "+ws+"/codspeed-profile --shard 2/3") {
		t.Errorf("shard: exit %d, calls:\n%s\n%s", r.code, r.calls, r.stderr)
	}
	// The paired A/B gate: walltime's options, the base branch from origin,
	// its verdict deciding the step.
	ab := stepNamed("Paired A/B against the base branch")
	for _, tt := range []struct{ rc, want int }{{0, 0}, {1, 1}, {2, 2}} {
		env := merge(stepEnv(ab, nil), gh)
		env["BASE_REF"], env["FAKE_AB_RC"] = "main", fmt.Sprint(tt.rc)
		r := runScript(t, ab["run"].(string), ws, env)
		if r.code != tt.want || !strings.Contains(r.calls, "--cap-add PERFMON") || !strings.Contains(r.calls, "codspeed ab --base origin/main --format markdown --output "+ws+"/codspeed-ab.md") {
			t.Errorf("ab rc %d: step exit %d, want %d; calls:\n%s\n%s", tt.rc, r.code, tt.want, r.calls, r.stderr)
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
	for _, want := range []string{"pipeline {", "codspeed-go", `codspeed run --skip-upload --mode "$CODSPEED_MODE"`, "codspeed compare --base", "--format markdown --output", "archiveArtifacts", "changeRequest()"} {
		if !strings.Contains(src, want) {
			t.Errorf("Jenkinsfile lacks %q", want)
		}
	}
	if err := groovyBalanced(src); err != nil {
		t.Error(err)
	}
	// Least privilege: no unconfined seccomp, no blanket capability, no
	// artifact copying open to every job.
	for _, bad := range []string{"unconfined", "SYS_ADMIN --", "--cap-add SYS_ADMIN", "--privileged", "copyArtifactPermission('*')", `copyArtifactPermission("*")`} {
		if strings.Contains(src, bad) {
			t.Errorf("Jenkinsfile grants %q", bad)
		}
	}
	for _, want := range []string{"codspeed container-options --mode", "codspeed seccomp-profile", "codspeed run --skip-upload", "withCredentials", "codspeed upload --token-file -",
		"CODSPEED_IMAGE = 'ghcr.io/codspeed-go/codspeed-go:go'", `codspeed ab --base "origin/$CHANGE_TARGET"`, "CODSPEED_AB = 'false'"} {
		if !strings.Contains(src, want) {
			t.Errorf("Jenkinsfile lacks %q", want)
		}
	}

	blocks := regexp.MustCompile(`(?s)'''(.*?)'''`).FindAllStringSubmatch(src, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d shell blocks, want the run and compare blocks", len(blocks))
	}
	for i, b := range blocks {
		// Groovy joins a backslash-newline in ''' strings; bash does the same.
		bashSyntax(t, fmt.Sprintf("Jenkinsfile sh block %d", i), b[1])
	}
	// The benchmark block, run with a docker stand-in: memory mode gets
	// BPF and PERFMON and the image's profile, and no credential.
	ws := t.TempDir()
	env := map[string]string{"CODSPEED_IMAGE": "codspeed-go", "CODSPEED_MODE": "memory", "CODSPEED_COMMAND": "make bench",
		"CODSPEED_PROFILE_DIR": "codspeed-profile", "CODSPEED_CI_VARS": "JOB_NAME GIT_COMMIT", "CODSPEED_TOKEN": "jenkins_secret", "PWD": ws}
	r := runScript(t, "cd \"$PWD\"\n"+blocks[0][1], ws, env)
	if r.code != 0 {
		t.Fatalf("benchmark block: exit %d\n%s", r.code, r.stderr)
	}
	want := "docker run --rm --cap-add BPF --cap-add PERFMON --security-opt seccomp=" + ws + "/codspeed-seccomp.json -e JOB_NAME -e GIT_COMMIT -e CODSPEED_STORE="
	if !strings.Contains(r.calls, want) || strings.Contains(r.calls, "CODSPEED_TOKEN") || !strings.Contains(r.calls, "codspeed run --skip-upload --mode memory") {
		t.Errorf("benchmark container:\n%s\nwant %s", r.calls, want)
	}
}

// TestJenkinsfileSharded: the sharded pipeline's structure, its shell
// blocks' syntax, and its shard block run with a docker stand-in: shard I
// of N with the mode's options and no credential.
func TestJenkinsfileSharded(t *testing.T) {
	needBash(t)
	src := string(mustRead(t, "ci/jenkins/Jenkinsfile.sharded"))
	if err := groovyBalanced(src); err != nil {
		t.Error(err)
	}
	for _, want := range []string{"matrix {", "axis {", "name 'SHARD'", "agent { label", "stash name:", "unstash", "codspeed merge codspeed-shard-*/",
		"codspeed compare --base codspeed-baseline/codspeed-merged --head codspeed-merged", "codspeed compare --server", "archiveArtifacts"} {
		if !strings.Contains(src, want) {
			t.Errorf("Jenkinsfile.sharded lacks %q", want)
		}
	}
	for _, bad := range []string{"unconfined", "--privileged", "--cap-add SYS_ADMIN", "copyArtifactPermission('*')"} {
		if strings.Contains(src, bad) {
			t.Errorf("Jenkinsfile.sharded grants %q", bad)
		}
	}
	// The axis values are 1..CODSPEED_SHARDS.
	shards := regexp.MustCompile(`CODSPEED_SHARDS = '(\d+)'`).FindStringSubmatch(src)
	values := regexp.MustCompile(`values ((?:'\d+'(?:, )?)+)`).FindStringSubmatch(src)
	if shards == nil || values == nil || strings.Count(values[1], "'")/2 != atoiOr0(shards[1]) {
		t.Errorf("axis values %v and CODSPEED_SHARDS %v disagree", values, shards)
	}
	blocks := regexp.MustCompile(`(?s)'''(.*?)'''`).FindAllStringSubmatch(src, -1)
	if len(blocks) < 3 {
		t.Fatalf("%d shell blocks", len(blocks))
	}
	for i, b := range blocks {
		bashSyntax(t, fmt.Sprintf("Jenkinsfile.sharded sh block %d", i), b[1])
	}
	ws := t.TempDir()
	env := map[string]string{"CODSPEED_IMAGE": "codspeed-go", "CODSPEED_MODE": "memory", "SHARD": "2", "CODSPEED_SHARDS": "3",
		"CODSPEED_CI_VARS": "JOB_NAME GIT_COMMIT", "CODSPEED_TOKEN": "jenkins_secret", "PWD": ws}
	r := runScript(t, "cd \"$PWD\"\n"+blocks[0][1], ws, env)
	if r.code != 0 {
		t.Fatalf("shard block: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.calls, "--cap-add BPF --cap-add PERFMON") || strings.Contains(r.calls, "CODSPEED_TOKEN") ||
		!strings.Contains(r.calls, "codspeed run --skip-upload --shard 2/3 --mode memory --profile-folder codspeed-shard-2") {
		t.Errorf("shard container:\n%s", r.calls)
	}
}

func atoiOr0(s string) int {
	n := 0
	fmt.Sscan(s, &n)
	return n
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
