"""Study: how good is the per-scale engine's interpolant, and does its error estimate hold?

For spaces too large for the dense engines, `magnitude_function` solves every requested scale
(certified values and derivatives) and interpolates between them by cubic Hermite pieces
whose error is *estimated* (``f.error_estimate``; `metric_magnitude.function`). This script
measures that error on 1,500-point spaces where a reference exists: it forces the per-scale
engine with ``method="cg"`` (rtol = 1e-8), then compares ``f(t)`` and ``f.derivative_at(t)``
at 7 points inside every interval, and ``f.area()``, with the reduced-basis function at
rtol = 1e-10. Spaces (seed 0): Gaussian clouds in R^3, R^10 and R^2, a line with quadratic
spacing, two Gaussian clusters 30 apart in R^3. Grids: 20 and 12 geometric scales over
[t_conv / 1000, t_conv], and magnipy's linear grid of 20 scales on [0, t_conv].

The question is whether true/estimate stays below 1 (it is an estimate, not a bound).

Usage::

    .venv/bin/python benchmarks/study_per_scale_interpolant.py     # about 2 minutes here
"""

from __future__ import annotations

import itertools
import time

import _common


def main() -> None:
    mm = _common.import_metric_magnitude()
    import numpy as np

    rng = np.random.default_rng(0)
    spaces = {
        "gauss R^3": rng.standard_normal((1500, 3)),
        "gauss R^10": rng.standard_normal((1500, 10)),
        "gauss R^2": rng.standard_normal((1500, 2)),
        "line": np.linspace(0, 1, 1500)[:, None] ** 2,
        "clusters": np.vstack([rng.standard_normal((750, 3)),
                               30 + rng.standard_normal((750, 3))]),
    }
    print(f"# study_per_scale_interpolant.py, {_common.utc_now()}, {_common.cpu_model()}\n")
    print("| space | grid | scales | true error | estimate | true/estimate | derivative: "
          "true | estimate | true/estimate | area's error | certified error | time (s) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, X in spaces.items():
        t_conv = mm.convergence_scale(X)
        for grid, k in (("geometric", 20), ("geometric", 12), ("linear", 20)):
            ts = (np.geomspace(t_conv / 1000, t_conv, k) if grid == "geometric"
                  else np.linspace(0.0, t_conv, k))
            t0 = time.perf_counter()
            f = mm.magnitude_function(X, ts, method="cg", rtol=1e-8)
            elapsed = time.perf_counter() - t0
            probe = np.concatenate([np.linspace(a, b, 9)[1:-1]
                                    for a, b in itertools.pairwise(ts)])
            ref = mm.magnitude_function(X, probe, rtol=1e-10)
            err = float(np.max(np.abs(f(probe) / ref.values - 1)))
            derr = float(np.max(np.abs(f.derivative_at(probe) - ref.derivative))
                         / np.abs(ref.derivative).max())
            area = mm.magnitude_function(X, np.linspace(ts[0], ts[-1], 400), rtol=1e-10)
            aerr = abs(f.area() / area.area() - 1)
            print(f"| {name} | {grid} | {k} | {err:.1e} | {f.error_estimate:.1e} | "
                  f"{err / f.error_estimate:.2f} | {derr:.1e} | "
                  f"{f.derivative_error_estimate:.1e} | "
                  f"{derr / f.derivative_error_estimate:.2f} | {aerr:.1e} | "
                  f"{f.certified_error:.1e} | {elapsed:.1f} |", flush=True)


if __name__ == "__main__":
    main()
