package orchestrate

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrNoRunnerBinary is wrapped when no static codspeed binary for the
// benchmark image's architecture can be found to inject into its containers.
var ErrNoRunnerBinary = errors.New("no static codspeed binary for the image's architecture")

// RunnerBinaryName is the name a cross-built runner binary has beside the
// running one (what `make build-linux` writes: bin/codspeed-linux-amd64 and
// bin/codspeed-linux-arm64).
func RunnerBinaryName(arch string) string { return "codspeed-linux-" + arch }

// FindRunner picks the binary injected into benchmark containers of
// architecture arch (GOARCH spelling: amd64, arm64): exe itself when it is a
// static executable of that architecture (any image can run it, whatever its
// libc), else codspeed-linux-<arch> beside exe or in a bin/ folder beside it,
// when that one is static and of the right architecture. The error wraps
// ErrNoRunnerBinary and says what was tried and how to build one.
func FindRunner(exe, arch string) (string, error) {
	candidates := []string{exe}
	dir := filepath.Dir(exe)
	candidates = append(candidates,
		filepath.Join(dir, RunnerBinaryName(arch)),
		filepath.Join(dir, "bin", RunnerBinaryName(arch)))
	var tried []error
	for _, c := range candidates {
		got, static, err := elfInfo(c)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			tried = append(tried, err)
		case got != arch:
			tried = append(tried, fmt.Errorf("%s is for %s", c, got))
		case !static:
			tried = append(tried, fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", c))
		default:
			return c, nil
		}
	}
	return "", fmt.Errorf("%w (%s): %v; build one with `make build-linux` (CGO_ENABLED=0 GOARCH=%s go build -o %s ./cmd/codspeed)",
		ErrNoRunnerBinary, arch, errors.Join(tried...), arch, filepath.Join(dir, RunnerBinaryName(arch)))
}

// elfInfo reads an executable's architecture (GOARCH spelling) and whether
// it is static: no program interpreter, so it runs in an image without a
// dynamic loader or with another libc.
func elfInfo(path string) (arch string, static bool, err error) {
	f, err := elf.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", false, err
		}
		return "", false, fmt.Errorf("%s: not an ELF executable: %w", path, err)
	}
	defer f.Close()
	switch f.Machine {
	case elf.EM_X86_64:
		arch = "amd64"
	case elf.EM_AARCH64:
		arch = "arm64"
	case elf.EM_386:
		arch = "386"
	case elf.EM_ARM:
		arch = "arm"
	case elf.EM_RISCV:
		arch = "riscv64"
	case elf.EM_PPC64:
		arch = "ppc64le"
	case elf.EM_S390:
		arch = "s390x"
	default:
		arch = f.Machine.String()
	}
	static = true
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			static = false
		}
	}
	return arch, static, nil
}

// normalizeArch maps the architecture names engines and images report to
// GOARCH spelling.
func normalizeArch(a string) string {
	switch a {
	case "x86_64", "x86-64":
		return "amd64"
	case "aarch64", "arm64/v8":
		return "arm64"
	}
	return a
}
