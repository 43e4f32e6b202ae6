#!/usr/bin/env python3
"""Summarise scripts/bench-ab.sh output (one or more TSV files) as the
BENCHMARKS.md tables: per load and shift, how often each method said
regressed / improved / unchanged, with a 95% Wilson interval on the rate that
matters (false positives at 0%, detections otherwise), and ab's time to
decision.

Usage: scripts/bench-ab-summary.py quiet.tsv loaded.tsv
"""
import csv
import math
import statistics
import sys


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def pct(k, n):
    lo, hi = wilson(k, n)
    return "%d/%d = %.0f%% [%.0f, %.0f]" % (k, n, 100 * k / n, 100 * lo, 100 * hi)


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main(paths):
    rows = []
    for p in paths:
        with open(p) as f:
            lines = [l for l in f if not l.startswith("#")]
        rows += [r for r in csv.DictReader(lines, delimiter="\t") if r["load"] != "load"]
    cells = {}
    for r in rows:
        cells.setdefault((r["load"], float(r["shift"])), []).append(r)
    print("| load | change | trials | `ab` flagged (regressed) | `ab` improved | `ab` unchanged | `ab` inconclusive"
          " | `ab` seconds: median, p90, max | `compare` regressed | `compare` improved | hyperfine+Welch regressed | hyperfine+Welch improved |")
    print("|---" * 12 + "|")
    for (load, shift), rs in sorted(cells.items()):
        n = len(rs)

        def count(col, v):
            return sum(1 for r in rs if r[col] == v)

        secs = [float(r["ab_s"]) for r in rs]
        print("| %s | %g%% | %d | **%s** | %d | %d | %d | %.1f, %.1f, %.1f | %s | %d | %s | %d |" % (
            "quiet" if load == "0" else "CPU hog on CPU 0",
            shift, n, pct(count("ab", "regressed"), n),
            count("ab", "improved"), count("ab", "unchanged"), count("ab", "inconclusive"),
            statistics.median(secs), quantile(secs, 0.9), max(secs),
            pct(count("compare", "regressed"), n), count("compare", "improved"),
            pct(count("hyperfine", "regressed"), n), count("hyperfine", "improved")))
    print()
    print("| load | change | `ab` median ratio | `ab` median pairs | `compare` median change | hyperfine median change | load average (median) |")
    print("|---" * 7 + "|")
    for (load, shift), rs in sorted(cells.items()):
        med = lambda col: statistics.median(float(r[col]) for r in rs)
        print("| %s | %g%% | %.4f | %d | %+.2f%% | %+.2f%% | %.2f |" % (
            "quiet" if load == "0" else "CPU hog on CPU 0", shift, med("ratio"), med("pairs"),
            100 * med("compare_change"), 100 * med("hf_change"), med("loadavg")))


if __name__ == "__main__":
    main(sys.argv[1:])
