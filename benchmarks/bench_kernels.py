"""How many products Z(t) v per second do the numpy tiles and the fused numba kernels give?

Question (issue 7): the matrix-free solver's cost is its products with Z(t) = exp(-t D). The
numpy path computes each tile with ``cdist``, ``np.exp`` and BLAS; ``kernel="numba"`` fuses
distance, exp and accumulation (`metric_magnitude.solvers._kernels`). For each n and d this
script times one product on the same `_ScaledSimilarity` (same tiles, the far-field budget
the solver uses at rtol = 1e-8) with either kernel, in the same process, and reports
medians, products per second, the ratio, and the largest entrywise difference relative to
the sum of absolute terms (|Z| |V|). The numba kernels' first call (compiling, or loading
the on-disk cache) is timed separately. The float32 variant of the numba kernel (the
search-direction products of ``precision="mixed"``) is timed in the same loop, with its
ratio to the float64 kernel and its largest difference relative to |Z| |V|.

``--gram``: the products by Gram tiles (``|x|^2 + |y|^2 - 2 x.y`` by BLAS, then the rest by
numpy, or by one compiled pass with the numba kernel): in float32 (the numpy kernel's float32
path, and the numba kernel's from ``iterative._GRAM_MIN_DIM`` dimensions up) against the
fused float32 numba kernel, and in float64 (the certificates' products from
``iterative._GRAM_DOUBLE_MIN_DIM`` dimensions up, where their error bound allows) against
both float64 kernels, over the dimensions given (t = 1 / sqrt(d): Gaussian points about
sqrt(2) / t apart), with each product's largest difference from the fused float64 kernel
relative to |Z| |V|.

Scales: |tX| is near n/2 for the default cases in R^10 (as in ``bench_large.py``); pass
``--scale`` to override. The machine may be shared: read the ratios, not the milliseconds.

Usage::

    .venv/bin/python benchmarks/bench_kernels.py                       # n = 5,000 and 20,000
    .venv/bin/python benchmarks/bench_kernels.py --sizes 500 --dims 3 --repeats 1   # smoke
    .venv/bin/python benchmarks/bench_kernels.py --threads 2 --columns 1 2 --out k.json
    .venv/bin/python benchmarks/bench_kernels.py --gram --sizes 10000 --dims 3 16 32 48 64 128 768
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common

# |tX| close to n/2 for np.random.default_rng(0).standard_normal((n, d)) (bench_large.py for
# d = 10; for d = 3 measured with method="cg" at rtol = 1e-3); other (n, d): the nearest n
SCALES = {(5_000, 10): 2.3, (20_000, 10): 2.8, (5_000, 3): 12.0, (20_000, 3): 20.0}


def _scale(n: int, d: int) -> float:
    same_d = [(abs(n - nn), t) for (nn, dd), t in SCALES.items() if dd == d]
    return min(same_d)[1] if same_d else 2.0


def _time(f, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return out


def run_case(n: int, d: int, t: float, m: int, threads, repeats: int) -> dict:
    import numpy as np

    from metric_magnitude.solvers import _kernels
    from metric_magnitude.solvers.iterative import SimilarityOperator, _BlasOneThread

    X = np.random.default_rng(0).standard_normal((n, d))
    op_np = SimilarityOperator(X, threads=threads, kernel="numpy")
    op_nb = SimilarityOperator(X, threads=threads, kernel="numba")
    budget = 0.05 * 1e-8  # the solver's far-field budget at rtol = 1e-8
    S_np = op_np.scaled(t, far_field_budget=budget)
    S_nb = op_nb.scaled(t, far_field_budget=budget)
    V = np.random.default_rng(1).standard_normal((n, m))
    with _BlasOneThread():  # as inside the solver
        t0 = time.perf_counter()
        got = S_nb.apply(V)
        first = time.perf_counter() - t0
        ref = S_np.apply(V)
        scale = S_np.apply(np.abs(V))
        got32 = S_nb.apply(V, single=True)  # (compiles the float32 variant)
        # interleaved repeats: all kernels see the same machine load
        t_np, t_nb, t_32, t_32t = [], [], [], []
        for _ in range(repeats):
            t_np += _time(lambda: S_np.apply(V), 1)
            t_nb += _time(lambda: S_nb.apply(V), 1)
            t_32 += _time(lambda: S_nb.apply(V, single=True), 1)
            # the first product of a solve also tracks the extreme distances
            t_32t += _time(lambda: S_nb.apply(V, track_min=True, single=True), 1)
    med_np, med_nb = statistics.median(t_np), statistics.median(t_nb)
    med_32, med_32t = statistics.median(t_32), statistics.median(t_32t)
    return {
        "n": n, "d": d, "t": t, "columns": m, "threads": op_np.threads,
        "skipped_fraction": S_np.skipped_fraction,
        "numpy_s": t_np, "numba_s": t_nb, "numba_first_call_s": first,
        "numpy_median_s": med_np, "numba_median_s": med_nb,
        "speedup": med_np / med_nb,
        "max_rel_diff": float(np.max(np.abs(got - ref) / scale)),
        # precision="mixed": the float32 products of CG's search directions
        "single_s": t_32, "single_median_s": med_32, "single_speedup": med_nb / med_32,
        "single_max_rel_diff": float(np.max(np.abs(got32 - ref) / scale)),
        "single_tracked_s": t_32t, "single_tracked_median_s": med_32t,
        "numba_block": _kernels._block_size(d, m, op_np.leaf),
    }


def run_gram_case(n: int, d: int, threads, repeats: int) -> dict:
    import numpy as np

    from metric_magnitude.solvers.iterative import SimilarityOperator, _BlasOneThread

    X = np.random.default_rng(0).standard_normal((n, d))
    t = 1.0 / np.sqrt(d)
    op_np = SimilarityOperator(X, threads=threads, kernel="numpy")
    op_nb = SimilarityOperator(X, threads=threads, kernel="numba")
    op_gnb = SimilarityOperator(X, threads=threads, kernel="numba")
    op_gnb._gram_single = True  # Gram tiles whatever d is (the solver: from 48 dimensions)
    op_nb._gram_single = False  # the fused float32 kernel whatever d is
    S_np, S_nb, S_g64, S_gnb = (op_np.scaled(t), op_nb.scaled(t), op_np.scaled(t),
                                op_gnb.scaled(t))
    S_g64.gram_double = S_gnb.gram_double = True  # float64 Gram tiles whatever d is
    V = np.random.default_rng(1).standard_normal((n, 1))
    runs = {
        "gram32": lambda: S_np.apply(V, single=True),  # numpy after the BLAS product
        "gram32_nb": lambda: S_gnb.apply(V, single=True),  # one compiled pass after it
        "fused32": lambda: S_nb.apply(V, single=True),
        "gram64": lambda: S_g64.apply(V),
        "gram64_nb": lambda: S_gnb.apply(V),
        "numba64": lambda: S_nb.apply(V),
        "numpy64": lambda: S_np.apply(V),
    }
    with _BlasOneThread():  # as inside the solver
        ref = S_nb.apply(V)
        scale = S_nb.apply(np.abs(V))
        S_gnb.apply(V[:, :1])  # compile (or load) the Gram tile kernel before timing
        S_gnb.apply(V[:, :1], single=True)
        diff = {k: float(np.max(np.abs(runs[k]() - ref) / scale))
                for k in ("gram32", "gram32_nb", "fused32", "gram64", "gram64_nb")}
        times = {k: [] for k in runs}
        for _ in range(repeats):  # interleaved: all see the same machine load
            for k, f in runs.items():
                times[k] += _time(f, 1)
    med = {k: statistics.median(v) for k, v in times.items()}
    return {"n": n, "d": d, "t": t, "threads": op_np.threads, "seconds": times,
            "median_s": med, "max_rel_diff": diff}


def _gram_main(args) -> None:
    rows = []
    for n in args.sizes:
        for d in args.dims:
            rows.append(run_gram_case(n, d, args.product_threads, args.repeats))
            print(f"# n={n} d={d}: {rows[-1]['median_s']}", flush=True)
    print()
    print("| n | d | Gram32 numpy (s) | Gram32 numba (s) | fused32 (s) | Gram64 numpy (s) | "
          "Gram64 numba (s) | numba64 (s) | numpy64 (s) | fused32 / Gram32 numba | "
          "numba64 / Gram64 numba | numpy64 / Gram64 numpy | Gram32 max rel. diff | "
          "fused32 max rel. diff | Gram64 max rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        m, e = r["median_s"], r["max_rel_diff"]
        print(f"| {r['n']:,} | {r['d']} | {m['gram32']:.3f} | {m['gram32_nb']:.3f} | "
              f"{m['fused32']:.3f} | {m['gram64']:.3f} | {m['gram64_nb']:.3f} | "
              f"{m['numba64']:.3f} | {m['numpy64']:.3f} | "
              f"{m['fused32'] / m['gram32_nb']:.2f}x | {m['numba64'] / m['gram64_nb']:.2f}x | "
              f"{m['numpy64'] / m['gram64']:.2f}x | "
              f"{max(e['gram32'], e['gram32_nb']):.1e} | {e['fused32']:.1e} | "
              f"{max(e['gram64'], e['gram64_nb']):.1e} |")
    print(f"\nmedians of {args.repeats} interleaved repeats; {_common.machine_line()}")
    _common.write_results(args.out, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[5_000, 20_000])
    parser.add_argument("--dims", type=int, nargs="*", default=[10, 3])
    parser.add_argument("--columns", type=int, nargs="*", default=[1],
                        help="columns of V (CG uses 1; its certificate 2)")
    parser.add_argument("--scale", type=float, default=None, help="t (default: |tX| ~ n/2)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--product-threads", type=int, default=None, dest="product_threads",
                        help="threads of the products (default: the operator's)")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--gram", action="store_true",
                        help="float32 products: Gram tiles against the fused kernel")
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    _common.import_metric_magnitude()
    if args.gram:
        _gram_main(args)
        return

    rows = []
    for d in args.dims:
        for n in args.sizes:
            for m in args.columns:
                t = args.scale if args.scale is not None else _scale(n, d)
                rows.append(run_case(n, d, t, m, args.product_threads, args.repeats))
                r = rows[-1]
                print(f"# n={n} d={d} m={m}: numpy {r['numpy_median_s']:.3f} s, "
                      f"numba {r['numba_median_s']:.3f} s", flush=True)
    print()
    print("| n | d | t | columns | threads | skipped | numpy (s) | numba (s) | products/s "
          "numpy | products/s numba | speed-up | numba first call (s) | max rel. diff "
          "| numba float32 (s) | float32 speed-up | float32 max rel. diff | float32 tracking "
          "distances (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['n']:,} | {r['d']} | {r['t']:g} | {r['columns']} | {r['threads']} | "
              f"{r['skipped_fraction']:.0%} | {r['numpy_median_s']:.3f} | "
              f"{r['numba_median_s']:.3f} | {1 / r['numpy_median_s']:.2f} | "
              f"{1 / r['numba_median_s']:.2f} | {r['speedup']:.2f}x | "
              f"{r['numba_first_call_s']:.2f} | {r['max_rel_diff']:.1e} | "
              f"{r['single_median_s']:.3f} | {r['single_speedup']:.2f}x | "
              f"{r['single_max_rel_diff']:.1e} | {r['single_tracked_median_s']:.3f} |")
    print(f"\nmedians of {args.repeats} interleaved repeats; {_common.machine_line()}")
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
