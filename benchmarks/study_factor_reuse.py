"""Study: how far down a chain should one rich sparse-inverse factor serve?

Question (issue 7): where the grid split makes a scale's float32 products cheap, a ρ = 5
factor (43 to 49 s at 100,000 points) may serve smaller scales down to
1 / ``iterative._FACTOR_REUSE_RATIO_GRID`` of its own scale (3 by default), at the price
of more iterations. On Gaussian points in R^d (seed 0), the ``--k`` smallest of the
magnitude function's scales (``np.geomspace(t_conv / 1000, t_conv, n_scales)``, ``t_conv``
the 100,000-point cloud's convergence scale by default) are solved with
``mm.magnitude_function(X, scales, rtol=rtol)`` once for each ratio, one after the other
in the same process: the time, the values and the certified error of each.

Usage::

    .venv/bin/python benchmarks/study_factor_reuse.py --n 100000 --ratios 3 7   # ~20 minutes
"""

from __future__ import annotations

import argparse
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=100_000)
    parser.add_argument("--t-conv", type=float, default=97.87518399279338,
                        help="the largest scale of the function (default: the convergence "
                             "scale of 100,000 points in R^3)")
    parser.add_argument("--k", type=int, default=6, help="the smallest k scales are solved")
    parser.add_argument("--ratios", type=float, nargs="+", default=[3.0, 7.0])
    parser.add_argument("--method", default="auto", choices=["auto", "cg"],
                        help="cg: the per-scale engine where 'auto' would take the reduced "
                             "basis (below about 30,000 points)")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_factor_reuse.py", args, t_conv=args.t_conv,
                                    k=args.k, commit=_common.git_commit())
    import numpy as np

    from metric_magnitude.solvers import iterative

    scales = np.geomspace(args.t_conv / 1000, args.t_conv, args.n_scales)[:args.k]
    print(f"scales: {', '.join(f'{t:.4g}' for t in scales)}\n")
    print("| ratio | time (s) | certified error | values |")
    print("|---|---|---|---|")
    for ratio in args.ratios:
        iterative._FACTOR_REUSE_RATIO_GRID = ratio
        t0 = time.perf_counter()
        f = mm.magnitude_function(X, scales, rtol=args.rtol, method=args.method)
        seconds = time.perf_counter() - t0
        print(f"| {ratio:g} | {seconds:.1f} | {f.certified_error:.1e} | "
              f"{', '.join(f'{v:.9g}' for v in f.values)} |", flush=True)


if __name__ == "__main__":
    main()
