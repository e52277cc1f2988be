"""Dense exact solvers for Z(t) w = 1.

Three methods, one per regime (see docs/accuracy.md for the measured accuracy):

``cholesky``
    Z = L L^T. Backward stable for positive definite Z; the magnitude 1^T Z^{-1} 1 is
    accurate to a few ulps even when Z is ill-conditioned, the weights to about
    cond(Z) * eps.
``small_t``
    With E = 1 - Z = -expm1(-t D) (elementwise), u = E^{-1} 1 and a = 1^T u:
    |tX| = a / (a - 1), |tX| - 1 = 1 / (a - 1) and w = u / (a - 1) (PRIMER section 4).
    As t -> 0, Z tends to the rank-one matrix of ones and cond(Z) ~ 1/t, but E ~ t D stays
    as well conditioned as D, so this recovers |tX| - 1 and w to near machine precision.
``ldl``
    Bunch-Kaufman LDL^T of Z for spaces that are not positive definite (graphs, general
    metrics). The inertia of D tells whether Z is positive definite.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from scipy.linalg import blas, lapack

from ..exceptions import (
    IllConditionedWarning,
    NotPositiveDefiniteError,
    NotPositiveDefiniteWarning,
    SingularSimilarityError,
)
from ._result import MagnitudeResult

METHODS = ("auto", "cholesky", "small_t", "ldl")

_EPS = np.finfo(np.float64).eps
# Below this magnitude the small-t form is tried as well: |tX| - 1 is then too small for
# the Cholesky sum to carry it to full relative accuracy, and Z is ill-conditioned.
_SMALL_T_MAGNITUDE = 2.0
# Estimated relative error of the weights above which a warning is given.
_WARN_WEIGHT_ERROR = 1e-4


def _matvec(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A @ x for a C-contiguous A through scipy's BLAS.

    numpy and scipy may each carry their own OpenBLAS with its own thread pool; mixing
    numpy products into a loop of scipy factorisations makes the two pools compete (measured:
    a 4x slower Cholesky with 16 threads), so the solvers use scipy's BLAS only.
    """
    return blas.dgemv(1.0, A.T, x, trans=1)


