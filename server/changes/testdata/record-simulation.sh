#!/bin/sh
# Records simulation.tsv with the real runner under callgrind: 8 runs of
# sha256sum over a 300 kB file ("commit" a), then 8 over a 390 kB file (b).
# One point per run: the benchmark's estimated time in ns. Needs valgrind;
# run under the shared lock: flock /tmp/codspeed-dev.lock record-simulation.sh codspeed
set -eu
codspeed=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
head -c 300000 /dev/urandom > "$work/a.bin"
head -c 390000 /dev/urandom > "$work/b.bin"
export CODSPEED_STORE="$work/store"
run() {
	"$codspeed" exec --no-sandbox --mode simulation --name sha256 -- sh -c "sha256sum $work/$1.bin >/dev/null" >/dev/null 2>&1
	f=$(ls -t "$work"/store/*/simulation/results/*.json | head -1)
	printf '%s\t%s\n' "$1" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["benchmarks"][0]["simulation"]["time_ns"])' "$f")"
}
i=0; while [ $i -lt 8 ]; do run a; i=$((i+1)); done
i=0; while [ $i -lt 8 ]; do run b; i=$((i+1)); done
