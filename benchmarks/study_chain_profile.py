"""Study: where a magnitude function's time goes, scale by scale (the per-scale engine).

Question (issue 7): in ``mm.magnitude_function(X, "auto", n_scales=20, rtol=1e-6)`` on
Gaussian points in R^d (seed 0), how long does each CG solve take (the convergence-scale
search's solves first, then the function's chain from the largest scale down), and how much
of it is products with Z, by kind: float32 search directions ("f32 m1"; "f32 mK" the
Galerkin start's block of K columns) and the float64 certificates ("f64 m3 dw": x, |x| and
1 with the derivative's distance-weighted products in the same pass)? The preconditioner's
factor is built before a solve starts and is not in its time. ``--no-grid-split`` turns
the grid-split float32 products off (``iterative._GRID_SPLIT_MIN_N``), the code before them.
The last column: the time to build the preconditioner of that solve (0 where it reuses the
factor of another scale).

Usage::

    .venv/bin/python benchmarks/study_chain_profile.py --n 50000                   # ~8 minutes
    .venv/bin/python benchmarks/study_chain_profile.py --n 50000 --no-grid-split   # ~10 minutes
    .venv/bin/python benchmarks/study_chain_profile.py --n 5000 --method cg
    .venv/bin/python benchmarks/study_chain_profile.py --n 100000 --gain 1.5     # ~25 minutes
"""

from __future__ import annotations

import argparse
import collections
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=50_000)
    parser.add_argument("--no-grid-split", action="store_true",
                        help="the kernel's float32 products at every scale")
    parser.add_argument("--method", default="auto", choices=["auto", "cg"])
    parser.add_argument("--gain", type=float, default=None,
                        help="_grid_split.GAIN: how much cheaper than the kernel a grid "
                             "must be estimated to serve a scale (default: the library's)")
    args = parser.parse_args()
    mm, X = _common.gaussian_points("study_chain_profile.py", args, method=args.method,
                                    commit=_common.git_commit(),
                                    grid_split=not args.no_grid_split, gain=args.gain)
    from metric_magnitude.solvers import _grid_split, iterative

    if args.gain is not None:
        _grid_split.GAIN = args.gain

    if args.no_grid_split:
        iterative._GRID_SPLIT_MIN_N = 1 << 62
    spent: dict[str, float] = collections.defaultdict(float)
    rows = []
    product = iterative._product
    pcg = iterative._pcg

    def timed_product(S, V, state, single=False, distance_weighted=False):
        m = 1 if V.ndim == 1 else V.shape[1]
        key = f"{'f32' if single else 'f64'} m{m}{' dw' if distance_weighted else ''}"
        t0 = time.perf_counter()
        out = product(S, V, state, single, distance_weighted)
        spent[key] += time.perf_counter() - t0
        return out

    # the factor built since the last solve (a scale's preconditioner comes just before
    # its solve; none where it reuses another scale's)
    factor = [0.0]
    preconditioner = iterative._Preconditioner

    def timed_preconditioner(S, *a, **k):
        t0 = time.perf_counter()
        M = preconditioner(S, *a, **k)
        factor[0] += time.perf_counter() - t0
        return M

    def timed_pcg(S, M, x0, rtol, maxiter, state):
        spent.clear()
        t0 = time.perf_counter()
        res = pcg(S, M, x0, rtol, maxiter, state)
        rows.append({"t": S.t, "seconds": time.perf_counter() - t0,
                     "iterations": res.iterations, "products": res.matvecs,
                     "grid split": S._split is not None, "preconditioner": M.description,
                     "factor": factor[0], **spent})
        factor[0] = 0.0
        return res

    iterative._product = timed_product
    iterative._pcg = timed_pcg
    iterative._Preconditioner = timed_preconditioner
    t0 = time.perf_counter()
    f = mm.magnitude_function(X, "auto", n_scales=args.n_scales, rtol=args.rtol,
                              method=args.method)
    total = time.perf_counter() - t0
    if not rows:
        print(f"magnitude_function: {total:.1f} s, no CG solve to profile (engine "
              f"{f.solver!r}); pass --method cg")
        return
    kinds = sorted({k for r in rows for k in r if k[:3] in ("f32", "f64")})
    print("| t | solve (s) | iterations | products | grid split | "
          + " | ".join(f"{k} (s)" for k in kinds) + " | preconditioner | its factor (s) |")
    print("|---|---|---|---|---|" + "---|" * len(kinds) + "---|---|")
    for r in rows:
        print(f"| {r['t']:.4g} | {r['seconds']:.1f} | {r['iterations']} | {r['products']} | "
              f"{'yes' if r['grid split'] else 'no'} | "
              + " | ".join(f"{r.get(k, 0.0):.1f}" for k in kinds)
              + f" | {r['preconditioner']} | {r['factor']:.1f} |")
    chain = rows[-args.n_scales:]
    error = ("not certified" if f.certified_error is None
             else f"certified error <= {f.certified_error:.1e}")
    print(f"\nmagnitude_function: {total:.1f} s in all; its chain of {len(chain)} scales "
          f"{sum(r['seconds'] for r in chain):.1f} s in {sum(r['iterations'] for r in chain)} "
          f"iterations and {sum(r['products'] for r in chain)} products; {error}")


if __name__ == "__main__":
    main()
