#!/bin/sh
# bench [N]: a tiny CPU-bound loop, exit status $EXIT (default 0).
n=${1:-20000}
i=0
while [ "$i" -lt "$n" ]; do i=$((i + 1)); done
echo "bench: $n iterations"
exit "${EXIT:-0}"
