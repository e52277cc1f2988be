"""How well do the magnitude classifier and magnitude active learning do against the usual ones?

Two experiments, printed as markdown tables (results: docs/guide-classification.md).

1. Classification, the protocol of Bunch et al. (arXiv:2006.14063): standardise the
   features, ten random 70/30 train/test splits (stratified here), mean and standard
   deviation of the test accuracy. Data: iris, wine, breast cancer, digits (shipped with
   scikit-learn) and a 2-D checkerboard (1000 uniform points in [0, 4]^2, 4 x 4 board).
   Contenders in the same run, each in ``make_pipeline(StandardScaler(), clf)``:
   MagnitudeClassifier with t="auto" (weight and ECDF scores), t="per_class", t=1 (the
   reference code's default) and t chosen by 5-fold cross-validation among the automatic
   scale times 1/4 ... 4; scikit-learn's defaults for kNN (k=5), logistic regression,
   random forest (100 trees) and SVC (RBF kernel); and SVC with C and gamma chosen by 5-fold
   cross-validation (C in 1..1000, gamma in {"scale", 0.1, 1, 10}). Fit + predict time is
   the mean over the splits (cross-validation included).

2. Active learning curves: test accuracy against the number of labels. Each run takes a
   stratified 70/30 split, starts from one random labelled point per class, and queries one
   pool point at a time up to ``--budget`` labels. Strategies: the three of
   ``metric_magnitude.active_learning.query`` and random sampling, each with a
   MagnitudeClassifier learner (at the half-magnitude scale of the standardised training
   set, computed once per run); and, as the usual baseline, uncertainty sampling (smallest
   margin between the two largest decision values) and random sampling with an SVC learner.
   Mean (and std) over ``--al-repeats`` runs on the checkerboard and digits.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_classification.py --threads 1
    .venv/bin/python benchmarks/bench_classification.py --threads 1 --figures docs/img

``--figures DIR`` also writes ``classification-checkerboard.png`` (decision regions) and
``classification-active-learning.png`` (the learning curves) into DIR.
"""

from __future__ import annotations

import argparse
import sys

from _common import add_threads_option, import_metric_magnitude, pin_threads, thread_env, utc_now


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--splits", type=int, default=10, help="train/test splits (10)")
    p.add_argument("--al-repeats", type=int, default=10, help="active-learning runs (10)")
    p.add_argument("--budget", type=int, default=100, help="labels at the end of a run (100)")
    p.add_argument("--seed", type=int, default=0, help="first random seed (0)")
    p.add_argument("--skip-al", action="store_true", help="classification table only")
    p.add_argument("--figures", default=None, metavar="DIR", help="write the two figures here")
    p.add_argument("--out", default=None, metavar="FILE.json", help="write results as JSON")
    add_threads_option(p)
    return p.parse_args(argv)


if __name__ == "__main__":
    _ARGS = parse_args()
    pin_threads(_ARGS.threads)

import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn import datasets  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, clone  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

mm = import_metric_magnitude()
from metric_magnitude.active_learning import query  # noqa: E402
from metric_magnitude.classification import MagnitudeClassifier  # noqa: E402

DATASETS = ("iris", "wine", "breast_cancer", "digits", "checkerboard")


