package ci

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
)

// The credentials a CI job may hold, which the benchmark (the code under
// test, possibly a pull request's) must never see. This is the one list;
// docs/security.md documents it.
var (
	// credentialNames are removed by exact name.
	credentialNames = map[string]string{
		// codspeed-go itself.
		"CODSPEED_TOKEN":        "the upload token",
		"CODSPEED_GITLAB_TOKEN": "the GitLab template's token for merge request comments",
		// GitHub Actions.
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "mints GitHub OIDC tokens (with _URL)",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   "mints GitHub OIDC tokens (with _TOKEN)",
		"ACTIONS_RUNTIME_TOKEN":          "the runner's token for caches and artifacts",
		"ACTIONS_RUNTIME_URL":            "where ACTIONS_RUNTIME_TOKEN is accepted",
		"ACTIONS_CACHE_URL":              "the cache service ACTIONS_RUNTIME_TOKEN writes to",
		"ACTIONS_RESULTS_URL":            "the results service ACTIONS_RUNTIME_TOKEN writes to",
		"GITHUB_TOKEN":                   "the repository token, when a workflow exports it",
		"GH_TOKEN":                       "the repository token, as the gh CLI reads it",
		// GitLab CI.
		"CI_JOB_TOKEN":                 "the job's API and registry token",
		"CI_REPOSITORY_URL":            "the clone URL, which embeds CI_JOB_TOKEN",
		"CI_REGISTRY_PASSWORD":         "the container registry password (the job token)",
		"CI_DEPLOY_PASSWORD":           "the gitlab-deploy-token password",
		"CI_DEPENDENCY_PROXY_PASSWORD": "the dependency proxy password",
		// Buildkite.
		"BUILDKITE_AGENT_ACCESS_TOKEN":  "the agent's token (meta-data, artifacts, OIDC tokens)",
		"BUILDKITE_AGENT_TOKEN":         "the agent registration token",
		"BUILDKITE_AGENT_JOB_API_TOKEN": "the job API token (rewrites the job's environment)",
	}
	// credentialPrefixes are removed by name prefix.
	credentialPrefixes = map[string]string{
		"CI_JOB_JWT": "GitLab's deprecated job JWTs (CI_JOB_JWT, _V1, _V2)",
	}
)

// IsCredential reports whether the variable name=value is a CI credential
// that the benchmark must not inherit: a name of the list above; a Jenkins
// username-password binding's password (NAME_PSW beside NAME_USR, as
// `environment { NAME = credentials('id') }` sets them, so has tells whether
// a name is set); or any value that is a JSON Web Token, which is how GitLab's
// ID tokens (`id_tokens:`, named by the user) and other OIDC tokens are
// recognised whatever their name.
func IsCredential(name, value string, has func(name string) bool) bool {
	if _, ok := credentialNames[name]; ok {
		return true
	}
	for p := range credentialPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	if base, ok := strings.CutSuffix(name, "_PSW"); ok && base != "" && has != nil && has(base+"_USR") {
		return true
	}
	return LooksLikeJWT(value)
}

// WithoutCredentials returns env (KEY=VALUE entries) without the entries
// IsCredential recognises, and the names it removed.
func WithoutCredentials(env []string) (kept []string, removed []string) {
	names := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names[k] = true
	}
	has := func(n string) bool { return names[n] }
	kept = make([]string, 0, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if IsCredential(k, v, has) {
			removed = append(removed, k)
			continue
		}
		kept = append(kept, kv)
	}
	return kept, removed
}

// LooksLikeJWT reports whether s is a JSON Web Token in compact form: three
// base64url segments whose first decodes to a JSON object with an "alg"
// member (RFC 7519 §3, RFC 7515 §4.1.1). An ordinary value with two dots
// fails the header test.
func LooksLikeJWT(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 20 || !strings.HasPrefix(s, "eyJ") {
		// "eyJ" is base64url for `{"`, how every JOSE header starts.
		return false
	}
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[1] == "" {
		return false
	}
	for _, p := range parts {
		for _, c := range p {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return false
	}
	var h map[string]any
	if json.Unmarshal(header, &h) != nil {
		return false
	}
	_, ok := h["alg"]
	return ok
}

// CredentialNames lists the variables removed by name and prefix (a
// trailing * marks a prefix), sorted, for documentation and tests.
func CredentialNames() []string {
	out := make([]string, 0, len(credentialNames)+len(credentialPrefixes))
	for n := range credentialNames {
		out = append(out, n)
	}
	for p := range credentialPrefixes {
		out = append(out, p+"*")
	}
	sort.Strings(out)
	return out
}
