"""How long does the sparse-inverse preconditioner's factor take, compiled against LAPACK?

Question (issue 7): `_sparse_inverse.factor` computes one small dense Cholesky per column
of L (rho = 5: about 148 entries a column in R^3). The compiled columns (numba, the
Cholesky four rows at a time) against the baseline in the same run, the loop over LAPACK
calls (``compiled=False``), on Gaussian points in R^d (seed 0) at one scale: medians of
``--repeats`` interleaved runs, the pattern built once beforehand (not timed), and the
largest difference between the two factors' values relative to the largest value.

Usage::

    .venv/bin/python benchmarks/bench_sparse_inverse_factor.py --n 100000 --rho 5 --repeats 1
    .venv/bin/python benchmarks/bench_sparse_inverse_factor.py --n 20000 --rho 4
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--rho", type=float, default=5.0)
    parser.add_argument("--scale", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=3)
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    _common.import_metric_magnitude()
    import numpy as np

    from metric_magnitude.solvers import _sparse_inverse, iterative

    X = np.random.default_rng(0).standard_normal((args.n, args.d))
    op = iterative.SimilarityOperator(X, kernel="numba")
    colptr, rows = _sparse_inverse.pattern(op._P, op._p, args.rho)
    sizes = np.diff(colptr)
    # compile outside the timing
    small = np.random.default_rng(1).standard_normal((300, args.d))
    _sparse_inverse.factor(small, "euclidean", args.scale,
                           *_sparse_inverse.pattern(small, 2.0, args.rho), threads=op.threads)
    times = {True: [], False: []}
    vals = {}
    for _ in range(args.repeats):
        for compiled in (True, False):
            t0 = time.perf_counter()
            L = _sparse_inverse.factor(op._P, "euclidean", args.scale, colptr, rows,
                                       threads=op.threads, compiled=compiled)
            times[compiled].append(time.perf_counter() - t0)
            vals[compiled] = L.data
    fast, base = statistics.median(times[True]), statistics.median(times[False])
    diff = float(np.abs(vals[True] - vals[False]).max() / np.abs(vals[False]).max())
    print(f"# bench_sparse_inverse_factor.py, {_common.utc_now()}, {_common.cpu_model()}, "
          f"{op.threads} threads, commit {_common.git_commit()}, n = {args.n}, d = {args.d}, "
          f"rho = {args.rho:g}, t = {args.scale:g}, medians of {args.repeats}\n")
    print("| entries a column (mean / max) | compiled (s) | LAPACK loop (s) | speed-up | "
          "max difference |")
    print("|---|---|---|---|---|")
    print(f"| {sizes.mean():.0f} / {sizes.max()} | {fast:.2f} | {base:.2f} | "
          f"{base / fast:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
