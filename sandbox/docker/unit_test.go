package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox/docker/internal/perfseccomp"
	"github.com/codspeed-go/codspeed-go/testenv"
)

func TestPlanCapabilities(t *testing.T) {
	tests := []struct {
		mode, api string
		add       []string
		fallback  bool
		reasonHas string
	}{
		{results.Simulation, "1.41", []string{}, false, "no capability"},
		{results.Simulation, "1.51", []string{}, false, "no capability"},
		{results.Walltime, "1.41", []string{"CAP_SYS_ADMIN"}, true, "rejects CAP_PERFMON/CAP_BPF"},
		{results.Walltime, "1.42", []string{"CAP_PERFMON"}, false, "knows CAP_PERFMON"},
		{results.Walltime, "1.51", []string{"CAP_PERFMON"}, false, "knows CAP_PERFMON"},
		{results.Memory, "1.40", []string{"CAP_SYS_ADMIN"}, true, "stands in for [CAP_BPF CAP_PERFMON]"},
		{results.Memory, "1.44", []string{"CAP_BPF", "CAP_PERFMON"}, false, "eBPF"},
		{results.Walltime, "", []string{"CAP_SYS_ADMIN"}, true, "rejects"},
	}
	for _, tt := range tests {
		t.Run(tt.mode+"@"+tt.api, func(t *testing.T) {
			p, err := PlanCapabilities(tt.mode, tt.api)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.Add, tt.add) || p.Fallback != tt.fallback {
				t.Errorf("got add=%v fallback=%v, want add=%v fallback=%v", p.Add, p.Fallback, tt.add, tt.fallback)
			}
			if !strings.Contains(p.Reason, tt.reasonHas) {
				t.Errorf("reason %q does not mention %q", p.Reason, tt.reasonHas)
			}
		})
	}
	if _, err := PlanCapabilities("turbo", "1.41"); !errors.Is(err, ErrUnknownMode) {
		t.Errorf("unknown mode: got %v, want ErrUnknownMode", err)
	}
}

func TestContainerConfigFromSpec(t *testing.T) {
	base := &specs.Spec{Process: &specs.Process{Env: []string{"A=1"}}, Annotations: map[string]string{AnnotationRun: "run-1"}}
	ro := RunOptions{
		Image:         "bench:latest",
		RunnerBinary:  "/opt/codspeed-linux-amd64",
		RunnerArgs:    []string{"exec", "--profile-folder", ProfileDir, "--", "./bench"},
		ProfileVolume: "/tmp/profile",
		Workspace:     &Mount{Source: "/home/me/src", Target: "/src"},
		CPUs:          "1",
		MemoryLimit:   256 << 20,
		CgroupParent:  "/codspeed",
		Mode:          results.Walltime,
	}
	plan, err := PlanCapabilities(ro.Mode, "1.41")
	if err != nil {
		t.Fatal(err)
	}
	s, err := EffectiveSpec(base, ro, plan)
	if err != nil {
		t.Fatal(err)
	}
	if base.Process.Args != nil || base.Mounts != nil {
		t.Fatal("EffectiveSpec modified its base")
	}
	cfg, hc, err := ContainerConfig(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := append(cfg.Entrypoint, cfg.Cmd...), append([]string{RunnerPath}, ro.RunnerArgs...); !slices.Equal(got, want) {
		t.Errorf("argv %v, want %v", got, want)
	}
	if cfg.Labels[AnnotationRun] != "run-1" || cfg.Labels[labelSandbox] != "docker" {
		t.Errorf("labels %v", cfg.Labels)
	}
	if cfg.WorkingDir != "/src" || cfg.Image != "bench:latest" || !slices.Equal(cfg.Env, []string{"A=1"}) {
		t.Errorf("config %+v", cfg)
	}
	if hc.Privileged || hc.NetworkMode != "none" || hc.CpusetCpus != "1" || hc.Memory != 256<<20 ||
		hc.MemorySwap != 256<<20 || hc.CgroupParent != "/codspeed" || hc.PidMode != "" {
		t.Errorf("host config %+v", hc)
	}
	if !slices.Equal(hc.CapAdd, []string{"CAP_SYS_ADMIN"}) || len(hc.CapDrop) != 0 {
		t.Errorf("caps add=%v drop=%v", hc.CapAdd, hc.CapDrop)
	}
	mounts := map[string]bool{}
	for _, m := range hc.Mounts {
		mounts[m.Source+":"+m.Target+":"+map[bool]string{true: "ro", false: "rw"}[m.ReadOnly]] = true
	}
	for _, want := range []string{"/opt/codspeed-linux-amd64:" + RunnerPath + ":ro", "/tmp/profile:" + ProfileDir + ":rw", "/home/me/src:/src:rw"} {
		if !mounts[want] {
			t.Errorf("mount %s missing from %v", want, mounts)
		}
	}
	var seccompOpt string
	for _, o := range hc.SecurityOpt {
		if strings.Contains(o, "unconfined") {
			t.Errorf("security opt %q", o)
		}
		if strings.HasPrefix(o, "seccomp=") {
			seccompOpt = o
		}
	}
	if !strings.Contains(seccompOpt, `"perf_event_open"`) || !strings.Contains(seccompOpt, `"bpf"`) {
		t.Error("seccomp profile does not allow perf_event_open and bpf")
	}
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("no-new-privileges missing: %v", hc.SecurityOpt[:1])
	}
}

