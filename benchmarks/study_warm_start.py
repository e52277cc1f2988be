"""Study: CG iterations along a magnitude function's scales, by warm start.

Question (issue 7): how much does each scale's start cost or save when the 20 geometric
scales of a magnitude function over [t_conv / 1000, t_conv] are solved in one chain, as the
per-scale engine of ``magnitude_function`` does (``solve_iterative(X, scales, rtol=1e-6,
weights=False, derivative=True)``)? Compared: the Galerkin start over the last k scales'
weights (``iterative._WARM_HISTORY = k``; k = 1 is the best multiple of the last weights,
what the solver did before), the chain's direction (``--orders``: from the smallest scale
up, what the solver did before, or from the largest down, ``iterative._CHAIN_DESCENDING``)
and, with ``--cold``, no warm start. Gaussian points in R^d
(seed 0); the chains run one after the other in the same process, alternating when
``--repeats`` > 1 (medians of the times).

Usage::

    .venv/bin/python benchmarks/study_warm_start.py --n 20000                 # ~4 minutes
    .venv/bin/python benchmarks/study_warm_start.py --n 10000 --histories 1 2 4 6 --cold
    .venv/bin/python benchmarks/study_warm_start.py --n 20000 --t-conv 57.2136
    .venv/bin/python benchmarks/study_warm_start.py --n 20000 --t-conv 57.2136 --histories 4 8 \
        --orders ascending descending
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=20_000)
    parser.add_argument("--histories", type=int, nargs="*", default=[1, 4],
                        help="previous scales spanning the warm start, one chain each")
    parser.add_argument("--orders", nargs="*", default=["descending"],
                        choices=["ascending", "descending"],
                        help="the warm chains' directions along the scales, one chain each")
    parser.add_argument("--cold", action="store_true", help="also a chain without warm start")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--t-conv", type=float, default=None,
                        help="the convergence scale (default: searched, not timed)")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_warm_start.py", args, commit=_common.git_commit())
    import numpy as np

    from metric_magnitude.solvers import iterative

    t_conv = args.t_conv or mm.convergence_scale(X, method="cg")
    # load every compiled kernel a chain uses (the sparse inverse's from 2,048 points) before
    # the first chain is timed
    iterative.solve_iterative(X[:3000], [0.1, 1.0], rtol=args.rtol, weights=False,
                              derivative=True)
    scales = np.geomspace(t_conv / 1000, t_conv, args.n_scales)
    chains = [f"history {k} {order}" for order in args.orders for k in args.histories]
    chains += ["cold"] if args.cold else []
    seconds = {c: [] for c in chains}
    results = {}
    for _ in range(args.repeats):
        for chain in chains:
            if chain != "cold":
                iterative._WARM_HISTORY = int(chain.split()[1])
                iterative._CHAIN_DESCENDING = chain.endswith("descending")
            t0 = time.perf_counter()
            res = iterative.solve_iterative(X, scales, rtol=args.rtol, weights=False,
                                            derivative=True, warm_start=chain != "cold")
            seconds[chain].append(time.perf_counter() - t0)
            results[chain] = res
    print(f"t_conv = {t_conv:.6g}; CG iterations per scale:\n")
    print("| t | " + " | ".join(chains) + " |\n|---|" + "---|" * len(chains))
    for i, t in enumerate(scales):
        print(f"| {t:.4g} | " + " | ".join(str(results[c].iterations[i]) for c in chains)
              + " |")
    rows = []
    for chain in chains:
        res = results[chain]
        row = {"chain": chain, "seconds": seconds[chain],
               "median_s": statistics.median(seconds[chain]),
               "iterations": res.iterations.tolist(), "matvecs": res.matvecs.tolist(),
               "max_gap": float(res.gap.max()), "t": scales.tolist()}
        rows.append(row)
        print(f"\n{chain}: {row['median_s']:.1f} s (median of {len(seconds[chain])}), "
              f"{sum(row['iterations'])} iterations, {sum(row['matvecs'])} products with Z, "
              f"largest certified gap {row['max_gap']:.1e}", end="")
    base = statistics.median(seconds[chains[0]])
    print("\n\ntime ratios against " + chains[0] + ": " + ", ".join(
        f"{c} {base / statistics.median(seconds[c]):.2f}x" for c in chains[1:]))
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
