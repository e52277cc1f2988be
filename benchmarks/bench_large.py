"""How fast is the matrix-free CG path (method="cg") at large n, how accurate, how much memory?

Question (issue 7): one scale where |tX| is near n/2, Gaussian points (seed 0),
  * n = 5,000 and 20,000 in R^10: ``mm.magnitude(X, t, method="cg", rtol=1e-8)`` against
    dense Cholesky ``mm.magnitude(X, t, method="cholesky")`` in the same run (time ratio,
    relative difference, and whether the Cholesky value lies in the certified interval);
  * n = 100,000 in R^3 with rtol = 1e-6: iterations, time, certified gap, peak memory
    (Cholesky would need 280 GB);
  * the time of one product Z v for a few leaf (block) sizes and thread counts.

Every (case, method) runs in its own child process, so that its peak memory
(``resource.getrusage``) is its own. The machine is shared: report medians, and read the
load averages printed next to them.

Usage::

    .venv/bin/python benchmarks/bench_large.py                 # everything (about 15 min)
    .venv/bin/python benchmarks/bench_large.py --cases 5k 20k --repeats 3 --out large.json
    .venv/bin/python benchmarks/bench_large.py --cases 100k-r10-tenth --repeats 1 --double
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

import _common

# scales with |tX| close to n / 2 for np.random.default_rng(0).standard_normal((n, d))
CASES = {
    "5k": {"n": 5_000, "d": 10, "t": 2.3, "rtol": 1e-8, "methods": ("cg", "cholesky")},
    "20k": {"n": 20_000, "d": 10, "t": 2.8, "rtol": 1e-8, "methods": ("cg", "cholesky")},
    "100k": {"n": 100_000, "d": 3, "t": 34.0, "rtol": 1e-6, "methods": ("cg",)},
    # |tX| near n / 10; not in the default list (about 9 minutes here)
    "100k-tenth": {"n": 100_000, "d": 3, "t": 16.0, "rtol": 1e-6, "methods": ("cg",)},
    # R^10: t from the n = 20,000 crossings (n/2 at 2.8, n/10 at 1.69) times (100k/20k)^0.142,
    # the growth from 5k to 20k; the table prints where |tX| / n landed
    "100k-r10": {"n": 100_000, "d": 10, "t": 3.52, "rtol": 1e-6, "methods": ("cg",)},
    "100k-r10-tenth": {"n": 100_000, "d": 10, "t": 2.12, "rtol": 1e-6, "methods": ("cg",)},
}


def _points(n: int, d: int):
    import numpy as np

    return np.random.default_rng(0).standard_normal((n, d))


def child(case: str, method: str, repeats: int) -> dict:
    """Run one (case, method) `repeats` times in this process; return timings and results."""
    mm = _common.import_metric_magnitude()
    from metric_magnitude.solvers.iterative import solve_iterative

    c = CASES[case]
    X = _points(c["n"], c["d"])
    times, out = [], {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        if method in ("cg", "cg-double"):
            # "cg": the default precision="mixed" (float32 search directions); "cg-double":
            # every product in float64, the baseline for the mixed-precision speed-up
            precision = "double" if method == "cg-double" else "mixed"
            res = solve_iterative(X, c["t"], rtol=c["rtol"], weights=False,
                                  precision=precision)
            elapsed = time.perf_counter() - t0
            out = {
                **_common.iterative_summary(res),
                "lambda_bound": float(res.lambda_min_bound[0]),
                "lambda_source": res.lambda_bound_source[0],
                "skipped_fraction": float(res.skipped_fraction[0]),
            }
        else:
            value = mm.magnitude(X, c["t"], method=method)
            elapsed = time.perf_counter() - t0
            out = {"magnitude": float(value)}
        times.append(elapsed)
    out["times"] = times
    out["median_s"] = statistics.median(times)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["load_after"] = os.getloadavg()
    return out


def child_blocks(repeats: int) -> list[dict]:
    """Median time of one product Z v, n = 20,000 in R^10, by leaf size and threads."""
    _common.import_metric_magnitude()
    import numpy as np

    from metric_magnitude.solvers.iterative import SimilarityOperator

    X = _points(20_000, 10)
    v = np.ones(20_000)
    rows = []
    for leaf in (128, 256, 512):
        for threads in (1, 2):
            op = SimilarityOperator(X, leaf=leaf, threads=threads)
            op.matvec(v, 2.8)  # warm up
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                op.matvec(v, 2.8)
                times.append(time.perf_counter() - t0)
            rows.append({"leaf": leaf, "threads": threads, "median_s": statistics.median(times),
                         "ns_per_entry": statistics.median(times) / 20_000**2 * 1e9})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=["blocks", "5k", "20k", "100k"])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of the cg runs")
    parser.add_argument("--cholesky-repeats", type=int, default=1,
                        help="repeats of the dense Cholesky runs (20k: about 2 min each)")
    parser.add_argument("--double", action="store_true",
                        help="also run cg with precision='double' (method cg-double), the "
                             "baseline for the mixed-precision speed-up")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    if args.child is not None:
        if args.child[0] == "blocks":
            print(json.dumps(child_blocks(int(args.child[1]))))
        else:
            case, method, repeats = args.child
            print(json.dumps(child(case, method, int(repeats))))
        return

    results = {"machine": {"cpu": _common.cpu_model(), "cpus": _common.cpus_available(),
                           "load_before": os.getloadavg(), "date": _common.utc_now(),
                           "commit": _common.git_commit(), "threads": _common.thread_env()}}
    print(f"# bench_large.py, {results['machine']['date']}, {results['machine']['cpu']}, "
          f"{results['machine']['cpus']} CPUs, load {os.getloadavg()[0]:.2f}\n")
    if "blocks" in args.cases:
        rows = _common.run_child(__file__, ["blocks", str(args.repeats)])
        results["blocks"] = rows
        print("One product Z v, n = 20,000 in R^10, t = 2.8 (median of "
              f"{args.repeats}):\n")
        print("| leaf | threads | time (s) | ns per entry of Z |\n|---|---|---|---|")
        for r in rows if isinstance(rows, list) else []:
            print(f"| {r['leaf']} | {r['threads']} | {r['median_s']:.2f} "
                  f"| {r['ns_per_entry']:.2f} |")
        print()
    print("| case | n | d | t | method | median time (s) | repeats | magnitude / n "
          "| certified gap | iterations | peak RSS (MB) | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        if case == "blocks":
            continue
        c = CASES[case]
        results[case] = {}
        methods = c["methods"] + (("cg-double",) if args.double else ())
        for method in methods:
            reps = args.cholesky_repeats if method == "cholesky" else args.repeats
            r = _common.run_child(__file__, [case, method, str(reps)])
            results[case][method] = r
            if "error" in r:
                print(f"| {case} | {c['n']} | {c['d']} | {c['t']} | {method} | failed: "
                      f"{r['error']} |")
                continue
            gap = f"{r['gap']:.1e}" if "gap" in r else ""
            its = str(r.get("iterations", ""))
            print(f"| {case} | {c['n']} | {c['d']} | {c['t']} | {method} | {r['median_s']:.1f} "
                  f"| {len(r['times'])} | {r['magnitude'] / c['n']:.4f} | {gap} | {its} "
                  f"| {r['peak_rss_mb']:.0f} | {r['load_after'][0]:.2f} |")
        if "cholesky" in results[case] and "error" not in results[case]["cholesky"]:
            cg, ch = results[case]["cg"], results[case]["cholesky"]
            rel = abs(cg["magnitude"] - ch["magnitude"]) / ch["magnitude"]
            inside = cg["lower"] <= ch["magnitude"] * (1 + 1e-12) and \
                ch["magnitude"] * (1 - 1e-12) <= cg["upper"]
            results[case]["ratio"] = ch["median_s"] / cg["median_s"]
            results[case]["relative_difference"] = rel
            print(f"|  | {case}: Cholesky / cg time = {ch['median_s'] / cg['median_s']:.1f}x, "
                  f"relative difference {rel:.1e}, Cholesky value inside the certified "
                  f"interval: {inside} |")
        if all("error" not in results[case].get(m, {"error": ""}) for m in ("cg", "cg-double")):
            ratio = results[case]["cg-double"]["median_s"] / results[case]["cg"]["median_s"]
            results[case]["mixed_speedup"] = ratio
            print(f"|  | {case}: cg-double / cg (mixed) time = {ratio:.2f}x |")
        sys.stdout.flush()
    _common.write_results(args.out, results)


if __name__ == "__main__":
    main()