def _block_rows(n: int) -> int:
    """Rows per block for O(n^2) passes: about 2 MB of float64 and at most n / 8 rows, so
    that the temporaries stay a small fraction of one n x n matrix."""
    return max(1, min((1 << 18) // n, -(-n // 8)))


def _singular_threshold(n: int) -> float:
    return 10.0 * n * _EPS


class _Solution(NamedTuple):
    w: np.ndarray
    m1: float | None  # |tX| - 1 where computed without cancellation
    used: str
    est: float  # estimated relative error of w
    rcond: float
    pd: bool
    solve: Callable[[np.ndarray], np.ndarray]  # y -> Z(t)^{-1} y, from the same factor
    z_intact: bool = False  # the solve buffer's strict lower triangle still holds Z(t)


def _cholesky(Zt: np.ndarray, ones: np.ndarray) -> _Solution | None:
    """Cholesky solve in place; None if Z is not (numerically) positive definite."""
    anorm = float(Zt.sum(axis=0).max())  # Z > 0 entrywise: the 1-norm needs no abs
    c, info = lapack.dpotrf(Zt, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        return None
    w, info = lapack.dpotrs(c, ones, lower=1)
    rcond = float(lapack.dpocon(c, anorm, uplo="L")[0])

    def solve(y):
        return lapack.dpotrs(c, y, lower=1)[0]

    return _Solution(w, None, "cholesky", _EPS / max(rcond, 1e-300), rcond, True, solve, True)


def _ldl(A: np.ndarray, ones: np.ndarray):
    """Bunch-Kaufman LDL^T solve in place.

    Returns (x, rcond, number of negative eigenvalues, y -> A^{-1} y).
    """
    anorm = float(A.sum(axis=0).max())  # Z and 1 - Z are entrywise >= 0
    ldu, ipiv, info = lapack.dsytrf(A, lower=1, overwrite_a=1)
    if info > 0:  # an exactly zero pivot
        return None, 0.0, 0, None
    x, _ = lapack.dsytrs(ldu, ipiv, ones, lower=1)
    rcond, _ = lapack.dsycon(ldu, ipiv, anorm, lower=1)

    def solve(y):
        return lapack.dsytrs(ldu, ipiv, y, lower=1)[0]

    return x, float(rcond), _negative_inertia(ldu, ipiv), solve


def _negative_inertia(ldu: np.ndarray, ipiv: np.ndarray) -> int:
    """Number of negative eigenvalues, from the 1x1 and 2x2 blocks of D (Sylvester)."""
    n = ipiv.shape[0]
    diag = np.diagonal(ldu)
    neg = 0
    k = 0
    while k < n:
        if ipiv[k] > 0:
            neg += diag[k] < 0
            k += 1
        else:  # 2x2 block [[a, b], [b, c]] (lower storage): signs from det and trace
            a, b, c = diag[k], ldu[k + 1, k], diag[k + 1]
            det = a * c - b * b
            neg += 1 if det < 0 else (2 if a + c < 0 else 0)
            k += 2
    return int(neg)


def _similarity(D: np.ndarray, t: float, out: np.ndarray) -> np.ndarray:
    np.multiply(D, -t, out=out)
    return np.exp(out, out=out)


def _one_minus_similarity(D: np.ndarray, t: float, out: np.ndarray) -> np.ndarray:
    # expm1 keeps the digits of 1 - exp(-t d) when t d is tiny
    np.multiply(D, -t, out=out)
    np.expm1(out, out=out)
    return np.negative(out, out=out)


def _singular_error(t: float, rcond: float) -> SingularSimilarityError:
    cond = f"{1 / rcond:.1e}" if rcond > 0 else "infinite"
    return SingularSimilarityError(
        f"the similarity matrix Z(t) = exp(-t D) is singular at t = {t!r}, or too "
        f"ill-conditioned to solve (estimated condition number {cond}): where Z(t) is exactly "
        "singular the magnitude has a pole and is not defined; use a nearby scale, or "
        "method='auto', which also tries the small-t form",
        scale=t,
    )


def _rotated_cholesky(E: np.ndarray, n: int) -> _Solution | None:
    """Small-t form by Cholesky: E = 1 - Z (accurate, from expm1) is overwritten.

    A Householder reflection H maps the vector of ones to -sqrt(n) e_n. Since H J H =
    n e_n e_n^T, the rotated similarity matrix is M = H Z H = n e_n e_n^T - H E H: its
    leading (n-1) block is -(H E H) restricted to the complement of the ones vector, built
    from E without cancellation and as well conditioned as D there, while the O(n) entry
    sits alone in the corner. With sigma = (HEH)_nn + ||L[n, :n-1]||^2 (read off the
    factor), |tX| = n / (n - sigma) and |tX| - 1 = sigma / (n - sigma), accurate at tiny t.
    Returns None if M (and so Z) is not positive definite.
    """
    v = np.ones(n)
    v[-1] += np.sqrt(n)
    beta = 1.0 / (n + np.sqrt(n))  # 2 / (v^T v)
    p = beta * _matvec(E, v)
    q = p - (0.5 * beta * float(v @ p)) * v
    # E <- -(E - v q^T - q v^T) = M off the corner, in row blocks to bound temporaries
    step = _block_rows(n)
    for r in range(0, n, step):
        rows = slice(r, r + step)
        blk = E[rows]
        blk -= np.outer(v[rows], q)
        blk -= np.outer(q[rows], v)
        np.negative(blk, out=blk)
    alpha = -float(E[-1, -1])
    E[-1, -1] += n
    # 1-norms of M and of its leading block, by rows (M is symmetric) to bound temporaries
    row_all = np.empty(n)
    for r in range(0, n, step):
        rows = slice(r, r + step)
        row_all[rows] = np.abs(E[rows]).sum(axis=1)
    anorm = float(row_all.max())
    lead = row_all[:-1] - np.abs(E[:-1, -1])
    anorm_lead = float(lead.max()) if n > 1 else 0.0
    c, info = lapack.dpotrf(E.T, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        return None
    y = c[-1, :-1]
    sigma = alpha + float(y @ y)
    if not sigma < n:
        return None

    def solve(y):  # Z^{-1} y = H M^{-1} H y
        x = lapack.dpotrs(c, y - (beta * float(v @ y)) * v, lower=1)[0]
        return x - (beta * float(v @ x)) * v

    w = solve(np.ones(n))
    rcond_m, _ = lapack.dpocon(c, anorm, uplo="L")
    # M's ill-conditioning is its lone O(n) corner; the error of w follows the leading block
    rcond = min(1.0, float(rcond_m) * anorm / max(anorm_lead, 1e-300))
    m1 = sigma / (n - sigma)
    est = _EPS / max(rcond, 1e-300) * max(1.0, 1.0 + m1)
    return _Solution(w, m1, "small_t", est, rcond, True, solve)


def _at_pole(m1: float, n: int) -> bool:
    """|tX| so large that its denominator (n - sigma, or a - 1) is rounding noise."""
    return not np.isfinite(m1) or abs(1.0 + m1) * n * _EPS > 1e-4


def _not_pd_error(t: float, known_positive_definite: bool) -> NotPositiveDefiniteError:
    why = (
        "numerically singular (the space is positive definite, but Z(t) is too "
        "ill-conditioned at this scale for a Cholesky factorisation)"
        if known_positive_definite
        else "not positive definite"
    )
    return NotPositiveDefiniteError(
        f"Z(t) is {why} at t = {t!r}, so method='cholesky' cannot be used; use "
        "method='auto' (which switches to the small-t form or LDL^T) or method='ldl'",
        scale=t,
    )


def _solve_scale(D, t, method, buf, ones, known_positive_definite) -> _Solution:
    """One scale, by the method asked for (see the module docstring)."""
    n = D.shape[0]
    if method != "small_t":  # the small-t form starts from 1 - Z instead
        _similarity(D, t, buf)
    # buf is symmetric: its transpose is the Fortran-ordered view LAPACK wants (no copy)
    if method == "cholesky":
        sol = _cholesky(buf.T, ones)
        if sol is None:
            raise _not_pd_error(t, known_positive_definite)
        return sol

    if method == "ldl":
        w, rcond, neg, solve = _ldl(buf.T, ones)
        if w is None or rcond < _singular_threshold(n):
            raise _singular_error(t, rcond)
        return _Solution(w, None, "ldl", _EPS / rcond, rcond, neg == 0, solve, True)

    if method == "auto":
        # spread <= magnitude on positive definite spaces, so spread >= 2 means |tX| >= 2,
        # where plain Cholesky carries |tX| - 1 to full relative accuracy
        if float(np.sum(1.0 / buf.sum(axis=0))) >= _SMALL_T_MAGNITUDE:
            sol = _cholesky(buf.T, ones)
            if sol is not None:
                return sol
    _one_minus_similarity(D, t, buf)
    sol = _rotated_cholesky(buf, n)
    if sol is not None:
        if _at_pole(sol.m1, n):
            raise _singular_error(t, sol.rcond / (1.0 + sol.m1))
        return sol

    # Z(t) is not positive definite: symmetric indefinite solves of Z and of 1 - Z
    best = None
    pd = False
    rcond = 0.0
    if method == "auto":
        _similarity(D, t, buf)
        w, rcond, neg, solve = _ldl(buf.T, ones)
        pd = neg == 0
        if w is not None and rcond >= _singular_threshold(n):
            best = _Solution(w, None, "ldl", _EPS / rcond, rcond, pd, solve)  # buf reused next
            if abs(float(w.sum())) >= _SMALL_T_MAGNITUDE:
                return best._replace(z_intact=True)
    _one_minus_similarity(D, t, buf)
    u, rcond_e, _, solve_e = _ldl(buf.T, ones)
    a = float(u.sum()) if u is not None else 1.0
    if (
        u is not None
        and rcond_e >= _singular_threshold(n)
        and a != 1.0
        and not _at_pole(1.0 / (a - 1.0), n)
    ):
        m1 = 1.0 / (a - 1.0)
        est = _EPS / rcond_e * max(1.0, abs(1.0 + m1))
        if best is None or est < best.est:

            def solve(y, u=u, a=a):  # Z = J - E, so Z^{-1} y by Sherman-Morrison
                x = solve_e(y)
                return -(x + u * (float(np.sum(x)) / (1.0 - a)))

            best = _Solution(u * m1, m1, "small_t", est, rcond_e, pd, solve)
    if best is None:
        raise _singular_error(t, rcond_e if method == "small_t" else rcond)
    if best.used == "ldl":
        # buf now holds the factor of 1 - Z: factor Z again for the solve the derivatives use
        _similarity(D, t, buf)
        solve = _ldl(buf.T, ones)[3]
        best = best._replace(solve=solve, z_intact=True)
    return best


def _z_rows(D, t, buf, r0, r1, z_intact):
    """Rows r0:r1 of Z(t) as a new array.

    When ``buf`` holds a LAPACK factorisation of Z (Cholesky or LDL^T through the transposed
    view), only its upper triangle was written: the strict lower triangle still holds Z, and
    Z's diagonal is 1. Otherwise the rows are recomputed from D.
    """
    if not z_intact:
        return _similarity(D[r0:r1], t, np.empty((r1 - r0, D.shape[0])))
    n = D.shape[0]
    Zb = np.empty((r1 - r0, n))
    Zb[:, :r0] = buf[r0:r1, :r0]
    Zb[:, r1:] = buf[r1:, r0:r1].T
    low = np.tril(buf[r0:r1, r0:r1], -1)
    Zb[:, r0:r1] = low + low.T
    Zb[:, r0:r1].flat[:: r1 - r0 + 1] = 1.0
    return Zb


def _hadamard_power_products(D, t, buf, z_intact, v, powers, has_infinite_distances):
    """[(D^j o Z) v for j = 1..powers] (elementwise powers), in row blocks.

    No n x n array is stored for D o Z: each block of rows of Z comes from ``buf``'s intact
    triangle (or is recomputed), so memory beyond D and buf is a few blocks of rows.
    """
    n = D.shape[0]
    out = np.empty((powers, n))
    step = _block_rows(n)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        Db = D[r0:r1]
        if has_infinite_distances:
            Db = np.where(np.isinf(Db), 0.0, Db)  # the pair's Z is 0: it contributes nothing
        block = _z_rows(D, t, buf, r0, r1, z_intact)
        for j in range(powers):
            block *= Db
            out[j, r0:r1] = _matvec(block, v)
    return out


def _derivatives(sol, D, t, buf, order, has_infinite_distances):
    """The t-derivatives of |tX| of orders 1..order (order <= 3) from one factorisation.

    With A_j = D^j o Z (the j-th t-derivative of Z is (-1)^j A_j) and w1 = dw/dt =
    Z^{-1} A_1 w, the stationarity of |tX| = max_v 2 1^T v - v^T Z v gives
        first  = w^T A_1 w
        second = 2 w1^T A_1 w - w^T A_2 w
        third  = 6 w1^T A_1 w1 - 6 w1^T A_2 w + w^T A_3 w.
    """
    w = sol.w
    args = (D, t, buf, sol.z_intact)
    Aw = _hadamard_power_products(*args, w, order, has_infinite_distances)
    out = [float(w @ Aw[0])]
    if order >= 2:
        w1 = sol.solve(Aw[0])
        out.append(2.0 * float(w1 @ Aw[0]) - float(w @ Aw[1]))
        if order >= 3:
            A1w1 = _hadamard_power_products(*args, w1, 1, has_infinite_distances)[0]
            out.append(6.0 * float(w1 @ A1w1) - 6.0 * float(w1 @ Aw[1]) + float(w @ Aw[2]))
    return out


def solve_dense(
    D: np.ndarray,
    scales: np.ndarray,
    *,
    method: str = "auto",
    weights: bool = True,
    derivative: bool | int = False,
    known_positive_definite: bool = False,
    has_infinite_distances: bool = False,
) -> MagnitudeResult:
    """Solve Z(t) w = 1 exactly for each scale in ``scales``.

    ``D`` holds distances between distinct points (no zero off the diagonal); it is never
    modified. ``derivative`` is False, True (the first derivative) or an order 1..3; the
    result's ``derivative`` then has shape (k,) for order 1 and (k, order) above.
    Memory: one (n, n) float64 array besides D, and blocks of rows.
    """
    order = int(derivative)
    if not 0 <= order <= 3:
        raise ValueError(f"derivative order must be 0..3, got {order}")
    n = D.shape[0]
    k = scales.shape[0]
    mag = np.empty(k)
    mag_m1 = np.empty(k)
    W = np.empty((k, n)) if weights else None
    dmag = np.empty((k, order)) if order else None
    methods = []
    rconds = np.empty(k)
    pd_flags = np.empty(k, dtype=bool)

    if n == 1:  # one point: Z = [1], w = 1 at every scale
        mag[:] = 1.0
        mag_m1[:] = 0.0
        if W is not None:
            W[:] = 1.0
        if dmag is not None:
            dmag[:] = 0.0
            dmag = dmag[:, 0] if order == 1 else dmag
        return MagnitudeResult(
            scales, mag, mag_m1, W, dmag, ("cholesky",) * k, np.ones(k), np.ones(k, bool)
        )

    ones = np.ones(n)
    buf = np.empty((n, n))
    for i, t in enumerate(scales):
        t = float(t)
        sol = _solve_scale(D, t, method, buf, ones, known_positive_definite)
        w, m1, used, est, rcond, pd = sol[:6]
        if not pd and not known_positive_definite:
            warnings.warn(
                f"Z(t) is not positive definite at t = {t!r}; solved with a symmetric "
                "indefinite (LDL^T) factorisation. Magnitude may be negative here and the "
                "magnitude function need not be increasing.",
                NotPositiveDefiniteWarning,
                stacklevel=3,
            )
        if est > _WARN_WEIGHT_ERROR:
            warnings.warn(
                f"Z(t) is ill-conditioned at t = {t!r} (estimated condition number of the "
                f"{used!r} system {1 / rcond:.1e}): the magnitude is "
                f"reliable but the weights may have relative errors near {est:.0e} "
                "(near-duplicate points?)",
                IllConditionedWarning,
                stacklevel=3,
            )
        m = float(w.sum())
        mag[i] = m
        mag_m1[i] = m1 if m1 is not None else m - 1.0
        if W is not None:
            W[i] = w
        if dmag is not None:
            dmag[i] = _derivatives(sol, D, t, buf, order, has_infinite_distances)
        methods.append(used)
        rconds[i] = rcond
        pd_flags[i] = pd
    if dmag is not None and order == 1:
        dmag = dmag[:, 0]
    return MagnitudeResult(scales, mag, mag_m1, W, dmag, tuple(methods), rconds, pd_flags)
