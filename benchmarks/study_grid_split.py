"""Study: the grid-split float32 product against the kernel's, time and error.

Question (issue 7): at the scales a grid serves (t rc <= 1), how fast is the grid-split
product (`solvers/_grid_split.py`) against the numba kernel's float32 product, and how far
are both from the float64 product, relative to (|Z| |V|)? Gaussian points in R^3 (seed 0),
one operator, V = 1 + standard normal columns; the grid is forced on (any n, any cost) so
that small n can be looked at too. Times: medians of 3 one-column products (the split's
kernel transform, built once per scale, reported apart), the kernel's one product.

Usage::

    .venv/bin/python benchmarks/study_grid_split.py --n 100000 --scales 0.1 0.3 0.6 1 1.5
    .venv/bin/python benchmarks/study_grid_split.py --n 20000 --scales 0.1 1
    .venv/bin/python benchmarks/study_grid_split.py --n 100000 --scales 2.58 3.71 5.34

Scales beyond the operator's grid (t rc > 1) get a grid of their own where that pays
(rc = RC_SCALE / t, over a box around the median; the points outside it by the kernel).
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--scales", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    _common.pin_threads(args.threads)
    _common.import_metric_magnitude()
    import numpy as np

    from metric_magnitude.solvers import _grid_split, iterative

    iterative._GRID_SPLIT_MIN_N = 0
    _grid_split.GAIN = 0.0
    X = np.random.default_rng(0).standard_normal((args.n, 3))
    op = iterative.SimilarityOperator(X, kernel="numba")
    V = np.random.default_rng(1).standard_normal((args.n, 1)) + 1.0
    t0 = time.perf_counter()
    lay = op.grid_layout()
    print(f"# study_grid_split.py, {_common.utc_now()}, {_common.cpu_model()}, "
          f"commit {_common.git_commit()}, n = {args.n}: grid {lay.shape}, FFTs "
          f"{lay.fft_shape}, h = {lay.h:.4g}, rc = {lay.rc:.4g} (t <= {1 / lay.rc:.4g}), "
          f"{lay.near_pairs / args.n:.0f} candidate pairs a point, layout "
          f"{time.perf_counter() - t0:.2f} s\n")
    print("| t | grid | t rc | kernel transform (s) | split product (s) | float32 kernel "
          "product (s) | speed-up | split error, max | median | float32 kernel error, max "
          "| median |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for t in args.scales:
        S = op.scaled(t)
        S.apply(V, track_min=True, single=True)  # (the solver's first product)
        t0 = time.perf_counter()
        split = S.grid_split()
        build = time.perf_counter() - t0
        if split is None:
            print(f"| {t:g} | none | {t * lay.rc:.2f} | not served | | | | | | | |")
            continue
        own = split.layout
        grid = ("the operator's" if own is lay else
                f"its own, {'x'.join(map(str, own.shape))}, {own.outside.size} points "
                "outside")
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            Y = S.apply(V, single=True)
            times.append(time.perf_counter() - t0)
        S._split = None  # the kernel's float32 product
        t0 = time.perf_counter()
        Yk = S.apply(V, single=True)
        kernel = time.perf_counter() - t0
        ref, scale = S.apply(V), S.apply(np.abs(V))
        e = np.abs(Y - ref) / scale
        ek = np.abs(Yk - ref) / scale
        med = statistics.median(times)
        print(f"| {t:g} | {grid} | {t * own.rc:.2f} | {build:.2f} | {med:.3f} | {kernel:.3f} | "
              f"{kernel / med:.1f}x | {e.max():.1e} | {np.median(e):.1e} | {ek.max():.1e} | "
              f"{np.median(ek):.1e} |", flush=True)


if __name__ == "__main__":
    main()
