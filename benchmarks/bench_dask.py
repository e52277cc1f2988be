"""Does the matrix-free CG solver scale over Dask workers, and does it give the same answer?

Question (issue 8): n = 200,000 Gaussian points in R^3 (seed 0), one scale where |tX| is
near n / 2, ``solve_iterative(X, t, rtol=1e-6, client=...)`` with the products Z v spread
over a `distributed.LocalCluster` of 1 and 2 worker processes (one thread each), against
the single-machine solver with 1 and 2 threads in the same run. Reported: wall time, time
per product, speed-up over one worker, the certified gap, and whether every certified
interval overlaps the single-machine one (they all contain |tX|).

Each configuration runs in its own child process. The first product of each configuration
(the numba kernels' load, the workers' start) is a warm-up at small n outside the timing;
the local cluster's start-up is not timed either. With ``--scheduler ADDRESS`` the Dask
runs use every worker of that running cluster instead (one row).

Usage::

    .venv/bin/python benchmarks/bench_dask.py                      # n = 200,000 (long)
    .venv/bin/python benchmarks/bench_dask.py --n 3000 --t 5       # a smoke run, seconds
    .venv/bin/python benchmarks/bench_dask.py --workers 1 2 4 --out dask.json
    .venv/bin/python benchmarks/bench_dask.py --scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import _common

# |tX| near n / 2 for standard_normal((n, 3)): bench_large's t = 34 at n = 100,000, times
# (n / 100,000)^(1/3) (the typical spacing of the points); the run prints |tX| / n
DEFAULT_T = 43.0


def _points(n: int, d: int):
    import numpy as np

    return np.random.default_rng(0).standard_normal((n, d))


def _summary(res, times) -> dict:
    return {
        **_common.iterative_summary(res),
        "times": times,
        "median_s": statistics.median(times),
        "load_after": os.getloadavg(),
    }


def child(kind: str, count: int, threads: int, n: int, d: int, t: float, rtol: float,
          repeats: int, scheduler: str | None) -> dict:
    """One configuration: kind "local" (count threads) or "dask" (count workers)."""
    _common.import_metric_magnitude()
    from metric_magnitude.solvers.iterative import solve_iterative

    X = _points(n, d)

    def timed(**where) -> dict:
        """A warm-up solve at 3,000 points (kernels, workers), then the timed repeats."""
        solve_iterative(_points(3000, d), 5.0, rtol=1e-6, weights=False, **where)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            res = solve_iterative(X, t, rtol=rtol, weights=False, **where)
            times.append(time.perf_counter() - t0)
        return _summary(res, times)

    if kind == "local":
        return timed(threads=count)
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler:
        client = Client(scheduler, timeout=30)
    else:
        cluster = LocalCluster(n_workers=count, threads_per_worker=threads, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        out = timed(client=client)
        out["workers"] = {w: int(k) for w, k in client.nthreads().items()}
        return out
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--t", type=float, default=DEFAULT_T)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="local cluster sizes (worker processes); also the local threads")
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--scheduler", default=None,
                        help="a running cluster's scheduler address instead of local clusters")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-local", action="store_true",
                        help="skip the single-machine runs")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # one BLAS thread everywhere: the solver's own threads and the workers use the cores
    _common.pin_threads(1)
    if args.child is not None:
        kind, count, threads = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps(child(kind, count, threads, args.n, args.d, args.t, args.rtol,
                               args.repeats, args.scheduler)))
        return

    common = ["--n", str(args.n), "--d", str(args.d), "--t", str(args.t), "--rtol",
              str(args.rtol), "--repeats", str(args.repeats)]
    if args.scheduler:
        common += ["--scheduler", args.scheduler]
    machine = {"cpu": _common.cpu_model(), "cpus": _common.cpus_available(),
               "load_before": os.getloadavg(), "date": _common.utc_now(),
               "commit": _common.git_commit()}
    print(f"# bench_dask.py, {machine['date']}, {machine['cpu']}, {machine['cpus']} CPUs, "
          f"load {os.getloadavg()[0]:.2f}; n = {args.n} in R^{args.d}, t = {args.t}, "
          f"rtol = {args.rtol}, median of {args.repeats}\n")
    configs = []
    if not args.no_local:
        configs += [("local", k, 1) for k in args.workers]
    if args.scheduler:
        configs.append(("dask", 0, 0))
    else:
        configs += [("dask", k, args.threads_per_worker) for k in args.workers]
    results = {"machine": machine, "settings": vars(args) | {"child": None}, "runs": []}
    print("| run | workers x threads | time (s) | s per product | speed-up | |tX| / n "
          "| certified gap | iterations | products | overlaps single-machine | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    base = {}
    reference = None
    for kind, count, threads in configs:
        r = _common.run_child(__file__, [kind, str(count), str(threads), *common])
        r.update({"kind": kind, "count": count, "threads": threads})
        results["runs"].append(r)
        if "error" in r:
            print(f"| {kind} | {count} x {threads} | failed: {r['error']} |")
            continue
        if kind == "local" and reference is None:
            reference = r
        if kind == "dask" and count == 0:  # a given cluster
            count = len(r["workers"])
            threads = max(r["workers"].values())
        label = "single machine" if kind == "local" else "Dask"
        shape = f"1 x {count}" if kind == "local" else f"{count} x {threads}"
        base.setdefault(kind, r["median_s"])
        overlap = ("" if reference is None else
                   str(r["lower"] <= reference["upper"] and reference["lower"] <= r["upper"]))
        print(f"| {label} | {shape} | {r['median_s']:.1f} | {r['median_s'] / r['matvecs']:.2f} "
              f"| {base[kind] / r['median_s']:.2f} | {r['magnitude'] / args.n:.4f} "
              f"| {r['gap']:.1e} | {r['iterations']} | {r['matvecs']} | {overlap} "
              f"| {r['load_after'][0]:.2f} |")
        sys.stdout.flush()
    _common.write_results(args.out, results)


if __name__ == "__main__":
    main()
