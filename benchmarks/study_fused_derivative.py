"""Study: the derivative's product fused into the last certificate of each scale.

Question (issue 7): along a magnitude function's 20 geometric scales over
[t_conv / 1000, t_conv], solved in one chain with derivatives as the per-scale engine of
``magnitude_function`` does (``solve_iterative(X, scales, rtol=1e-6, weights=False,
derivative=True)``), how much time does it save that a certificate predicted to succeed
also computes (D o Z) [x, |x|, 1] in the same pass over the pairs
(``iterative._FUSE_DERIVATIVE``), against a separate product after each scale (before)?
Both chains run in the same process, alternating (medians of ``--repeats``); the report
counts the separate derivative products each needed, and checks that both give the same
derivatives within their certified error bounds. Gaussian points in R^d (seed 0).

Usage::

    .venv/bin/python benchmarks/study_fused_derivative.py --n 20000 --t-conv 57.2136 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=20_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--t-conv", type=float, default=None,
                        help="the convergence scale (default: searched, not timed)")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_fused_derivative.py", args,
                                    commit=_common.git_commit())
    import numpy as np

    from metric_magnitude.solvers import iterative

    t_conv = args.t_conv or mm.convergence_scale(X, method="cg")
    scales = np.geomspace(t_conv / 1000, t_conv, args.n_scales)
    separate_products = []
    derivative = iterative._derivative

    def counted(S, x, weight_error):
        separate_products.append(S.t)
        return derivative(S, x, weight_error)

    iterative._derivative = counted
    rows = {True: [], False: []}
    for _ in range(args.repeats):
        for fuse in (False, True):
            iterative._FUSE_DERIVATIVE = fuse
            separate_products.clear()
            t0 = time.perf_counter()
            res = iterative.solve_iterative(X, scales, rtol=args.rtol, weights=False,
                                            derivative=True)
            rows[fuse].append({
                "seconds": time.perf_counter() - t0,
                "iterations": int(res.iterations.sum()),
                "products": int(res.matvecs.sum()),
                "separate_derivative_products": len(separate_products),
                "derivative": res.derivative.tolist(),
                "derivative_error": res.derivative_error.tolist(),
            })
            print(f"fused={fuse}: {rows[fuse][-1]['seconds']:.1f} s, "
                  f"{rows[fuse][-1]['iterations']} iterations, "
                  f"{rows[fuse][-1]['products']} products, "
                  f"{len(separate_products)} separate derivative products", flush=True)
    a, b = rows[False][-1], rows[True][-1]
    gap = np.abs(np.subtract(a["derivative"], b["derivative"]))
    within = bool(np.all(gap <= np.add(a["derivative_error"], b["derivative_error"])))
    print("\n| derivative's product | time (s), runs | median | iterations | products "
          "| separate derivative products |")
    print("|---|---|---|---|---|---|")
    med = {fuse: statistics.median(x["seconds"] for x in rows[fuse]) for fuse in rows}
    for fuse, name in ((False, "separate (before)"), (True, "in the last certificate (now)")):
        r = rows[fuse]
        runs = ", ".join(f"{x['seconds']:.1f}" for x in r)
        print(f"| {name} | {runs} | {med[fuse]:.1f} | {r[-1]['iterations']} | "
              f"{r[-1]['products']} | {r[-1]['separate_derivative_products']} |")
    print(f"\nseparate / fused: {med[False] / med[True]:.2f}x; "
          f"derivatives agree within their bounds: {within}")
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
