package validate

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
)

// schemaModule holds Kubernetes' published OpenAPI (v2) document, the API
// server's own /openapi/v2 of that release (api/openapi-spec/swagger.json
// in the kubernetes repository), for the API version the manifest targets
// (k8s.io/api v0.32 here). It comes from the Go module proxy (a 17 MB
// download, once per module cache).
const schemaModule = "k8s.io/kubernetes@v1.32.4"

// TestKubectlValidates runs kubectl's own client-side validation on the
// manifest, with no cluster: kubectl reads the schema from an API server,
// so a local stub serves the published schema and the discovery documents
// of the kinds used, and answers nothing else (`--dry-run=client` sends no
// object). The stub leaves out the fieldValidation parameter, so that
// kubectl validates here instead of leaving it to a server. A manifest
// with a misspelt field must fail, or the check proves nothing.
func TestKubectlValidates(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		missing(t, "kubectl is not installed: %v", err)
	}
	spec := loadSchema(t)
	srv := httptest.NewServer(stubAPIServer(t, spec))
	defer srv.Close()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters:\n- name: stub\n  cluster:\n    server: " + srv.URL +
		"\ncontexts:\n- name: stub\n  context:\n    cluster: stub\n    user: stub\ncurrent-context: stub\nusers:\n- name: stub\n  user: {}\n"
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(file string) (string, error) {
		cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "--cache-dir", t.TempDir(), "create", "--dry-run=client", "--validate=strict", "-o", "name", "-f", file)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("../benchmark-job.yaml")
	if err != nil {
		t.Fatalf("kubectl rejects the manifest: %v\n%s", err, out)
	}
	for _, want := range []string{"secret/codspeed-upload", "job.batch/"} {
		if !strings.Contains(out, want) {
			t.Fatalf("kubectl's dry run does not list %s:\n%s", want, out)
		}
	}
	manifest, err := os.ReadFile("../benchmark-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(manifest), "completionMode:", "completionMod:", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run(bad); err == nil || !strings.Contains(out, "completionMod") {
		t.Fatalf("kubectl accepted a misspelt field (err %v):\n%s", err, out)
	}
}

// missing fails in CI (where .ci/run provides the facility) and skips on a
// developer's machine.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// loadSchema reads the published OpenAPI document, downloading its module
// (`go mod download`) when it is not in the module cache yet.
func loadSchema(t *testing.T) []byte {
	t.Helper()
	out, err := exec.Command("go", "mod", "download", "-json", schemaModule).Output()
	if err != nil {
		missing(t, "go mod download %s: %v", schemaModule, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %s %v", schemaModule, mod.Error, err)
	}
	data, err := os.ReadFile(filepath.Join(mod.Dir, "api", "openapi-spec", "swagger.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// stubAPIServer answers kubectl's discovery and schema requests for the
// kinds the manifest uses (v1 Secret, batch/v1 Job), from spec.
func stubAPIServer(t *testing.T, spec []byte) http.Handler {
	t.Helper()
	// Without the fieldValidation parameter kubectl takes the server for
	// one that cannot validate, and validates on its own.
	var doc map[string]any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range paths {
		for _, op := range p.(map[string]any) {
			opm, ok := op.(map[string]any)
			if !ok {
				continue
			}
			params, _ := opm["parameters"].([]any)
			kept := params[:0]
			for _, prm := range params {
				if m, ok := prm.(map[string]any); ok && m["name"] == "fieldValidation" {
					continue
				}
				kept = append(kept, prm)
			}
			if params != nil {
				opm["parameters"] = kept
			}
		}
	}
	stripped, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := openapi_v2.ParseDocument(stripped)
	if err != nil {
		t.Fatalf("parse the OpenAPI document: %v", err)
	}
	pb, err := proto.Marshal(parsed)
	if err != nil {
		t.Fatal(err)
	}
	resources := func(group string, list ...map[string]any) map[string]any {
		return map[string]any{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group, "resources": list}
	}
	resource := func(name, kind string) map[string]any {
		return map[string]any{"name": name, "singularName": strings.ToLower(kind), "namespaced": true, "kind": kind,
			"verbs": []string{"create", "delete", "get", "list", "patch", "update", "watch"}}
	}
	docs := map[string]any{
		"/api":           map[string]any{"kind": "APIVersions", "versions": []string{"v1"}, "serverAddressByClientCIDRs": []any{}},
		"/apis":          map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": []any{map[string]any{"name": "batch", "versions": []any{map[string]any{"groupVersion": "batch/v1", "version": "v1"}}, "preferredVersion": map[string]any{"groupVersion": "batch/v1", "version": "v1"}}}},
		"/api/v1":        resources("v1", resource("secrets", "Secret")),
		"/apis/batch/v1": resources("batch/v1", resource("jobs", "Job")),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/openapi/v2" {
			w.Header().Set("Content-Type", "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
			w.Write(pb)
			return
		}
		if d, ok := docs[r.URL.Path]; ok && r.Method == http.MethodGet {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(d)
			return
		}
		t.Logf("stub API server: %s %s answered 404", r.Method, r.URL)
		http.NotFound(w, r)
	})
}
