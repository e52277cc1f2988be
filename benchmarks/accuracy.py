"""Measure every solver against closed forms and 40-digit mpmath; print docs/accuracy.md tables.

Usage: .venv/bin/python benchmarks/accuracy.py > /tmp/acc.md

The spaces and references are the ones the test suite checks (tests/cases.py), so the
table and the tests cannot drift apart.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import mpmath as mp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from cases import ALL_CASES, SCALES, case
from oracles import max_norm_rel_err, rel_err

import metric_magnitude as mm

TINY = np.finfo(float).tiny
METHODS = ["auto", "cholesky", "small_t", "ldl"]


def measure(name: str, method: str, t: float):
    X, metric, ref = case(name)
    kw = {} if metric is None else {"metric": metric}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.MagnitudeWarning)
        try:
            space, res = mm.solve(X, t, method=method, derivative=True, **kw)
        except (mm.SingularSimilarityError, mm.NotPositiveDefiniteError):
            return None
    m, m1, w, d = ref(t)
    cond = np.linalg.cond(np.exp(-t * space.distances))
    dref = mp.mpf(d)
    out = {
        "mag": rel_err(res.magnitude, m),
        "m1": rel_err(res.magnitude_minus_one, m1),
        "deriv": float(abs(float(res.derivative[0]) - dref) / max(abs(dref), TINY)),
        "w": None,
        "cond": cond,
        "used": res.methods[0],
    }
    if w is not None and cond <= 1e12:
        out["w"] = max_norm_rel_err(space.expand_weights(res.weights)[0], w)
    return out


def fmt(x):
    return "—" if x is None else f"{x:.0e}"


def main() -> None:
    print("| space | method | max rel. err. \\|tX\\| | max rel. err. \\|tX\\|-1 | "
          "max rel. err. w (cond(Z) <= 1e12) | max rel. err. d\\|tX\\|/dt | failed scales |")
    print("|---|---|---|---|---|---|---|")
    per_scale = {}
    for name in sorted(ALL_CASES):
        for method in METHODS:
            rows = [(t, measure(name, method, t)) for t in SCALES]
            ok = [r for _, r in rows if r is not None]
            failed = [f"{t:g}" for t, r in rows if r is None]

            def worst(key, ok=ok):
                vals = [r[key] for r in ok if r[key] is not None]
                return max(vals) if vals else None

            print(f"| {name} | {method} | {fmt(worst('mag'))} | {fmt(worst('m1'))} | "
                  f"{fmt(worst('w'))} | {fmt(worst('deriv'))} | {', '.join(failed) or '—'} |")
            if method == "auto":
                per_scale[name] = rows
    print("\nPer scale, method='auto' (solver chosen / rel. err. of |tX|-1 / weights):\n")
    print("| space | " + " | ".join(f"t={t:g}" for t in SCALES) + " |")
    print("|---|" + "---|" * len(SCALES))
    for name, rows in per_scale.items():
        cells = [f"{r['used']} {fmt(r['m1'])} {fmt(r['w'])}" for _, r in rows]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
