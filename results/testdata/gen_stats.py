#!/usr/bin/env python3
"""Generate stats_cases.json: walltime statistics computed by Python's own
statistics module, the reference that docs/protocol.md §3 (and pytest-codspeed)
uses. results/stats_test.go checks ComputeStats against this file.

Run from results/testdata: python3 gen_stats.py > stats_cases.json
Only the standard library is used, and the random inputs use a fixed seed, so
the output is reproducible byte for byte.
"""

import json
import math
import random
import statistics


def expected(per_iter, iter_per_round, warmup_iters):
    n = len(per_iter)
    if n >= 2:
        q1, median, q3 = statistics.quantiles(per_iter, n=4, method="exclusive")
        stdev = statistics.stdev(per_iter)
    else:
        # Python 3.11 refuses quantiles of one value; 3.13 and pytest-codspeed
        # give the value itself.
        q1 = median = q3 = per_iter[0]
        stdev = 0.0
    mean = statistics.mean(per_iter)
    iqr = q3 - q1
    lo, hi = q1 - 1.5 * iqr, q3 + 1.5 * iqr
    return {
        "min_ns": min(per_iter),
        "max_ns": max(per_iter),
        "mean_ns": float(mean),
        "stdev_ns": float(stdev),
        "q1_ns": float(q1),
        "median_ns": float(median),
        "q3_ns": float(q3),
        "rounds": n,
        "total_time": math.fsum(t * iter_per_round for t in per_iter) / 1e9,
        "iqr_outlier_rounds": sum(1 for t in per_iter if t < lo or t > hi),
        "stdev_outlier_rounds": sum(1 for t in per_iter if abs(t - mean) > 3 * stdev),
        "iter_per_round": iter_per_round,
        "warmup_iters": warmup_iters,
        # Cross-check of the plain median against the quantile's middle value.
        "_median_check": float(statistics.median(per_iter)),
    }


def cases():
    rng = random.Random(20261125)
    yield "n=1", [812.0], 1, 0
    yield "n=2", [100.0, 300.0], 1, 0
    yield "n=2 reversed", [300.0, 100.0], 4, 2
    yield "n=3", [3.0, 1.0, 2.0], 1, 0
    yield "n=4", [10.0, 40.0, 20.0, 30.0], 2, 0
    yield "n=5 odd", [5.5, 1.25, 9.0, 3.0, 7.75], 1, 10
    yield "n=6 even", [6.0, 1.0, 5.0, 2.0, 4.0, 3.0], 3, 0
    yield "n=7", [13.0, 7.0, 11.0, 2.0, 3.0, 5.0, 17.0], 1, 0
    yield "all equal", [42.0] * 10, 1, 0
    yield "ties", [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.0, 3.0, 9.0], 1, 0
    yield "ties at quartiles", [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 6.0, 100.0], 1, 0
    yield "one high outlier", [100.0 + i for i in range(19)] + [1000.0], 1, 3
    yield "low and high outliers", [1.0] + [100.0 + (i % 5) for i in range(30)] + [900.0, 950.0], 5, 0
    # A round time that does not divide by its iterations: per-iteration
    # values with long binary expansions.
    yield "divided rounds", [rt / 7 for rt in (7001.0, 7013.0, 6999.0, 7100.0, 7003.0)], 7, 14
    yield "gauss n=101", [rng.gauss(50_000.0, 500.0) for _ in range(101)], 1, 0
    yield "gauss n=1000", [rng.gauss(1e6, 2e4) for _ in range(1000)], 10, 100
    yield "lognormal n=64", [rng.lognormvariate(10.0, 0.8) for _ in range(64)], 1, 0
    # Large values with a tiny spread: catches a one-pass variance formula.
    yield "large mean tiny spread", [1e9 + rng.random() for _ in range(50)], 1, 0
    yield "sub-ns", [rng.uniform(0.2, 0.3) for _ in range(33)], 1_000_000, 0
    yield "heavy tail", [rng.paretovariate(1.5) * 1000.0 for _ in range(200)], 1, 0
    for n in (8, 9, 10, 11):
        yield f"uniform n={n}", [float(rng.randint(1, 50)) for _ in range(n)], 1, 0


def main():
    out = []
    for name, per_iter, ipr, warm in cases():
        out.append({
            "name": name,
            "per_iter_ns": per_iter,
            "iter_per_round": ipr,
            "warmup_iters": warm,
            "want": expected(per_iter, ipr, warm),
        })
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
