"""Study: where should method="auto" switch from matrix-free CG to the sparse solver?

Question (issue 7): ``method="auto"`` solves a scale of points whose dense matrices do not fit
by the truncated sparse solver where a sample estimates that it keeps at most
``core._SPARSE_MAX_DENSITY_VS_CG`` of the entries of Z(t) (0.03, and at most
``core._SPARSE_MAX_ROW_ENTRIES_VS_CG`` = 200 a row), else
by CG. That threshold was measured before CG's float32 products and sparse-inverse
preconditioner. Here both solve the same scales, each certified to ``--rtol`` with the
derivative (as a magnitude function's per-scale engine asks), ``mm.solve(X, [t],
method=...)``, Gaussian points in R^d (seed 0), one after the other at each scale; the kept
fraction is the planner's sample estimate, the one auto compares with the threshold.

Usage::

    .venv/bin/python benchmarks/study_sparse_vs_cg.py --n 100000 --scales 22.9 32.9 47.3 68 97.9
    .venv/bin/python benchmarks/study_sparse_vs_cg.py --n 20000 --scales 25 40 60 80
    .venv/bin/python benchmarks/study_sparse_vs_cg.py --n 20000 --scales 12 16 20 25 --no-numba

``--no-numba``: as where numba is not installed (cg on the numpy tiles in float64, the
sparse inverse factored by LAPACK calls; the sparse solver's derivative product on the
numpy tiles too).
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=20_000)
    parser.add_argument("--scales", type=float, nargs="+", required=True)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-numba", action="store_true",
                        help="cg without the compiled kernels, as without numba")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_sparse_vs_cg.py", args, commit=_common.git_commit(),
                                    numba=not args.no_numba)
    import numpy as np

    if args.no_numba:
        from metric_magnitude.solvers import iterative

        iterative._NUMBA_MIN_POINTS = float("inf")  # kernel="auto" -> the numpy tiles

    from metric_magnitude.exceptions import SparseTooDenseError
    from metric_magnitude.solvers.sparse import _Planner

    planner = _Planner(X, "euclidean")
    print("| t | \\|tX\\| / n | kept (estimate) | sparse (s) | cg (s) | sparse / cg |")
    print("|---|---|---|---|---|---|")
    rows = []
    for t in args.scales:
        row = {"t": t, "kept_estimate": planner.estimate(t, args.rtol)[0]}
        for method in ("sparse", "cg"):
            times = []
            try:
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    _, res = mm.solve(X, np.array([t]), method=method, weights=False,
                                      derivative=True, rtol=args.rtol)
                    times.append(time.perf_counter() - t0)
            except (mm.InsufficientMemoryError, SparseTooDenseError) as err:
                # the sparse matrix would not fit, or keeps more than the solver accepts
                row[method] = {"error": str(err)}
                continue
            row[method] = {"seconds": times, "median_s": statistics.median(times),
                           "magnitude": float(res.magnitude[0]),
                           "gap": float(res.error_bound[0])}
        rows.append(row)
        c = row["cg"]["median_s"]
        s = row["sparse"].get("median_s")
        refused = "too dense" if "too dense" in row["sparse"].get("error", "") else "does not fit"
        sparse = (f"{refused} | {c:.1f} | — |" if s is None
                  else f"{s:.1f} | {c:.1f} | {s / c:.2f} |")
        print(f"| {t:g} | {row['cg']['magnitude'] / args.n:.4f} | {row['kept_estimate']:.4f} "
              f"| {sparse}", flush=True)
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
