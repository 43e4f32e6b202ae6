package upload_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/codspeed-go/codspeed-go/results/upload"
)

// An upload end to end, against a stand-in for the CodSpeed API that
// answers the metadata POST with a pre-signed URL on itself.
func Example() {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			fmt.Fprintf(w, `{"status":"success","runId":"run-1","uploadUrl":%q}`, srv.URL+"/archive")
		}
	}))
	defer srv.Close()

	profile, _ := os.MkdirTemp("", "profile")
	defer os.RemoveAll(profile)
	os.MkdirAll(filepath.Join(profile, "results"), 0o755)
	os.WriteFile(filepath.Join(profile, "results", "1.json"), []byte(`{"benchmarks":[]}`), 0o644)

	bundle, err := upload.Archive(profile, false)
	if err != nil {
		fmt.Println(err)
		return
	}
	info := &upload.Source{Provider: "LOCAL", RepositoryProvider: "PROJECT", Repository: "demo",
		Ref: "refs/heads/main", Event: "local", CommitHash: "0123456789abcdef0123456789abcdef01234567"}
	runner := upload.RunnerMetadata("codspeed-go", "0.1.0", upload.ExecutorWalltime, nil)
	part := &upload.RunPart{RunID: "local-1", RunPartID: upload.PartID("walltime", 0), JobName: ""}
	md := upload.NewMetadata(info, runner, bundle, part, false, false)

	resp, err := upload.Upload(context.Background(), upload.Options{
		URL: srv.URL + "/upload", Token: "my-secret-token", UserAgent: "codspeed-go/0.1.0",
	}, md, bundle)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Status, resp.RunID)
	// Output: success run-1
}
