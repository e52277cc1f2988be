"""Benchmark the dense core solvers against a plain numpy/scipy baseline.

For n Gaussian points in R^10 (fixed seed) this times ``mm.magnitude`` with
``method="auto"`` and ``method="cholesky"`` against the baseline

    D = scipy.spatial.distance.cdist(X, X)            # once
    for t in scales:
        Z = np.exp(-t * D)
        c = scipy.linalg.cho_factor(Z)
        mag = scipy.linalg.cho_solve(c, np.ones(n)).sum()

measured in the same run, at one scale (where |tX| is near n/2) and at 100 scales
``np.geomspace(t_small, t_big, 100)`` (|tX| from about 1.5 to about 0.95 n). The scales are
found by bisection on the baseline, outside the timing. Each timed call starts from the
points, so both sides include computing the distances once. Repeats are interleaved (the
order of the three contenders rotates from one repeat to the next) and the table reports
medians, the ratio ours/baseline and the largest relative difference between our magnitudes
and the baseline's.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_core.py
    .venv/bin/python benchmarks/bench_core.py --sizes 500 1000 --repeats 7,3 --threads 1 \
        --out bench_core.json

``--threads N`` sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS (and the like)
to N and re-executes the script, so that BLAS sees them before numpy is imported. Without it
the environment is used as it is; the BLAS thread counts actually in effect are recorded
(threadpoolctl) either way.
"""

from __future__ import annotations

import argparse
import os
import sys

from _common import (
    REPO,
    add_threads_option,
    cpu_model,
    cpus_available,
    git,
    git_commit,
    import_metric_magnitude,
    pin_threads,
    thread_env,
    utc_now,
)


