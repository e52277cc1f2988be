"""How well do magnitude weights find outliers and boundaries, next to the usual detectors?

Outlier data. No package reachable here ships the ODDS or ADBench files (``adbench`` on PyPI
downloads them at run time), so the data sets are the usual semi-synthetic ones built from
scikit-learn's bundled data, each drawn afresh for every seed:

- ``digits``: all 8x8 digits of one class (class = seed mod 10) as inliers, plus 5% outliers
  drawn from the other nine classes (64 features).
- ``breast cancer``: the 357 benign tumours, plus 5% malignant ones (30 features).
- ``wine``: classes 1 and 2 (119 wines), plus 10 wines of class 0 (13 features; ODDS's
  ``wine`` is built the same way).
- ``blobs + noise``: three 2-D Gaussian blobs of different spreads (475 points), plus 25
  points uniform on the bounding box grown by 2 on each side.

Features are standardised (``StandardScaler``). Two protocols:

- outlier detection: fit on all the data, score the same data. Magnitude
  (``novelty=False``: the training weights), LocalOutlierFactor (``negative_outlier_factor_``),
  IsolationForest and OneClassSVM (``score_samples`` of the training data).
- novelty detection: fit on a random half of the inliers (scaler included), score the other
  half and all outliers. Magnitude and LocalOutlierFactor with ``novelty=True``,
  IsolationForest, OneClassSVM.

Every detector runs with its defaults (magnitude: ``t="auto"``; LOF: 20 neighbours;
IsolationForest: 100 trees, ``random_state=seed``; OneClassSVM: RBF, ``gamma="scale"``,
``nu=0.5``). Scores are oriented so that larger means more outlying; the tables give the
mean and standard deviation over the seeds of ROC-AUC and average precision (outliers
positive), and the median wall time of fit plus scoring (rough: a shared machine).

Boundary data: n points uniform on a disk (radius 1), a square (side 2), an annulus
(radii 0.5 and 1) and a ball in R^3 (radius 1). With h = (volume / n)^(1/d) the mean sample
spacing, the *outer layer* are the samples within h/2 of the boundary and the *band* those
within h. For :class:`MagnitudeBoundaryDetector` (defaults) the table gives the ROC-AUC of
its scores for the outer layer, the precision of the marked samples against the band and
their recall of the outer layer; the baseline is the kNN centroid offset (distance from a
sample to the mean of its 10 nearest neighbours, a standard boundary heuristic), with its
ROC-AUC and the same precision/recall for its top-scoring samples, as many as magnitude
marked.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_outliers.py --threads 1
    .venv/bin/python benchmarks/bench_outliers.py --seeds 3 --figure docs/img/outliers-example.png

Prints markdown tables (and writes every number to ``--out`` as JSON if given). The default
run (10 seeds) takes a few minutes on 2 cores. The results and the exact command are in
``docs/guide-outliers.md``.
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import add_threads_option, pin_threads


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="random draws per data set (10)")
    p.add_argument(
        "--boundary-sizes",
        type=int,
        nargs="+",
        default=[500, 1000],
        help="sample sizes for the boundary shapes (500 1000)",
    )
    add_threads_option(p)
    p.add_argument("--figure", default=None, help="write the guide's figure to this PNG")
    p.add_argument("--out", default=None, help="write all numbers to this JSON file")
    p.add_argument("--skip-outliers", action="store_true", help="boundary tables only")
    p.add_argument("--skip-boundary", action="store_true", help="outlier tables only")
    return p.parse_args(argv)


if __name__ == "__main__":
    _ARGS = parse_args()
    pin_threads(_ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_blobs  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.metrics import average_precision_score, roc_auc_score  # noqa: E402
from sklearn.neighbors import LocalOutlierFactor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import OneClassSVM  # noqa: E402

from metric_magnitude.outliers import (  # noqa: E402
    MagnitudeBoundaryDetector,
    MagnitudeOutlierDetector,
)

# ---------------------------------------------------------------- outlier data


def _with_outliers(inliers, pool, k, rng):
    out = pool[rng.choice(len(pool), size=k, replace=False)]
    X = np.vstack([inliers, out])
    y = np.r_[np.zeros(len(inliers)), np.ones(k)]
    return X, y


def digits(rng, seed):
    X, y = load_digits(return_X_y=True)
    c = seed % 10
    inl = X[y == c]
    return _with_outliers(inl, X[y != c], round(0.05 * len(inl) / 0.95), rng)


def breast_cancer(rng, seed):
    X, y = load_breast_cancer(return_X_y=True)  # 1 = benign
    inl = X[y == 1]
    return _with_outliers(inl, X[y == 0], round(0.05 * len(inl) / 0.95), rng)


def wine(rng, seed):
    X, y = load_wine(return_X_y=True)
    return _with_outliers(X[y != 0], X[y == 0], 10, rng)


def blobs_noise(rng, seed):
    X, _ = make_blobs(n_samples=475, centers=3, cluster_std=[0.5, 1.0, 1.5], random_state=int(seed))
    lo, hi = X.min(axis=0) - 2.0, X.max(axis=0) + 2.0
    noise = rng.uniform(lo, hi, size=(25, 2))
    return np.vstack([X, noise]), np.r_[np.zeros(475), np.ones(25)]


DATASETS = {
    "digits": digits,
    "breast cancer": breast_cancer,
    "wine": wine,
    "blobs + noise": blobs_noise,
}

# name -> (outlier-detection scorer, novelty scorer); each returns "larger = more outlying"


def _magnitude_outlier(X, seed):
    return MagnitudeOutlierDetector().fit(X).weights_


def _magnitude_novelty(Xtr, Xte, seed):
    return -MagnitudeOutlierDetector(novelty=True).fit(Xtr).score_samples(Xte)


def _lof_outlier(X, seed):
    return -LocalOutlierFactor().fit(X).negative_outlier_factor_


def _lof_novelty(Xtr, Xte, seed):
    return -LocalOutlierFactor(novelty=True).fit(Xtr).score_samples(Xte)


def _iforest_outlier(X, seed):
    return -IsolationForest(random_state=seed).fit(X).score_samples(X)


def _iforest_novelty(Xtr, Xte, seed):
    return -IsolationForest(random_state=seed).fit(Xtr).score_samples(Xte)


def _ocsvm_outlier(X, seed):
    return -OneClassSVM().fit(X).score_samples(X)


def _ocsvm_novelty(Xtr, Xte, seed):
    return -OneClassSVM().fit(Xtr).score_samples(Xte)


METHODS = {
    "magnitude": (_magnitude_outlier, _magnitude_novelty),
    "LOF": (_lof_outlier, _lof_novelty),
    "IsolationForest": (_iforest_outlier, _iforest_novelty),
    "OneClassSVM": (_ocsvm_outlier, _ocsvm_novelty),
}


def run_outliers(n_seeds: int) -> dict:
    """{protocol: {dataset: {method: {"auc": [...], "ap": [...], "time": [...]}}}}"""
    res: dict = {"outlier detection": {}, "novelty detection": {}}
    shapes = {}
    for name, make in DATASETS.items():
        for proto in res:
            res[proto][name] = {m: {"auc": [], "ap": [], "time": []} for m in METHODS}
        for seed in range(n_seeds):
            rng = np.random.default_rng(seed)
            X, y = make(rng, seed)
            shapes[name] = (X.shape, int(y.sum()))
            Xs = StandardScaler().fit_transform(X)
            # novelty split: half the inliers train, the rest and the outliers test
            inl = np.flatnonzero(y == 0)
            train = rng.permutation(inl)[: len(inl) // 2]
            test = np.setdiff1d(np.arange(len(y)), train)
            scaler = StandardScaler().fit(X[train])
            Xtr, Xte, yte = scaler.transform(X[train]), scaler.transform(X[test]), y[test]
            for m, (outlier, novelty) in METHODS.items():
                for proto, call, data, truth in (
                    ("outlier detection", outlier, (Xs,), y),
                    ("novelty detection", novelty, (Xtr, Xte), yte),
                ):
                    t0 = time.perf_counter()
                    score = call(*data, seed)
                    dt = time.perf_counter() - t0
                    r = res[proto][name][m]
                    r["auc"].append(roc_auc_score(truth, score))
                    r["ap"].append(average_precision_score(truth, score))
                    r["time"].append(dt)
        print(f"  {name}: done", file=sys.stderr, flush=True)
    res["shapes"] = {k: {"shape": list(v[0]), "outliers": v[1]} for k, v in shapes.items()}
    return res


def outlier_tables(res: dict) -> str:
    lines = []
    for proto in ("outlier detection", "novelty detection"):
        for metric, label in (("auc", "ROC-AUC"), ("ap", "average precision")):
            lines.append(f"\n**{proto.capitalize()}, {label}** (mean ± std over seeds)\n")
            lines.append("| data set | " + " | ".join(METHODS) + " |")
            lines.append("|---|" + "---|" * len(METHODS))
            for name in DATASETS:
                row = res[proto][name]
                means = {m: np.mean(row[m][metric]) for m in METHODS}
                best = max(means.values())
                cells = []
                for m in METHODS:
                    cell = f"{means[m]:.3f} ± {np.std(row[m][metric]):.3f}"
                    cells.append(f"**{cell}**" if means[m] == best else cell)
                lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append(f"\n**{proto.capitalize()}, median seconds (fit + score)**\n")
        lines.append("| data set | " + " | ".join(METHODS) + " |")
        lines.append("|---|" + "---|" * len(METHODS))
        for name in DATASETS:
            row = res[proto][name]
            cells = [f"{np.median(row[m]['time']):.3f}" for m in METHODS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    sizes = ", ".join(
        f"{k}: {v['shape'][0]} x {v['shape'][1]} ({v['outliers']} outliers)"
        for k, v in res["shapes"].items()
    )
    lines.append(f"\nSizes (samples x features): {sizes}.")
    return "\n".join(lines)


# ---------------------------------------------------------------- boundary data


def _disk(rng, n):
    r, a = np.sqrt(rng.uniform(size=n)), rng.uniform(0.0, 2.0 * np.pi, n)
    return np.c_[r * np.cos(a), r * np.sin(a)], 1.0 - r, np.pi


def _square(rng, n):
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    return X, 1.0 - np.abs(X).max(axis=1), 4.0


def _annulus(rng, n, r0=0.5):
    r = np.sqrt(rng.uniform(r0**2, 1.0, n))
    a = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.c_[r * np.cos(a), r * np.sin(a)], np.minimum(1.0 - r, r - r0), np.pi * (1 - r0**2)


def _ball3(rng, n):
    v = rng.normal(size=(n, 3))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    r = rng.uniform(size=n) ** (1.0 / 3.0)
    return v * r[:, None], 1.0 - r, 4.0 / 3.0 * np.pi


SHAPES = {"disk": _disk, "square": _square, "annulus": _annulus, "ball (3-D)": _ball3}


def _knn_offset(X, k=10):
    D = cdist(X, X)
    idx = np.argsort(D, axis=1)[:, 1 : k + 1]
    return np.linalg.norm(X[idx].mean(axis=1) - X, axis=1)


def run_boundary(n_seeds: int, sizes: list[int]) -> dict:
    res: dict = {}
    for name, make in SHAPES.items():
        for n in sizes:
            rows = {k: [] for k in ("auc", "P", "R", "marked", "knn_auc", "knn_P", "knn_R")}
            for seed in range(n_seeds):
                X, dist, vol = make(np.random.default_rng(1000 + seed), n)
                h = (vol / n) ** (1.0 / X.shape[1])
                outer, band = dist < 0.5 * h, dist < h
                det = MagnitudeBoundaryDetector().fit(X)
                pred = det.boundary_
                rows["auc"].append(roc_auc_score(outer, det.scores_))
                rows["P"].append(band[pred].mean() if pred.any() else np.nan)
                rows["R"].append(pred[outer].mean())
                rows["marked"].append(pred.mean())
                off = _knn_offset(X)
                top = np.zeros(n, bool)
                top[np.argsort(-off)[: pred.sum()]] = True
                rows["knn_auc"].append(roc_auc_score(outer, off))
                rows["knn_P"].append(band[top].mean() if top.any() else np.nan)
                rows["knn_R"].append(top[outer].mean())
            res[f"{name}, n = {n}"] = rows
        print(f"  {name}: done", file=sys.stderr, flush=True)
    return res


def boundary_table(res: dict) -> str:
    def ms(v):
        return f"{np.nanmean(v):.2f} ± {np.nanstd(v):.2f}"

    lines = [
        "| shape | marked | magnitude AUC (outer) | magnitude P (band) | magnitude R (outer) "
        "| kNN-offset AUC (outer) | kNN-offset P (band) | kNN-offset R (outer) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, r in res.items():
        lines.append(
            f"| {key} | {np.mean(r['marked']):.1%} | {ms(r['auc'])} | {ms(r['P'])} | "
            f"{ms(r['R'])} | {ms(r['knn_auc'])} | {ms(r['knn_P'])} | {ms(r['knn_R'])} |"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- figure


def figure(path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4.6))
    X, y = blobs_noise(np.random.default_rng(0), 0)
    det = MagnitudeOutlierDetector(contamination=0.05)
    labels = det.fit_predict(X)
    ax = axes[0]
    sc = ax.scatter(X[:, 0], X[:, 1], c=det.weights_, s=12, cmap="viridis")
    ax.scatter(
        *X[labels == -1].T, s=70, facecolors="none", edgecolors="crimson", label="flagged (-1)"
    )
    ax.scatter(*X[y == 1].T, s=14, marker="x", c="k", linewidths=0.8, label="planted noise")
    ax.set_title(f"outlier weights, t = {det.t_:.3g} (|tX| = (n + 1) / 2)")
    ax.legend(loc="lower left", fontsize=8)
    fig.colorbar(sc, ax=ax, label="weight")
    ax.set_aspect("equal")

    X, _, _ = _annulus(np.random.default_rng(0), 800)
    bd = MagnitudeBoundaryDetector().fit(X)
    ax = axes[1]
    sc = ax.scatter(X[:, 0], X[:, 1], c=bd.scores_, s=10, cmap="magma_r", vmin=0, vmax=4)
    ax.scatter(
        *X[bd.boundary_].T,
        s=40,
        facecolors="none",
        edgecolors="tab:blue",
        linewidths=0.8,
        label="boundary (score > 2)",
    )
    ax.set_title(f"boundary scores, t = {bd.t_:.3g} (|tX| = sqrt(n))")
    ax.legend(loc="lower left", fontsize=8)
    fig.colorbar(sc, ax=ax, label="weight / average weight")
    ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)


# ---------------------------------------------------------------- main


def _machine() -> str:
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{d['internal_api']} {d['version']} ({d['num_threads']} threads)"
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        )
    except ImportError:
        blas = "unknown BLAS"
    import sklearn

    return (
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, {blas}"
    )


def main(args: argparse.Namespace) -> dict:
    warnings.simplefilter("error", RuntimeWarning)
    out: dict = {"machine": _machine(), "seeds": args.seeds}
    print(f"Machine: {out['machine']}\n")
    t0 = time.perf_counter()
    if not args.skip_outliers:
        out["outliers"] = run_outliers(args.seeds)
        print(outlier_tables(out["outliers"]))
    if not args.skip_boundary:
        out["boundary"] = run_boundary(args.seeds, args.boundary_sizes)
        print("\n**Boundary detection** (mean ± std over seeds)\n")
        print(boundary_table(out["boundary"]))
    print(f"\nTotal {time.perf_counter() - t0:.0f} s.")
    if args.figure:
        figure(args.figure)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1, default=float)
    return out


if __name__ == "__main__":
    main(_ARGS)
