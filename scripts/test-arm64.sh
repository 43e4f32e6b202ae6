#!/bin/sh
# test-arm64.sh: cross-build the unit tests of pure-Go packages for linux/arm64 and run them under
# qemu-user (Debian's qemu-user-static), so the arm64 runner is tested on amd64 CI hosts. This is
# what `make test-arm64` runs.
#
#   scripts/test-arm64.sh [package...]    default: the packages listed below
#
# Tests run with -test.short in their package folder (testdata paths are relative). Tests that need
# the host's kernel features (cgroups, perf, eBPF, a Docker engine) are left out or skip:
# DOCKER_HOST points nowhere (and CODSPEED_DOCKER_TESTS is cleared), so sandbox/docker's engine tests skip with their stated reason.
# CI is cleared too: here a missing facility is expected (testenv.Missing skips); `make test` runs
# the same tests natively, where CI=true makes a missing facility a failure.
set -eu
cd "$(dirname "$0")/.."
qemu=${QEMU_AARCH64:-qemu-aarch64-static}
command -v "$qemu" >/dev/null 2>&1 || { echo "test-arm64: $qemu not found (apt-get install qemu-user-static)" >&2; exit 1; }

if [ "$#" -eq 0 ]; then
	set -- ./results ./results/flamegraph ./internal/config ./internal/gitrepo ./internal/orchestrate \
		./instruments ./instruments/gobench ./instruments/hooks ./instruments/hooks/client ./sandbox/docker
fi

# Tests that re-execute their own test binary or run it natively (helper processes, valgrind) need
# binfmt_misc registration of qemu, which CI hosts lack: they are skipped here, by name.
skip_for() {
	case "$1" in
	./instruments/hooks) echo '^(TestPromptExitChildNeverConnects|TestPromptExitChildDiesMidConversation|TestMessagesWrittenJustBeforeExitAreKept)$' ;;
	./instruments/hooks/client) echo '^(TestUnderCallgrind|TestProgNatively)$' ;;
	*) echo '^$' ;;
	esac
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail=0
for pkg in "$@"; do
	name=$(echo "$pkg" | sed 's#^\./##; s#/#_#g')
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go test -c -o "$out/$name.test" "$pkg"
	[ -f "$out/$name.test" ] || { echo "test-arm64: $pkg has no tests"; continue; }
	start=$(date +%s)
	if (cd "$pkg" && DOCKER_HOST=unix:///nonexistent/docker.sock CODSPEED_DOCKER_TESTS= CI= "$qemu" "$out/$name.test" -test.short -test.count=1 -test.skip "$(skip_for "$pkg")" >"$out/$name.log" 2>&1); then
		echo "ok    $pkg (linux/arm64 under qemu, $(($(date +%s) - start))s)"
	else
		echo "FAIL  $pkg (linux/arm64 under qemu)"
		tail -n 30 "$out/$name.log"
		fail=1
	fi
done
exit $fail