func TestEffectiveSpecRejects(t *testing.T) {
	plan := CapabilityPlan{}
	for name, ro := range map[string]RunOptions{
		"no image":          {RunnerBinary: "/x"},
		"relative runner":   {Image: "i", RunnerBinary: "bin/codspeed"},
		"args no runner":    {Image: "i", RunnerArgs: []string{"exec"}},
		"no process":        {Image: "i"},
		"relative profile":  {Image: "i", RunnerBinary: "/x", ProfileVolume: "profile"},
		"relative workdir ": {Image: "i", RunnerBinary: "/x", Workspace: &Mount{Source: "/a", Target: "src"}},
	} {
		if _, err := EffectiveSpec(nil, ro, plan); !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("%s: got %v, want ErrInvalidSpec", name, err)
		}
	}
}

// The committed profile must be what the pinned moby/profiles generates
// (go generate ./sandbox/docker rewrites it).
func TestSeccompProfileUpToDate(t *testing.T) {
	want, err := perfseccomp.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if SeccompProfile() != string(want) {
		t.Error("seccomp.json is stale: run go generate ./sandbox/docker")
	}
}

func TestContextTar(t *testing.T) {
	r, err := ContextTar("testdata/context", "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		entry := h.Name
		if h.Typeflag == tar.TypeSymlink {
			entry += " -> " + h.Linkname
		}
		names = append(names, entry)
	}
	got := strings.Join(names, "\n") + "\n"
	testenv.Golden(t, filepath.Join("testdata", "context.golden"), []byte(got))
}

func TestPrintMessages(t *testing.T) {
	tests := []struct {
		name, in, out, err string
	}{
		{"build", `{"stream":"Step 1/2 : FROM x\n"}{"stream":" ---> abc\n"}{"aux":{"ID":"sha256:1"}}`, "Step 1/2 : FROM x\n ---> abc\n", ""},
		{"pull", `{"status":"Pulling from library/x","id":"1"}{"status":"Downloading","progressDetail":{"current":1,"total":9},"id":"l1"}{"status":"Pull complete","progressDetail":{},"id":"l1"}`,
			"1: Pulling from library/x\nl1: Pull complete\n", ""},
		{"error", `{"stream":"Step 1\n"}{"errorDetail":{"message":"RUN failed"},"error":"RUN failed"}`, "Step 1\n", "RUN failed"},
		{"garbage", `{"stream":`, "", "read engine messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := printMessages(strings.NewReader(tt.in), &out)
			if out.String() != tt.out {
				t.Errorf("out %q, want %q", out.String(), tt.out)
			}
			if (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
				t.Errorf("err %v, want %q", err, tt.err)
			}
		})
	}
}

func FuzzPrintMessages(f *testing.F) {
	f.Add(`{"stream":"Step 1/2\n"}{"status":"x","id":"y"}`)
	f.Add(`{"errorDetail":{"message":"boom"}}`)
	f.Add(`{"status":"Downloading","progressDetail":{"current":1,"total":2}}`)
	f.Fuzz(func(t *testing.T, in string) {
		_ = printMessages(strings.NewReader(in), io.Discard)
	})
}
