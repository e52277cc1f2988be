"""Study: the magnitude dimension of samples of known manifolds, against TwoNN and MLE.

For n = 2000 points (fixed seeds) of the unit square, the unit cube, a circle embedded in R^3,
the 2-sphere in R^3 and the Swiss roll (``sklearn.datasets.make_swiss_roll``), this computes

* ``mm.magnitude_dimension(X)``: the peak of the profile t f'(t) / f(t) over
  [t_conv / 1000, t_conv] (t_conv: the convergence scale, |tX| = 0.95 n);
* the dimension profile ``f.scales, f.dimension`` of ``mm.magnitude_function(X)``;
* scikit-dimension's TwoNN (Facco et al. 2017, default: 10% of the largest ratios discarded)
  and MLE (Levina-Bickel with 20 neighbours, pointwise estimates combined as in MacKay and
  Ghahramani, the skdim default) on the same points;

timing each call, and prints a markdown table. Two side studies explain the numbers: the
magnitude dimension against the sample size (n = 250 ... 2000) for the square, the cube and
the sphere, and the Swiss roll against its own unrolled chart (the 2-d rectangle of arc length
by height that the roll is an isometric image of, so any difference is the rolling seen at
coarse scales). For the boundary effect, the closed form of the continuous 3-ball,
|tB_R| = 1 + 2tR + (tR)^2 + (tR)^3 / 6 (Barcelo and Carbery 2018), gives the profile a
continuum with a boundary has at the scale where the cube's profile peaks.

The figure (matplotlib, Agg backend) goes to docs/img/dimension_profiles.png.

Usage (from the repository root; a separate venv keeps scikit-dimension out of .venv)::

    python3 -m venv benchmarks/.venv-studies
    benchmarks/.venv-studies/bin/pip install -e . scikit-dimension scikit-learn matplotlib
    OPENBLAS_NUM_THREADS=1 benchmarks/.venv-studies/bin/python benchmarks/study_dimension.py

About 2 to 2.5 minutes on one core of a 2-core x86-64 machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import REPO, import_metric_magnitude, set_thread_env

set_thread_env(1, override=False)  # before numpy is imported; an explicit setting wins

import numpy as np  # noqa: E402

mm = import_metric_magnitude()

TRUE_DIM = {"unit square": 2, "unit cube": 3, "circle in R^3": 1, "2-sphere": 2, "Swiss roll": 2}


def datasets(n: int, seed: int) -> dict[str, np.ndarray]:
    """The five samples, each from its own fixed seed (seed + k)."""
    from sklearn.datasets import make_swiss_roll

    out = {}
    out["unit square"] = np.random.default_rng(seed).random((n, 2))
    out["unit cube"] = np.random.default_rng(seed + 1).random((n, 3))
    theta = np.random.default_rng(seed + 2).uniform(0.0, 2.0 * np.pi, n)
    # the unit circle in the plane spanned by two orthonormal vectors of R^3
    u = np.array([1.0, 1.0, 1.0]) / np.sqrt(3.0)
    v = np.array([1.0, -1.0, 0.0]) / np.sqrt(2.0)
    out["circle in R^3"] = np.outer(np.cos(theta), u) + np.outer(np.sin(theta), v)
    g = np.random.default_rng(seed + 3).normal(size=(n, 3))
    out["2-sphere"] = g / np.linalg.norm(g, axis=1, keepdims=True)
    out["Swiss roll"], _ = make_swiss_roll(n, noise=0.0, random_state=seed + 4)
    return out


def unrolled_swiss_roll(n: int, seed: int) -> np.ndarray:
    """The chart of the same Swiss roll: (arc length along the spiral, height)."""
    from sklearn.datasets import make_swiss_roll

    X, t = make_swiss_roll(n, noise=0.0, random_state=seed + 4)
    # the spiral (t cos t, t sin t) has arc length s(t) = (t sqrt(1+t^2) + asinh t) / 2
    s = 0.5 * (t * np.sqrt(1.0 + t**2) + np.arcsinh(t))
    return np.column_stack([s - s.min(), X[:, 1]])


def ball_profile(x):
    """t f'/f of the continuous 3-ball, |tB_R| = 1 + 2x + x^2 + x^3/6 with x = tR."""
    f = 1 + 2 * x + x**2 + x**3 / 6
    return (2 * x + 2 * x**2 + x**3 / 2) / f


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="points per sample (2000)")
    p.add_argument("--seed", type=int, default=0, help="base seed (0)")
    p.add_argument(
        "--sweep", type=int, nargs="*", default=[250, 500, 1000],
        help="extra sample sizes for the sample-size study (250 500 1000; n is added)",
    )
    p.add_argument("--figure", default=str(REPO / "docs" / "img" / "dimension_profiles.png"))
    args = p.parse_args(argv)

    import skdim
    from threadpoolctl import threadpool_info

    blas = sorted({(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()})
    print(f"# magnitude dimension study: n = {args.n}, seed = {args.seed}, BLAS {blas}\n")

    data = datasets(args.n, args.seed)
    rows, profiles, profiles_wide = [], {}, {}
    for name, X in data.items():
        dim, t_dim = timed(mm.magnitude_dimension, X)
        # 2000 scales: the very grid the rule maximises over, so the peak can be checked
        f, t_fun = timed(mm.magnitude_function, X, n_scales=2000)
        assert abs(f.dimension.max() - dim) <= 1e-9 * dim, (name, f.dimension.max(), dim)
        twonn, t_twonn = timed(lambda X: skdim.id.TwoNN().fit(X).dimension_, X)
        mle, t_mle = timed(lambda X: skdim.id.MLE().fit(X).dimension_, X)
        i = int(np.argmax(f.dimension))
        rows.append((name, TRUE_DIM[name], dim, f.scales[i] / f.t_max, f.t_max, f.n_solves,
                     twonn, mle, t_dim, t_fun, t_twonn, t_mle))
        profiles[name] = f
        print(f"  {name}: done ({t_dim + t_fun + t_twonn + t_mle:.1f} s)", file=sys.stderr)

    print(f"| data (n = {args.n}) | true d | magnitude dim. | peak at t/t_conv | t_conv "
          "| solves | TwoNN | MLE (k=20) | time mag. dim. | time mag. function | time TwoNN "
          "| time MLE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3g} | {r[4]:.4g} | {r[5]} | "
              f"{r[6]:.3f} | {r[7]:.3f} | {r[8]:.1f} s | {r[9]:.1f} s | {r[10]:.3f} s | "
              f"{r[11]:.3f} s |")

    # sample size: the estimate climbs towards d as the sample gets denser
    sizes = sorted(set(args.sweep) | {args.n})
    sweep = {}
    print("\n| n | " + " | ".join(f"{k} (d={TRUE_DIM[k]})" for k in
                                  ("unit square", "unit cube", "2-sphere")) + " |")
    print("|---|---|---|---|")
    for m in sizes:
        vals = []
        for name in ("unit square", "unit cube", "2-sphere"):
            if m == args.n:
                d = next(r[2] for r in rows if r[0] == name)
            else:
                d = mm.magnitude_dimension(datasets(m, args.seed)[name])
            sweep.setdefault(name, []).append(d)
            vals.append(d)
        print(f"| {m} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")

    # the Swiss roll against its unrolled chart (an isometric copy of a 2-d rectangle)
    flat = mm.magnitude_function(unrolled_swiss_roll(args.n, args.seed), n_scales=2000)
    roll = profiles["Swiss roll"]
    tf, tr = flat.t_max, roll.t_max
    print(f"\nSwiss roll: t_conv {tr:.4g}, peak {roll.dimension.max():.3f}; unrolled chart: "
          f"t_conv {tf:.4g}, peak {flat.dimension.max():.3f}")
    for t in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
        a = np.interp(np.log(t), np.log(roll.scales), roll.dimension)
        b = np.interp(np.log(t), np.log(flat.scales), flat.dimension)
        print(f"  t = {t:5.2f}: rolled {a:.3f}, unrolled {b:.3f}")

    # a peak at an end of the window is the window's, not the profile's: look further
    for name, f in profiles.items():
        i = int(np.argmax(f.dimension))
        if 0 < i < f.scales.size - 1:
            continue
        wide = mm.magnitude_function(data[name], np.geomspace(f.t_max * 1e-5, f.t_max, 400))
        j = int(np.argmax(wide.dimension))
        print(f"\n{name}: the peak lies at an end of [t_conv/1000, t_conv]; over "
              f"[t_conv/1e5, t_conv] the profile peaks at {wide.dimension[j]:.3f} "
              f"(t = {wide.scales[j]:.3g}, t/t_conv = {wide.scales[j] / f.t_max:.2g})")
        profiles_wide[name] = wide

    # boundary effect: a continuous ball of the cube's volume at the cube's peak scale
    cube = profiles["unit cube"]
    t_peak = cube.scales[np.argmax(cube.dimension)]
    R = (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0)  # volume 1
    print(f"\nunit cube: peak at t = {t_peak:.4g}; the continuous ball of volume 1 "
          f"(R = {R:.3f}) has t f'/f = {ball_profile(t_peak * R):.3f} there, "
          f"{ball_profile(10 * t_peak * R):.3f} at 10 t, {ball_profile(100 * t_peak * R):.3f} "
          "at 100 t")

    if args.figure:
        plot(profiles, profiles_wide, rows, flat, sizes, sweep, args)
        print(f"\nfigure: {args.figure}")
    return 0


def plot(profiles, profiles_wide, rows, flat, sizes, sweep, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4.8), constrained_layout=True)
    ax = axes[0]
    for k, (name, f) in enumerate(profiles.items()):
        c = f"C{k}"
        ax.plot(f.scales / f.t_max, f.dimension, color=c, label=f"{name} (d={TRUE_DIM[name]})")
        i = int(np.argmax(f.dimension))
        ax.plot(f.scales[i] / f.t_max, f.dimension[i], "o", color=c)
        ax.axhline(TRUE_DIM[name], color=c, ls=":", lw=0.8)
        if name in profiles_wide:  # the profile below the window, thin
            w = profiles_wide[name]
            below = w.scales < f.t_min
            ax.plot(w.scales[below] / f.t_max, w.dimension[below], color=c, lw=0.8, ls="--")
    ax.axvline(1e-3, color="grey", lw=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("t / t_conv (window of the rule: [1e-3, 1]; dashed: below it)")
    ax.set_ylabel("t f'(t) / f(t)")
    ax.set_title(f"dimension profiles, n = {args.n} (dots: mm.magnitude_dimension)")
    ax.legend(fontsize=8)

    ax = axes[1]
    roll = profiles["Swiss roll"]
    ax.plot(roll.scales, roll.dimension, color="C4", label="Swiss roll in R^3")
    ax.plot(flat.scales, flat.dimension, color="k", ls="--", label="its unrolled chart (2-d)")
    ax.set_xscale("log")
    ax.set_xlabel("t")
    ax.set_title("Swiss roll: rolled vs unrolled (same points, same n)")
    ax.axhline(2, color="grey", ls=":", lw=0.8)
    ax.legend(fontsize=8)

    ax = axes[2]
    for name in ("unit square", "unit cube", "2-sphere"):
        c = f"C{list(profiles).index(name)}"
        ax.plot(sizes, sweep[name], "o-", color=c, label=name)
        ax.axhline(TRUE_DIM[name], color=c, ls=":", lw=0.8)
        tw = next(r[6] for r in rows if r[0] == name)
        ax.plot([args.n], [tw], "x", color=c, ms=8)
    ax.set_xscale("log")
    ax.set_xlabel("n")
    ax.set_ylabel("magnitude dimension")
    ax.set_title(f"estimate vs sample size (x: TwoNN at n = {args.n})")
    ax.legend(fontsize=8)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=110)


if __name__ == "__main__":
    raise SystemExit(main())
