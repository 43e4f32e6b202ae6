#!/usr/bin/env bash
# leftovers.sh CMD...: runs CMD (the test suite) and fails if it left anything
# behind: files or folders in its temporary directory (TMPDIR points to a
# fresh one for the run), Docker containers or images that were not there
# before, or sandbox cgroups (codspeed-<pid>-<n>) of processes that are gone.
set -uo pipefail

# Short (tests compare paths shown in tables) and open to every user as /tmp
# is (a test runs codspeed as nobody).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cs.XXXX")
chmod 1777 "$tmp"
snap() {
  if docker info >/dev/null 2>&1; then
    docker ps -aq --no-trunc | sed 's/^/container /'
    # Images by name and id (not -a: a build's intermediate layers are
    # cache, not leftovers). On an engine shared with other jobs this also
    # sees theirs; in CI the engine is the run's own.
    docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sed 's/^/image /'
  fi
}
cgroups() {
  find /sys/fs/cgroup -maxdepth 6 -type d -name 'codspeed-*-*' 2>/dev/null | while read -r d; do
    pid=$(basename "$d" | cut -d- -f2)
    kill -0 "$pid" 2>/dev/null || echo "cgroup $d"
  done
}
before=$(snap | sort)
TMPDIR=$tmp "$@"
code=$?
after=$(snap | sort)
left=$( { comm -13 <(echo "$before") <(echo "$after"); cgroups; } | sed '/^$/d')
files=$(find "$tmp" -mindepth 1 -maxdepth 1 2>/dev/null)
if [ -n "$files" ]; then
  left+=$'\n'$(echo "$files" | sed 's/^/temporary /')
fi
left=$(echo "$left" | sed '/^$/d')
if [ -n "$left" ]; then
  echo "leftovers: the tests left these behind:" >&2
  echo "$left" | head -50 >&2
  [ "$code" -ne 0 ] || code=1
else
  rmdir "$tmp"
fi
exit "$code"
