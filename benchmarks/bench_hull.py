"""How well, and how fast, does magnitude find convex hull vertices, next to scipy's ConvexHull?

For samples of n points (uniform in a disk, a square, a ball and a cube; standard Gaussian in
2 and 3 dimensions; fixed seeds) this runs ``convex_hull_approximation`` with

- ``diversity``: the default, t = (d - 1.5) / R (R the largest distance from the centroid),
- ``diversity t->0``: t = 1e-6 (d - 1.5) / R, the limit in which every returned point is a
  hull vertex,
- ``moments``: backward elimination by moments at the default t, ``magnitude_rtol=0.01``,

and ``scipy.spatial.ConvexHull(X).vertices`` (qhull), the exact answer. For each it reports the
mean over seeds of the number of points returned, the precision and the recall of the true
hull vertices, and the volume of the hull of the returned points relative to the true hull
(how much of the hull the approximation covers; the paper's own aim), and the median time of
one call (validation included) next to qhull's.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_hull.py --threads 1
    .venv/bin/python benchmarks/bench_hull.py --sizes 200 1000 --seeds 5 --out hull.json

``--threads N`` sets the BLAS thread variables to N and re-executes the script before numpy
is imported. ``--moments-max-n`` skips ``moments`` above that size (dense, O(n^3)).
"""

from __future__ import annotations

import argparse
import sys

from _common import (
    add_threads_option,
    cpu_model,
    cpus_available,
    git_commit,
    import_metric_magnitude,
    pin_threads,
    thread_env,
    utc_now,
)

SHAPES = ("disk", "square", "gauss2", "ball", "cube", "gauss3")
# Gaussian samples in 4 to 8 dimensions, n kept small enough for qhull to finish
HIGH_DIM = (("gauss4", 1000), ("gauss5", 1000), ("gauss6", 1000), ("gauss7", 500), ("gauss8", 300))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 4000])
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=SHAPES)
    p.add_argument("--seeds", type=int, default=3, help="samples per shape and size (3)")
    p.add_argument("--moments-max-n", type=int, default=4000, help="largest n for moments")
    p.add_argument(
        "--no-high-dim", action="store_true", help="skip the Gaussian samples in 4 to 8 dimensions"
    )
    add_threads_option(p)
    p.add_argument("--out", default=None, metavar="FILE.json", help="write results as JSON")
    p.add_argument(
        "--figure",
        default=None,
        metavar="FILE.png",
        help="draw the guide's figure (docs/img/hull-examples.png) instead of the tables",
    )
    return p.parse_args(argv)


