package ci

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// loadEnv reads a recorded environment: KEY=VALUE lines, # comments.
func loadEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: not KEY=VALUE", path, n)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return env
}

// recordedEnv serves a recorded environment: the GitHub event file is the
// recording's <name>.event.json whatever path GITHUB_EVENT_PATH names, and
// git is unavailable (a recorded CI environment must not depend on the
// checkout the test happens to run in).
func recordedEnv(t *testing.T, name string) Env {
	vars := loadEnv(t, filepath.Join("testdata", name+".env"))
	return Env{
		Getenv: func(k string) string { return vars[k] },
		ReadFile: func(p string) ([]byte, error) {
			if p != vars["GITHUB_EVENT_PATH"] {
				return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
			}
			return os.ReadFile(filepath.Join("testdata", name+".event.json"))
		},
		Git: func(dir string, args ...string) (string, error) {
			return "", fmt.Errorf("git %v: not available in a recorded environment", args)
		},
		Dir: "/nonexistent",
	}
}

func TestDetectRecorded(t *testing.T) {
	tests := []struct {
		name    string
		wantErr error // nil: compare with the golden Info
	}{
		{"github-push", nil},
		{"github-pr", nil},
		{"github-pr-fork", nil},
		{"github-release", ErrUnsupportedEvent},
		{"github-pr-corrupt-event", nil},
		{"gitlab-mr", nil},
		{"gitlab-mr-fork", nil},
		{"gitlab-push", nil},
		{"gitlab-schedule", nil},
		{"gitlab-tag-web", nil},
		{"gitlab-mr-missing-iid", ErrMissingVariable},
		{"gitlab-external-pr", nil},
		{"gitlab-child-mr", nil},
		{"gitlab-chat", ErrUnsupportedEvent},
		{"github-pr-deleted-fork", nil},
		{"jenkins-multibranch-pr", nil},
		{"jenkins-multibranch-branch", nil},
		{"jenkins-freestyle", nil},
		{"buildkite-push", nil},
		{"buildkite-pr", nil},
		{"buildkite-in-github", nil},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			info, err := recordedEnv(t, tt.name).Detect()
			var got []byte
			if err != nil {
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("error %v, want one wrapping %v", err, tt.wantErr)
				}
				got, _ = json.MarshalIndent(map[string]string{"error": err.Error()}, "", "  ")
			} else {
				if tt.wantErr != nil {
					t.Fatalf("no error, want %v", tt.wantErr)
				}
				got, _ = json.MarshalIndent(info, "", "  ")
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("detected:\n%s\nwant (%s):\n%s", got, golden, want)
			}
		})
	}
	// Every recording is exercised.
	envs, _ := filepath.Glob("testdata/*.env")
	for _, p := range envs {
		if name := strings.TrimSuffix(filepath.Base(p), ".env"); !seen[name] {
			t.Errorf("recording %s has no test case", p)
		}
	}
}

func TestDetectGitHubForkFacts(t *testing.T) {
	// The fork's branch is named like the base branch: only the label keeps
	// them apart, which is why detection reads the event file.
	info, err := recordedEnv(t, "github-pr-fork").Detect()
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsFork || info.HeadRef != "contributor:main" || info.BaseRef != "main" || !info.IsPullRequest() {
		t.Errorf("fork PR detected as %+v", info)
	}
	var ee *EventError
	_, err = recordedEnv(t, "github-pr-corrupt-event").Detect()
	if !errors.As(err, &ee) || ee.Path == "" {
		t.Errorf("corrupt event: got %v, want an *EventError naming the file", err)
	}
}

func TestParseRemote(t *testing.T) {
	tests := []struct {
		in      string
		want    Remote
		prov    string
		wantErr bool
	}{
		{"https://github.com/codspeed-go/codspeed-go.git", Remote{"github.com", "codspeed-go", "codspeed-go"}, ProviderGitHub, false},
		{"https://x-access-token:ghs_SECRET@github.com/o/r", Remote{"github.com", "o", "r"}, ProviderGitHub, false},
		{"git@github.com:o/r.git", Remote{"github.com", "o", "r"}, ProviderGitHub, false},
		{"ssh://git@gitlab.com:2222/group/sub/r.git", Remote{"gitlab.com", "group/sub", "r"}, ProviderGitLab, false},
		{"https://gitlab.example.org/perf/r/", Remote{"gitlab.example.org", "perf", "r"}, ProviderGitLab, false},
		{"https://git.example.org/perf/r", Remote{"git.example.org", "perf", "r"}, ProviderProject, false},
		{"/srv/git/r.git", Remote{}, "", true},
		{"https://github.com/onlyowner", Remote{}, "", true},
		{"https://oauth2:glpat-SECRET@gitlab.com/", Remote{}, "", true},
		{"", Remote{}, "", true},
	}
	for _, tt := range tests {
		got, err := ParseRemote(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseRemote(%q) = %+v, want error", tt.in, got)
			} else if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("ParseRemote(%q) error leaks credentials: %v", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want || got.RepositoryProvider() != tt.prov {
			t.Errorf("ParseRemote(%q) = %+v, %v (%s), want %+v (%s)", tt.in, got, err, got.RepositoryProvider(), tt.want, tt.prov)
		}
	}
}

func TestJenkinsBranch(t *testing.T) {
	for in, want := range map[string]string{
		"origin/main":                "main",
		"origin/release/2.x":         "release/2.x",
		"refs/remotes/origin/feat/a": "feat/a",
		"main":                       "main",
		"PR-12":                      "PR-12",
	} {
		if got := jenkinsBranch(in); got != want {
			t.Errorf("jenkinsBranch(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRemote(f *testing.F) {
	for _, s := range []string{"https://github.com/o/r.git", "git@github.com:o/r.git", "ssh://u:p@h:22/a/b/c", "h:", ":x/y", "https://u:SECRET@h/", "a@b@c:d/e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRemote(s)
		if err != nil {
			return
		}
		if r.Host == "" || r.Owner == "" || r.Repository == "" || strings.Contains(r.Repository, "/") {
			t.Errorf("ParseRemote(%q) = %+v: incomplete", s, r)
		}
		if strings.Contains(r.Host, "@") {
			t.Errorf("ParseRemote(%q) host %q keeps user information", s, r.Host)
		}
	})
}

func FuzzGitHubEvent(f *testing.F) {
	for _, name := range []string{"github-pr", "github-pr-fork", "github-push", "github-pr-corrupt-event"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".event.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		vars := map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "o/r", "GITHUB_REF": "refs/pull/1/merge",
			"GITHUB_EVENT_NAME": "pull_request", "GITHUB_SHA": "x", "GITHUB_RUN_ID": "1", "GITHUB_JOB": "j",
			"GITHUB_EVENT_PATH": "/e",
		}
		e := Env{
			Getenv:   func(k string) string { return vars[k] },
			ReadFile: func(string) ([]byte, error) { return data, nil },
			Git:      func(string, ...string) (string, error) { return "", errors.New("no git") },
		}
		info, err := e.Detect()
		if err == nil && info.Event != EventPullRequest {
			t.Errorf("event %q", info.Event)
		}
	})
}
