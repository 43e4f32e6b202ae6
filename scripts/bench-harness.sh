#!/usr/bin/env bash
# Benchmarks of the walltime exec harness against hyperfine -N, measured in the
# same run (BENCHMARKS.md quotes its output). The harness alone is compared:
# profiling (--enable-perf) and cgroup pinning have their own benchmarks
# (scripts/bench-profiling.sh, scripts/bench-isolation.sh), so both are off here.
# Usage: scripts/bench-harness.sh   Needs: make build examples, hyperfine, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export CODSPEED_STORE=$tmp/store
cs=(./bin/codspeed exec --enable-perf=false --no-sandbox)
rounds=${ROUNDS:-2000}
reps=${REPS:-7}

median() { python3 -c 'import json,sys,glob; f=json.load(open(glob.glob(sys.argv[1]+"/results/*.json")[0])); print(f["benchmarks"][0]["stats"]["median_ns"])' "$1"; }
hmedian() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"]*1e9)' "$1"; }

echo "## 1. Overhead per round on \`true\` ($rounds rounds)"
s=$(date +%s%N); "${cs[@]}" --warmup-time 0 --max-rounds "$rounds" --profile-folder "$tmp/t1" -- true >/dev/null 2>&1; e=$(date +%s%N)
cs_wall=$(( (e - s) / rounds ))
s=$(date +%s%N); hyperfine -N -w 0 -r "$rounds" --export-json "$tmp/h1.json" true >/dev/null 2>&1; e=$(date +%s%N)
hf_wall=$(( (e - s) / rounds ))
printf "| tool | median round (µs) | wall per round, whole process (µs) |\n|---|---|---|\n"
python3 -c "print('| codspeed exec | %.1f | %.1f |' % ($(median "$tmp/t1")/1e3, $cs_wall/1e3)); print('| hyperfine -N | %.1f | %.1f |' % ($(hmedian "$tmp/h1.json")/1e3, $hf_wall/1e3)); print('ratio codspeed/hyperfine, wall per round: %.3f' % ($cs_wall/$hf_wall))"

cmd=(./bin/examples/primes 2000000 10)
echo; echo "## 2-3. Agreement and stability on a CPU-bound command: ${cmd[*]} ($reps interleaved runs of 20 rounds each)"
cmeds=(); hmeds=()
for i in $(seq "$reps"); do
  "${cs[@]}" --warmup-time 300ms --min-rounds 20 --max-rounds 20 --profile-folder "$tmp/s$i" -- "${cmd[@]}" >/dev/null 2>&1
  cmeds+=("$(median "$tmp/s$i")")
  hyperfine -N -w 6 -r 20 --export-json "$tmp/hs$i.json" "${cmd[*]}" >/dev/null 2>&1
  hmeds+=("$(hmedian "$tmp/hs$i.json")")
done
python3 - "${cmeds[*]}" "${hmeds[*]}" <<'PY'
import sys, statistics as st
c = [float(x) for x in sys.argv[1].split()]
h = [float(x) for x in sys.argv[2].split()]
print("| tool | medians (ms) | median of medians | spread (max-min)/median | stdev/mean |")
print("|---|---|---|---|---|")
for name, v in (("codspeed exec", c), ("hyperfine -N", h)):
    m = st.median(v)
    print("| %s | %s | %.3f ms | %.2f%% | %.2f%% |" % (name, " ".join("%.2f" % (x/1e6) for x in v), m/1e6, (max(v)-min(v))/m*100, st.stdev(v)/st.mean(v)*100))
print("agreement: codspeed / hyperfine median of medians = %.4f (%+.2f%%)" % (st.median(c)/st.median(h), (st.median(c)/st.median(h)-1)*100))
PY
