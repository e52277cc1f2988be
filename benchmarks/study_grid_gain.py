"""Study: does a scale's own grid pay where it is estimated only 1.5 to 2 times cheaper?

Question (issue 7): `_grid_split.GAIN` is the estimated speed-up of the grid-split float32
product over the kernel's below which a scale keeps the kernel. At t = 5.33 on 100,000
Gaussian points in R^3 a scale's own grid leaves about a quarter of the points outside its
box (their rows by the kernel): estimated 1.69x, which GAIN = 2 turned down. Here cold
solves ``solve_iterative(X, t, rtol=rtol, weights=False)`` (Gaussian points in R^d, seed
0), once for each ``--gains`` value, one after the other in the same process: time,
iterations and value.

Usage::

    .venv/bin/python benchmarks/study_grid_gain.py --n 100000 --scale 5.33 --gains 1.5 2  # ~6 min

GAIN stays 2: with 1.5 this scale solved 1.21x faster cold, but two whole 100,000-point
functions ran slower (docs/large-n.md).
"""

from __future__ import annotations

import argparse
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=100_000)
    parser.add_argument("--scale", type=float, default=5.33)
    parser.add_argument("--gains", type=float, nargs="+", default=[1.5, 2.0])
    args = parser.parse_args()
    _, X = _common.gaussian_points("study_grid_gain.py", args, scale=args.scale,
                                    commit=_common.git_commit())
    from metric_magnitude.solvers import _grid_split
    from metric_magnitude.solvers.iterative import SimilarityOperator, solve_iterative

    # which grid the scale gets at each GAIN (its layouts only, no product)
    op = SimilarityOperator(X, kernel="numba")
    print("| GAIN | solve (s) | iterations | products | value | grid |")
    print("|---|---|---|---|---|---|")
    for gain in args.gains:
        _grid_split.GAIN = gain
        t0 = time.perf_counter()
        res = solve_iterative(X, args.scale, rtol=args.rtol, weights=False)
        seconds = time.perf_counter() - t0
        print(f"| {gain:g} | {seconds:.1f} | {res.iterations[0]} | {res.matvecs[0]} | "
              f"{res.magnitude[0]:.10g} | "
              f"{'own' if op.scaled(args.scale).grid_serves() else 'none'} |", flush=True)


if __name__ == "__main__":
    main()
