package upload

import (
	"bufio"
	"bytes"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// RunnerMetadata describes this runner and the machine it runs on, for the
// metadata's "runner" object. executor is ExecutorValgrind, ExecutorWalltime
// or ExecutorMemory; instruments are extra instruments (CodSpeed's mongodb),
// usually none.
func RunnerMetadata(name, version, executor string, instruments []string) Runner {
	if instruments == nil {
		instruments = []string{}
	}
	return Runner{Name: name, Version: version, Instruments: instruments, Executor: executor, System: ReadSystem("/")}
}

// ReadSystem describes the machine whose root file system is at root ("/"
// for this one; tests point it at recorded files): OS and version from
// etc/os-release, CPU from proc/cpuinfo, memory from proc/meminfo, and the
// host and user names of this process. It is best effort: what cannot be
// read (no /proc on macOS) is left empty, since a missing CPU name must not
// fail an upload.
func ReadSystem(root string) System {
	s := System{Arch: unameArch(runtime.GOARCH), OS: runtime.GOOS, CPUName: "cpu0"}
	if data, err := os.ReadFile(filepath.Join(root, "etc/os-release")); err == nil {
		rel := ParseOSRelease(data)
		if rel["ID"] != "" {
			s.OS = rel["ID"]
		}
		s.OSVersion = rel["VERSION_ID"]
	}
	if data, err := os.ReadFile(filepath.Join(root, "proc/cpuinfo")); err == nil {
		c := ParseCPUInfo(data)
		s.CPUBrand, s.CPUVendorID, s.CPUCores = c.Brand, c.VendorID, c.Cores
	}
	if s.CPUCores == 0 {
		s.CPUCores = runtime.NumCPU()
	}
	if data, err := os.ReadFile(filepath.Join(root, "proc/meminfo")); err == nil {
		s.TotalMemoryGb = memTotalGb(data)
	}
	if h, err := os.Hostname(); err == nil {
		s.Host = h
	}
	if u, err := user.Current(); err == nil {
		s.User = u.Username
	} else {
		s.User = os.Getenv("USER")
	}
	return s
}

// unameArch spells GOARCH the way uname -m does, as CodSpeed sends it.
func unameArch(goarch string) string {
	switch goarch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "i686"
	}
	return goarch
}

// ParseOSRelease reads os-release(5): KEY=value lines, values optionally
// quoted with shell-style backslash escapes inside double quotes; comments
// and malformed lines are ignored, as the format's readers must.
func ParseOSRelease(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" {
			continue
		}
		out[k] = unquote(v)
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		return v[1 : len(v)-1]
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			if v[i] == '\\' && i+1 < len(v) && strings.IndexByte("\"\\$`", v[i+1]) >= 0 {
				i++
			}
			b.WriteByte(v[i])
		}
		return b.String()
	}
	return v
}

// CPUInfo is what /proc/cpuinfo says about the processor.
type CPUInfo struct {
	Brand    string
	VendorID string
	// Cores counts physical cores (distinct physical id/core id pairs) where
	// the kernel reports them (x86), else logical processors.
	Cores   int
	Logical int
}

// ParseCPUInfo reads /proc/cpuinfo. On x86 the brand is "model name"; arm64
// kernels print only implementer and part numbers, which are mapped to names
// for the common server cores.
func ParseCPUInfo(data []byte) CPUInfo {
	var c CPUInfo
	type core struct{ pkg, id string }
	cores := map[core]bool{}
	var cur core
	var implementer, part string
	flush := func() {
		if cur.id != "" {
			cores[cur] = true
		}
		cur = core{}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			if strings.TrimSpace(sc.Text()) == "" {
				flush()
			}
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "processor":
			c.Logical++
		case "model name":
			if c.Brand == "" {
				c.Brand = v
			}
		case "vendor_id":
			if c.VendorID == "" {
				c.VendorID = v
			}
		case "physical id":
			cur.pkg = v
		case "core id":
			cur.id = v
		case "CPU implementer":
			if implementer == "" {
				implementer = v
			}
		case "CPU part":
			if part == "" {
				part = v
			}
		}
	}
	flush()
	c.Cores = len(cores)
	if c.Cores == 0 {
		c.Cores = c.Logical
	}
	if implementer != "" {
		vendor, name := armCPU(implementer, part)
		if c.VendorID == "" {
			c.VendorID = vendor
		}
		if c.Brand == "" {
			c.Brand = name
		}
	}
	return c
}

// armCPU names an arm64 core from its MIDR implementer and part numbers.
func armCPU(implementer, part string) (vendor, name string) {
	impl, _ := strconv.ParseUint(strings.TrimPrefix(implementer, "0x"), 16, 16)
	p, _ := strconv.ParseUint(strings.TrimPrefix(part, "0x"), 16, 16)
	vendors := map[uint64]string{0x41: "ARM", 0x42: "Broadcom", 0x43: "Cavium", 0x48: "HiSilicon", 0x4e: "NVIDIA", 0x51: "Qualcomm", 0x61: "Apple", 0xc0: "Ampere"}
	vendor = vendors[impl]
	if vendor == "" {
		vendor = implementer
	}
	if impl == 0x41 {
		parts := map[uint64]string{0xd03: "Cortex-A53", 0xd08: "Cortex-A72", 0xd0b: "Cortex-A76", 0xd0c: "Neoverse-N1", 0xd40: "Neoverse-V1", 0xd49: "Neoverse-N2", 0xd4f: "Neoverse-V2"}
		if n := parts[p]; n != "" {
			return vendor, vendor + " " + n
		}
	}
	return vendor, vendor + " part " + part
}

// memTotalGb reads MemTotal (kB) from /proc/meminfo, rounded to whole GiB.
func memTotalGb(data []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || kb < 0 {
				return 0
			}
			return int((kb + 512*1024) / (1024 * 1024))
		}
	}
	return 0
}
