package upload

import (
	"encoding/json"
	"testing"
)

// TestMetadataGolden pins the JSON shape sent for a GitHub pull request and
// for a local run (nulls where CodSpeed sends null).
func TestMetadataGolden(t *testing.T) {
	b := &Bundle{MD5: "jp/k05RKuqP3ERQuIIvx4Q==", Encoding: "gzip"}
	md := NewMetadata(prInfo(), testRunner(), b, &RunPart{RunID: "11893460077", RunPartID: "benchmarks", JobName: "benchmarks", Metadata: map[string]string{"mode": "simulation"}}, false, false)
	got, _ := json.MarshalIndent(md, "", "  ")
	golden(t, "metadata-github-pr.golden.json", append(got, '\n'))

	local := &Source{Provider: "LOCAL", RepositoryProvider: "PROJECT", Repository: "myproject", Ref: "refs/heads/main",
		HeadRef: "main", Event: "local", CommitHash: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", RepositoryRootPath: "/home/me/myproject/"}
	r := testRunner()
	r.Executor = ExecutorWalltime
	md = NewMetadata(local, r, &Bundle{MD5: "tfC4VxYiYdJcTWpHpv4Ouw=="}, nil, true, true)
	got, _ = json.MarshalIndent(md, "", "  ")
	golden(t, "metadata-local.golden.json", append(got, '\n'))
}
