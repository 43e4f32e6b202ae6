#!/usr/bin/env bash
# What the default local sandbox (own cgroup, pinned to one CPU) costs per
# round: `codspeed exec` in its default configuration, the same with
# --no-sandbox, and `hyperfine -N` pinned with taskset to the CPU the sandbox
# picks (the highest-numbered one), on a ~45 ms CPU-bound C program, REPS
# alternating runs of ROUNDS rounds each (BENCHMARKS.md quotes the output).
# Usage: scripts/bench-sandbox.sh   Needs: make build examples, hyperfine,
# python3, cgroups (run it as root, under flock /tmp/codspeed-dev.lock on a
# shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
make -s build examples
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export CODSPEED_STORE=$tmp/store
reps=${REPS:-7}
rounds=${ROUNDS:-20}
cpu=$(( $(nproc) - 1 ))
cmd=(./bin/examples/primes 2000000 ${REPEAT:-9})

median() { python3 -c 'import json,sys,glob; f=json.load(open(glob.glob(sys.argv[1]+"/results/*.json")[0])); print(f["benchmarks"][0]["stats"]["median_ns"])' "$1"; }
hmedian() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][0]["median"]*1e9)' "$1"; }

echo "load before: $(uptime)"
echo "command: ${cmd[*]}; $reps alternating runs of $rounds rounds; hyperfine pinned with taskset -c $cpu"
d=(); n=(); h=()
for i in $(seq "$reps"); do
  ./bin/codspeed exec --warmup-time 300ms --min-rounds "$rounds" --max-rounds "$rounds" --profile-folder "$tmp/d$i" -- "${cmd[@]}" >/dev/null 2>&1
  d+=("$(median "$tmp/d$i")")
  ./bin/codspeed exec --no-sandbox --warmup-time 300ms --min-rounds "$rounds" --max-rounds "$rounds" --profile-folder "$tmp/n$i" -- "${cmd[@]}" >/dev/null 2>&1
  n+=("$(median "$tmp/n$i")")
  taskset -c "$cpu" hyperfine -N -w 6 -r "$rounds" --export-json "$tmp/h$i.json" "${cmd[*]}" >/dev/null 2>&1
  h+=("$(hmedian "$tmp/h$i.json")")
  echo "rep $i medians (ns): default ${d[-1]} no-sandbox ${n[-1]} hyperfine ${h[-1]}"
done
echo "load after: $(uptime)"
python3 - "${d[*]}" "${n[*]}" "${h[*]}" <<'PY'
import sys, statistics as st
runs = [[float(x) for x in a.split()] for a in sys.argv[1:4]]
names = ("codspeed exec (default: sandbox, perf)", "codspeed exec --no-sandbox", "taskset hyperfine -N")
print("| run | medians (ms) | median of medians | spread (max-min)/median |")
print("|---|---|---|---|")
for name, v in zip(names, runs):
    m = st.median(v)
    print("| %s | %s | %.3f ms | %.2f%% |" % (name, " ".join("%.2f" % (x/1e6) for x in v), m/1e6, (max(v)-min(v))/m*100))
h = st.median(runs[2])
pairs = [a/b for a, b in zip(runs[0], runs[2])]
print("default / hyperfine: median of medians %.4f (%+.2f%%); median of per-pair ratios %.4f" % (st.median(runs[0])/h, (st.median(runs[0])/h-1)*100, st.median(pairs)))
print("--no-sandbox / hyperfine: %.4f" % (st.median(runs[1])/h))
PY
