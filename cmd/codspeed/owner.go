package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/codspeed-go/codspeed-go/results"
	"github.com/codspeed-go/codspeed-go/sandbox"
)

// envFileOwner tells a runner inside an orchestrated container whom to hand
// its files to (uid:gid): the user of the runner outside.
const envFileOwner = "CODSPEED_FILE_OWNER"

// setFileOwner decides who gets the files this run writes, when it runs as
// root on someone else's behalf: the orchestrating runner's user
// ($CODSPEED_FILE_OWNER), the user who ran sudo (SUDO_UID, SUDO_GID), or,
// in a container, the owner of the mounted workspace (the git root, else the
// working directory). Files are handed over only inside folders that user
// owns (results.HandFilesTo).
func setFileOwner(gitRoot, cwd string) {
	in, _ := sandbox.InContainer()
	results.HandFilesTo(fileOwner(os.Getenv, os.Geteuid(), in, gitRoot, cwd))
}

func fileOwner(getenv func(string) string, euid int, inContainer bool, gitRoot, cwd string) *results.Owner {
	if euid != 0 {
		return nil
	}
	if uid, gid, ok := parseOwner(getenv(envFileOwner)); ok {
		return &results.Owner{UID: uid, GID: gid, Why: "the orchestrating runner's user"}
	}
	if uid, gid, ok := parseOwner(getenv("SUDO_UID") + ":" + getenv("SUDO_GID")); ok {
		return &results.Owner{UID: uid, GID: gid, Why: "the user who ran sudo"}
	}
	if !inContainer {
		return nil
	}
	ws := gitRoot
	if ws == "" {
		ws = cwd
	}
	fi, err := os.Stat(ws)
	if err != nil {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 {
		return &results.Owner{UID: int(st.Uid), GID: int(st.Gid), Why: fmt.Sprintf("the owner of the workspace %s", ws)}
	}
	return nil
}

// parseOwner reads "uid:gid" (both non-zero: root needs no hand-over).
func parseOwner(s string) (uid, gid int, ok bool) {
	u, g, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	uid, errU := strconv.Atoi(u)
	gid, errG := strconv.Atoi(g)
	if errU != nil || errG != nil || uid <= 0 || gid < 0 {
		return 0, 0, false
	}
	return uid, gid, true
}

// fileOwnerEnv is what an orchestrated container's runner is told about the
// owner (empty when the files stay root's).
func fileOwnerEnv() []string {
	if o := results.FilesOwner(); o != nil {
		return []string{fmt.Sprintf("%s=%d:%d", envFileOwner, o.UID, o.GID)}
	}
	if euid := os.Geteuid(); euid != 0 {
		return []string{fmt.Sprintf("%s=%d:%d", envFileOwner, euid, os.Getegid())}
	}
	return nil
}
