// Package validate checks examples/k8s/benchmark-job.yaml offline against
// Kubernetes' own API types (k8s.io/api, from which the API server's OpenAPI
// schema is generated): every field known, every value of the right type;
// and with kubectl's own validation against the published OpenAPI schema,
// served by a local stub API server (kubectl_test.go, docs/scaling.md). It
// is a module of its own so that the runner's go.mod carries no Kubernetes
// dependency; `make test` runs it.
package validate

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// decode strictly decodes each YAML document of data into the type of its
// kind.
func decode(t *testing.T, data string) (jobs []*batchv1.Job, secrets []*corev1.Secret, err error) {
	for _, doc := range strings.Split(data, "\n---\n") {
		var head struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
			return nil, nil, err
		}
		switch head.APIVersion + " " + head.Kind {
		case "batch/v1 Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict([]byte(doc), &j); err != nil {
				return nil, nil, err
			}
			jobs = append(jobs, &j)
		case "v1 Secret":
			var s corev1.Secret
			if err := yaml.UnmarshalStrict([]byte(doc), &s); err != nil {
				return nil, nil, err
			}
			secrets = append(secrets, &s)
		default:
			t.Fatalf("unexpected %s %s", head.APIVersion, head.Kind)
		}
	}
	return jobs, secrets, nil
}

func TestBenchmarkJobManifest(t *testing.T) {
	data, err := os.ReadFile("../benchmark-job.yaml")
	if err != nil {
		t.Fatal(err)
	}
	jobs, secrets, err := decode(t, string(data))
	if err != nil {
		t.Fatalf("benchmark-job.yaml: %v", err)
	}
	if len(jobs) != 3 || len(secrets) != 1 {
		t.Fatalf("%d jobs and %d secrets, want 3 and 1", len(jobs), len(secrets))
	}
	// The capabilities each mode adds to the runtime's default set, as
	// `codspeed container-options` adds them (docs/docker.md).
	want := map[string][]string{"simulation": {}, "walltime": {"PERFMON"}, "memory": {"BPF", "PERFMON"}}
	for _, j := range jobs {
		s := j.Spec
		if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion || s.Completions == nil {
			t.Fatalf("%s: not an Indexed Job with completions", j.Name)
		}
		c := s.Template.Spec.Containers[0]
		env := map[string]string{}
		for _, e := range c.Env {
			env[e.Name] = e.Value
		}
		if env["CODSPEED_SHARD_TOTAL"] != strconv.Itoa(int(*s.Completions)) {
			t.Errorf("%s: CODSPEED_SHARD_TOTAL %q does not match completions %d", j.Name, env["CODSPEED_SHARD_TOTAL"], *s.Completions)
		}
		if env["CODSPEED_RUN_ID"] == "" || env["CODSPEED_UPLOAD_URL"] == "" {
			t.Errorf("%s: no run id or upload URL", j.Name)
		}
		mode := c.Args[slices.Index(c.Args, "--mode")+1]
		var caps []string
		for _, cp := range c.SecurityContext.Capabilities.Add {
			caps = append(caps, string(cp))
		}
		if w, ok := want[mode]; !ok || strings.Join(caps, ",") != strings.Join(w, ",") {
			t.Errorf("%s: mode %s adds capabilities %v, want %v", j.Name, mode, caps, want[mode])
		}
		if p := s.Template.Spec.SecurityContext.SeccompProfile; p == nil || p.Type != corev1.SeccompProfileTypeLocalhost {
			t.Errorf("%s: no Localhost seccomp profile", j.Name)
		}
	}
	// The check can fail: a misspelt field and a wrong type are refused.
	for _, bad := range []string{
		strings.Replace(string(data), "completionMode:", "completionMod:", 1),
		strings.Replace(string(data), "completions: 3", "completions: three", 1),
	} {
		if _, _, err := decode(t, bad); err == nil {
			t.Error("a broken manifest was accepted")
		}
	}
}
