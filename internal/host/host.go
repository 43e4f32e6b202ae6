// Package host describes the machine a run happens on.
package host

import (
	"bufio"
	"os"
	"runtime"
	"strings"

	"github.com/codspeed-go/codspeed-go/results"
)

// Info returns the host's OS, architecture, CPU model and core count.
func Info() results.HostInfo {
	return results.HostInfo{OS: runtime.GOOS, Arch: runtime.GOARCH, CPU: cpuModel(), Cores: runtime.NumCPU()}
}

// Arch is the architecture as uname names it (x86_64, aarch64), which is what
// CodSpeed passes as ARCH and what setarch expects.
func Arch() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	}
	return runtime.GOARCH
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, ok := strings.Cut(s.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name", "Model", "cpu model":
			return strings.TrimSpace(v)
		}
	}
	return ""
}
