// Package images holds the tests of the image builds: the root Dockerfile
// built as a user builds it (`docker build .` on a fresh clone, BuildKit and
// the classic builder) and `make publish` to a real registry. The Dockerfiles
// beyond the root one live in this folder (go, c).
//
// They need a Docker engine with golang:1.26-bookworm and debian:bookworm-slim
// (scripts/docker-engine.sh start makes both offline), buildx for BuildKit,
// and Debian's docker-registry; .ci/run provides all of them, so in CI a
// missing one fails these tests (testenv.Missing).
package images

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/codspeed-go/codspeed-go/testenv"
)

var started = time.Now()

func TestMain(m *testing.M) {
	code := m.Run()
	// The classic builder keeps each build's first stage as an untagged
	// image; the tests leave none of theirs.
	exec.Command("docker", "image", "prune", "-f", "--filter", "label=org.codspeed-go.stage=build").Run()
	os.Exit(code)
}

// needEngine starts the engine and the standard images with
// scripts/docker-engine.sh when CODSPEED_DOCKER_TESTS=1, and checks that
// an engine answers.
func needEngine(t *testing.T) {
	t.Helper()
	if os.Getenv("CODSPEED_DOCKER_TESTS") == "1" {
		if out, err := exec.Command("../scripts/docker-engine.sh", "start").CombinedOutput(); err != nil {
			t.Fatalf("scripts/docker-engine.sh start: %v\n%s", err, out)
		}
	}
	if err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").Run(); err != nil {
		testenv.Missing(t, "no Docker engine answers (CODSPEED_DOCKER_TESTS=1 starts one)")
	}
	for _, img := range []string{"debian:bookworm-slim", "golang:1.26-bookworm"} {
		if err := exec.Command("docker", "image", "inspect", img).Run(); err != nil {
			testenv.Missing(t, "no %s image (scripts/docker-engine.sh start makes it)", img)
		}
	}
}

// freshClone copies the files git tracks, as they are in the working tree,
// to a new folder: what a clone of this commit holds.
func freshClone(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cp := exec.Command("sh", "-c", `git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1"`, "sh", dir)
	cp.Dir = ".."
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("copy the tracked files: %v\n%s", err, out)
	}
	return dir
}

var imageID = regexp.MustCompile(`^(sha256:)?[0-9a-f]{12,64}$`)

// builderContainers lists the containers made from an untagged image: a
// build's (the classic builder runs each step in one, made from the
// previous step's image). Containers of other tests run named images.
func builderContainers(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Image}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		id, img, ok := strings.Cut(l, " ")
		if ok && imageID.MatchString(img) {
			ids = append(ids, id)
		}
	}
	return ids
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func removeImages(refs ...string) {
	for _, r := range refs {
		exec.Command("docker", "rmi", r).Run()
	}
}

