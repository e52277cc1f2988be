"""Study: CG iterations and time per scale with the sparse-inverse preconditioner.

Question (issue 7): does ``preconditioner="sparse_inverse"`` (KL-minimising sparse inverse
Cholesky factor, what ``"auto"`` picks for euclidean points in up to 3 dimensions) cut the
iterations of the magnitude function's scales, against ``"nystrom+block_jacobi"`` (what
``"auto"`` picked before)? Gaussian points in R^d (seed 0), the function's 20 geometric
scales over [t_conv / 1000, t_conv], each a cold certified solve
``solve_iterative(X, t, rtol=1e-6, weights=False, preconditioner=...)`` (a fresh operator
each time, so the sparse inverse's pattern is computed every time too), both
preconditioners at each scale before the next scale (same machine state).

Usage::

    .venv/bin/python benchmarks/study_sparse_inverse.py --n 10000          # about 2 minutes
    .venv/bin/python benchmarks/study_sparse_inverse.py --n 20000 --n-scales 5
    .venv/bin/python benchmarks/study_sparse_inverse.py --n 100000 --rhos 4 5 --scales 0.15

In more than 3 dimensions the sparse inverse's pattern is each point's 20 nearest later
points in a random order, and "auto" picks it (in up to 20 dimensions) where the sampled
spread fraction (mean of 1 / row sum of Z over 128 rows) is at least 0.003; the table
shows that fraction and what "auto" picks::

    .venv/bin/python benchmarks/study_sparse_inverse.py --n 20000 --d 10 --scales 0.7 1 1.3 1.69 3

``--rhos``: instead, the sparse inverse with each pattern radius rho (length scales) in turn
at each of ``--scales`` (default: the function's scales): does the richer pattern that
"auto" uses from 50,000 points at small scales pay for its dearer factor?
"""

from __future__ import annotations

import argparse
import time

import _common

PRECONDITIONERS = ("sparse_inverse", "nystrom+block_jacobi")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=10_000)
    parser.add_argument("--rhos", type=float, nargs="*", default=None,
                        help="compare these pattern radii of the sparse inverse instead")
    parser.add_argument("--scales", type=float, nargs="*", default=None,
                        help="solve at these scales (no convergence-scale search)")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_sparse_inverse.py", args,
                                    commit=_common.git_commit())
    import numpy as np

    from metric_magnitude.solvers.iterative import (
        SimilarityOperator,
        _sampled_spread_fraction,
        _sparse_inverse_pays,
        solve_iterative,
    )

    if args.scales:
        scales = np.asarray(args.scales)
    else:
        t_conv = mm.convergence_scale(X, method="cg")
        scales = np.geomspace(t_conv / 1000, t_conv, args.n_scales)
    if args.rhos:
        _compare_rhos(X, scales, args)
        return
    rows = []
    op = SimilarityOperator(X)
    print("| t | \\|tX\\| / n | sampled spread / n | auto | " + " | ".join(
        f"{p} iterations | {p} (s)" for p in PRECONDITIONERS) + " |")
    print("|---|---|---|---|" + "---|---|" * len(PRECONDITIONERS))
    for t in scales:
        row = {"t": float(t), "spread_fraction": _sampled_spread_fraction(op, float(t)),
               "auto": ("sparse_inverse" if _sparse_inverse_pays(op, float(t))
                        else "nystrom+block_jacobi")}
        for p in PRECONDITIONERS:
            t0 = time.perf_counter()
            res = solve_iterative(X, t, rtol=args.rtol, weights=False, preconditioner=p)
            row[p] = {"seconds": time.perf_counter() - t0, "iterations": int(res.iterations[0]),
                      "description": res.preconditioners[0], "gap": float(res.gap[0])}
            row["magnitude_per_n"] = float(res.magnitude[0]) / args.n
        rows.append(row)
        print(f"| {t:.4g} | {row['magnitude_per_n']:.4f} | {row['spread_fraction']:.4f} | "
              f"{row['auto']} | " + " | ".join(
            f"{row[p]['iterations']} | {row[p]['seconds']:.1f}" for p in PRECONDITIONERS)
            + " |", flush=True)
    totals = {p: (sum(r[p]["seconds"] for r in rows), sum(r[p]["iterations"] for r in rows))
              for p in PRECONDITIONERS}
    print("\n" + ", ".join(f"{p}: {s:.1f} s, {it} iterations in all"
                           for p, (s, it) in totals.items()))
    base, new = totals["nystrom+block_jacobi"][0], totals["sparse_inverse"][0]
    print(f"time ratio nystrom+block_jacobi / sparse_inverse: {base / new:.2f}x")
    _common.write_results(args.out, rows)


def _compare_rhos(X, scales, args) -> None:
    from metric_magnitude.solvers import iterative

    print("| t | rho | entries a column | CG iterations | solve (s) |\n|---|---|---|---|---|")
    rows = []
    for t in scales:
        for rho in args.rhos:
            # this radius at every scale and size
            iterative._SPARSE_INVERSE_RICH = (rho, 0, float("inf"))
            t0 = time.perf_counter()
            res = iterative.solve_iterative(X, t, rtol=args.rtol, weights=False,
                                            preconditioner="sparse_inverse")
            row = {"t": float(t), "rho": rho, "seconds": time.perf_counter() - t0,
                   **_common.iterative_summary(res)}
            rows.append(row)
            print(f"| {t:.4g} | {rho:g} | {row['preconditioner']} | {row['iterations']} | "
                  f"{row['seconds']:.1f} |", flush=True)
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
