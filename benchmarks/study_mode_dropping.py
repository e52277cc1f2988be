"""Study: mode dropping and mode collapse seen by MagDiff, MagArea and the Vendi score.

A simulation in the spirit of Limbeck et al. (NeurIPS 2024, "Metric Space Magnitude for
Evaluating the Diversity of Latent Representations", mode-collapse experiments), which follow
the simulated Gaussian-mixture setting of Naeem et al. (ICML 2020, "Reliable fidelity and
diversity metrics for generative models").

Reference: n points (default 1000) from an equal mixture of M = 10 Gaussian modes with unit
standard deviation; in R^2 the centres sit on a circle of radius 10, in R^64 they are drawn
from N(0, 4^2 I) (fixed seed), so modes are well separated in both.

* Mode dropping: k = 1, ..., M - 1 modes are dropped (the last k), the same n points are shared
  equally by the M - k remaining modes.
* Mode collapse: every mode keeps its n / M points, its spread shrinks by a factor
  s = 1, 0.8, 0.6, 0.4, 0.2, 0.1 (the same standard-normal draws, scaled).
* Noise floor: five further independent samples of the reference distribution.

Samples are coupled: every mode has one pool of standard-normal draws and each set takes the
first points it needs from it, so differences between sets come from the change, not from
resampling (the noise floor measures the resampling). A last check repeats mode dropping
with every set drawn independently (as a generative model's samples would be), for further
seeds, to see whether MagDiff still grows at every step once sampling noise is in.

Each set is compared with the reference by ``mm.compare(sets, reference=0)``: the common
interval is [0, t_cut] with t_cut the reference's convergence scale (|tX| = 0.95 n); MagDiff
(exact integral of the certified interpolants, and the trapezoid rule on magnipy's 30 scales),
MagDiff normalised by the reference's MagArea, and MagArea. The Vendi score (Friedman and
Dieng 2023), exp of the Shannon entropy of the eigenvalues of K / n, is computed with the
vendi-score package (``vendi.score_K``) for the Gaussian kernel
K_ij = exp(-|x_i - x_j|^2 / (2 h^2)) at two bandwidths fixed on the reference: h_med, the
median pairwise distance of the reference (the usual heuristic; it sees modes), and
h_loc = h_med / 10 (it sees the inside of modes).

The figure goes to docs/img/mode_dropping.png.

Usage (from the repository root)::

    python3 -m venv benchmarks/.venv-studies
    benchmarks/.venv-studies/bin/pip install -e . vendi-score scikit-learn matplotlib
    OPENBLAS_NUM_THREADS=1 benchmarks/.venv-studies/bin/python benchmarks/study_mode_dropping.py

About 3 minutes on one core of a 2-core x86-64 machine (both dimensions, 3 extra seeds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import REPO, import_metric_magnitude, set_thread_env

set_thread_env(1, override=False)  # before numpy is imported; an explicit setting wins

import numpy as np  # noqa: E402
from scipy.spatial.distance import pdist, squareform  # noqa: E402

mm = import_metric_magnitude()

COLLAPSE = (1.0, 0.8, 0.6, 0.4, 0.2, 0.1)
N_FLOOR = 5


def centres(dim: int, modes: int, rng) -> np.ndarray:
    if dim == 2:
        a = 2 * np.pi * np.arange(modes) / modes
        return 10.0 * np.column_stack([np.cos(a), np.sin(a)])
    return 4.0 * rng.normal(size=(modes, dim))


def split(n: int, m: int) -> list[int]:
    """n points shared as equally as possible by m modes."""
    return [n // m + (1 if j < n % m else 0) for j in range(m)]


def build_sets(n: int, dim: int, modes: int, seed: int):
    rng = np.random.default_rng(seed)
    C = centres(dim, modes, rng)
    pools = [rng.normal(size=(n, dim)) for _ in range(modes)]  # coupled draws, one per mode

    def mixture(keep: int, scale: float = 1.0, pool=pools) -> np.ndarray:
        return np.vstack([C[j] + scale * pool[j][:c] for j, c in enumerate(split(n, keep))])

    names, sets = ["reference (0 dropped)"], [mixture(modes)]
    for k in range(1, modes):
        names.append(f"{k} dropped")
        sets.append(mixture(modes - k))
    drop_idx = list(range(modes))
    for s in COLLAPSE[1:]:
        names.append(f"spread x {s:g}")
        sets.append(mixture(modes, s))
    collapse_idx = [0, *range(modes, modes + len(COLLAPSE) - 1)]
    for r in range(N_FLOOR):
        other = np.random.default_rng(seed + 1000 + r)
        fresh = [other.normal(size=(n, dim)) for _ in range(modes)]
        names.append(f"fresh sample {r + 1}")
        sets.append(mixture(modes, 1.0, fresh))
    floor_idx = list(range(len(sets) - N_FLOOR, len(sets)))
    return names, sets, drop_idx, collapse_idx, floor_idx


def independent_dropping(n: int, dim: int, modes: int, seed: int) -> list[np.ndarray]:
    """Reference and 1..M-1 modes dropped, every set drawn independently (same centres)."""
    C = centres(dim, modes, np.random.default_rng(seed))
    out = []
    for k in range(modes):
        rng = np.random.default_rng([seed, k])
        out.append(np.vstack([C[j] + rng.normal(size=(c, dim))
                              for j, c in enumerate(split(n, modes - k))]))
    return out


def vendi_rbf(X: np.ndarray, h: float) -> float:
    from vendi_score import vendi

    K = np.exp(-squareform(pdist(X, "sqeuclidean")) / (2 * h * h))
    return float(vendi.score_K(K))


def monotone(x) -> bool:
    return bool(np.all(np.diff(x) > 0))


def run(dim: int, args):
    t0 = time.perf_counter()
    names, sets, drop_idx, collapse_idx, floor_idx = build_sets(
        args.n, dim, args.modes, args.seed
    )
    c = mm.compare(sets, names=names, reference=0)
    diff = c.mag_diffs[0]
    trap = np.trapezoid(np.abs(c.values - c.values[0]), c.scales, axis=1) / c.t_cut
    # sign of f_k - f_ref on a fine grid: is the dropped set's function below everywhere?
    grid = np.linspace(0.0, c.t_cut, 4001)
    ref = c.functions[0](grid)
    vals = [f(grid) for f in c.functions]
    below = [bool(np.all(v <= ref + 1e-9 * ref)) for v in vals]
    # where on [0, t_cut] the area between the functions lies: share from t <= t_cut / 10
    coarse = grid <= c.t_cut / 10
    share = [np.trapezoid(np.abs(v - ref)[coarse], grid[coarse])
             / max(np.trapezoid(np.abs(v - ref), grid), 1e-300) for v in vals]
    h_med = float(np.median(pdist(sets[0])))
    hs = {"h_med": h_med, "h_loc": h_med / 10}
    vendi = {k: np.array([vendi_rbf(X, h) for X in sets]) for k, h in hs.items()}
    elapsed = time.perf_counter() - t0

    print(f"\n## R^{dim}: {args.modes} modes, n = {args.n}, seed = {args.seed}; t_cut = "
          f"{c.t_cut:.4g} (reference's t_conv); h_med = {h_med:.4g}; {elapsed:.0f} s\n")
    print("| set | MagDiff | MagDiff (trapezoid, 30) | normalised MagDiff | MagArea | f <= f_ref "
          "| share t <= t_cut/10 | Vendi (h_med) | Vendi (h_loc) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, name in enumerate(names):
        print(f"| {name} | {diff[i]:.4g} | {trap[i]:.4g} | {c.normalised_mag_diffs[i]:.4f} | "
              f"{c.mag_areas[i]:.4g} | {'yes' if below[i] else 'no'} | "
              f"{share[i]:.3f} | {vendi['h_med'][i]:.3f} | {vendi['h_loc'][i]:.2f} |")

    floor = diff[floor_idx].max()
    vfloor = {k: np.abs(v[floor_idx] - v[0]).max() for k, v in vendi.items()}
    print(f"\nnoise floor (largest of {N_FLOOR} fresh reference samples): MagDiff {floor:.4g}, "
          f"|dVendi| {vfloor['h_med']:.3g} (h_med), {vfloor['h_loc']:.3g} (h_loc)")
    for label, idx in (("mode dropping", drop_idx), ("mode collapse", collapse_idx)):
        d1 = diff[idx[1]]
        v1 = {k: abs(v[idx[1]] - v[0]) for k, v in vendi.items()}
        print(f"{label}: MagDiff increasing at every step: {monotone(diff[idx])}; "
              f"MagArea decreasing: {monotone(-c.mag_areas[idx])}; Vendi decreasing: "
              f"h_med {monotone(-vendi['h_med'][idx])}, h_loc {monotone(-vendi['h_loc'][idx])}; "
              f"first step / noise floor: MagDiff {d1 / floor:.1f}, "
              f"Vendi h_med {v1['h_med'] / vfloor['h_med']:.1f}, "
              f"h_loc {v1['h_loc'] / vfloor['h_loc']:.1f}")
    return dict(dim=dim, names=names, sets=sets, c=c, diff=diff, vendi=vendi, floor=floor,
                vfloor=vfloor, drop_idx=drop_idx, collapse_idx=collapse_idx)


def plot(results, args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 4, figsize=(18, 4.2 * len(results)),
                             constrained_layout=True, squeeze=False)
    ks = np.arange(args.modes)
    for row, r in zip(axes, results, strict=True):
        dim, c, diff, vendi = r["dim"], r["c"], r["diff"], r["vendi"]
        ax = row[0]
        if dim == 2:
            ref, one = r["sets"][0], r["sets"][r["drop_idx"][5]]
            ax.scatter(*ref.T, s=3, alpha=0.5, label="reference")
            ax.scatter(*one.T, s=3, alpha=0.5, label="5 modes dropped")
            ax.set_aspect("equal")
            ax.set_title("R^2: reference and 5 modes dropped")
            ax.legend(fontsize=8, markerscale=3)
        else:
            for i in (0, *r["drop_idx"][3::3]):
                ax.plot(c.scales, c.values[i], label=r["names"][i])
            ax.set_xlabel("t")
            ax.set_ylabel("|tX|")
            ax.set_title(f"R^{dim}: magnitude functions on [0, t_cut]")
            ax.legend(fontsize=8)
        ax = row[1]
        ax.plot(ks, diff[r["drop_idx"]], "o-", label="MagDiff to reference")
        ax.axhline(r["floor"], color="grey", ls=":", label="noise floor (fresh samples)")
        ax.set_xlabel("modes dropped")
        ax.set_ylabel("MagDiff")
        ax.set_title(f"R^{dim}: mode dropping")
        ax.legend(fontsize=8)
        ax = row[2]
        for key, st in (("h_med", "s-"), ("h_loc", "^-")):
            v = vendi[key][r["drop_idx"]]
            ax.plot(ks, v / v[0], st, label=f"Vendi ({key}) / reference")
        a = c.mag_areas[r["drop_idx"]]
        ax.plot(ks, a / a[0], "o-", label="MagArea / reference")
        ax.set_xlabel("modes dropped")
        ax.set_title(f"R^{dim}: mode dropping, relative to the reference")
        ax.legend(fontsize=8)
        ax = row[3]
        s = np.array(COLLAPSE)
        idx = r["collapse_idx"]
        for key, st in (("h_med", "s-"), ("h_loc", "^-")):
            v = vendi[key][idx]
            ax.plot(s, v / v[0], st, label=f"Vendi ({key}) / reference")
        a = c.mag_areas[idx]
        ax.plot(s, a / a[0], "o-", label="MagArea / reference")
        ax.invert_xaxis()
        ax.set_xlabel("spread factor of every mode")
        ax.set_title(f"R^{dim}: mode collapse")
        ax.legend(fontsize=8)
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=100)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1000, help="points per set (1000)")
    p.add_argument("--modes", type=int, default=10, help="modes of the reference (10)")
    p.add_argument("--dims", type=int, nargs="+", default=[2, 64], help="dimensions (2 64)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument("--extra-seeds", type=int, default=3,
                   help="further seeds for the independent-sample dropping check (3)")
    p.add_argument("--figure", default=str(REPO / "docs" / "img" / "mode_dropping.png"))
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_info

    blas = sorted({(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()})
    print(f"# mode dropping / mode collapse study (BLAS {blas})")
    results = [run(d, args) for d in args.dims]
    if args.extra_seeds:
        print(f"\n## Mode dropping with independent samples, seeds {args.seed + 1} to "
              f"{args.seed + args.extra_seeds}: MagDiff to the reference by modes dropped\n")
        print("| dim | seed | " + " | ".join(str(k) for k in range(1, args.modes))
              + " | increasing |")
        print("|---|---|" + "---|" * args.modes)
        for d in args.dims:
            for sd in range(args.seed + 1, args.seed + 1 + args.extra_seeds):
                c = mm.compare(independent_dropping(args.n, d, args.modes, sd), reference=0)
                m = c.mag_diffs[0]
                print(f"| {d} | {sd} | " + " | ".join(f"{x:.4g}" for x in m[1:])
                      + f" | {'yes' if monotone(m) else 'no'} |")
    if args.figure:
        plot(results, args)
        print(f"\nfigure: {args.figure}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
