package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Mount is one line of /proc/self/mountinfo (proc(5)): where a file system
// is mounted and what it is.
type Mount struct {
	Point  string // mount point, octal escapes decoded
	FSType string
	Source string
}

// ParseMountinfo reads /proc/PID/mountinfo's format. A malformed line is an
// error naming its line number.
func ParseMountinfo(r io.Reader) ([]Mount, error) {
	var out []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Fields(line)
		sep := -1
		for i := 6; i < len(fields); i++ {
			if fields[i] == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) {
			return nil, fmt.Errorf("mountinfo line %d: %q: want `ID PARENT MAJ:MIN ROOT POINT OPTIONS ... - FSTYPE SOURCE ...`", n, line)
		}
		out = append(out, Mount{Point: unescapeMount(fields[4]), FSType: fields[sep+1], Source: fields[sep+2]})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mountinfo: %w", err)
	}
	return out, nil
}

// unescapeMount decodes the \ooo escapes the kernel writes for spaces,
// tabs, newlines and backslashes in mount points.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// MountOf returns the mount that holds path: the one with the longest mount
// point that is path or one of its parents (the last such line wins, as
// later mounts hide earlier ones). path must be absolute and clean.
func MountOf(mounts []Mount, path string) (Mount, bool) {
	var best Mount
	found := false
	for _, m := range mounts {
		p := m.Point
		if p != "/" && path != p && !strings.HasPrefix(path, p+"/") {
			continue
		}
		if !found || len(p) >= len(best.Point) {
			best, found = m, true
		}
	}
	return best, found
}

// OnContainerRoot reports whether path (or its nearest existing parent)
// lives on the container's own root file system, which is gone with the
// container, rather than on a mounted volume or bind mount. It reads
// /proc/self/mountinfo.
func OnContainerRoot(path string) (bool, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, err
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false, err
	}
	defer f.Close()
	mounts, err := ParseMountinfo(f)
	if err != nil {
		return false, err
	}
	// The store may not exist yet: its nearest existing parent decides,
	// with symlinks resolved (a volume reached through a link counts).
	for p := abs; ; p = filepath.Dir(p) {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			abs = r
			break
		}
		if p == "/" {
			break
		}
	}
	m, ok := MountOf(mounts, abs)
	if !ok {
		return false, fmt.Errorf("no mount holds %s in /proc/self/mountinfo", abs)
	}
	return m.Point == "/" && layeredRoot(m.FSType), nil
}

// layeredRoot reports whether a root file system of this type is a
// container's own writable layer, thrown away with the container. A root on
// a block device (ext4 on /dev/vda in a microVM that also has /.dockerenv)
// is a disk that persists, so its results do not vanish.
func layeredRoot(fstype string) bool {
	switch fstype {
	case "overlay", "aufs", "fuse.fuse-overlayfs", "tmpfs":
		return true
	}
	return false
}
