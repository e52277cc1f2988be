"""Benchmark: the magnitude function on 100 scales up to the convergence scale, vs magnipy.

Gaussian points in R^10 (seed = n), n = 1000, 2000, 4000. For each n and thread setting:

* ours, three ways, each timed together with the convergence-scale search:
  ``mm.magnitude_function(X, np.linspace(0, t_conv, 100))`` after
  ``t_conv = mm.convergence_scale(X)`` ("linspace": magnipy's grid, two calls),
  ``mm.magnitude_function(X, "linear")`` (the same grid in one call, which reuses the
  search's factorisations) and ``mm.magnitude_function(X)`` (our geometric "auto" grid);
* magnipy 1.0.0 (``Magnipy(X, n_ts=100).get_magnitude()``, convergence search included),
  run in its own environment benchmarks/.venv-magnipy through _magnipy_runner.py;
* accuracy: our values against a per-scale exact Cholesky solve at the same scales
  (scipy.linalg.cho_factor), max relative difference, checked on the first repeat of each
  grid (the values do not depend on the thread count); peak numpy memory of our call
  (tracemalloc, in a second, untimed call of that first repeat, since tracing slows every
  allocation) against 3 n^2 doubles.

Usage (from the repository root; magnipy's venv as in tests/fixtures/README.md):

    .venv/bin/python benchmarks/bench_functions.py [--sizes 1000 2000 4000] [--repeats 3]

Thread settings are applied to child processes through OMP/OPENBLAS/MKL_NUM_THREADS, so
each measurement runs in a fresh process. Results: a markdown table and --out JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import REPO, THREAD_VARS

MAGNIPY_PY = REPO / "benchmarks" / ".venv-magnipy" / "bin" / "python"


def _env(threads: int) -> dict:
    env = dict(os.environ)
    for k in THREAD_VARS:
        if threads:
            env[k] = str(threads)
        else:
            env.pop(k, None)
    return env


GRIDS = ("linspace", "linear", "auto")


def ours(n: int, dim: int, grid: str, check: bool = True) -> dict:
    """One timed run of our magnitude function (in this process)."""
    import tracemalloc

    import numpy as np
    import scipy.linalg as sla

    import metric_magnitude as mm

    X = np.random.default_rng(n).normal(size=(n, dim))

    def run():
        if grid == "linspace":
            t_conv = mm.convergence_scale(X)
            return mm.magnitude_function(X, np.linspace(0.0, t_conv, 100))
        if grid == "linear":
            return mm.magnitude_function(X, "linear")
        return mm.magnitude_function(X)

    start = time.perf_counter()
    f = run()
    seconds = time.perf_counter() - start
    peak = float("nan")
    if check:  # tracemalloc slows every allocation down: a separate, untimed run
        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    # accuracy against an exact Cholesky solve at every scale (not timed)
    D = mm.distance_matrix(X)
    worst = float("nan")
    for t, v in zip(f.scales, f.values, strict=True) if check else ():
        worst = 0.0 if np.isnan(worst) else worst
        if t == 0:
            continue
        c = sla.cho_factor(np.exp(-t * D), lower=True)
        exact = float(sla.cho_solve(c, np.ones(n)).sum())
        worst = max(worst, abs(v - exact) / exact)
    return {
        "seconds": seconds,
        "n_solves": f.n_solves,
        "error_estimate": f.error_estimate,
        "max_rel_err_vs_cholesky": worst,
        "peak_bytes": peak,
        "peak_in_n2_doubles": peak / (8.0 * n * n),
        "t_max": float(f.scales[-1]),
    }


def _child(args: list[str], threads: int, python: str = sys.executable) -> dict:
    out = subprocess.run(
        [python, *args], env=_env(threads), capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 0], help="0 = all cores")
    p.add_argument("--dim", type=int, default=10)
    p.add_argument("--no-magnipy", action="store_true")
    p.add_argument("--out", type=Path)
    p.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a._child:
        print(json.dumps(ours(int(a._child[0]), a.dim, a._child[1], a._child[2] == "1")))
        return
    rows = []
    for n in a.sizes:
        for threads in a.threads:
            reps = a.repeats if n < 4000 else 1
            runs = {g: [] for g in (*GRIDS, "magnipy")}
            for rep in range(reps):  # interleaved, each in a fresh process
                for grid in GRIDS:
                    check = "1" if rep == 0 and threads == a.threads[0] else "0"
                    runs[grid].append(_child(
                        [__file__, "--dim", str(a.dim), "--_child", str(n), grid, check], threads
                    ))
                if not a.no_magnipy:
                    runs["magnipy"].append(
                        _child(
                            [
                                str(REPO / "benchmarks" / "_magnipy_runner.py"),
                                "--n",
                                str(n),
                                "--dim",
                                str(a.dim),
                                "--threads",
                                str(threads),
                            ],
                            threads,
                            str(MAGNIPY_PY),
                        )
                    )
            med = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items() if v}
            row = {"n": n, "threads": threads or os.cpu_count(), "repeats": reps,
                   "magnipy_s": med.get("magnipy")}
            for g in GRIDS:
                row[f"ours_{g}_s"] = med[g]
                row[f"speedup_{g}"] = med.get("magnipy", float("nan")) / med[g]
                row[f"n_solves_{g}"] = runs[g][0]["n_solves"]
            errs = [r["max_rel_err_vs_cholesky"] for g in GRIDS for r in runs[g]]
            row["max_rel_err"] = max((e for e in errs if e == e), default=float("nan"))
            peaks = [r["peak_in_n2_doubles"] for g in GRIDS for r in runs[g]]
            row["peak_n2_doubles"] = max((p for p in peaks if p == p), default=float("nan"))
            if runs["magnipy"]:
                m = runs["magnipy"][0]
                row["magnipy_t_conv"] = m["ts"][-1]
                row["ours_t_conv"] = runs["linspace"][0]["t_max"]
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
    print(
        "| n | threads | magnipy (s) | ours: linspace, two calls (s) | ours: \"linear\" (s) | "
        "ours: \"auto\" (s) | speed-up (linspace / linear / auto) | solves (lin/linear/auto) "
        "| max rel. err. vs Cholesky | peak memory (n^2 doubles) |"
    )
    print("|" + "---|" * 10)
    for r in rows:
        mp = f"{r['magnipy_s']:.2f}" if r["magnipy_s"] else "—"
        times = " | ".join(f"{r[f'ours_{g}_s']:.2f}" for g in GRIDS)
        speed = " / ".join(f"{r[f'speedup_{g}']:.1f}x" for g in GRIDS)
        solves = "/".join(str(r[f"n_solves_{g}"]) for g in GRIDS)
        print(
            f"| {r['n']} | {r['threads']} | {mp} | {times} | {speed} | {solves} | "
            f"{r['max_rel_err']:.1e} | {r['peak_n2_doubles']:.2f} |"
        )
    if a.out:
        a.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
