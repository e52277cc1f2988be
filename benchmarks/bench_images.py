"""Magnitude vectors of images: how accurate, how fast, and how good are the edges?

Four parts, each printed as a markdown table (the numbers in docs/guide-images.md come from
this script):

1. Accuracy on 48 x 48 images, where the dense solve is the reference: the largest relative
   weight error max|w - w_dense| / max|w_dense| of ``cg`` (with its certified bound) and of
   ``patches``.
2. Timings of ``magnitude_vector`` (``method="auto"``) on the camera image resized to 64, 128,
   256 and 512 pixels square: medians of ``--repeats`` runs.
3. Edge detection on synthetic shapes with known edges (a disk, a square, several shapes;
   Gaussian noise of standard deviation 0 to 0.2 on intensities in [0, 1]): F1 at the best
   threshold, with the same protocol for every method: a sweep of 120 thresholds at
   quantiles 0.5 ... 0.998 of the method's score (Canny: its high threshold at those
   quantiles, low = high - 0.1, ``use_quantiles=True``); a predicted pixel is correct when a
   true edge pixel is within 1 pixel (chessboard distance), a true edge pixel is found when a
   predicted one is within 1 pixel. True edges are the pixels of each shape with a
   4-neighbour outside it. Mean over ``--seeds`` noise draws.
4. Figures: scikit-image's bundled images (camera, coins, astronaut, text) and a noisy
   synthetic scene, with Sobel, Canny and magnitude edges side by side
   (``docs/img/images-*.png``).

It needs scikit-image, which is not a dependency of metric-magnitude: run it in the studies
environment (from the repository root)::

    benchmarks/.venv-studies/bin/pip install -e . scikit-image matplotlib
    benchmarks/.venv-studies/bin/python benchmarks/bench_images.py

Options: ``--threads N`` (BLAS threads, default 1: the machine is shared and timings are noisy
otherwise), ``--repeats R`` (timing repeats, default 3), ``--seeds S`` (noise draws, default
3), ``--sizes`` (timed image sizes), ``--figdir DIR`` (default docs/img; ``--no-figures``
skips them), ``--parts`` (any of accuracy timing edges figures).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import date

from _common import set_thread_env


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1)")
    p.add_argument("--repeats", type=int, default=3, help="timing repeats (median)")
    p.add_argument("--seeds", type=int, default=3, help="noise draws per synthetic scene")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256, 512])
    p.add_argument("--figdir", default="docs/img")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument(
        "--parts",
        nargs="+",
        default=["accuracy", "timing", "edges", "figures"],
        choices=["accuracy", "timing", "edges", "figures"],
    )
    return p.parse_args(argv)


ARGS = parse_args()
set_thread_env(ARGS.threads)  # before numpy is imported

import numpy as np  # noqa: E402
from scipy import ndimage as ndi  # noqa: E402
from skimage import data, feature, filters, transform  # noqa: E402

import metric_magnitude as mm  # noqa: E402
from metric_magnitude.images import edges, solve_image  # noqa: E402

QUANTILES = np.linspace(0.5, 0.998, 120)


# ----------------------------------------------------------------------------- images


def camera(n: int) -> np.ndarray:
    img = data.camera().astype(float) / 255.0
    return img if n == img.shape[0] else transform.resize(img, (n, n), anti_aliasing=True)


def scene(name: str, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """(label image, clean intensities in [0, 1]) of a synthetic scene."""
    yy, xx = np.mgrid[:n, :n] / (n / 128.0)
    lab = np.zeros((n, n), int)
    if name == "disk":
        lab[(yy - 64) ** 2 + (xx - 64) ** 2 < 35**2] = 1
        vals = [0.25, 0.75]
    elif name == "square":
        lab[(yy >= 34) & (yy < 94) & (xx >= 34) & (xx < 94)] = 1
        vals = [0.25, 0.75]
    else:  # several shapes, different contrasts
        lab[(yy - 36) ** 2 + (xx - 38) ** 2 < 24**2] = 1
        lab[(yy >= 72) & (yy < 112) & (xx >= 60) & (xx < 116)] = 2
        lab[(yy >= 12) & (yy < 56) & (xx >= 72) & (xx < 118) & (xx - 72 > yy - 12)] = 3
        lab[((yy - 92) / 22) ** 2 + ((xx - 26) / 12) ** 2 < 1] = 4
        vals = [0.2, 0.8, 0.5, 0.95, 0.55]
    return lab, np.asarray(vals)[lab]


def true_edges(lab: np.ndarray) -> np.ndarray:
    e = np.zeros(lab.shape, bool)
    e[1:, :] |= lab[1:, :] != lab[:-1, :]
    e[:-1, :] |= lab[:-1, :] != lab[1:, :]
    e[:, 1:] |= lab[:, 1:] != lab[:, :-1]
    e[:, :-1] |= lab[:, :-1] != lab[:, 1:]
    return e & (lab > 0)


def prf(pred: np.ndarray, gt: np.ndarray, dist_gt: np.ndarray) -> tuple[float, float, float]:
    if not pred.any():
        return 0.0, 0.0, 0.0
    dist_pred = ndi.distance_transform_cdt(~pred, metric="chessboard")
    precision = float((dist_gt[pred] <= 1).mean())
    recall = float((dist_pred[gt] <= 1).mean())
    f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return precision, recall, f1


def best_f1_score_map(score: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    dist_gt = ndi.distance_transform_cdt(~gt, metric="chessboard")
    cuts = np.quantile(score, QUANTILES)
    return max((prf(score > c, gt, dist_gt) for c in cuts), key=lambda r: r[2])


def canny_q(img: np.ndarray, q: float) -> np.ndarray:
    return feature.canny(
        img, sigma=1.0, low_threshold=q - 0.1, high_threshold=q, use_quantiles=True
    )


def best_f1_canny(img: np.ndarray, gt: np.ndarray, *, return_q: bool = False):
    dist_gt = ndi.distance_transform_cdt(~gt, metric="chessboard")
    results = [(prf(canny_q(img, q), gt, dist_gt), q) for q in QUANTILES]
    best, q = max(results, key=lambda r: r[0][2])
    return (best, q) if return_q else best


def timed(f, repeats: int):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


# ----------------------------------------------------------------------------- parts


def part_accuracy():
    rng = np.random.default_rng(0)
    _, clean = scene("shapes", 48)
    images = {
        "camera 48x48": camera(48),
        "shapes + noise 0.1": clean + 0.1 * rng.standard_normal(clean.shape),
        "uniform noise": rng.random((48, 48)),
    }
    print("\n### Accuracy against the dense solve (48 x 48 pixels, l1, intensity_scale='auto')\n")
    print(
        "cg: relative 2-norm error ||w - w_dense|| / ||w_dense|| <= certified bound, then the "
        "max relative error max|w - w_dense| / max|w_dense|; patches: max relative error\n"
    )
    print("| image | t | cg rtol=1e-6 | cg rtol=1e-10 | patches halo=ceil(8/t) | patches halo=2 |")
    print("|---|---|---|---|---|---|")
    for name, img in images.items():
        for t in (1.0, 2.0):
            ref = solve_image(img, t, method="dense").weights

            def rmax(w, ref=ref):
                return np.abs(w - ref).max() / np.abs(ref).max()

            def r2(w, ref=ref):
                return np.linalg.norm(w - ref) / np.linalg.norm(ref)

            cells = []
            for rtol in (1e-6, 1e-10):
                c = solve_image(img, t, method="cg", rtol=rtol)
                cells.append(
                    f"{r2(c.weights):.1e} <= {c.error_bound:.1e}; max {rmax(c.weights):.1e}"
                )
            p = solve_image(img, t, method="patches")
            p2 = solve_image(img, t, method="patches", halo=2)
            print(
                f"| {name} | {t:g} | {cells[0]} | {cells[1]} | {rmax(p.weights):.1e} | "
                f"{rmax(p2.weights):.1e} |"
            )


def part_timing(sizes, repeats):
    print(f"\n### Timings of magnitude_vector (camera, median of {repeats}, 1 BLAS thread)\n")
    print("| pixels | t | method | rtol | CG iterations | radius | seconds |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        img = camera(n)
        for t in (1.0, 2.0):
            for rtol in (1e-6, 1e-8):
                # the slowest case (about a minute) is timed once
                reps = 1 if (n >= 512 and t < 2) else repeats
                res, sec = timed(
                    lambda img=img, t=t, rtol=rtol: solve_image(img, t, rtol=rtol), reps
                )
                print(
                    f"| {n} x {n} | {t:g} | {res.method} | {rtol:.0e} | {res.iterations} | "
                    f"{res.radius:g} | {sec:.3f} |"
                )
        if n <= 128:
            for method in ("patches", "dense") if n <= 64 else ("patches",):
                res, sec = timed(lambda img=img, m=method: solve_image(img, 2.0, method=m), repeats)
                print(f"| {n} x {n} | 2 | {method} | - | - | - | {sec:.3f} |")


def edge_methods():
    return {
        "Sobel": lambda img: filters.sobel(img),
        "Sobel, blur 1": lambda img: filters.sobel(ndi.gaussian_filter(img, 1.0)),
        "Canny, sigma 1": None,  # special: binary output, threshold sweep inside
        "magnitude t=2, blur 0": lambda img: edges(img, 2.0, sigma=0.0),
        "magnitude t=1, blur 1": lambda img: edges(img, 1.0, sigma=1.0),
        "magnitude t=2, blur 1": lambda img: edges(img, 2.0, sigma=1.0),
    }


def part_edges(seeds):
    methods = edge_methods()
    noises = (0.0, 0.05, 0.1, 0.2)
    print(
        f"\n### Edge F1 at the best threshold (128 x 128 synthetic scenes, mean of {seeds} draws)\n"
    )
    print("| scene | noise | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    seconds = {m: [] for m in methods}
    for name in ("disk", "square", "shapes"):
        lab, clean = scene(name)
        gt = true_edges(lab)
        for noise in noises:
            f1 = {m: [] for m in methods}
            for seed in range(seeds if noise > 0 else 1):
                rng = np.random.default_rng(seed)
                img = clean + noise * rng.standard_normal(clean.shape)
                for m, f in methods.items():
                    if f is None:
                        r = best_f1_canny(img, gt)
                    else:
                        t0 = time.perf_counter()
                        score = f(img)
                        seconds[m].append(time.perf_counter() - t0)
                        r = best_f1_score_map(score, gt)
                    f1[m].append(r[2])
            print(
                f"| {name} | {noise:g} | "
                + " | ".join(f"{np.mean(v):.3f}" for v in f1.values())
                + " |"
            )
    print(
        "\nseconds per 128 x 128 score map (median): "
        + ", ".join(f"{m} {statistics.median(s):.3f}" for m, s in seconds.items() if s)
    )


def part_figures(figdir):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from skimage.color import rgb2gray

    os.makedirs(figdir, exist_ok=True)
    astronaut = data.astronaut()
    pictures = {
        "camera": data.camera() / 255.0,
        "coins": data.coins() / 255.0,
        "astronaut": rgb2gray(astronaut),
        "text": data.text() / 255.0,
    }
    fig, axes = plt.subplots(len(pictures), 4, figsize=(12, 3.1 * len(pictures)))
    for row, (name, img) in zip(axes, pictures.items(), strict=True):
        if name == "astronaut":  # our own colour handling, on the RGB array
            score = edges(astronaut, 2.0, channels="luminance")
        else:
            score = edges(img, 2.0)
        panels = [
            (img, name),
            (filters.sobel(img), "Sobel"),
            (feature.canny(img, sigma=1.0), "Canny (sigma 1)"),
            (np.clip(score, 0, np.quantile(score, 0.995)), "magnitude edges (t=2, blur 1)"),
        ]
        for ax, (panel, title) in zip(row, panels, strict=True):
            ax.imshow(panel, cmap="gray")
            ax.set_title(title, fontsize=10)
            ax.set_axis_off()
    fig.tight_layout()
    path = os.path.join(figdir, "images-edges.png")
    fig.savefig(path, dpi=70)
    plt.close(fig)
    print(f"\nwrote {path}")

    lab, clean = scene("shapes")
    img = clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape)
    panels = [
        (img, "shapes, noise 0.1"),
        (true_edges(lab), "true edges"),
        (filters.sobel(img), "Sobel"),
        (
            canny_q(img, best_f1_canny(img, true_edges(lab), return_q=True)[1]),
            "Canny (sigma 1, best F1 threshold)",
        ),
        (solve_image(img, 2.0).weights, "weights (t=2)"),
        (edges(img, 2.0, sigma=0.0), "magnitude edges, blur 0"),
        (edges(img, 2.0), "magnitude edges, blur 1"),
        (edges(img, 2.0, threshold="otsu"), "... with Otsu threshold"),
    ]
    fig, axes = plt.subplots(2, 4, figsize=(12, 6.4))
    for ax, (panel, title) in zip(axes.ravel(), panels, strict=True):
        ax.imshow(panel, cmap="gray")
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
    fig.tight_layout()
    path = os.path.join(figdir, "images-shapes.png")
    fig.savefig(path, dpi=70)
    plt.close(fig)
    print(f"wrote {path}")


def main():
    print(
        f"bench_images.py, {date.today()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, BLAS threads {ARGS.threads}, numpy {np.__version__}, "
        f"metric-magnitude {mm.__version__}, python {sys.version.split()[0]}"
    )
    if "accuracy" in ARGS.parts:
        part_accuracy()
    if "timing" in ARGS.parts:
        part_timing(ARGS.sizes, ARGS.repeats)
    if "edges" in ARGS.parts:
        part_edges(ARGS.seeds)
    if "figures" in ARGS.parts and not ARGS.no_figures:
        part_figures(ARGS.figdir)


if __name__ == "__main__":
    main()
