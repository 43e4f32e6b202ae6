#!/usr/bin/env bash
# Detection and false-positive rates of `codspeed ab` (BENCHMARKS.md quotes
# its output), side by side with what users do by hand: hyperfine -N on both
# commands, then a Welch t-test at 5%.
# The workload is a C busy loop (spin N) of about 18 ms; a shift of S% runs
# S% more iterations in the head. Each trial is one `codspeed ab` with the
# default settings (60 s budget, 1% minimum effect, alpha 0.01). By default
# the sandbox is used (cgroups), under the shared lock /tmp/codspeed-dev.lock;
# PIN=1 instead runs codspeed (--no-sandbox) and hyperfine under taskset -c 1,
# which pins both commands to CPU 1 without cgroups and needs no lock.
# BASE_N sets the base iterations (40000000, about 18 ms; 6000000 is about 3 ms).
# AB_ARGS adds flags to each `codspeed ab` (e.g. "--budget 20s").
# Usage: TRIALS=20 SHIFTS="0 3" HYPERFINE=1 LOAD=0 PIN=0 BASE_N=40000000 scripts/bench-ab.sh
# Needs: make build, cc, jq, python3, hyperfine (when HYPERFINE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build >/dev/null 2>&1
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
cc -O1 -o "$tmp/spin" "$tmp/spin.c"
trials=${TRIALS:-20}
base_n=${BASE_N:-40000000}
if [ "${LOAD:-0}" = 1 ]; then
  # A CPU hog on every core the benchmark does not use.
  taskset -c 0 sh -c 'while :; do :; done' & hog=$!
fi
echo "| shift | trial | ab verdict | ratio [CI] | pairs | seconds | hyperfine+Welch |"
echo "|---|---|---|---|---|---|---|"
# Trials alternate the shifts (0, 3, 0, 3...), so that a run cut short has
# as many trials of each and the load drifts over all of them alike.
for i in $(seq "$trials"); do
  for shift in ${SHIFTS:-0 3}; do
    head_n=$(python3 -c "print(int($base_n*(1+$shift/100)))")
    if [ "${PIN:-0}" = 1 ]; then run=(taskset -c 1 ./bin/codspeed ab --no-sandbox); hfrun=(taskset -c 1 hyperfine)
    else run=(flock /tmp/codspeed-dev.lock ./bin/codspeed ab); hfrun=(hyperfine); fi
    "${run[@]}" ${AB_ARGS:-} --format json --name spin \
      --base-command "$tmp/spin $base_n" --head-command "$tmp/spin $head_n" >"$tmp/ab.json" 2>/dev/null || true
    # Time to decision: the head run's record, without the wait for the lock.
    secs=$(python3 - "$CODSPEED_STORE/$(jq -r .head.run_id "$tmp/ab.json")/run.json" <<'PY'
import json, sys
from datetime import datetime
m = json.load(open(sys.argv[1]))
p = lambda s: datetime.fromisoformat(s[:26].rstrip("Z") if "." in s else s.rstrip("Z"))
print("%.1f" % (p(m["finished_at"]) - p(m["started_at"])).total_seconds())
PY
)
    line=$(jq -r '.benchmarks[0] | "\(.verdict) | \(.paired.estimate.ratio*10000|round/10000) [\(.paired.estimate.lo*10000|round/10000), \(.paired.estimate.hi*10000|round/10000)] | \(.paired.estimate.pairs)"' "$tmp/ab.json")
    hf="-"
    if [ "${HYPERFINE:-1}" = 1 ]; then
      "${hfrun[@]}" -N -w 5 -r 100 --export-json "$tmp/hf.json" "$tmp/spin $base_n" "$tmp/spin $head_n" >/dev/null 2>&1
      hf=$(python3 - "$tmp/hf.json" <<'PY'
import json, math, statistics as st, sys
r = json.load(open(sys.argv[1]))["results"]
a, b = r[0]["times"], r[1]["times"]
va, vb = st.variance(a)/len(a), st.variance(b)/len(b)
t = (st.mean(b)-st.mean(a))/math.sqrt(va+vb)
# Welch's t with ~100 runs a side: the normal approximation of the t tail.
p = math.erfc(abs(t)/math.sqrt(2))
v = "regressed" if p < 0.05 and t > 0 else ("improved" if p < 0.05 else "unchanged")
print("%s (%+.2f%%, p=%.3g)" % (v, 100*(st.mean(b)/st.mean(a)-1), p))
PY
)
    fi
    printf "| %s%% | %d | %s | %s | %s |\n" "$shift" "$i" "$line" "$secs" "$hf"
  done
done
