"""How much does a certificate cost with Z~|x| and Z~1 bounded from the leaves' boxes?

Question (issue 7): each certificate of the iterative solver is one float64 product with
Z~ (and, fused, the derivative's (D o Z~) x). Its rounding terms, its Gershgorin bounds and
the derivative's bound need Z~ |x| and Z~ 1: two more columns of that product, or, where
Gershgorin cannot beat the geometric eigenvalue bound and t times the median leaf diameter
is at most 4, bounds from the leaves' boxes (`_box_certificate_bounds`). Both certificates
of the same x (Gaussian points in R^d, seed 0; x = 1 + N(0, 1), whose values do not change
a product's cost), with the derivative fused as in a magnitude function's chain, the
eigenvalue bound the subordination bound: medians of ``--repeats`` interleaved runs, which
path the boxes' certificate took, and how far its bounds are from the full one's.

Usage::

    .venv/bin/python benchmarks/bench_certificate.py --n 100000 --scales 0.3 3 --repeats 3
    .venv/bin/python benchmarks/bench_certificate.py --n 20000
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args = _common.parse_scale_timing(parser, 20_000, [0.3, 3.0])
    import numpy as np

    from metric_magnitude.solvers import iterative

    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.n, args.d))
    op = iterative.SimilarityOperator(X, kernel="numba")
    x = 1.0 + rng.standard_normal(args.n)
    iterative.solve_iterative(X[:3000], 1.0, rtol=1e-6, weights=False)  # compile, load
    box_bounds = iterative._box_certificate_bounds
    print(f"# bench_certificate.py, {_common.utc_now()}, {_common.cpu_model()}, "
          f"{op.threads} threads, commit {_common.git_commit()}, n = {args.n}, d = {args.d}, "
          f"median leaf diameter {op._median_leaf_diameter:.3g}, "
          f"medians of {args.repeats}\n")
    print("| t | t x leaf diameter | boxes used | full (s) | boxes (s) | ratio | "
          "bounds' difference (relative) | derivative bound, boxes / full |")
    print("|---|---|---|---|---|---|---|---|")
    for t in args.scales:
        S = op.scaled(t, far_field_budget=iterative._FAR_FIELD_BUDGET * 1e-6)
        lam = float(iterative.subordination_bound(t, X))
        state0 = {"max_distance": op.diameter_bound, "geo_lam": lam,
                  "geo_source": "subordination", "known_pd": True, "negative_type": True,
                  "min_distance": 1e-12, "matvecs": 0, "rowsums": None, "single": False}
        used = box_bounds(S, np.abs(x), state0) is not None
        times = {"full": [], "boxes": []}
        certs = {}
        for _ in range(args.repeats):
            for kind in ("full", "boxes"):
                iterative._box_certificate_bounds = (box_bounds if kind == "boxes"
                                                     else lambda *a: None)
                t0 = time.perf_counter()
                certs[kind] = iterative._certify(S, x, dict(state0), derivative=True)
                times[kind].append(time.perf_counter() - t0)
        iterative._box_certificate_bounds = box_bounds
        full, box = statistics.median(times["full"]), statistics.median(times["boxes"])
        cf, cb = certs["full"], certs["boxes"]
        diff = max(abs(cb.lower - cf.lower) / abs(cf.lower),
                   abs(cb.upper - cf.upper) / abs(cf.upper))
        print(f"| {t:g} | {t * op._median_leaf_diameter:.2f} | {'yes' if used else 'no'} | "
              f"{full:.2f} | {box:.2f} | {box / full:.2f} | {diff:.1e} | "
              f"{cb.derivative[1] / cf.derivative[1]:.2f} |")


if __name__ == "__main__":
    main()
