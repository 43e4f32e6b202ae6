package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/codspeed-go/codspeed-go/testenv"
)

// asUser runs a command as uid:gid and returns its combined output.
func asUser(uid, gid int, dir string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestFilesForTheInvokingUser: `sudo codspeed exec` in a user's checkout
// leaves a store, results and a report that this user owns, can read and
// can delete; the modes follow the umask (002 here: group-writable).
func TestFilesForTheInvokingUser(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "runs codspeed as root on a user's behalf")
	}
	uid, gid := testUser(t)
	dir, err := os.MkdirTemp("", "codspeed-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	gitInit(t, dir)
	// Under sudo the benchmark runs as the user: it needs a program it may run.
	prog := copyExecutable(t, primes, dir)
	if err := exec.Command("chown", "-R", strconv.Itoa(uid)+":"+strconv.Itoa(gid), dir).Run(); err != nil {
		t.Fatal(err)
	}
	pf := filepath.Join(dir, "codspeed-profile")
	script := `umask 002; exec "$@"`
	sudo := func(args ...string) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{"-c", script, "sh", binary}, args...)...)
		cmd.Dir = dir
		// As sudo leaves them; the store is the checkout's .codspeed/runs.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CODSPEED_") && !strings.HasPrefix(kv, "SUDO_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, "SUDO_UID="+strconv.Itoa(uid), "SUDO_GID="+strconv.Itoa(gid), "SUDO_USER="+testUserName)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("codspeed %v: %v\n%s", args, err, out)
		}
	}
	sudo("exec", "--enable-perf=false", "--profile-folder", pf, "--warmup-time", "0", "--max-rounds", "2", "--", prog, "100")
	sudo("exec", "--enable-perf=false", "--warmup-time", "0", "--max-rounds", "2", "--", prog, "200")
	report := filepath.Join(dir, "report.md")
	sudo("report", "--format", "markdown", "-o", report)

	var files []string
	for _, root := range []string{filepath.Join(dir, ".codspeed"), pf, report} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, _ := os.Lstat(p)
			st := fi.Sys().(*syscall.Stat_t)
			if int(st.Uid) != uid || int(st.Gid) != gid {
				t.Errorf("%s: owned by %d:%d, want the invoking user %d:%d", p, st.Uid, st.Gid, uid, gid)
			}
			want := os.FileMode(0o664)
			if d.IsDir() {
				want = 0o775
			}
			if base := filepath.Base(p); (base == "run.json" || strings.HasSuffix(p, ".json") || d.IsDir() || base == "report.md") && fi.Mode().Perm() != want {
				t.Errorf("%s: mode %o, want %o (umask 002)", p, fi.Mode().Perm(), want)
			}
			if !d.IsDir() {
				files = append(files, p)
			}
			return nil
		})
	}
	if len(files) < 4 {
		t.Fatalf("files: %v", files)
	}
	// The user reads everything, a plain `codspeed report` of theirs reads
	// the store, and they can remove it all.
	if out, err := asUser(uid, gid, dir, "cat", files...); err != nil {
		t.Fatalf("%s cannot read the files: %v\n%s", testUserName, err, out)
	}
	own := copyExecutable(t, binary, dir)
	if out, err := asUser(uid, gid, dir, own, "report", "--format", "markdown"); err != nil || !strings.Contains(out, "| "+prog+" 200 |") {
		t.Fatalf("%s's codspeed report: %v\n%s", testUserName, err, out)
	}
	os.Remove(own)
	if out, err := asUser(uid, gid, dir, "rm", "-r", filepath.Join(dir, ".codspeed"), pf, report); err != nil {
		t.Fatalf("%s cannot remove the files: %v\n%s", testUserName, err, out)
	}
}

// TestReusedProfileFolder: a second run into the same --profile-folder
// holds its own benchmarks only; the first run's results file is moved
// aside (never deleted) with a message, and the report, comparison and
// upload of the folder see the second run alone.
func TestReusedProfileFolder(t *testing.T) {
	dir := t.TempDir()
	pf := filepath.Join(dir, "profile")
	bench := func(name string) result {
		t.Helper()
		r := codspeed(t, dir, "", "exec", "--enable-perf=false", "--profile-folder", pf, "--name", name, "--warmup-time", "0", "--max-rounds", "2", "--", primes, "100")
		if r.code != 0 {
			t.Fatalf("exec %s: exit %d\n%s", name, r.code, r.stderr)
		}
		return r
	}
	bench("first")
	first := readOnlyResults(t, pf)
	r := bench("second")
	if !strings.Contains(r.stderr, "results file(s) of earlier runs") || !strings.Contains(r.stderr, pf+".earlier") {
		t.Errorf("no message about the earlier results:\n%s", r.stderr)
	}
	second := readOnlyResults(t, pf) // fails when the first run's file is still there
	if len(second.Benchmarks) != 1 || second.Benchmarks[0].Name != "second" {
		t.Fatalf("results: %+v", second.Benchmarks)
	}
	kept, _ := filepath.Glob(filepath.Join(pf+".earlier", first.Run.ID, "results", "*.json"))
	if len(kept) != 1 {
		t.Fatalf("the first run's results were not kept aside: %v", kept)
	}
	rep := codspeed(t, dir, "", "report", pf, "--format", "json")
	if rep.code != 0 || strings.Contains(rep.stdout, `"first"`) || !strings.Contains(rep.stdout, `"second"`) {
		t.Fatalf("report of the folder: exit %d\n%s\n%s", rep.code, rep.stdout, rep.stderr)
	}
	// The same folder for two modes: the single-mode run's results/ must
	// not shadow the new mode subfolders.
	r = codspeed(t, dir, "", "exec", "--enable-perf=false", "--mode", "walltime,simulation", "--profile-folder", pf, "--name", "third", "--warmup-time", "0", "--max-rounds", "2", "--", primes, "100")
	if r.code != 0 {
		t.Fatalf("third: exit %d\n%s", r.code, r.stderr)
	}
	rep = codspeed(t, dir, "", "report", pf, "--format", "json")
	if rep.code != 0 || strings.Contains(rep.stdout, `"second"`) || !strings.Contains(rep.stdout, `"third"`) {
		t.Fatalf("report of the folder after the third run: exit %d\n%s\n%s", rep.code, rep.stdout, rep.stderr)
	}
}