def _repeats(text: str) -> tuple[int, int]:
    parts = [int(p) for p in text.split(",")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError("expected R or R1,R100 with positive integers")
    return parts[0], parts[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time mm.magnitude (auto, cholesky) against a numpy/scipy Cholesky "
        "baseline on Gaussian points in R^10.",
    )
    p.add_argument(
        "--sizes", type=int, nargs="+", default=[500, 1000, 2000], help="numbers of points"
    )
    p.add_argument(
        "--repeats",
        type=_repeats,
        default=(5, 3),
        metavar="R1[,R100]",
        help="timed repeats for one scale and for the scale sweep (default 5,3)",
    )
    p.add_argument("--n-scales", type=int, default=100, help="scales in the sweep (100)")
    p.add_argument("--dim", type=int, default=10, help="dimension of the points (10)")
    p.add_argument("--seed", type=int, default=20240601, help="random seed")
    add_threads_option(p)
    p.add_argument("--out", default=None, metavar="FILE.json", help="write results as JSON")
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
import scipy.linalg  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

mm = import_metric_magnitude()


# --------------------------------------------------------------------------- contenders


def baseline(X: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Plain numpy/scipy: cdist once, then exp, cho_factor, cho_solve and a sum per scale.

    A scale where Cholesky fails gives NaN (it does not stop the sweep).
    """
    D = cdist(X, X)
    ones = np.ones(X.shape[0])
    out = np.empty(scales.shape[0])
    for i, t in enumerate(scales):
        Z = np.exp(-t * D)
        try:
            c = scipy.linalg.cho_factor(Z)
        except np.linalg.LinAlgError:
            out[i] = np.nan
            continue
        out[i] = scipy.linalg.cho_solve(c, ones).sum()
    return out


def ours(method: str):
    def run(X: np.ndarray, scales: np.ndarray) -> np.ndarray:
        return np.atleast_1d(mm.magnitude(X, scales, method=method))

    run.__name__ = f"mm_{method}"
    return run


CONTENDERS = {
    "auto": ours("auto"),
    "cholesky": ours("cholesky"),
    "baseline": baseline,
}


# --------------------------------------------------------------------------- scales


def _base_one(D: np.ndarray, t: float) -> float:
    Z = np.exp(-t * D)
    try:
        c = scipy.linalg.cho_factor(Z)
    except np.linalg.LinAlgError:  # fall back to our solver to keep the bisection going
        return float(mm.magnitude(D, t, metric="precomputed"))
    return float(scipy.linalg.cho_solve(c, np.ones(D.shape[0])).sum())


def scale_for(D: np.ndarray, target: float, rtol: float = 1e-3) -> tuple[float, float]:
    """Bisection in log t for |tX| = target on the baseline; returns (t, |tX|)."""
    t_lo = t_hi = 1.0 / float(np.median(D[np.triu_indices_from(D, 1)]))
    m_lo = m_hi = _base_one(D, t_lo)
    while m_lo > target:
        t_hi, m_hi = t_lo, m_lo
        t_lo /= 4.0
        m_lo = _base_one(D, t_lo)
    while m_hi < target:
        t_lo, m_lo = t_hi, m_hi
        t_hi *= 4.0
        m_hi = _base_one(D, t_hi)
    t, m = t_hi, m_hi
    for _ in range(60):
        t = float(np.sqrt(t_lo * t_hi))
        m = _base_one(D, t)
        if abs(m - target) <= rtol * target or t_hi / t_lo < 1 + 1e-9:
            break
        if m < target:
            t_lo = t
        else:
            t_hi = t
    return t, m


# --------------------------------------------------------------------------- timing


def time_case(X: np.ndarray, scales: np.ndarray, repeats: int) -> dict:
    """Interleaved repeats; the order of the contenders rotates from repeat to repeat."""
    names = list(CONTENDERS)
    times: dict[str, list[float]] = {name: [] for name in names}
    values: dict[str, np.ndarray] = {}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t0 = time.perf_counter()
            v = CONTENDERS[name](X, scales)
            times[name].append(time.perf_counter() - t0)
            values[name] = v
    base = values["baseline"]
    res: dict = {
        "n_scales": int(scales.shape[0]),
        "t_min": float(scales[0]),
        "t_max": float(scales[-1]),
        "magnitude_min": float(np.nanmin(base)),
        "magnitude_max": float(np.nanmax(base)),
        "baseline_failures": int(np.isnan(base).sum()),
        "repeats": repeats,
        "times_s": times,
        "median_ms": {k: 1e3 * statistics.median(v) for k, v in times.items()},
        "min_ms": {k: 1e3 * min(v) for k, v in times.items()},
    }
    # ratio of medians (reported) and of minima (a noisy machine only ever adds time)
    for key, stat in (("ratio", "median_ms"), ("ratio_of_min", "min_ms")):
        res[key] = {k: res[stat][k] / res[stat]["baseline"] for k in ("auto", "cholesky")}
    ok = ~np.isnan(base)
    res["max_rel_diff"] = {}
    res["max_rel_diff_at_magnitude"] = {}
    for k in ("auto", "cholesky"):
        rel = np.abs(values[k][ok] - base[ok]) / np.abs(base[ok])
        j = int(np.argmax(rel))
        res["max_rel_diff"][k] = float(rel[j])
        res["max_rel_diff_at_magnitude"][k] = float(base[ok][j])
    # which solver 'auto' used at each scale (an extra, untimed solve)
    _, sol = mm.solve(X, scales, method="auto", weights=False)
    res["auto_methods"] = {m: sol.methods.count(m) for m in sorted(set(sol.methods))}
    return res


def bench_size(n: int, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng([args.seed, n])
    X = rng.standard_normal((n, args.dim))
    D = cdist(X, X)
    t0 = time.perf_counter()
    t_half, m_half = scale_for(D, n / 2)
    t_small, m_small = scale_for(D, 1.5)
    t_big, m_big = scale_for(D, 0.95 * n)
    bisect_s = time.perf_counter() - t0
    print(
        f"n={n}: t(|tX|~n/2)={t_half:.4g} ({m_half:.1f}), t_small={t_small:.4g} "
        f"({m_small:.3f}), t_big={t_big:.4g} ({m_big:.1f}); bisection {bisect_s:.1f} s",
        flush=True,
    )
    one = np.array([t_half])
    many = np.geomspace(t_small, t_big, args.n_scales)
    for f in CONTENDERS.values():  # warm-up, untimed
        f(X, one)
    cases = []
    plan = (("1", one, args.repeats[0]), (str(args.n_scales), many, args.repeats[1]))
    for label, scales, reps in plan:
        t0 = time.perf_counter()
        case = time_case(X, scales, reps)
        case["label"] = label
        cases.append(case)
        print(f"  {label} scale(s): {time.perf_counter() - t0:.1f} s wall", flush=True)
    return {"n": n, "dim": args.dim, "cases": cases}


# --------------------------------------------------------------------------- machine


def _blas_info() -> dict:
    info: dict = {}
    try:
        from threadpoolctl import threadpool_info

        keys = ("internal_api", "version", "num_threads", "architecture", "filepath")
        info["threadpoolctl"] = [{k: d.get(k) for k in keys} for d in threadpool_info()]
    except ImportError:
        info["threadpoolctl"] = None
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        info["numpy_build"] = {
            k: {kk: deps[k].get(kk) for kk in ("name", "version", "openblas configuration")}
            for k in ("blas", "lapack")
            if k in deps
        }
    except (TypeError, ValueError):  # numpy < 1.25 has no mode="dicts"
        info["numpy_build"] = None
    return info


def _python_path() -> str:
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(REPO))
    except ValueError:
        return str(exe)


def machine_info() -> dict:
    status = git("status", "--porcelain", "--", "src")
    return {
        "date_utc": utc_now(),
        "git_commit": git_commit(),
        "git_src_modified": [] if not status else status.splitlines(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": cpus_available(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "metric_magnitude": getattr(mm, "__version__", None),
        "thread_env": thread_env(),
        "blas": _blas_info(),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# --------------------------------------------------------------------------- report


def markdown(results: dict) -> str:
    m = results["machine"]
    blas = m["blas"]["threadpoolctl"] or []
    blas_txt = ", ".join(
        f"{d['internal_api']} {d['version']} ({d['num_threads']} threads)" for d in blas
    )
    lines = [
        f"Machine: {m['cpu_model']}, {m['cpus_available']} CPUs available "
        f"({m['cpu_count']} online); Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}; BLAS: {blas_txt or 'unknown'}.",
        f"Date {m['date_utc']}, commit {(m['git_commit'] or 'unknown')[:10]}"
        + (" (src/ modified)" if m["git_src_modified"] else "")
        + f"; load average {m['loadavg_start'][0]:.2f} at start, "
        f"{results['loadavg_end'][0]:.2f} at end; total {results['wall_s']:.0f} s.",
        "",
        "| n | scales | \\|tX\\| range | auto (ms) | cholesky (ms) | baseline (ms) "
        "| auto / base | cholesky / base | max rel diff auto | max rel diff cholesky "
        "| auto used |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in results["sizes"]:
        for c in size["cases"]:
            ms = c["median_ms"]
            rng = (
                f"{c['magnitude_min']:.1f}"
                if c["n_scales"] == 1
                else f"{c['magnitude_min']:.2f} – {c['magnitude_max']:.0f}"
            )
            used = ", ".join(f"{k} {v}" for k, v in c["auto_methods"].items())
            lines.append(
                f"| {size['n']} | {c['n_scales']} | {rng} | {ms['auto']:.1f} "
                f"| {ms['cholesky']:.1f} | {ms['baseline']:.1f} "
                f"| {c['ratio']['auto']:.2f} ({c['ratio_of_min']['auto']:.2f}) "
                f"| {c['ratio']['cholesky']:.2f} ({c['ratio_of_min']['cholesky']:.2f}) "
                f"| {c['max_rel_diff']['auto']:.1e} "
                f"| {c['max_rel_diff']['cholesky']:.1e} | {used} |"
            )
    fails = sum(c["baseline_failures"] for s in results["sizes"] for c in s["cases"])
    lines.append("")
    lines.append(
        f"Medians of {results['repeats'][0]} (one scale) and {results['repeats'][1]} "
        f"({results['n_scales']} scales) interleaved repeats; ratios are of medians (of "
        f"minima in brackets); baseline Cholesky failures: {fails}."
    )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> dict:
    t0 = time.perf_counter()
    results: dict = {
        "benchmark": "bench_core",
        "command": " ".join([_python_path(), *sys.argv]),
        "machine": machine_info(),
        "repeats": list(args.repeats),
        "n_scales": args.n_scales,
        "seed": args.seed,
        "sizes": [],
    }
    for n in args.sizes:
        results["sizes"].append(bench_size(n, args))
    results["wall_s"] = time.perf_counter() - t0
    results["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    print()
    print(markdown(results))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    return results


if __name__ == "__main__":
    main(_ARGS)
