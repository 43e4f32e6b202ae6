package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CapabilitySet is a Linux capability bit set as /proc/<pid>/status shows it
// (CapEff, CapBnd, ...).
type CapabilitySet uint64

// Capability numbers this project cares about (linux/capability.h).
const (
	CapSysAdmin = 21
	CapPerfmon  = 38
	CapBPF      = 39
)

// capabilityNames are the kernel's names, indexed by capability number.
var capabilityNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Has reports whether capability number c is in the set.
func (s CapabilitySet) Has(c int) bool { return c >= 0 && c < 64 && s&(1<<uint(c)) != 0 }

// Names lists the set's capabilities by kernel name, in number order;
// capabilities newer than this table are named CAP_<number>.
func (s CapabilitySet) Names() []string {
	names := []string{}
	for c := 0; c < 64; c++ {
		if !s.Has(c) {
			continue
		}
		if c < len(capabilityNames) {
			names = append(names, capabilityNames[c])
		} else {
			names = append(names, "CAP_"+strconv.Itoa(c))
		}
	}
	return names
}

// StatusError reports a malformed line of a /proc file, with its position.
type StatusError struct {
	File string
	Line int
	Msg  string
}

func (e *StatusError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }

// parseCapabilitySet finds field ("CapEff") in the text of /proc/<pid>/status.
func parseCapabilitySet(name, text, field string) (CapabilitySet, error) {
	for i, line := range strings.Split(text, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			return 0, &StatusError{File: name, Line: i + 1, Msg: fmt.Sprintf("%s: %q is not a hexadecimal capability set", field, strings.TrimSpace(v))}
		}
		return CapabilitySet(n), nil
	}
	return 0, &StatusError{File: name, Line: 0, Msg: field + " not found"}
}

func readCapabilitySet(path, field string) (CapabilitySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read capabilities: %w", err)
	}
	return parseCapabilitySet(path, string(b), field)
}

// ProcCgroup is one line of /proc/<pid>/cgroup: the hierarchy's controllers
// (empty for cgroup2; "name=systemd" style names kept as is) and the path of
// the process's cgroup in it, relative to the hierarchy's root.
type ProcCgroup struct {
	ID          int
	Controllers []string
	Path        string
}

// ParseProcCgroup parses the text of /proc/<pid>/cgroup ("4:memory:/a",
// "0::/b"). name is used in errors.
func ParseProcCgroup(name, text string) ([]ProcCgroup, error) {
	var out []ProcCgroup
	sc := bufio.NewScanner(strings.NewReader(text))
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if t == "" {
			continue
		}
		id, rest, ok := strings.Cut(t, ":")
		ctrls, path, ok2 := strings.Cut(rest, ":")
		if !ok || !ok2 {
			return nil, &StatusError{File: name, Line: line, Msg: fmt.Sprintf("%q: want ID:CONTROLLERS:PATH", t)}
		}
		n, err := strconv.Atoi(id)
		if err != nil || n < 0 {
			return nil, &StatusError{File: name, Line: line, Msg: fmt.Sprintf("hierarchy ID %q is not a number", id)}
		}
		if !strings.HasPrefix(path, "/") {
			return nil, &StatusError{File: name, Line: line, Msg: fmt.Sprintf("cgroup path %q is not absolute", path)}
		}
		c := ProcCgroup{ID: n, Path: path}
		if ctrls != "" {
			c.Controllers = strings.Split(ctrls, ",")
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

// ReadProcCgroup reads /proc/<pid>/cgroup (pid 0 means this process).
func ReadProcCgroup(pid int) ([]ProcCgroup, error) {
	path := "/proc/self/cgroup"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/cgroup", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read cgroups: %w", err)
	}
	return ParseProcCgroup(path, string(b))
}

// cgroupPathOf returns the path of controller ctrl ("cpuset"; "" for the
// cgroup2 hierarchy) in lines.
func cgroupPathOf(lines []ProcCgroup, ctrl string) (string, bool) {
	for _, l := range lines {
		if ctrl == "" && l.ID == 0 && len(l.Controllers) == 0 {
			return l.Path, true
		}
		for _, c := range l.Controllers {
			if c == ctrl && ctrl != "" {
				return l.Path, true
			}
		}
	}
	return "", false
}