if __name__ == "__main__":
    _ARGS = parse_args()
    pin_threads(_ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.spatial import ConvexHull, QhullError  # noqa: E402

import_metric_magnitude()
from metric_magnitude.hull import convex_hull_approximation, default_hull_scale  # noqa: E402


def sample(shape: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if shape == "disk":
        r, a = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
        return np.c_[r * np.cos(a), r * np.sin(a)]
    if shape == "square":
        return rng.random((n, 2))
    if shape.startswith("gauss"):
        return rng.standard_normal((n, int(shape[5:])))
    if shape == "ball":
        x = rng.standard_normal((n, 3))
        x /= np.linalg.norm(x, axis=1)[:, None]
        return x * rng.random(n)[:, None] ** (1 / 3)
    if shape == "cube":
        return rng.random((n, 3))
    raise ValueError(shape)


def contenders():
    def diversity(X):
        return convex_hull_approximation(X)

    def diversity_limit(X):
        return convex_hull_approximation(X, 1e-6 * default_hull_scale(X))

    def moments(X):
        return convex_hull_approximation(X, method="moments", magnitude_rtol=0.01)

    return {"diversity": diversity, "diversity t->0": diversity_limit, "moments": moments}


def _timed(f, X):
    t0 = time.perf_counter()
    out = f(X)
    return out, time.perf_counter() - t0


def _volume(X: np.ndarray) -> float:
    try:
        return float(ConvexHull(X).volume)
    except (QhullError, ValueError):  # fewer than d + 1 points, or flat
        return 0.0


def bench(args: argparse.Namespace) -> list[dict]:
    rows = []
    methods = contenders()
    cases = [(shape, n) for shape in args.shapes for n in args.sizes]
    if not args.no_high_dim:
        cases += list(HIGH_DIM)
    for shape, n in cases:
        acc: dict[str, dict[str, list]] = {m: {} for m in ["qhull", *methods]}
        for seed in range(args.seeds):
            X = sample(shape, n, np.random.default_rng(1000 * seed + n))
            hull, dt = _timed(ConvexHull, X)
            truth = set(hull.vertices.tolist())
            acc["qhull"].setdefault("time", []).append(dt)
            acc["qhull"].setdefault("h", []).append(len(truth))
            for name, f in methods.items():
                if name == "moments" and n > args.moments_max_n:
                    continue
                sel, dt = _timed(f, X)
                tp = len(truth & set(sel.tolist()))
                a = acc[name]
                a.setdefault("time", []).append(dt)
                a.setdefault("k", []).append(len(sel))
                a.setdefault("precision", []).append(tp / len(sel))
                a.setdefault("recall", []).append(tp / len(truth))
                a.setdefault("volume", []).append(_volume(X[sel]) / hull.volume)
        row = {
            "shape": shape,
            "d": int(sample(shape, 1, np.random.default_rng(0)).shape[1]),
            "n": n,
            "hull_vertices": statistics.mean(acc["qhull"]["h"]),
            "qhull_ms": 1e3 * statistics.median(acc["qhull"]["time"]),
        }
        for name in methods:
            a = acc[name]
            if a:
                row[name] = {
                    "k": statistics.mean(a["k"]),
                    "precision": statistics.mean(a["precision"]),
                    "recall": statistics.mean(a["recall"]),
                    "volume": statistics.mean(a["volume"]),
                    "ms": 1e3 * statistics.median(a["time"]),
                }
        rows.append(row)
        print(f"  done {shape} n={n}", file=sys.stderr, flush=True)
    return rows


def machine() -> dict:
    return {
        "date_utc": utc_now(),
        "git_commit": git_commit(),
        "cpu_model": cpu_model(),
        "cpus_available": cpus_available(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "thread_env": thread_env(),
    }


def markdown(rows: list[dict], info: dict) -> str:
    out = [
        f"Machine: {info['cpu_model']}, {info['cpus_available']} CPUs available, "
        f"OPENBLAS_NUM_THREADS={info['thread_env'].get('OPENBLAS_NUM_THREADS')}; "
        f"Python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}; "
        f"{info['date_utc']}, commit {(info['git_commit'] or 'unknown')[:10]}.",
        "",
    ]
    names = [k for k in rows[0] if isinstance(rows[0][k], dict)]
    for name in names:
        out += [
            f"**{name}**",
            "",
            "| sample | n | hull vertices | returned | precision | recall | hull volume "
            "covered | time (ms) | qhull (ms) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            if name not in r:
                continue
            m = r[name]
            out.append(
                f"| {r['shape']} | {r['n']} | {r['hull_vertices']:.1f} | {m['k']:.1f} | "
                f"{m['precision']:.2f} | {m['recall']:.2f} | {m['volume']:.3f} | "
                f"{m['ms']:.1f} | {r['qhull_ms']:.2f} |"
            )
        out.append("")
    return "\n".join(out)


def figure(path: str) -> None:
    """Two 2-D samples with their predicted vertices, and precision and recall against t R."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from metric_magnitude.hull import _max_diversity_support

    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), constrained_layout=True)
    for ax, shape in zip(axes[:2], ["disk", "square"], strict=True):
        X = sample(shape, 1000, np.random.default_rng(7))
        hull = ConvexHull(X)
        truth = set(hull.vertices.tolist())
        t = default_hull_scale(X)
        support, v = _max_diversity_support(X, t)  # the measure behind the default method
        sel = convex_hull_approximation(X)
        ax.scatter(*X.T, s=4, c="0.75", label="sample (n = 1000)")
        ring = np.append(hull.vertices, hull.vertices[0])
        ax.plot(*X[ring].T, c="0.4", lw=0.8, label="ConvexHull")
        hit = np.array([i in truth for i in sel])
        size = 20 + 400 * v / v.max()
        order = {int(i): k for k, i in enumerate(support)}
        sz = np.array([size[order[int(i)]] for i in sel])
        ax.scatter(
            *X[sel[hit]].T,
            s=sz[hit],
            facecolors="none",
            edgecolors="tab:blue",
            label="returned, a hull vertex",
        )
        ax.scatter(
            *X[sel[~hit]].T, s=sz[~hit], marker="x", c="tab:red", label="returned, not a vertex"
        )
        missed = sorted(truth - set(sel.tolist()))
        if missed:
            ax.scatter(
                *X[missed].T,
                s=30,
                marker="s",
                facecolors="none",
                edgecolors="k",
                label="vertex missed",
            )
        p = hit.mean()
        r = hit.sum() / len(truth)
        ax.set_title(f"{shape}, default t = 0.5 / R: precision {p:.2f}, recall {r:.2f}")
        ax.set_aspect("equal")
        ax.legend(loc="lower left", fontsize=7, framealpha=0.9)
        ax.set_xticks([])
        ax.set_yticks([])
    ax = axes[2]
    factors = np.geomspace(0.05, 4.0, 25)
    for shape, colour in zip(SHAPES, plt.cm.tab10.colors, strict=False):
        X = sample(shape, 1000, np.random.default_rng(11))
        truth = set(ConvexHull(X).vertices.tolist())
        d = X.shape[1]
        R = (d - 1.5) / default_hull_scale(X)
        prec, rec = [], []
        for c in factors:
            sel = set(convex_hull_approximation(X, c / R).tolist())
            tp = len(sel & truth)
            prec.append(tp / len(sel))
            rec.append(tp / len(truth))
        ax.plot(factors, prec, c=colour, label=f"{shape} precision")
        ax.plot(factors, rec, c=colour, ls="--", label=f"{shape} recall")
    ax.axvline(0.5, c="0.5", lw=0.8)
    ax.axvline(1.5, c="0.5", lw=0.8)
    ax.text(0.5, 0.02, " default 2-D", fontsize=8, c="0.4")
    ax.text(1.5, 0.02, " default 3-D", fontsize=8, c="0.4")
    ax.set_xscale("log")
    ax.set_xlabel("t R  (R = largest distance from the centroid)")
    ax.set_ylabel("precision (solid), recall (dashed)")
    ax.set_title("diversity, n = 1000: larger t, more recall, less precision")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.savefig(path, dpi=110)


def main(args: argparse.Namespace) -> None:
    if args.figure:
        figure(args.figure)
        return
    info = machine()
    t0 = time.perf_counter()
    rows = bench(args)
    info["wall_s"] = round(time.perf_counter() - t0, 1)
    print(markdown(rows, info))
    print(f"Total wall time {info['wall_s']} s.")
    if args.out:
        Path(args.out).write_text(json.dumps({"machine": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main(_ARGS)
