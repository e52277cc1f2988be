"""How much faster is the grid split's float32 product with its short-range pairs by twigs?

Question (issue 7): the grid-split product (`solvers/_grid_split.py`) computes the
short-range part of its kernel exactly over the pairs of k-d cells whose boxes are within
rc. By leaves (256 points; their boxes about twice rc across at 100,000 Gaussian points in
R^3) most of those pairs lie beyond rc; by twigs (the k-d order refined to at most 64
points) fewer do. Both layouts on the same operator in one run: the baseline as the code
before the twigs (leaf boxes, and the cost model's short-range cost then, 1.4), against
the current one; medians of ``--repeats`` interleaved one-column products at each scale
(Gaussian points in R^3, seed 0; V = 1 + N(0, 1)), and the two products' largest
difference relative to the largest entry.

Usage::

    .venv/bin/python benchmarks/bench_grid_near.py --n 100000 --scales 0.1 0.3 1
    .venv/bin/python benchmarks/bench_grid_near.py --n 50000 --scales 0.3
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = _common.parse_scale_timing(parser, 50_000, [0.3], dims=False)
    import numpy as np

    from metric_magnitude.solvers import _grid_split, iterative

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, 3))
    op = iterative.SimilarityOperator(X, kernel="numba")
    V = (1.0 + rng.standard_normal(args.n))[:, None]
    twig_boxes, near_cost = op._twig_boxes, _grid_split._NEAR_COST
    layouts = {"twigs": _grid_split.GridLayout(op)}
    op._twig_boxes = lambda: (op.starts, op._lo, op._hi)  # the leaves, as before
    _grid_split._NEAR_COST = 1.4
    layouts["leaves"] = _grid_split.GridLayout(op)
    op._twig_boxes, _grid_split._NEAR_COST = twig_boxes, near_cost
    print(f"# bench_grid_near.py, {_common.utc_now()}, {_common.cpu_model()}, "
          f"{op.threads} threads, commit {_common.git_commit()}, n = {args.n}, "
          f"medians of {args.repeats}\n")
    print("| pairs by | rc | grid | short-range pairs |")
    print("|---|---|---|---|")
    for kind, lay in layouts.items():
        print(f"| {kind} | {lay.rc:.3f} | {' x '.join(map(str, lay.shape))} | "
              f"{lay.near_pairs:.3g} |")
    print("\n| t | by leaves (s) | by twigs (s) | speed-up | difference |")
    print("|---|---|---|---|---|")
    for t in args.scales:
        S = op.scaled(t)
        splits = {k: _grid_split.GridSplit(lay, t, op.threads) for k, lay in layouts.items()}
        times = {k: [] for k in splits}
        out = {k: split.apply(S, V) for k, split in splits.items()}  # (compiled, warm)
        for _ in range(args.repeats):
            for k, split in splits.items():
                t0 = time.perf_counter()
                split.apply(S, V)
                times[k].append(time.perf_counter() - t0)
        leaf, twig = statistics.median(times["leaves"]), statistics.median(times["twigs"])
        diff = float(np.abs(out["twigs"] - out["leaves"]).max() / np.abs(out["leaves"]).max())
        print(f"| {t:g} | {leaf:.2f} | {twig:.2f} | {leaf / twig:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
