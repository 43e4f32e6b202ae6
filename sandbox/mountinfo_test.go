package sandbox

import (
	"strings"
	"testing"
)

// A Docker container's mountinfo: overlay root, a bind mount at /src, a
// named volume at /data, /proc and /dev.
const dockerMountinfo = `1340 1101 0:123 / / rw,relatime master:580 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/A:/var/lib/docker/overlay2/l/B,upperdir=/var/lib/docker/overlay2/x/diff,workdir=/var/lib/docker/overlay2/x/work
1341 1340 0:126 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
1342 1340 0:127 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
1350 1340 8:1 /home/me/project /src rw,relatime - ext4 /dev/sda1 rw
1351 1340 8:1 /var/lib/docker/volumes/runs/_data /data rw,relatime - ext4 /dev/sda1 rw
1352 1340 8:1 /home/me/with\040space /with\040space rw,relatime - ext4 /dev/sda1 rw
`

func TestMountOf(t *testing.T) {
	mounts, err := ParseMountinfo(strings.NewReader(dockerMountinfo))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path, point string
	}{
		{"/root/.local/share/codspeed-go/runs", "/"},
		{"/src/.codspeed/runs", "/src"},
		{"/src", "/src"},
		{"/srcx/runs", "/"},
		{"/data/runs", "/data"},
		{"/with space/runs", "/with space"},
		{"/", "/"},
	} {
		m, ok := MountOf(mounts, tt.path)
		if !ok || m.Point != tt.point {
			t.Errorf("MountOf(%q) = %q, %v; want %q", tt.path, m.Point, ok, tt.point)
		}
	}
}

func TestParseMountinfoBad(t *testing.T) {
	_, err := ParseMountinfo(strings.NewReader("1 2 0:1 / / rw - overlay overlay rw\n7 8 9\n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want one naming line 2", err)
	}
}

func TestOnContainerRootHere(t *testing.T) {
	// /proc is its own mount on every Linux machine: never the root's.
	onRoot, err := OnContainerRoot("/proc/self")
	if err != nil {
		t.Fatal(err)
	}
	if onRoot {
		t.Fatal("/proc/self reported on the root file system")
	}
}

func FuzzParseMountinfo(f *testing.F) {
	f.Add(dockerMountinfo)
	f.Add("1 2 0:1 / / rw - overlay overlay rw\n")
	f.Add(`1 2 0:1 / /a\134b\0 rw - x y z`)
	f.Fuzz(func(t *testing.T, s string) {
		mounts, err := ParseMountinfo(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, m := range mounts {
			if m.FSType == "" || m.Source == "" {
				t.Fatalf("empty field in %+v", m)
			}
			MountOf(mounts, m.Point)
		}
	})
}

func TestLayeredRoot(t *testing.T) {
	for fstype, want := range map[string]bool{"overlay": true, "aufs": true, "fuse.fuse-overlayfs": true, "ext4": false, "xfs": false} {
		if got := layeredRoot(fstype); got != want {
			t.Errorf("layeredRoot(%q) = %v, want %v", fstype, got, want)
		}
	}
}
