package ci

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotGitRepository is returned (wrapped) for a local run outside a git
// checkout: results are keyed by commit, so there is nothing to key them by.
var ErrNotGitRepository = errors.New("not in a git repository (run inside a git checkout, or commit first)")

// local describes a run on a developer's machine from its git checkout.
// CODSPEED_REPOSITORY ("owner/name") overrides the origin remote and
// CODSPEED_PROVIDER ("github" or "gitlab") the repository provider, as the
// --repository and --provider flags do in CodSpeed's runner. CODSPEED_RUN_ID
// names the run the upload is a part of.
func (e Env) local() (*Info, error) {
	top, err := e.Git(e.Dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, fmt.Errorf("local run in %s: %w: %v", e.Dir, ErrNotGitRepository, err)
	}
	commit, err := e.Git(top, "rev-parse", "HEAD")
	if err != nil {
		return nil, fmt.Errorf("local run in %s: no commit yet: %w", top, err)
	}
	info := &Info{
		Provider:           Local,
		RepositoryProvider: ProviderProject,
		CommitHash:         commit,
		Event:              EventLocal,
		JobName:            "local-job",
		RepositoryRootPath: withSlash(top),
		// CODSPEED_RUN_ID makes several invocations outside a CI engine
		// (the pods of a Kubernetes Indexed Job) parts of one run.
		RunID: e.Getenv("CODSPEED_RUN_ID"),
	}
	if branch, err := e.Git(top, "symbolic-ref", "--short", "-q", "HEAD"); err == nil && branch != "" {
		info.Ref = "refs/heads/" + branch
		info.HeadRef = branch
	} else {
		// Detached HEAD: the commit is the only name there is.
		info.Ref = commit
	}
	if repo := e.Getenv("CODSPEED_REPOSITORY"); repo != "" {
		owner, name, ok := strings.Cut(repo, "/")
		if !ok || owner == "" || name == "" {
			return nil, fmt.Errorf("CODSPEED_REPOSITORY %q is not owner/name", repo)
		}
		info.Owner, info.Repository = owner, name
	} else if url, err := e.Git(top, "remote", "get-url", "origin"); err == nil && url != "" {
		if r, err := ParseRemote(url); err == nil {
			info.Owner, info.Repository = r.Owner, r.Repository
			info.RepositoryProvider = r.RepositoryProvider()
		}
	}
	switch p := strings.ToLower(e.Getenv("CODSPEED_PROVIDER")); p {
	case "":
	case "github":
		info.RepositoryProvider = ProviderGitHub
	case "gitlab":
		info.RepositoryProvider = ProviderGitLab
	default:
		return nil, fmt.Errorf("CODSPEED_PROVIDER %q: want github or gitlab", p)
	}
	if info.Repository == "" {
		// No usable remote: name the project after its directory.
		parts := strings.Split(strings.TrimRight(top, "/"), "/")
		info.Repository = parts[len(parts)-1]
	}
	return info, nil
}
