"""Shared test oracles: closed forms (PRIMER section 2) and 40+ digit mpmath references.

Every closed form is evaluated in mpmath so that |tX| - 1 is exact even at t = 1e-8.
"""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np

DPS = 50


def rel_err(got, ref) -> float:
    """max |got - ref| / |ref| (ref an mpf, a float or an array of them)."""
    got = np.atleast_1d(np.asarray(got, dtype=float))
    ref = np.atleast_1d(np.asarray(ref, dtype=object))
    out = 0.0
    for g, r in zip(got, ref, strict=True):
        r = mp.mpf(r)
        out = max(out, float(abs(mp.mpf(g) - r) / abs(r)) if r != 0 else abs(g))
    return out


def max_norm_rel_err(got, ref) -> float:
    """||got - ref||_inf / ||ref||_inf for vectors (ref a list of mpf)."""
    got = np.asarray(got, dtype=float)
    with mp.workdps(DPS):
        num = max(abs(mp.mpf(g) - r) for g, r in zip(got, ref, strict=True))
        den = max(abs(r) for r in ref)
        return float(num / den)


# ---------------------------------------------------------------- mpmath references


def mp_distances_from_points(X, metric: str = "euclidean"):
    """Exact (to DPS digits) distances between float64 points."""
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    with mp.workdps(DPS):
        P = [[mp.mpf(float(v)) for v in row] for row in X]
        D = mp.matrix(n, n)
        for i in range(n):
            for j in range(i + 1, n):
                diff = [a - b for a, b in zip(P[i], P[j], strict=True)]
                if metric == "euclidean":
                    d = mp.sqrt(mp.fsum(v * v for v in diff))
                elif metric == "cityblock":
                    d = mp.fsum(abs(v) for v in diff)
                else:
                    raise ValueError(metric)
                D[i, j] = D[j, i] = d
        return D


def mp_from_float_matrix(D):
    D = np.asarray(D, dtype=float)
    n = D.shape[0]
    M = mp.matrix(n, n)
    for i in range(n):
        for j in range(n):
            M[i, j] = mp.mpf(float(D[i, j]))
    return M


def mp_magnitude(Dmp, t):
    """(|tX|, |tX| - 1, weights, d|tX|/dt) at DPS digits for an mpmath distance matrix."""
    with mp.workdps(DPS):
        t = mp.mpf(t)
        n = Dmp.rows
        Z = mp.matrix(n, n)
        E = mp.matrix(n, n)
        for i in range(n):
            for j in range(n):
                Z[i, j] = mp.exp(-t * Dmp[i, j])
                E[i, j] = -mp.expm1(-t * Dmp[i, j])
        ones = mp.matrix([1] * n)
        w = mp.lu_solve(Z, ones)
        m = mp.fsum(w)
        # |tX| - 1 through the small-t form, free of cancellation at tiny t
        if n > 1:
            u = mp.lu_solve(E, ones)
            a = mp.fsum(u)
            m1 = 1 / (a - 1)
        else:
            m1 = mp.mpf(0)
        deriv = mp.fsum(
            w[i] * Dmp[i, j] * Z[i, j] * w[j] for i in range(n) for j in range(n)
        )
        return m, m1, [w[i] for i in range(n)], deriv


# ---------------------------------------------------------------- closed forms


def line_magnitude(x, t):
    """Points on a line: 1 + sum tanh(t g / 2); returns (|tX|, |tX| - 1, weights, derivative)."""
    with mp.workdps(DPS):
        xs = sorted(mp.mpf(float(v)) for v in np.ravel(x))
        t = mp.mpf(t)
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        th = [mp.tanh(t * g / 2) for g in gaps]
        m1 = mp.fsum(th)
        deriv = mp.fsum(g / 2 / mp.cosh(t * g / 2) ** 2 for g in gaps)
        n = len(xs)
        w = [mp.mpf(0)] * n
        for i in range(n):
            left = th[i - 1] if i > 0 else mp.mpf(1)
            right = th[i] if i < n - 1 else mp.mpf(1)
            w[i] = (left + right) / 2
        return 1 + m1, m1, w, deriv


def equidistant_magnitude(n, d, t):
    """n points at mutual distance d: n / (1 + (n - 1) e^{-td})."""
    with mp.workdps(DPS):
        t, d = mp.mpf(t), mp.mpf(d)
        q = mp.exp(-t * d)
        m = n / (1 + (n - 1) * q)
        m1 = (n - 1) * (-mp.expm1(-t * d)) / (1 + (n - 1) * q)
        deriv = n * (n - 1) * d * q / (1 + (n - 1) * q) ** 2
        return m, m1, [m / n] * n, deriv


def homogeneous_magnitude(row, t):
    """Vertex-transitive space with distances `row` from one point: n / sum_j e^{-t d_0j}."""
    with mp.workdps(DPS):
        t = mp.mpf(t)
        row = [mp.mpf(float(v)) for v in row]
        s = mp.fsum(mp.exp(-t * d) for d in row)
        s1 = mp.fsum(-mp.expm1(-t * d) for d in row)  # n - s, without cancellation
        n = len(row)
        m = n / s
        m1 = s1 / s
        ds = mp.fsum(-d * mp.exp(-t * d) for d in row)
        deriv = -n * ds / s**2
        return m, m1, [1 / s] * n, deriv


def grid_magnitude(a, b, t):
    """a x b unit grid, l1 metric: (1 + (a-1) tanh(t/2)) (1 + (b-1) tanh(t/2))."""
    with mp.workdps(DPS):
        t = mp.mpf(t)
        th = mp.tanh(t / 2)
        fa, fb = 1 + (a - 1) * th, 1 + (b - 1) * th
        m = fa * fb
        m1 = (a - 1) * th + (b - 1) * th + (a - 1) * (b - 1) * th**2
        dth = 1 / (2 * mp.cosh(t / 2) ** 2)
        deriv = (a - 1) * dth * fb + (b - 1) * dth * fa
        return m, m1, None, deriv


def k32_magnitude(t):
    """Complete bipartite graph K_{3,2}: (5 - 7q) / ((1 + q)(1 - 2 q^2)), q = e^{-t}."""
    with mp.workdps(DPS):
        q = mp.exp(-mp.mpf(t))
        return (5 - 7 * q) / ((1 + q) * (1 - 2 * q**2))
