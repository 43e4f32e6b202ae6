#!/usr/bin/env bash
# Isolation benchmark (BENCHMARKS.md): spread of 10 repeated medians of the
# same command, pinned in its own cgroup on CPU 1 versus unpinned, while
# stress-ng loads the machine, and hyperfine's spread under the same load.
# Usage (root, 2+ CPUs): scripts/bench-isolation.sh   Needs: stress-ng, hyperfine, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build examples
tmp=$(mktemp -d); trap 'kill $stress 2>/dev/null || true; rm -rf "$tmp"' EXIT
export CODSPEED_STORE=$tmp/store
cs=./bin/codspeed
cmd=(./bin/examples/primes 2000000 5)
reps=${REPS:-10}

# Load on the other core (CPU 0): a CPU hog (LOAD=vm adds a memory-bandwidth hog there too, which
# reaches every core through the shared cache and memory bus: no pinning can remove that).
if [ "${LOAD:-cpu}" = vm ]; then extra=(--vm 1 --vm-bytes 256M); else extra=(); fi
stress-ng --cpu 1 "${extra[@]}" --taskset 0 --timeout 600s >/dev/null 2>&1 &
stress=$!
sleep 1

median() { python3 -c 'import json,sys,glob; print(json.load(open(glob.glob(sys.argv[1]+"/results/*.json")[0]))["benchmarks"][0]["stats"]["median_ns"])' "$1"; }
pin=(); free=(); hf=()
for i in $(seq "$reps"); do
  $cs exec --enable-perf=false --cpus 1 --warmup-time 200ms --min-rounds 15 --max-rounds 15 --profile-folder "$tmp/p$i" -- "${cmd[@]}" >/dev/null 2>&1
  pin+=("$(median "$tmp/p$i")")
  $cs exec --enable-perf=false --no-sandbox --warmup-time 200ms --min-rounds 15 --max-rounds 15 --profile-folder "$tmp/u$i" -- "${cmd[@]}" >/dev/null 2>&1
  free+=("$(median "$tmp/u$i")")
  hyperfine -N -w 3 -r 15 --export-json "$tmp/h$i.json" "${cmd[*]}" >/dev/null 2>&1
  hf+=("$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"]*1e9)' "$tmp/h$i.json")")
done
python3 - "${pin[*]}" "${free[*]}" "${hf[*]}" <<'PY'
import sys, statistics as st
rows = [("codspeed --cpus 1 (own cgroup)", sys.argv[1]), ("codspeed --no-sandbox", sys.argv[2]), ("hyperfine -N", sys.argv[3])]
print("| run | median of medians (ms) | spread (max-min)/median | stdev/mean |")
print("|---|---|---|---|")
for name, xs in rows:
    v = [float(x) for x in xs.split()]
    m = st.median(v)
    print("| %s | %.3f | %.2f%% | %.2f%% |" % (name, m/1e6, (max(v)-min(v))/m*100, st.stdev(v)/st.mean(v)*100))
PY
