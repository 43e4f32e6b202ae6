#!/usr/bin/env bash
# Benchmarks of walltime profiling (issue 4; BENCHMARKS.md quotes the output).
# Usage: scripts/bench-profiling.sh   (PAIRS=5 ROUNDS=30 SCRIPT_ROUNDS=60)
# Needs: root or kernel.perf_event_paranoid<=2, make build examples, linux-perf
# (perf record/script), python3, awk.
#  1. Overhead: the median wall time of `primes 2000000 10` with and without
#     profiling, rounds interleaved in one process (BenchmarkProfilingOverhead),
#     for fp and dwarf; then end to end, codspeed exec with profiling on and
#     off alternating, PAIRS times each.
#  2. Processing: samples per second from raw samples to a flame graph
#     (codspeed: raw file -> symbolized -> folded + SVG, a Go benchmark),
#     against perf record's perf.data -> perf script -> a folding awk script,
#     on the same workload (SCRIPT_ROUNDS runs of the command).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export CODSPEED_STORE=$tmp/store
cs=./bin/codspeed
pairs=${PAIRS:-5}
rounds=${ROUNDS:-30}
cmd=(./bin/examples/primes 2000000 10)

median() { python3 -c 'import json,sys,glob; f=json.load(open(glob.glob(sys.argv[1]+"/results/*.json")[0])); print(f["benchmarks"][0]["stats"]["median_ns"])' "$1"; }

for mode in fp dwarf; do
  echo "## 1. Profiling overhead ($mode unwinding): ${cmd[*]}, rounds with and without profiling interleaved (${ROUNDS_INTERLEAVED:-200} pairs)"
  UNWINDING=$mode PRIMES=$PWD/bin/examples/primes go test -run '^$' -bench 'BenchmarkProfilingOverhead$' -benchtime "${ROUNDS_INTERLEAVED:-200}x" ./instruments/perf/ | grep -E '^Benchmark'
done
echo "### same, without samples (FREQ=1): the fixed cost per round"
FREQ=1 PRIMES=$PWD/bin/examples/primes go test -run '^$' -bench 'BenchmarkProfilingOverhead$' -benchtime "${ROUNDS_INTERLEAVED:-200}x" ./instruments/perf/ | grep -E '^Benchmark'
echo "### reference: what perf record's sampling costs the same program here (child CPU time, /usr/bin/time under perf record)"
for f in 1 997; do
  printf 'perf record -F %s: ' "$f"
  perf record -q -e cpu-clock:u -F "$f" -g -o "$tmp/ref.data" -- /usr/bin/time -f "%U+%S s user+sys" ./bin/examples/primes 2000000 200 2>&1 >/dev/null | tail -1
done
echo
echo "## 1b. End to end: codspeed exec --enable-perf=false/true alternating, $pairs pairs of $rounds rounds (noisy on a shared machine)"
on=(); off=()
for i in $(seq "$pairs"); do
  $cs exec --enable-perf=false --warmup-time 300ms --min-rounds "$rounds" --max-rounds "$rounds" --profile-folder "$tmp/off-$i" -- "${cmd[@]}" >/dev/null 2>&1
  off+=("$(median "$tmp/off-$i")")
  $cs exec --enable-perf=true --warmup-time 300ms --min-rounds "$rounds" --max-rounds "$rounds" --profile-folder "$tmp/on-$i" -- "${cmd[@]}" >/dev/null 2>&1
  on+=("$(median "$tmp/on-$i")")
  test -s "$(ls "$tmp/on-$i"/perf/*/all.folded)" || { echo "no profile written" >&2; exit 1; }
done
python3 - "${off[*]}" "${on[*]}" <<'PY'
import sys, statistics as st
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
print("profiling off medians (ms): " + " ".join("%.2f" % (x / 1e6) for x in off))
print("profiling on medians (ms):  " + " ".join("%.2f" % (x / 1e6) for x in on))
print("ratio on/off of the median of medians: %.4f" % (st.median(on) / st.median(off)))
PY
echo

n=${SCRIPT_ROUNDS:-60}
echo "## 2. Profile processing: samples per second, raw samples to flame graph ($n runs of ${cmd[*]})"
echo "### codspeed (raw file -> read -> symbolize -> folded + SVG), go test -bench"
PRIMES=$PWD/bin/examples/primes ROUNDS=$n go test -run '^$' -bench 'BenchmarkRawToFlamegraph$' -benchtime 20x ./instruments/perf/ | grep -E '^Benchmark'
echo "### perf record -e cpu-clock:u -F 997 -g (user space, as codspeed samples), then perf script | awk (folding)"
perf record -q -e cpu-clock:u -F 997 -g -o "$tmp/perf.data" -- sh -c "for i in \$(seq $n); do ${cmd[*]} >/dev/null; done" 2>/dev/null
cat > "$tmp/fold.awk" <<'AWK'
# perf script's default output: a header line per sample, one indented
# "addr sym+off (dso)" line per frame (leaf first), a blank line.
/^[^ \t]/ { comm = $1; n = 0; next }
/^[ \t]+[0-9a-f]+ / { sym = $2; sub(/\+0x[0-9a-f]+$/, "", sym); st[n++] = sym; next }
/^$/ { if (n > 0) { s = comm; for (i = n - 1; i >= 0; i--) s = s ";" st[i]; count[s]++; total++ } n = 0 }
END { for (s in count) print s, count[s]; print total > "/dev/stderr" }
AWK
best=
for i in 1 2 3; do
  s=$(date +%s%N)
  perf script -i "$tmp/perf.data" 2>/dev/null | awk -f "$tmp/fold.awk" >"$tmp/perf.folded" 2>"$tmp/count"
  e=$(date +%s%N)
  t=$(( e - s )); if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
done
samples=$(cat "$tmp/count")
python3 -c "import sys; s=$samples; t=$best/1e9; print('perf script + awk: %d samples in %.3f s (best of 3): %.0f samples/s; perf.data %d bytes, %.1f B/sample' % (s, t, s/t, $(stat -c %s "$tmp/perf.data"), $(stat -c %s "$tmp/perf.data")/s))"
sort -k2 -nr -t' ' "$tmp/perf.folded" | head -3
