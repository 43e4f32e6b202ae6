package ci

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func jwt(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc([]byte("signature bytes"))
}

func TestWithoutCredentials(t *testing.T) {
	gitlabID := jwt(`{"alg":"RS256","kid":"k","typ":"JWT"}`, `{"aud":"https://codspeed.io","sub":"project_path:g/p:ref_type:branch:ref:main"}`)
	env := []string{
		"PATH=/usr/bin", "HOME=/home/u", "GOMAXPROCS=1", "GITHUB_SHA=0123", "CI_COMMIT_SHA=abc", "VERSION=1.2.3",
		"CODSPEED_TOKEN=cs", "CODSPEED_GITLAB_TOKEN=glpat",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=req", "ACTIONS_ID_TOKEN_REQUEST_URL=https://token.actions", "ACTIONS_RUNTIME_TOKEN=rt",
		"ACTIONS_RUNTIME_URL=https://rt", "ACTIONS_CACHE_URL=https://cache", "ACTIONS_RESULTS_URL=https://results", "GITHUB_TOKEN=ghs", "GH_TOKEN=ghs",
		"CI_JOB_TOKEN=job", "CI_JOB_JWT=a", "CI_JOB_JWT_V1=b", "CI_JOB_JWT_V2=c", "CI_REGISTRY_PASSWORD=job",
		"CI_DEPLOY_PASSWORD=dp", "CI_DEPENDENCY_PROXY_PASSWORD=pp", "CI_REPOSITORY_URL=https://gitlab-ci-token:job@gitlab.example/g/p.git",
		"BUILDKITE_AGENT_ACCESS_TOKEN=bk", "BUILDKITE_AGENT_TOKEN=bk", "BUILDKITE_AGENT_JOB_API_TOKEN=bk",
		"DEPLOY_USR=bot", "DEPLOY_PSW=hunter2", "LONELY_PSW=kept",
		"MY_ID_TOKEN=" + gitlabID,
		"NOT_JWT=eyJhbGciOiJIUzI1NiJ9.only-two",
		"DOTS=eyJ.x.y",
	}
	kept, removed := WithoutCredentials(env)
	wantKept := []string{"PATH=/usr/bin", "HOME=/home/u", "GOMAXPROCS=1", "GITHUB_SHA=0123", "CI_COMMIT_SHA=abc", "VERSION=1.2.3",
		"DEPLOY_USR=bot", "LONELY_PSW=kept", "NOT_JWT=eyJhbGciOiJIUzI1NiJ9.only-two", "DOTS=eyJ.x.y"}
	if strings.Join(kept, "\n") != strings.Join(wantKept, "\n") {
		t.Errorf("kept:\n%s\nwant:\n%s", strings.Join(kept, "\n"), strings.Join(wantKept, "\n"))
	}
	if len(removed) != len(env)-len(wantKept) {
		t.Errorf("removed %v", removed)
	}
	for _, n := range removed {
		for _, kv := range kept {
			if strings.HasPrefix(kv, n+"=") {
				t.Errorf("%s both kept and removed", n)
			}
		}
	}
}

func TestLooksLikeJWT(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{jwt(`{"alg":"RS256","typ":"JWT"}`, `{"sub":"x"}`), true},
		{jwt(`{"alg":"none"}`, `{}`), true},
		{" " + jwt(`{"alg":"ES256"}`, `{"a":1}`) + "\n", true},
		{jwt(`{"typ":"JWT"}`, `{"sub":"x"}`), false}, // no alg
		{jwt(`["alg"]`, `{}`), false},
		{"eyJhbGciOiJSUzI1NiJ9..sig", false},
		{"1.2.3", false},
		{"eyJ+bad/chars.abc.def==", false},
		{"", false},
	} {
		if got := LooksLikeJWT(tt.v); got != tt.want {
			t.Errorf("LooksLikeJWT(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// TestCredentialsDocumented checks that docs/security.md names every
// variable of the list, so the list and its documentation stay one.
func TestCredentialsDocumented(t *testing.T) {
	doc := readFile(t, "docs/security.md")
	for _, n := range CredentialNames() {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/security.md does not name `%s`", n)
		}
	}
}

func FuzzLooksLikeJWT(f *testing.F) {
	f.Add(jwt(`{"alg":"RS256"}`, `{}`))
	f.Add("eyJ.a.b")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		if LooksLikeJWT(s) && strings.Count(strings.TrimSpace(s), ".") != 2 {
			t.Fatalf("%q: not three segments", s)
		}
	})
}

func readFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
