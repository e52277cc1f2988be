"""How do time and memory grow with n for each solver, from n = 1,000 to 100,000?

Question (issue 7): one magnitude at one scale, for each method and n, the median time, the
peak memory, and the growth exponents fitted to them (time ~ n^a, peak RSS ~ n^b):

  * ``cholesky``: ``mm.magnitude(X, t, method="cholesky")``, dense (n up to 10,000 by default);
  * ``cg-numba``: ``solve_iterative(X, t, rtol=1e-6, weights=False, kernel="numba")``
    (`metric_magnitude.solvers.iterative`; CG iterations and certified gap recorded);
  * ``cg-numpy``: the same with ``kernel="numpy"`` (n up to 30,000 by default);
  * ``sparse``: ``mm.magnitude(X, t_large, method="sparse", rtol=1e-6)`` at a large scale,
    where Z(t) is nearly diagonal (|tX| about 0.95 n);
  * ``line``: n points on a line with spacing about 1, ``method="line"`` at t = 1 (the exact
    closed form, O(n log n)), also at n = 1,000,000.

Points: ``np.random.default_rng(0).standard_normal((n, 3))``; for ``line``,
``np.sort(rng.random(n))[:, None] * n`` with the same seed. Scales: t(n) = 34 (n / 1e5)^(1/3)
puts |tX| near n/2 for these clouds, t_large(n) = 100 (n / 1e5)^(1/3) near n (the tables
print |tX| / n, so the reader sees where each run landed).

How it measures: every (method, n) runs in a fresh child process, so that its peak resident
memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that run's own. In the child: the
imports, the points, then one untimed warm-up solve on 500 points (it compiles or loads the
numba kernels; 500 points, not the measured n, so no cache is warmed for the measured size),
then ``--repeats`` timed solves; the table gives their median. "peak RSS" is the whole
process: interpreter, numpy/scipy (and numba's LLVM for cg-numba), the points, and the
solver's own arrays. "pre-solve RSS" is the peak before the first timed solve (imports,
points, warm-up), so peak minus pre-solve is roughly what the solver itself allocated.
Growth exponents are least-squares slopes of log(median time), log(peak RSS) and
log(peak - pre-solve RSS) against log(n) over the sizes n >= ``--fit-min-n`` (3,000) that
each method ran; a fixed cost (imports, threads) flattens them at the small sizes.

Usage::

    .venv/bin/python benchmarks/bench_scaling.py --out scaling.json      # full run, quiet machine
    .venv/bin/python benchmarks/bench_scaling.py --threads 1 --out scaling.json   # shared machine
    .venv/bin/python benchmarks/bench_scaling.py --n 500 1000 2000 --repeats 1    # smoke, ~25 s
    .venv/bin/python benchmarks/bench_scaling.py --methods cholesky --n 20000 --repeats 1
    .venv/bin/python benchmarks/bench_scaling.py --methods cg-numba --max-n cg-numba=300000 \\
        --n 30000 100000 300000

On a busy machine pass ``--threads 1``: multithreaded BLAS stalls when another process holds
the cores (dense n = 1,000 took 0.56 s with 2 threads against 0.055 s with 1 on the loaded
2-core development machine).

Per-method caps: the default n list (1,000 to 100,000, plus 1,000,000) runs each method only
up to its default maximum (cholesky 10,000, cg-numpy 30,000, cg-numba and sparse 100,000,
line 1,000,000); sizes given with ``--n`` run up to a larger limit (cholesky 20,000: Z(t) alone
is 3.2 GB at n = 20,000); ``--max-n METHOD=N`` overrides both. Sizes above the cap
are listed as skipped. ``--timeout S`` gives up on a (method, n) child after S seconds.

Expected total run time of the full default run, 3 repeats: ABOUT 4 MINUTES on a quiet
machine. This is an ESTIMATE, not a measurement: the smoke run above (n <= 2,000) took 25 s
on the shared 2-core development machine, about 1.5 s of it per child for imports and the
warm-up (23 children in the full run: about 35 s); the large sizes are extrapolated from the
n = 20,000 and 100,000 timings in docs/benchmarks.md (cholesky 10,000 about 8 s a solve,
cg-numba 100,000 about 17 s, cg-numpy 30,000 about 6 s, sparse 100,000 about 10-13 s, line
1,000,000 about 1 s), times 3 repeats. A loaded machine can take several times longer.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import sys
import time

import _common

METHODS = ("cholesky", "cg-numba", "cg-numpy", "sparse", "line")
DEFAULT_N = (1_000, 3_000, 10_000, 30_000, 100_000, 1_000_000)
# (largest n of the default list, largest n accepted from --n) per method
CAPS = {
    "cholesky": (10_000, 20_000),
    "cg-numba": (100_000, 1_000_000),
    "cg-numpy": (30_000, 100_000),
    "sparse": (100_000, 1_000_000),
    "line": (1_000_000, 10_000_000),
}
WARMUP_N = 500
RTOL = 1e-6
LINE_T = 1.0


def scale_half(n: int) -> float:
    """t(n) with |tX| near n/2 for Gaussian points in R^3 (34 at n = 100,000)."""
    return 34.0 * (n / 1e5) ** (1 / 3)


def scale_large(n: int) -> float:
    """t_large(n) with |tX| near n (about 0.95 n) for Gaussian points in R^3."""
    return 100.0 * (n / 1e5) ** (1 / 3)


def _points(method: str, n: int):
    import numpy as np

    rng = np.random.default_rng(0)
    if method == "line":
        return np.sort(rng.random(n))[:, None] * n  # spacing about 1
    return rng.standard_normal((n, 3))


def _scale(method: str, n: int) -> float:
    if method == "line":
        return LINE_T
    return scale_large(n) if method == "sparse" else scale_half(n)


def _solve(method: str, X, t: float, threads: int | None) -> dict:
    """One solve; the magnitude, and for the CG methods the solver's own record."""
    import metric_magnitude as mm

    if method.startswith("cg-"):
        from metric_magnitude.solvers.iterative import solve_iterative

        res = solve_iterative(X, t, rtol=RTOL, weights=False, kernel=method[3:],
                              threads=threads)
        return {"magnitude": float(res.magnitude[0]), "gap": float(res.gap[0]),
                "iterations": int(res.iterations[0]), "matvecs": int(res.matvecs[0]),
                "preconditioner": str(res.preconditioners[0])}
    if method == "sparse":
        return {"magnitude": float(mm.magnitude(X, t, method="sparse", rtol=RTOL))}
    return {"magnitude": float(mm.magnitude(X, t, method=method))}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(method: str, n: int, repeats: int, threads: int | None) -> dict:
    """Time `repeats` solves of (method, n) in this process, after a warm-up at 500 points."""
    _common.import_metric_magnitude()
    X = _points(method, n)
    t = _scale(method, n)
    t0 = time.perf_counter()
    _solve(method, _points(method, WARMUP_N), _scale(method, WARMUP_N), threads)
    warmup_s = time.perf_counter() - t0
    presolve_mb = _rss_mb()
    times, out = [], {}
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = _solve(method, X, t, threads)
        times.append(time.perf_counter() - t0)
    out.update(method=method, n=n, t=t, magnitude_over_n=out["magnitude"] / n, times=times,
               median_s=statistics.median(times), warmup_s=warmup_s,
               presolve_rss_mb=presolve_mb, peak_rss_mb=_rss_mb(),
               load_after=os.getloadavg())
    return out


