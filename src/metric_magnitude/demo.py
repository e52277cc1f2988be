"""The main job on bundled data: ``make demo`` (``python -m metric_magnitude.demo``).

Loads scikit-learn's digits (1,797 images of 8 x 8 pixels, the data ship with
scikit-learn), computes magnitude and spread at ten scales, and lists the five images with
the largest weight at the scale where the magnitude is closest to half the number of points:
the most unusual images.
"""

from __future__ import annotations

import time

import numpy as np

from . import MetricSpace, magnitude, spread, weights
from ._optional import import_optional


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits as (1797, 64) float pixels scaled to [0, 1], and their labels."""
    datasets = import_optional("sklearn.datasets")
    data = datasets.load_digits()
    return data.data / 16.0, data.target


def main() -> None:
    start = time.perf_counter()
    X, y = load_digits()
    space = MetricSpace(X)  # distances computed once, shared by every call below
    scales = np.geomspace(0.1, 10.0, 10)
    mags = magnitude(space, scales)
    spreads = spread(space, scales)
    print(f"scikit-learn digits: {space.n_points} images, {space.n_distinct} distinct, "
          "Euclidean distance on pixels in [0, 1]")
    print(f"{'t':>10} {'magnitude':>12} {'spread':>12}")
    for t, m, s in zip(scales, mags, spreads, strict=True):
        print(f"{t:10.4g} {m:12.4f} {s:12.4f}")
    half = scales[int(np.argmin(np.abs(mags - space.n_points / 2)))]
    w = weights(space, half)
    top = np.argsort(w)[::-1][:5]
    print(f"\nfive highest-weight images at t = {half:.4g} (|tX| closest to n/2):")
    for i in top:
        print(f"  index {i:5d}  digit {y[i]}  weight {w[i]:.4f}")
    print(f"\ndone in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
