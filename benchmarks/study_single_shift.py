"""Study: does shifting the float32 products by a typical entry save CG iterations?

Question (issue 7): ``precision="mixed"`` computes CG's search directions with float32
products. At small scales Z(t) is close to c 1 1^T (every entry near c), whose eigenvalue,
about c n, magnifies the rounding of V to float32 along the constant vector; the products
now compute (Z - c 1 1^T) V in float32 and add c 1 (1^T V) in float64
(`_ScaledSimilarity.single_shift`, c = exp(-t median distance)). Compared, cold solves
(``solve_iterative(X, [t], rtol=1e-6, weights=False, warm_start=False)``) at each scale:
mixed with the shift, mixed without it (``SimilarityOperator._single_shift`` returning 0, the
code before), and double. Gaussian points in R^d (seed 0); the three solves of a scale run
one after the other (alternating, medians of the times with ``--repeats`` > 1).

Usage::

    .venv/bin/python benchmarks/study_single_shift.py --n 20000              # ~6 minutes
    .venv/bin/python benchmarks/study_single_shift.py --n 20000 --scales 0.045 0.3
"""

from __future__ import annotations

import argparse
import statistics
import time

import _common

VARIANTS = ("mixed, shifted", "mixed, no shift", "double")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_function_options(parser, n=20_000)
    parser.add_argument("--scales", type=float, nargs="*",
                        default=[0.045, 0.1, 0.3, 1.0, 3.0, 10.0])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    _, X = _common.gaussian_points("study_single_shift.py", args,
                                   commit=_common.git_commit())
    from metric_magnitude.solvers import iterative

    # compile every kernel a solve uses (numba from 2,048 points) before the first timing
    for precision in ("mixed", "double"):
        iterative.solve_iterative(X[:3000], [0.1], rtol=args.rtol, weights=False,
                                  precision=precision)

    shift = iterative.SimilarityOperator._single_shift
    print("| t | " + " | ".join(f"{v}: iterations | {v} (s)" for v in VARIANTS) + " |")
    print("|---|" + "---|---|" * len(VARIANTS))
    rows = []
    for t in args.scales:
        row = {"t": t}
        for _ in range(args.repeats):
            for v in VARIANTS:
                iterative.SimilarityOperator._single_shift = (
                    shift if v == "mixed, shifted" else lambda self, t: 0.0)
                t0 = time.perf_counter()
                res = iterative.solve_iterative(
                    X, [t], rtol=args.rtol, weights=False, warm_start=False,
                    precision="double" if v == "double" else "mixed")
                row.setdefault(v + " s", []).append(time.perf_counter() - t0)
                row[v + " iterations"] = int(res.iterations[0])
                row[v + " certified"] = bool(res.certified[0])
        iterative.SimilarityOperator._single_shift = shift
        rows.append(row)
        print(f"| {t:g} | " + " | ".join(
            f"{row[v + ' iterations']} | {statistics.median(row[v + ' s']):.1f}"
            for v in VARIANTS) + " |", flush=True)
    for v in VARIANTS:
        its = sum(r[v + " iterations"] for r in rows)
        secs = sum(statistics.median(r[v + " s"]) for r in rows)
        print(f"{v}: {its} iterations, {secs:.1f} s in all")
    _common.write_results(args.out, rows)


if __name__ == "__main__":
    main()
