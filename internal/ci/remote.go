package ci

import (
	"fmt"
	"net/url"
	"strings"
)

// Remote is a git remote URL split into the parts the upload metadata needs.
type Remote struct {
	Host string
	// Owner is everything before the last path element, so GitLab subgroups
	// ("group/subgroup") stay whole.
	Owner      string
	Repository string
}

// RemoteError says why a remote URL could not be split.
type RemoteError struct {
	URL string
	Msg string
}

func (e *RemoteError) Error() string { return fmt.Sprintf("git remote %q: %s", e.URL, e.Msg) }

// ParseRemote splits a git remote URL in any of the forms git accepts:
// https://host/owner/repo(.git), ssh://[user@]host[:port]/owner/repo,
// and scp-like [user@]host:owner/repo. Credentials embedded in the URL are
// dropped and never appear in the result, nor in the error (which carries the
// URL with its user information removed).
func ParseRemote(raw string) (Remote, error) {
	s := strings.TrimSpace(raw)
	var host, path string
	if i := strings.Index(s, "://"); i >= 0 {
		u, err := url.Parse(s)
		if err != nil {
			return Remote{}, &RemoteError{URL: stripUserinfo(s), Msg: "not a URL"}
		}
		host, path = u.Hostname(), u.Path
	} else if colon := strings.Index(s, ":"); colon > 0 && !strings.Contains(s[:colon], "/") {
		// scp-like syntax: [user@]host:path
		host = s[:colon]
		if at := strings.LastIndex(host, "@"); at >= 0 {
			host = host[at+1:]
		}
		path = s[colon+1:]
	} else {
		return Remote{}, &RemoteError{URL: stripUserinfo(s), Msg: "a local path names no owner and repository"}
	}
	path = strings.Trim(path, "/")
	path = strings.TrimSuffix(path, ".git")
	slash := strings.LastIndex(path, "/")
	if host == "" || slash <= 0 || slash == len(path)-1 {
		return Remote{}, &RemoteError{URL: stripUserinfo(s), Msg: "want host/owner/repository"}
	}
	return Remote{Host: strings.ToLower(host), Owner: path[:slash], Repository: path[slash+1:]}, nil
}

// RepositoryProvider maps the remote's host to GITHUB, GITLAB or PROJECT.
// Self-hosted GitLab instances are commonly named gitlab.<domain>, so any
// host whose first label is "gitlab" counts as GitLab.
func (r Remote) RepositoryProvider() string {
	switch {
	case r.Host == "github.com":
		return ProviderGitHub
	case r.Host == "gitlab.com" || strings.HasPrefix(r.Host, "gitlab."):
		return ProviderGitLab
	}
	return ProviderProject
}

// stripUserinfo removes "user:password@" from a URL-looking string so that a
// token embedded in a remote never reaches an error message.
func stripUserinfo(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		return s[:i+3] + rest[at+1:]
	}
	return s
}
