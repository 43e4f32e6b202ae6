package ci_test

import (
	"fmt"
	"os"

	"github.com/codspeed-go/codspeed-go/internal/ci"
)

// Detection from a recorded GitLab merge request environment, then a log
// group in GitLab's syntax.
func ExampleEnv_Detect() {
	vars := map[string]string{
		"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_PROJECT_NAMESPACE": "perf",
		"CI_PROJECT_NAME": "app", "CI_COMMIT_SHA": "5c4b3a2918077e6d5c4b3a29180776f5e4d3c2b1", "CI_JOB_NAME": "bench",
		"CI_PIPELINE_ID": "77", "CI_MERGE_REQUEST_IID": "12", "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "fast",
		"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
	}
	env := ci.Env{Getenv: func(k string) string { return vars[k] }, ReadFile: os.ReadFile, Git: ci.ExecGit, Dir: "."}
	info, err := env.Detect()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Provider, info.Event, info.Ref, info.HeadRef, "->", info.BaseRef)

	plain := &ci.Info{Provider: ci.Local}
	plain.GroupStart(os.Stdout, "Running benchmarks")
	plain.GroupEnd(os.Stdout)
	// Output:
	// GITLAB_CI pull_request refs/pull/12/merge fast -> main
	// ==> Running benchmarks
}