def run_child(method: str, n: int, repeats: int, threads: int | None,
              timeout: float | None) -> dict:
    args = [method, str(n), str(repeats)]
    if threads is not None:
        args += ["--threads", str(threads)]
    out = _common.run_child(__file__, args, timeout)
    if "error" in out:
        out = {"method": method, "n": n, **out}
    return out


def fit_slope(xs: list[float], ys: list[float]) -> float | None:
    """Least-squares slope of log(y) against log(x); None with fewer than 2 usable points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def _parse_caps(items: list[str]) -> dict[str, int]:
    caps = {}
    for item in items:
        method, _, value = item.partition("=")
        if method not in METHODS or not value.isdigit():
            raise SystemExit(f"--max-n takes METHOD=N with METHOD in {', '.join(METHODS)}, "
                             f"got {item!r}")
        caps[method] = int(value)
    return caps


def _fmt_slope(s: float | None) -> str:
    return "n/a" if s is None else f"{s:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", nargs="+", type=int, default=None,
                        help="sizes (default 1000 3000 10000 30000 100000 1000000, each method "
                             "up to its default maximum)")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--repeats", type=int, default=3, help="timed solves per (method, n)")
    parser.add_argument("--max-n", nargs="+", default=[], metavar="METHOD=N",
                        help="override the per-method largest n, e.g. cholesky=20000")
    parser.add_argument("--fit-min-n", type=int, default=3000,
                        help="fit the growth exponents over n >= this (default 3000)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up on one (method, n) child after this many seconds")
    parser.add_argument("--out", default=None, help="write all results as JSON here")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    if args.child is not None:
        method, n, repeats = args.child
        print(json.dumps(child(method, int(n), int(repeats), args.threads)))
        return

    explicit = args.n is not None
    sizes = sorted(set(args.n if explicit else DEFAULT_N))
    overrides = _parse_caps(args.max_n)
    caps = {m: overrides.get(m, CAPS[m][1 if explicit else 0]) for m in METHODS}

    print(f"# bench_scaling.py, {_common.utc_now()}, {_common.cpu_model()}, "
          f"{_common.cpus_available()} CPUs, threads {args.threads or 'default'}, "
          f"commit {(_common.git_commit() or 'unknown')[:7]}, load {os.getloadavg()[0]:.2f}\n")
    print(f"Gaussian points in R^3 (line: on a line, spacing about 1); rtol = {RTOL:g} for "
          f"cg and sparse; median of {args.repeats}; peak RSS of the whole child process.\n")
    print("| method | n | t | \\|tX\\|/n | median time (s) | repeats | peak RSS (MB) "
          "| pre-solve RSS (MB) | iterations / certified gap | load after |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    sys.stdout.flush()
    rows, skipped = [], []
    for method in args.methods:
        for n in sizes:
            if n > caps[method]:
                skipped.append(f"{method} n={n}")
                continue
            r = run_child(method, n, args.repeats, args.threads, args.timeout)
            rows.append(r)
            if "error" in r:
                print(f"| {method} | {n} | {_scale(method, n):.3g} | failed: {r['error']} "
                      "| | | | | | |")
            else:
                its = (f"{r['iterations']} / {r['gap']:.1e}" if "iterations" in r else "")
                print(f"| {method} | {n} | {r['t']:.3g} | {r['magnitude_over_n']:.4f} "
                      f"| {r['median_s']:.3g} | {len(r['times'])} | {r['peak_rss_mb']:.0f} "
                      f"| {r['presolve_rss_mb']:.0f} | {its} | {r['load_after'][0]:.2f} |")
            sys.stdout.flush()
    if skipped:
        print(f"\nSkipped (above the method's cap; raise it with --max-n): {', '.join(skipped)}")

    print(f"\nGrowth exponents (least-squares slope of log y against log n, n >= "
          f"{args.fit_min_n}); memory: peak RSS of the process, and peak minus pre-solve RSS "
          "(the solver's own allocations):\n")
    print("| method | time exponent | peak RSS exponent | solver RSS exponent "
          "| n range fitted |")
    print("|---|---|---|---|---|")
    fits = {}
    for method in args.methods:
        ok = [r for r in rows if r["method"] == method and "error" not in r
              and r["n"] >= args.fit_min_n]
        ns = [r["n"] for r in ok]
        fits[method] = {
            "time": fit_slope(ns, [r["median_s"] for r in ok]),
            "peak_rss": fit_slope(ns, [r["peak_rss_mb"] for r in ok]),
            "solver_rss": fit_slope(ns, [r["peak_rss_mb"] - r["presolve_rss_mb"] for r in ok]),
            "n": ns,
        }
        f = fits[method]
        span = f"{min(ns)}-{max(ns)} ({len(ns)} sizes)" if ns else "none"
        print(f"| {method} | {_fmt_slope(f['time'])} | {_fmt_slope(f['peak_rss'])} "
              f"| {_fmt_slope(f['solver_rss'])} | {span} |")
    _common.write_results(args.out, {"rows": rows, "fits": fits, "skipped": skipped,
                                     "repeats": args.repeats, "rtol": RTOL,
                                     "fit_min_n": args.fit_min_n})


if __name__ == "__main__":
    main()
