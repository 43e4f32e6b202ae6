#!/usr/bin/env bash
# Records the walltime data that results/compare tests and measures its
# verdicts on, from real runs of the C example on this machine:
#   testdata/base.json, rerun.json  two identical runs of `primes 200000 40`
#   testdata/slower.json            `primes 200000 42`: 5% more sieving work
#   testdata/primes_runs.json       RUNS runs of `primes 200000 20` (rounds of
#                                   each), for the false-positive rate and the
#                                   detection power (TestVerdictRates)
# Usage: scripts/record-compare-testdata.sh [RUNS]   (after `make build examples`)
#        ONLY_PAIR=1 records only the three pair files, ONLY_RUNS=1 only primes_runs.json.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-40}
only_pair=${ONLY_PAIR:-}
out=results/compare/testdata
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

one() { # one NAME ARGS...: one run, its results file copied to $out/NAME.json
	local name=$1; shift
	# Real-time priority (root) keeps other programs off the CPU while these
	# three runs measure, so base and rerun are identical conditions.
	CODSPEED_STORE=$tmp/store chrt -f 10 ./bin/codspeed exec --profile-folder "$tmp/$name" --warmup-time 200ms --max-rounds 100 \
		--name primes -- ./bin/examples/primes "$@" >/dev/null 2>&1
	cp "$tmp/$name"/results/*.json "$out/$name.json"
}
if [ -z "${ONLY_RUNS:-}" ]; then
	one base 200000 40
	one rerun 200000 40
	one slower 200000 42
fi
[ -n "$only_pair" ] && exit 0

for i in $(seq 1 "$runs"); do
	CODSPEED_STORE=$tmp/store ./bin/codspeed exec --profile-folder "$tmp/runs/$i" --warmup-time 200ms --max-rounds 100 \
		--name primes -- ./bin/examples/primes 200000 20 >/dev/null 2>&1
done
python3 - "$tmp/runs" "$runs" > "$out/primes_runs.json" <<'PY'
import glob, json, os, platform, sys
root, n = sys.argv[1], int(sys.argv[2])
runs = []
for i in range(1, n + 1):
    (path,) = glob.glob(os.path.join(root, str(i), "results", "*.json"))
    with open(path) as f:
        runs.append([int(x) for x in json.load(f)["benchmarks"][0]["samples_ns"]])
print(json.dumps({"command": "primes 200000 20", "rounds_per_run": 100, "warmup": "200ms",
                  "host": platform.node() and "2-core shared CI machine", "load": os.getloadavg()[0],
                  "runs_ns": runs}, separators=(",", ":")))
PY
echo "recorded $runs runs in $out"