def checkerboard(n: int = 1000, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n uniform points in [0, k]^2, label (floor(x) + floor(y)) mod 2."""
    X = np.random.default_rng(seed).uniform(0.0, k, size=(n, 2))
    return X, (np.floor(X).sum(axis=1) % 2).astype(int)


def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    if name == "checkerboard":
        return checkerboard()
    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
    }[name]
    data = loader()
    return data.data.astype(float), data.target


class MagnitudeCV(ClassifierMixin, BaseEstimator):
    """MagnitudeClassifier with t chosen by 5-fold CV among t_auto x (1/4, 1/2, 1, 2, 4)."""

    def fit(self, X, y):
        t0 = float(MagnitudeClassifier().fit(X, y).scales_[0])
        grid = {"t": [t0 * f for f in (0.25, 0.5, 1.0, 2.0, 4.0)]}
        self.search_ = GridSearchCV(MagnitudeClassifier(), grid, cv=5).fit(X, y)
        self.classes_ = self.search_.classes_
        return self

    def predict(self, X):
        return self.search_.predict(X)


def contenders(seed: int) -> dict:
    svc_grid = {"C": [1.0, 10.0, 100.0, 1000.0], "gamma": ["scale", 0.1, 1.0, 10.0]}
    return {
        "magnitude (auto)": MagnitudeClassifier(),
        "magnitude (auto, ecdf)": MagnitudeClassifier(weight_score="ecdf"),
        "magnitude (per_class)": MagnitudeClassifier(t="per_class"),
        "magnitude (t=1)": MagnitudeClassifier(t=1.0),
        "magnitude (t by 5-fold CV)": MagnitudeCV(),
        "kNN (k=5)": KNeighborsClassifier(),
        "logistic regression": LogisticRegression(max_iter=5000),
        "random forest": RandomForestClassifier(random_state=seed),
        "SVC (RBF)": SVC(),
        "SVC (C, gamma by 5-fold CV)": GridSearchCV(SVC(), svc_grid, cv=5),
    }


# --------------------------------------------------------------------------- classification


def classification(args: argparse.Namespace) -> dict:
    out: dict = {}
    for name in DATASETS:
        X, y = load(name)
        acc: dict[str, list[float]] = {}
        sec: dict[str, list[float]] = {}
        for s in range(args.seed, args.seed + args.splits):
            Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=0.7, random_state=s, stratify=y)
            for label, clf in contenders(s).items():
                pipe = make_pipeline(StandardScaler(), clf)
                start = time.perf_counter()
                pred = pipe.fit(Xtr, ytr).predict(Xte)
                sec.setdefault(label, []).append(time.perf_counter() - start)
                acc.setdefault(label, []).append(float(np.mean(pred == yte)))
        out[name] = {
            "n": int(X.shape[0]),
            "d": int(X.shape[1]),
            "classes": int(np.unique(y).size),
            "accuracy": acc,
            "seconds": sec,
        }
        print(f"  {name}: done", file=sys.stderr, flush=True)
    return out


def classification_table(res: dict) -> str:
    names = list(next(iter(res.values()))["accuracy"])
    head = "| classifier | " + " | ".join(
        f"{d} ({r['n']} x {r['d']}, {r['classes']} cl.)" for d, r in res.items()
    )
    lines = [head + " |", "|---" * (len(res) + 1) + "|"]
    for c in names:
        cells = []
        for r in res.values():
            a = np.array(r["accuracy"][c])
            best = max(np.mean(v) for v in r["accuracy"].values())
            cell = f"{a.mean():.3f} ± {a.std():.3f}"
            cells.append(f"**{cell}**" if np.isclose(a.mean(), best) else cell)
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    lines += ["", "Mean fit + predict time per split (ms):", ""]
    lines += ["| classifier | " + " | ".join(res) + " |", "|---" * (len(res) + 1) + "|"]
    for c in names:
        cells = [f"{1e3 * np.mean(r['seconds'][c]):.0f}" for r in res.values()]
        lines.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- active learning

AL_RUNS = (
    ("magnitude", "weight"),
    ("magnitude", "class_weight"),
    ("magnitude", "margin"),
    ("magnitude", "random"),
    ("SVC", "uncertainty"),
    ("SVC", "random"),
)


def _svc_margin(svc, X: np.ndarray) -> np.ndarray:
    dec = svc.decision_function(X)
    if dec.ndim == 1:
        return np.abs(dec)
    two = np.sort(dec, axis=1)[:, -2:]
    return two[:, 1] - two[:, 0]


def al_run(X, y, learner: str, strategy: str, seed: int, budget: int, checkpoints):
    Xtr, Xte, ytr, yte = train_test_split(X, y, train_size=0.7, random_state=seed, stratify=y)
    scaler = StandardScaler().fit(Xtr)
    Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    rng = np.random.default_rng(seed)
    labelled = [int(rng.choice(np.flatnonzero(ytr == c))) for c in np.unique(ytr)]
    t = mm.convergence_scale(Xtr, q=0.5, rtol=1e-6)
    model = MagnitudeClassifier(t=t) if learner == "magnitude" else SVC()
    curve = {}
    while True:
        pool = np.setdiff1d(np.arange(len(Xtr)), labelled)
        fitted = clone(model).fit(Xtr[labelled], ytr[labelled])
        if len(labelled) in checkpoints:
            curve[len(labelled)] = float(np.mean(fitted.predict(Xte) == yte))
        if len(labelled) >= budget:
            return curve
        if strategy == "random":
            j = int(rng.choice(pool))
        elif strategy == "uncertainty":
            j = int(pool[np.argmin(_svc_margin(fitted, Xtr[pool]))])
        else:
            j = int(pool[query(Xtr[labelled], ytr[labelled], Xtr[pool], strategy=strategy, t=t)[0]])
        labelled.append(j)


def active_learning(args: argparse.Namespace) -> dict:
    out: dict = {}
    for name in ("checkerboard", "digits"):
        X, y = load(name)
        k = np.unique(y).size
        checkpoints = sorted({k, *range(10, args.budget + 1, 10)} - set(range(k)))
        res = {}
        for learner, strategy in AL_RUNS:
            curves = [
                al_run(X, y, learner, strategy, s, args.budget, set(checkpoints))
                for s in range(args.seed, args.seed + args.al_repeats)
            ]
            res[f"{learner} / {strategy}"] = {
                str(c): [cv[c] for cv in curves] for c in checkpoints
            }
            print(f"  {name}: {learner} / {strategy} done", file=sys.stderr, flush=True)
        out[name] = {"checkpoints": checkpoints, "curves": res}
    return out


def al_table(name: str, res: dict) -> str:
    cps = [c for c in res["checkpoints"] if c in (res["checkpoints"][0], 10, 20, 40, 60, 100)]
    lines = [
        f"| {name}: learner / strategy | " + " | ".join(f"{c} labels" for c in cps) + " |",
        "|---" * (len(cps) + 1) + "|",
    ]
    for label, curve in res["curves"].items():
        cells = []
        for c in cps:
            a = np.array(curve[str(c)])
            best = max(np.mean(v[str(c)]) for v in res["curves"].values())
            cell = f"{a.mean():.3f} ± {a.std():.3f}"
            cells.append(f"**{cell}**" if np.isclose(a.mean(), best) else cell)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- figures


def figures(directory: Path, al: dict | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    X, y = checkerboard()
    Xtr, _, ytr, _ = train_test_split(X, y, train_size=0.7, random_state=0, stratify=y)
    g = np.linspace(0, 4, 200)
    G = np.column_stack([a.ravel() for a in np.meshgrid(g, g)])
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), constrained_layout=True)
    pipes = {
        "MagnitudeClassifier (auto)": MagnitudeClassifier(),
        "kNN (k=5)": KNeighborsClassifier(),
        "SVC (C, gamma by 5-fold CV)": contenders(0)["SVC (C, gamma by 5-fold CV)"],
    }
    for ax, (title, clf) in zip(axes, pipes.items(), strict=True):
        pipe = make_pipeline(StandardScaler(), clf).fit(Xtr, ytr)
        ax.contourf(g, g, pipe.predict(G).reshape(200, 200), levels=[-0.5, 0.5, 1.5],
                    colors=["#c6dbef", "#fdd0a2"])
        ax.scatter(*Xtr.T, c=np.where(ytr == 1, "#d94801", "#08519c"), s=5)
        ax.set_title(title, fontsize=10)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Decision regions on the checkerboard (700 training points)", fontsize=11)
    fig.savefig(directory / "classification-checkerboard.png", dpi=110)
    plt.close(fig)
    if al is None:
        return
    fig, axes = plt.subplots(1, len(al), figsize=(11, 4), constrained_layout=True)
    for ax, (name, res) in zip(np.atleast_1d(axes), al.items(), strict=True):
        cps = res["checkpoints"]
        for label, curve in res["curves"].items():
            mean = [np.mean(curve[str(c)]) for c in cps]
            style = "-" if label.startswith("magnitude") else "--"
            ax.plot(cps, mean, style, marker="o", ms=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("labels")
        ax.set_ylabel("test accuracy")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.savefig(directory / "classification-active-learning.png", dpi=110)
    plt.close(fig)


def main(args: argparse.Namespace) -> dict:
    info = {
        "date_utc": utc_now(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": thread_env(),
        "args": vars(args),
    }
    start = time.perf_counter()
    res = {"machine": info, "classification": classification(args)}
    print("\n## Classification accuracy (mean ± std over splits)\n")
    print(classification_table(res["classification"]))
    if not args.skip_al:
        res["active_learning"] = active_learning(args)
        for name, r in res["active_learning"].items():
            print(f"\n## Active learning: {name} (test accuracy, mean ± std over runs)\n")
            print(al_table(name, r))
    if args.figures:
        figures(Path(args.figures), res.get("active_learning"))
    res["seconds"] = time.perf_counter() - start
    print(f"\n(total {res['seconds']:.0f} s)")
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == "__main__":
    main(_ARGS)
