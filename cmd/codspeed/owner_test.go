package main

import (
	"os"
	"strconv"
	"syscall"
	"testing"
)

func TestFileOwner(t *testing.T) {
	ws := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chown(ws, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := os.Stat(ws)
	wsUID := int(st.Sys().(*syscall.Stat_t).Uid)
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, tt := range []struct {
		name      string
		env       map[string]string
		euid      int
		container bool
		want      string
	}{
		{"not root", map[string]string{"SUDO_UID": "1000", "SUDO_GID": "1000"}, 1000, true, "none"},
		{"root, nobody to hand to", nil, 0, false, "none"},
		{"sudo", map[string]string{"SUDO_UID": "1000", "SUDO_GID": "100"}, 0, false, "1000:100"},
		{"sudo from root", map[string]string{"SUDO_UID": "0", "SUDO_GID": "0"}, 0, false, "none"},
		{"orchestrator first", map[string]string{envFileOwner: "1001:121", "SUDO_UID": "1000", "SUDO_GID": "100"}, 0, false, "1001:121"},
		{"bad orchestrator value", map[string]string{envFileOwner: "x:1"}, 0, false, "none"},
	} {
		o := fileOwner(env(tt.env), tt.euid, tt.container, "", ws)
		got := "none"
		if o != nil {
			got = strconv.Itoa(o.UID) + ":" + strconv.Itoa(o.GID)
		}
		if got != tt.want {
			t.Errorf("%s: owner %s, want %s", tt.name, got, tt.want)
		}
	}
	// In a container, root hands files to the workspace's owner.
	o := fileOwner(env(nil), 0, true, ws, "/")
	if wsUID == 0 {
		if o != nil {
			t.Errorf("root-owned workspace: owner %+v, want none", o)
		}
	} else if o == nil || o.UID != wsUID {
		t.Errorf("container: owner %+v, want the workspace's uid %d", o, wsUID)
	}
}
