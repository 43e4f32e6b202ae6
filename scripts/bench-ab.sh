#!/usr/bin/env bash
# Detection and false-positive rates of `codspeed ab` (BENCHMARKS.md quotes
# its output), side by side with the two things users do today on the same
# workload: `codspeed exec` on each command then `codspeed compare` (unpaired),
# and hyperfine -N on both commands followed by a Welch t-test at 5%.
#
# The workload is a statically linked C busy loop (spin N). The script first
# calibrates it with hyperfine pinned to CPU 1 (time = start-up + N x cost per
# iteration) and picks N so that the base takes about BASE_MS; a shift of S%
# adds the iterations that make the whole process S% slower, start-up
# included, so that "3%" is 3% of what every tool measures.
#
# Each trial runs, for each shift in turn (0 1 2 3 5 by default, so that a run
# cut short has as many trials of each and drifting load falls on all alike):
#   - `codspeed ab` with default settings (60 s budget, 1% minimum effect,
#     alpha 0.01, sandbox on its default CPU) except --enable-perf=false (the
#     profiles are taken after the decision and would only slow the trials);
#   - `codspeed exec` on base then head (100 rounds each after 0.5 s warmup,
#     the round count hyperfine gets) and `codspeed compare` of the two runs;
#   - `taskset -c 1 hyperfine -N -w 5 -r 100` on both, then Welch's t at 5%.
# Every command is pinned to CPU 1 (the sandbox's default CPU on this 2-vCPU
# machine). LOAD=1 runs a CPU hog on CPU 0, the other core, for the whole run.
#
# Rows go to OUT (default bench-ab-LOAD.tsv in the current folder) as they
# come; scripts/bench-ab-summary.py turns one or more such files into the
# BENCHMARKS.md tables.
# Usage: TRIALS=100 SHIFTS="0 1 2 3 5" LOAD=0 BASE_MS=5 OUT=quiet.tsv scripts/bench-ab.sh
# Needs: make build, cc with static libc, jq, python3, hyperfine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
make -s -C "$root" build >/dev/null 2>&1
bin=$root/bin/codspeed
out=$(realpath -m "${OUT:-bench-ab-${LOAD:-0}.tsv}")
tmp=$(mktemp -d); trap 'rm -rf "$tmp"; [ -n "${hog:-}" ] && kill "$hog" 2>/dev/null; true' EXIT
export CODSPEED_STORE=$tmp/store
cat > "$tmp/spin.c" <<'C'
#include <stdlib.h>
int main(int argc, char **argv) {
	long n = atol(argv[1]);
	volatile unsigned long x = 0;
	for (long i = 0; i < n; i++) x += (unsigned long)i * 2654435761u;
	return 0;
}
C
cc -O1 -static -o "$tmp/spin" "$tmp/spin.c"
spin=$tmp/spin
trials=${TRIALS:-20}
shifts=${SHIFTS:-0 1 2 3 5}
now() { date +%s.%N; }

# Calibration on a quiet CPU, before any hog starts.
taskset -c 1 hyperfine -N -w 20 -r 200 --export-json "$tmp/cal.json" "$spin 2000000" "$spin 20000000" >/dev/null 2>&1
read -r base_n per_iter start_up < <(python3 - "$tmp/cal.json" "${BASE_MS:-5}" <<'PY'
import json, statistics as st, sys
r = json.load(open(sys.argv[1]))["results"]
t1, t2 = st.median(r[0]["times"]), st.median(r[1]["times"])
slope = (t2 - t1) / 18e6
intercept = t1 - 2e6 * slope
n = int((float(sys.argv[2]) / 1000 - intercept) / slope)
print(n, slope, intercept)
PY
)
base_ms=$(python3 -c "print('%.2f' % (1000*($start_up+$base_n*$per_iter)))")
echo "# calibration: start-up $(python3 -c "print('%.2f' % (1000*$start_up))") ms, base spin $base_n = $base_ms ms; load=${LOAD:-0}; $(date -u +%FT%TZ); $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out" >&2

if [ "${LOAD:-0}" = 1 ]; then
  taskset -c 0 sh -c 'while :; do :; done' & hog=$!
fi
load=${LOAD:-0}
[ -s "$out" ] && grep -q '^load' "$out" || printf 'load\tshift\ttrial\tab\tratio\tlo\thi\tpairs\tab_s\tcompare\tcompare_change\tcompare_s\thyperfine\thf_change\thf_p\thf_s\tloadavg\n' >>"$out"

for i in $(seq "$trials"); do
  for shift in $shifts; do
    head_n=$(python3 -c "print(int($base_n + $shift/100*($start_up+$base_n*$per_iter)/$per_iter))")
    base_cmd="$spin $base_n" head_cmd="$spin $head_n"

    "$bin" ab --enable-perf=false --format json --name spin \
      --base-command "$base_cmd" --head-command "$head_cmd" >"$tmp/ab.json" 2>/dev/null || true
    # Time to decision: the head run's record (warmup included).
    ab_s=$(python3 - "$CODSPEED_STORE/$(jq -r .head.run_id "$tmp/ab.json")/run.json" <<'PY'
import json, sys
from datetime import datetime
m = json.load(open(sys.argv[1]))
p = lambda s: datetime.fromisoformat(s[:26].rstrip("Z") if "." in s else s.rstrip("Z"))
print("%.2f" % (p(m["finished_at"]) - p(m["started_at"])).total_seconds())
PY
)
    ab=$(jq -r '.benchmarks[0] | [.verdict, .paired.estimate.ratio, .paired.estimate.lo, .paired.estimate.hi, .paired.estimate.pairs] | @tsv' "$tmp/ab.json")

    t0=$(now)
    rm -rf "$tmp/a" "$tmp/b"
    "$bin" exec --enable-perf=false --warmup-time 0.5s --max-rounds 100 --name spin --profile-folder "$tmp/a" -- $base_cmd >/dev/null 2>&1 || true
    "$bin" exec --enable-perf=false --warmup-time 0.5s --max-rounds 100 --name spin --profile-folder "$tmp/b" -- $head_cmd >/dev/null 2>&1 || true
    "$bin" compare --base "$tmp/a" --head "$tmp/b" --format json >"$tmp/cmp.json" 2>/dev/null || true
    cmp_s=$(python3 -c "print('%.2f' % ($(now)-$t0))")
    cmp=$(jq -r '.benchmarks[0] | [.verdict, .change] | @tsv' "$tmp/cmp.json")

    t0=$(now)
    taskset -c 1 hyperfine -N -w 5 -r 100 --export-json "$tmp/hf.json" "$base_cmd" "$head_cmd" >/dev/null 2>&1
    hf_s=$(python3 -c "print('%.2f' % ($(now)-$t0))")
    hf=$(python3 - "$tmp/hf.json" <<'PY'
import json, math, statistics as st, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0]["times"], r[1]["times"]
va, vb = st.variance(a)/len(a), st.variance(b)/len(b)
t = (st.mean(b)-st.mean(a))/math.sqrt(va+vb)
# Welch's t with 100 runs a side: the normal approximation of the t tail.
p = math.erfc(abs(t)/math.sqrt(2))
v = "regressed" if p < 0.05 and t > 0 else ("improved" if p < 0.05 else "unchanged")
print("%s\t%.5f\t%.3g" % (v, st.mean(b)/st.mean(a)-1, p))
PY
)
    printf '%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$load" "$shift" "$i" "$ab" "$ab_s" "$cmp" "$cmp_s" "$hf" "$hf_s" "$(cut -d' ' -f1 /proc/loadavg)" | tee -a "$out"
  done
done