// TestDockerBuildFreshClone: `docker build .` on a fresh clone, with no
// build argument and only the two standard images present, builds the runner
// from source with BuildKit and with the classic builder, and leaves no
// container behind.
func TestDockerBuildFreshClone(t *testing.T) {
	needEngine(t)
	src := freshClone(t)
	for _, b := range []struct{ name, buildkit string }{{"classic", "0"}, {"buildkit", "1"}} {
		t.Run(b.name, func(t *testing.T) {
			if b.buildkit == "1" {
				if err := exec.Command("docker", "buildx", "version").Run(); err != nil {
					testenv.Missing(t, "no docker buildx plugin: the docker CLI builds with BuildKit only through it (.ci/run installs it)")
				}
			}
			before := builderContainers(t)
			tag := "codspeed-go-test/fresh-clone:" + b.name
			t.Cleanup(func() { removeImages(tag) })
			start := time.Now()
			run(t, src, []string{"DOCKER_BUILDKIT=" + b.buildkit}, "docker", "build", "-t", tag, ".")
			t.Logf("%s build: %v", b.name, time.Since(start).Round(time.Second))
			if after := builderContainers(t); !slices.Equal(before, after) {
				t.Errorf("build containers before the build %v, after %v", before, after)
			}
			if out := run(t, src, nil, "docker", "run", "--rm", tag, "version"); strings.TrimSpace(out) != "codspeed-go dev" {
				t.Errorf("codspeed version in the image: %q, want the Dockerfile's default version", out)
			}
			var cfg struct {
				Architecture string
				Config       struct{ Labels map[string]string }
			}
			if err := json.Unmarshal([]byte(run(t, src, nil, "docker", "image", "inspect", "--format", "{{json .}}", tag)), &cfg); err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{
				"org.opencontainers.image.title":   "codspeed-go",
				"org.opencontainers.image.version": "dev",
				"org.opencontainers.image.source":  "https://github.com/codspeed-go/codspeed-go",
			} {
				if got := cfg.Config.Labels[k]; got != want {
					t.Errorf("label %s = %q, want %q", k, got, want)
				}
			}
			// The runner carries its instruments and its allocation counter
			// (compiled in the build stage and embedded in the binary, whose
			// embedded files keep their names; the code only names a prefix).
			out := run(t, src, nil, "docker", "run", "--rm", "--entrypoint", "sh", tag, "-c",
				"for c in valgrind perf git; do command -v $c; done && grep -c memtrack_preload_"+cfg.Architecture+".so /usr/local/bin/codspeed || echo no-preload")
			for _, want := range []string{"/usr/bin/valgrind", "/usr/bin/perf", "/usr/bin/git"} {
				if !strings.Contains(out, want) {
					t.Errorf("image lacks %s:\n%s", want, out)
				}
			}
			if strings.Contains(out, "no-preload") {
				t.Errorf("the runner in the image has no %s allocation counter embedded", cfg.Architecture)
			}
		})
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestMakePublish: `make publish` pushes the runner and its variants to
// Debian's docker-registry on a loopback port, each as one OCI image index
// naming linux/amd64 and linux/arm64; the image pulled back runs `codspeed
// version` with the version it was built with, on both platforms (arm64
// under qemu-user).
func TestMakePublish(t *testing.T) {
	needEngine(t)
	reg, err := exec.LookPath("docker-registry")
	if err != nil {
		testenv.Missing(t, "no docker-registry (Debian's package of the same name; .ci/run installs it)")
	}
	dir := t.TempDir()
	port := freePort(t)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%d\n", filepath.Join(dir, "data"), port)
	os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o644)
	var regLog bytes.Buffer
	srv := exec.Command(reg, "serve", filepath.Join(dir, "config.yml"))
	srv.Stdout, srv.Stderr = &regLog, &regLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d/v2/", port)
	for i := 0; ; i++ {
		if r, err := http.Get(base); err == nil {
			r.Body.Close()
			break
		}
		if i > 50 {
			t.Fatalf("docker-registry does not answer on %s:\n%s", base, regLog.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	const version = "v0.0.0-publish-test"
	local := "codspeed-go-test/publish"
	repo := fmt.Sprintf("127.0.0.1:%d/codspeed-go", port)
	var locals []string
	for _, v := range []string{"latest", "go", "c"} {
		locals = append(locals, local+":"+v, local+":"+v+"-arm64")
	}
	pulled := []string{repo + ":" + version, repo + ":" + version + "-go", repo + ":" + version + "-c"}
	t.Cleanup(func() { removeImages(append(locals, pulled...)...) })
	start := time.Now()
	run(t, "..", []string{"CODSPEED_IMAGE_TAG=" + local}, "make", "publish", "IMAGE="+repo, "TAG="+version, "VERSION="+version)
	t.Logf("make publish (3 variants, 2 platforms): %v", time.Since(start).Round(time.Second))

	for _, ref := range pulled {
		tag := ref[strings.LastIndex(ref, ":")+1:]
		req, _ := http.NewRequest("GET", base+"codspeed-go/manifests/"+tag, nil)
		req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var idx struct {
			MediaType string
			Manifests []struct {
				MediaType string
				Platform  struct{ OS, Architecture string }
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&idx)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: HTTP %d, %v", ref, resp.StatusCode, err)
		}
		if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
			t.Errorf("%s: media type %q, want an OCI image index", ref, idx.MediaType)
		}
		var plats []string
		for _, m := range idx.Manifests {
			plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
		}
		slices.Sort(plats)
		if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64"}) {
			t.Errorf("%s: platforms %v, want linux/amd64 and linux/arm64", ref, plats)
		}
	}
	// No tag but the three indexes: the platforms' images are pushed by digest.
	resp, err := http.Get(base + "codspeed-go/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	var tags struct{ Tags []string }
	json.NewDecoder(resp.Body).Decode(&tags)
	resp.Body.Close()
	slices.Sort(tags.Tags)
	if want := []string{version, version + "-c", version + "-go"}; !slices.Equal(tags.Tags, want) {
		t.Errorf("registry tags %v, want %v", tags.Tags, want)
	}

	// Pulled back from the registry (the local copies removed first), each
	// platform runs the version it was built with.
	removeImages(locals...)
	for _, plat := range []string{"linux/amd64", "linux/arm64"} {
		run(t, "..", nil, "docker", "pull", "-q", "--platform", plat, pulled[0])
		out := run(t, "..", nil, "docker", "run", "--rm", "--platform", plat, pulled[0], "version")
		if !strings.Contains(out, "codspeed-go "+version) {
			t.Errorf("%s %s: codspeed version said %q", plat, pulled[0], out)
		}
		arch := strings.TrimSpace(run(t, "..", nil, "docker", "image", "inspect", "--format", "{{.Architecture}}", pulled[0]))
		if "linux/"+arch != plat {
			t.Errorf("pulled %s for %s, image says %s", pulled[0], plat, arch)
		}
		removeImages(pulled[0])
	}
	run(t, "..", nil, "docker", "pull", "-q", pulled[1])
	if out := run(t, "..", nil, "docker", "run", "--rm", "--entrypoint", "go", pulled[1], "version"); !strings.Contains(out, "go1.26") {
		t.Errorf("%s: go version said %q", pulled[1], out)
	}
	run(t, "..", nil, "docker", "pull", "-q", pulled[2])
	if out := run(t, "..", nil, "docker", "run", "--rm", "--entrypoint", "sh", pulled[2], "-c", "make --version && gcc --version && cmake --version && curl --version && codspeed version"); !strings.Contains(out, "codspeed-go "+version) {
		t.Errorf("%s: %q", pulled[2], out)
	}
}
