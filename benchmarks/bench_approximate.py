"""How close are the approximate weights to the exact ones, and how much faster are they?

Question (issue 7): ``mm.approximate_weights`` offers local nearest-neighbour systems
(``method="nearest_neighbour"``, k neighbours) and a few preconditioned CG steps
(``method="cg"``). For Gaussian clouds (seed 0) in R^d and scales where |tX| is a given
fraction of n, this script compares each approximation with the exact weights (dense Cholesky,
``mm.solve(method="cholesky")``) by

* the relative 2-norm error ||w~ - w|| / ||w||,
* Spearman's rank correlation of w~ and w (scores are used through their ranking),
* the top-10 overlap: the share of the 10 largest exact weights (the strongest outlier or
  boundary scores) among the 10 largest approximate ones,
* the relative error of the magnitude estimate sum(w~),

and the time of each, in the same process. Scales are found from the magnitude function
(``method="cg"``, rtol = 1e-4, on a geometric grid). The machine may be shared: read the time
ratios, not the seconds.

Usage::

    .venv/bin/python benchmarks/bench_approximate.py                    # n = 1,000 and 5,000
    .venv/bin/python benchmarks/bench_approximate.py --sizes 300 --dims 2 --fractions 0.3  # smoke
    .venv/bin/python benchmarks/bench_approximate.py --out approx.json
"""

from __future__ import annotations

import argparse
import time

import _common

APPROXIMATIONS = [
    ("nearest_neighbour", {"k": 25}),
    ("nearest_neighbour", {"k": 50}),
    ("nearest_neighbour", {"k": 100}),
    ("cg", {"iterations": 3}),
    ("cg", {"iterations": 10}),
]


def _scales_for(X, fractions, mm):
    """Scales with |tX| ~ fraction * n, interpolated on a log grid of the magnitude function."""
    import numpy as np

    n = X.shape[0]
    grid = np.geomspace(0.01, 1000.0, 41)
    mags = mm.magnitude(X, grid, method="cg", rtol=1e-4)
    out = []
    for f in fractions:
        target = f * n
        j = int(np.searchsorted(mags, target))
        j = min(max(j, 1), grid.size - 1)
        a, b = np.log(grid[j - 1]), np.log(grid[j])
        ma, mb = mags[j - 1], mags[j]
        s = 0.0 if mb == ma else (target - ma) / (mb - ma)
        out.append(float(np.exp(a + min(max(s, 0.0), 1.0) * (b - a))))
    return out


def run(n: int, d: int, fractions, approximations) -> list[dict]:
    import numpy as np
    from scipy.stats import spearmanr

    mm = _common.import_metric_magnitude()
    X = np.random.default_rng(0).standard_normal((n, d))
    rows = []
    for frac, t in zip(fractions, _scales_for(X, fractions, mm), strict=True):
        t0 = time.perf_counter()
        _, res = mm.solve(X, t, method="cholesky")
        t_exact = time.perf_counter() - t0
        w, mag = res.weights[0], float(res.magnitude[0])
        top = set(np.argsort(-w)[:10])
        for method, kw in approximations:
            t0 = time.perf_counter()
            wa = mm.approximate_weights(X, t, method=method, **kw)
            el = time.perf_counter() - t0
            rows.append({
                "n": n, "d": d, "t": t, "fraction": float(mag / n), "target_fraction": frac,
                "method": method, **kw,
                "rel_error": float(np.linalg.norm(wa - w) / np.linalg.norm(w)),
                "spearman": float(spearmanr(wa, w).statistic),
                "top10": len(set(np.argsort(-wa)[:10]) & top) / 10,
                "magnitude_rel_error": float(abs(wa.sum() - mag) / mag),
                "time_s": el, "exact_time_s": t_exact,
            })
            r = rows[-1]
            print(f"# n={n} d={d} t={t:.3g} {method} {kw}: rel {r['rel_error']:.2e}, "
                  f"rho {r['spearman']:.4f}, {el:.2f} s (exact {t_exact:.2f} s)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 5_000])
    parser.add_argument("--dims", type=int, nargs="*", default=[2, 10])
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.1, 0.3, 0.5],
                        help="target |tX| / n")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    _common.add_threads_option(parser)
    args = parser.parse_args()
    _common.pin_threads(args.threads)

    rows = []
    for n in args.sizes:
        for d in args.dims:
            rows += run(n, d, args.fractions, APPROXIMATIONS)
    print()
    print("| n | d | t | \\|tX\\|/n | method | rel. error | Spearman | top-10 | "
          "\\|tX\\| error | time (s) | exact (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        what = (f"nearest_neighbour, k = {r['k']}" if r["method"] == "nearest_neighbour"
                else f"cg, {r['iterations']} steps")
        print(f"| {r['n']:,} | {r['d']} | {r['t']:.3g} | {r['fraction']:.2f} | {what} | "
              f"{r['rel_error']:.1e} | {r['spearman']:.4f} | {r['top10']:.1f} | "
              f"{r['magnitude_rel_error']:.1e} | {r['time_s']:.2f} | {r['exact_time_s']:.2f} |")
    print(f"\n{_common.machine_line()}")
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
