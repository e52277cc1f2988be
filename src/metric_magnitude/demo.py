"""The main job on bundled data: ``make demo`` (``python -m metric_magnitude.demo``).

scikit-learn's digits (1,797 images of 8 x 8 pixels, shipped with scikit-learn): the
magnitude function of each digit class and of the whole set, their diversity compared
(MagArea, MagDiff on a common interval), the most unusual images by weight, and an HTML
report, ``demo/report.html`` by default.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ._optional import import_optional
from ._progress import Progress
from .analysis import Analysis, analyse, analysis_steps
from .report import analysis_report, new_figure


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Digits as (1797, 64) float pixels scaled to [0, 1], and their labels."""
    datasets = import_optional("sklearn.datasets")
    data = datasets.load_digits()
    return data.data / 16.0, data.target


def _unusual_images_figure(X: np.ndarray, y: np.ndarray, top: list[tuple[int, float]]):
    fig, axes = new_figure(8.0, 2.3)
    fig.delaxes(axes)
    for k, (i, w) in enumerate(top):
        ax = fig.add_subplot(1, len(top), k + 1)
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"#{i}: {y[i]}\nw = {w:.3g}", fontsize=8)
        ax.set_axis_off()
    return fig


def run(output: Path, *, quiet: bool = False) -> Analysis:
    """Run the demo and write the report to ``output`` (overwritten: it is the demo's)."""
    start = time.perf_counter()
    X, y = load_digits()
    classes = [X[y == d] for d in range(10)]
    names = [f"digit {d}" for d in range(10)] + ["all digits"]
    steps = analysis_steps(len(classes)) + analysis_steps(1)
    with Progress(steps, "demo", enabled=not quiet) as bar:
        per_class = analyse(classes, names[:10], progress=bar.step)
        (whole_set,) = analyse([X], names[10:], progress=bar.step).spaces
    # one report: every space's function, the comparison among the ten classes only (the
    # whole set, ten times larger, would dominate the MagDiff scale)
    analysis = Analysis([*per_class.spaces, whole_set], per_class.comparison,
                        per_class.settings)
    whole = analysis.spaces[-1]
    top = whole.top_weights(8)
    def unusual_images(report) -> None:
        report.add_figure(
            _unusual_images_figure(X, y, top),
            f"The {len(top)} images with the largest weight in the whole set at "
            f"t = {whole.weight_scale:.4g} (index: digit, weight)",
            title="The most unusual images",
        )

    report = analysis_report(
        analysis,
        title="Magnitude of scikit-learn's digits",
        sources=[f"sklearn digits, label {d}" for d in range(10)] + ["sklearn digits"],
        after_results=unusual_images,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    report.write(output, force=True)
    if not quiet:
        c = analysis.comparison
        print(f"scikit-learn digits: {X.shape[0]} images of 8 x 8 pixels in [0, 1], "
              "Euclidean distance")
        print(f"{'space':<12} {'points':>6} {'t_conv':>8} {'dimension':>9} "
              f"{'MagArea':>9} {'MagArea common':>15}")
        common = [*(f"{a:15.2f}" for a in c.mag_areas), f"{'-':>15}"]
        for s, a in zip(analysis.spaces, common, strict=True):
            print(f"{s.name:<12} {s.n_points:6d} {s.t_conv:8.3f} {s.magnitude_dimension:9.3f} "
                  f"{s.mag_area:9.2f} {a}")
        print(f"MagArea common: the classes on [0, {c.t_cut:.3f}], their median convergence "
              "scale")
        most = c.names[int(np.argmax(c.mag_areas))]
        least = c.names[int(np.argmin(c.mag_areas))]
        print(f"most diverse class: {most}; least diverse: {least}")
        print("most unusual images (index: digit, weight): "
              + ", ".join(f"{i}: {y[i]}, {w:.3g}" for i, w in top[:5]))
        print(f"report: {output.resolve()}")
        print(f"done in {time.perf_counter() - start:.1f} s")
    return analysis


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="demo/report.html", type=Path)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    run(args.output, quiet=args.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
