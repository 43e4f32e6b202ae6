#!/bin/bash
# aslr-determinism.sh [N]: do simulation counts depend on address randomisation? Runs the same
# native, Go and Node benchmarks N times (default 5) with `setarch -R` (randomisation off) and with a
# stand-in setarch that leaves it on (what happens under Docker's default seccomp profile), with a PATH
# of the same length in both (the environment's size changes start-up counts), and prints the range
# of instruction counts per benchmark and variant. Quoted in docs/docker.md. Needs `make build
# examples` and examples/node's packages (scripts/node-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/off" "$work/onn"
ln -s "$(command -v setarch)" "$work/off/setarch"
printf '#!/bin/sh\n# setarch ARCH -R CMD...: CMD, address randomisation left on\nshift; [ "$1" = -R ] && shift\nexec "$@"\n' >"$work/onn/setarch"
chmod +x "$work/onn/setarch"
for i in $(seq 1 "$n"); do
	for v in off onn; do
		P=$work/$v:$PATH
		PATH=$P ./bin/codspeed exec --mode simulation --profile-folder "$work/r-$v-native-$i" -- ./bin/examples/primes 100000 >/dev/null 2>&1
		PATH=$P ./bin/codspeed run --mode simulation --profile-folder "$work/r-$v-go-$i" --working-directory instruments/simulation/testdata/gobench \
			-- go test -run='^$' '-bench=Sort/n=100/sorted|LoopAlloc|Fib20|Known' . >/dev/null 2>&1
		PATH=$P ./bin/codspeed run --mode simulation --profile-folder "$work/r-$v-node-$i" -- node examples/node/bench.mjs >/dev/null 2>&1
	done
done
python3 - "$work" <<'PY'
import json, glob, sys, collections
res = collections.defaultdict(lambda: collections.defaultdict(list))
for f in glob.glob(sys.argv[1] + '/r-*/results/*.json'):
    _, v, w, _ = f[len(sys.argv[1]) + 1:].split('/')[0].split('-')
    for b in json.load(open(f))['benchmarks']:
        s = b.get('simulation') or {}
        if s.get('instructions') is not None:
            res[(w, b['name'])][v].append(s['instructions'])
print(f"{'':6} {'benchmark':40} {'randomisation':13} {'runs':>4} {'min Ir':>14} {'max Ir':>14} {'spread':>8}")
for k in sorted(res):
    for v, label in (('off', 'off (-R)'), ('onn', 'on')):
        xs = sorted(res[k][v])
        if xs:
            print(f"{k[0]:6} {k[1][:40]:40} {label:13} {len(xs):4} {xs[0]:14.3f} {xs[-1]:14.3f} {(xs[-1]-xs[0])/xs[0]:8.1e}")
PY
