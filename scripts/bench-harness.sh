#!/usr/bin/env bash
# Benchmarks of the walltime exec harness against hyperfine, measured in the
# same run (BENCHMARKS.md quotes its output). Usage: scripts/bench-harness.sh
# Needs: make build examples, hyperfine, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export CODSPEED_STORE=$tmp/store
cs=./bin/codspeed
rounds=${ROUNDS:-2000}

median() { python3 -c 'import json,sys,glob; f=json.load(open(glob.glob(sys.argv[1]+"/results/*.json")[0])); print(f["benchmarks"][0]["stats"]["median_ns"])' "$1"; }
hmedian() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"]*1e9)' "$1"; }

echo "## 1. Overhead per round on \`true\` ($rounds rounds)"
s=$(date +%s%N); $cs exec --warmup-time 0 --max-rounds "$rounds" --profile-folder "$tmp/t1" -- true >/dev/null 2>&1; e=$(date +%s%N)
cs_wall=$(( (e - s) / rounds ))
s=$(date +%s%N); hyperfine -N -w 0 -r "$rounds" --export-json "$tmp/h1.json" true >/dev/null 2>&1; e=$(date +%s%N)
hf_wall=$(( (e - s) / rounds ))
printf "| tool | median per round (ns) | wall per round incl. bookkeeping (ns) |\n|---|---|---|\n"
printf "| codspeed exec | %.0f | %d |\n| hyperfine -N | %.0f | %d |\n" "$(median "$tmp/t1")" "$cs_wall" "$(hmedian "$tmp/h1.json")" "$hf_wall"
python3 -c "print('ratio codspeed/hyperfine (wall per round): %.3f' % ($cs_wall/$hf_wall))"

cmd=(./bin/examples/primes 2000000 10)
echo; echo "## 2. Agreement on a ~50 ms CPU-bound command: ${cmd[*]}"
$cs exec --warmup-time 1s --min-rounds 30 --max-rounds 30 --profile-folder "$tmp/t2" -- "${cmd[@]}" >/dev/null 2>&1
hyperfine -N -w 20 -r 30 --export-json "$tmp/h2.json" "${cmd[*]}" >/dev/null 2>&1
python3 -c "a=$(median "$tmp/t2"); b=$(hmedian "$tmp/h2.json"); print('codspeed median %.3f ms, hyperfine median %.3f ms, difference %+.2f%%' % (a/1e6, b/1e6, (a/b-1)*100))"

echo; echo "## 3. Stability: spread of the median over 5 repeated runs (same command)"
cmeds=(); hmeds=()
for i in 1 2 3 4 5; do
  $cs exec --warmup-time 300ms --max-rounds 20 --min-rounds 20 --profile-folder "$tmp/s$i" -- "${cmd[@]}" >/dev/null 2>&1
  cmeds+=("$(median "$tmp/s$i")")
  hyperfine -N -w 6 -r 20 --export-json "$tmp/hs$i.json" "${cmd[*]}" >/dev/null 2>&1
  hmeds+=("$(hmedian "$tmp/hs$i.json")")
done
python3 - "${cmeds[*]}" "${hmeds[*]}" <<'PY'
import sys, statistics as st
for name, xs in (("codspeed", sys.argv[1]), ("hyperfine", sys.argv[2])):
    v = [float(x) for x in xs.split()]
    print("%-9s medians (ms): %s  spread (max-min)/median: %.2f%%  stdev/mean: %.2f%%" % (
        name, " ".join("%.3f" % (x/1e6) for x in v), (max(v)-min(v))/st.median(v)*100, st.stdev(v)/st.mean(v)*100))
PY
