r"""Approximate convex hull vertices of a Euclidean point cloud from magnitude.

Two methods, both on the Euclidean metric at one scale t.

``"diversity"`` (default): the support of the maximum-diversity measure
    For positive definite Z(t), the maximum of `(\mathbf 1^T v)^2 / v^T Z v` over
    non-negative v is the *maximum diversity* of tX; it is attained by the weighting of one
    subset B (positive there, zero elsewhere) and equals |tB| (Leinster and Meckes [2]_).
    With E = 1 - Z = -expm1(-tD) and v a probability vector, v^T Z v = 1 - v^T E v, so the
    maximiser also maximises v^T E v over the simplex: a concave problem (E is negative
    definite on vectors summing to 0) with the Karush-Kuhn-Tucker conditions
    (E v)_i = lambda on B and (E v)_i <= lambda off it. As t -> 0, E / t -> D and the
    potential x -> sum_j v_j |x - x_j| is convex, so it can reach its maximum lambda over
    the points only at extreme points: **as t -> 0 every point of B is a vertex of the
    convex hull** (for points in general position), i.e. the prediction has precision 1.
    Larger t lets more of the boundary into B: more hull vertices are found (recall rises)
    and, beyond about t = (d - 1.5) / R (R the largest distance from the centroid), points
    near the boundary that are not vertices come in too.
    B is found by an active-set method (Lawson-Hanson, on the simplex) that only ever forms
    the columns of E at points of B: O(n |B|) memory and O(n |B|^2 + |B|^3) time, no n x n
    matrix.
    This selection is ours; the paper [1]_ motivates it (points that carry the magnitude).

``"moments"``: backward elimination by moments, after Fung, Bunch and Dickinson [1]_
    The *moment* of a point x is taken here as the magnitude it carries,
    `m(x) = |tX| - |t(X \setminus x)| = w_x^2 / (Z^{-1})_{xx}` (a Schur complement;
    the paper's own formulas could not be checked here: only its abstract and introduction
    were available, which describe an intrinsic ordering of the points by moment and an
    algorithm that removes points while the magnitude changes by less than a threshold).
    Points of smallest moment are removed in batches, the moments recomputed after each
    batch, while the magnitude of what is left stays within ``magnitude_rtol`` (|tX| - 1)
    of the whole: what survives is the prediction. Dense: O(n^3) time, O(n^2) memory.

Both return indices into X of the predicted hull vertices; a repeated point is reported once
(its first occurrence). Measured precision, recall and time against
`scipy.spatial.ConvexHull` are in ``docs/guide-hull.md``.

References
----------
.. [1] G. Fung, E. Bunch, D. Dickinson, "Approximating the convex hull via metric space
   magnitude", arXiv:1908.02692 (2019).
.. [2] T. Leinster, M. Meckes, "Maximizing diversity in biology and beyond", Entropy 18
   (2016); T. Leinster, "The magnitude of metric spaces", Doc. Math. 18 (2013).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy.linalg import cholesky, solve_triangular
from scipy.spatial.distance import cdist

from ._validation import check_dense_memory, check_points
from .exceptions import InvalidInputError
from .spaces import _unique_rows

__all__ = ["convex_hull_approximation", "default_hull_scale"]

METHODS = ("diversity", "moments")

# default scale: t = (d - _SCALE_OFFSET) / R, R the largest distance from the centroid
_SCALE_OFFSET = 1.5
# relative tolerance of the KKT test (E v)_i <= lambda (1 + tol) off the support
_KKT_RTOL = 1e-10
# refresh the bordered inverse of E_BB by a direct inverse after this many updates
_REFRESH = 32
# iterative refinement of E_BB y = 1 with the updated inverse: steps, and the relative residual
# (to |E_BB| |y|) that counts as converged; otherwise the inverse is recomputed
_REFINE_STEPS = 3
_REFINE_RTOL = 1e-13


def _check_scale(t) -> float:
    if isinstance(t, bool) or not isinstance(t, Real):
        raise InvalidInputError(f"t must be a positive number or None, got {t!r}")
    t = float(t)
    if not (math.isfinite(t) and t > 0):
        raise InvalidInputError(
            f"scale t must be finite and > 0, got {t!r}; small t (e.g. 1e-6 / R) is the "
            "t -> 0 limit, in which every returned point is a hull vertex"
        )
    return t


def _radius(P: np.ndarray) -> float:
    c = P.mean(axis=0)
    return float(np.sqrt(((P - c) ** 2).sum(axis=1).max()))


def default_hull_scale(X) -> float:
    """The scale `convex_hull_approximation` uses when ``t`` is not given.

    ``t = (d - 1.5) / R``, with d the dimension of the affine hull of X (d >= 2) and R the
    largest distance of a point from the centroid (half the diameter <= R <= the diameter);
    ``1 / R`` for d = 1, where the scale is not used. The rule is invariant under rotations,
    translations and scalings of X. It is empirical: on uniform (disk, square, ball, cube)
    and Gaussian samples of 200 to 4000 points in d = 2 to 8 (``docs/guide-hull.md``), the
    "diversity" method's precision starts to drop below 1 near t = (d - 1.5) / R, while its
    recall keeps rising up to there.

    Examples
    --------
    >>> from metric_magnitude.hull import default_hull_scale
    >>> default_hull_scale([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])  # 0.5 / (2 sqrt 2)
    0.17677669529663...
    """
    P = check_points(X)
    R = _radius(P)
    if R == 0:
        raise InvalidInputError("all points of X coincide: there is no hull to approximate")
    d = _affine_coordinates(P).shape[1]
    return (d - _SCALE_OFFSET if d >= 2 else 1.0) / R


def _check_input(X) -> tuple[np.ndarray, np.ndarray]:
    P = check_points(X)
    n, d = P.shape
    if n < d + 1:
        raise InvalidInputError(
            f"X has {n} points in {d} dimensions; a hull in {d} dimensions needs at least "
            f"d + 1 = {d + 1} points"
        )
    first, _ = _unique_rows(P)
    return P, first


def convex_hull_approximation(
    X,
    t=None,
    *,
    method: str = "diversity",
    magnitude_rtol: float = 0.01,
) -> np.ndarray:
    """Indices of the points of X predicted to be vertices of its convex hull, from magnitude.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points in Euclidean space, n >= d + 1, finite.
    t : float, optional
        The scale, > 0. Default: `default_hull_scale`, ``(d - 1.5) / R`` with R the
        largest distance from the centroid. For ``"diversity"`` smaller t trades recall for
        precision: as t -> 0 every returned point is a hull vertex (see Notes); larger t
        finds more vertices and, past the default, non-vertices near the boundary too.
        Points on a line (d = 1) give their two end points at any t.
    method : {"diversity", "moments"}, default="diversity"
        ``"diversity"``: the support of the maximum-diversity measure of tX, found by an
        active-set method that forms only O(n |support|) similarities. ``"moments"``:
        backward elimination of the points of smallest moment |tX| - |t(X minus x)|, dense
        O(n^3) (after Fung, Bunch and Dickinson). See the module documentation.
    magnitude_rtol : float in (0, 1), default=0.01
        ``"moments"`` only: removal stops before the magnitude of the remaining points falls
        by more than ``magnitude_rtol * (|tX| - 1)``.

    Returns
    -------
    ndarray of int, shape (k,)
        Sorted indices into X; a repeated point is reported once, at its first occurrence.
        Points that span a lower-dimensional affine subspace (collinear points in the
        plane, coplanar points in space) are treated in that subspace, whose vertices are
        returned (`scipy.spatial.ConvexHull` refuses such input).

    Raises
    ------
    InvalidInputError
        X is not a finite 2-D array with at least d + 1 points, all points coincide, t is
        not a finite positive number, or an option is invalid.

    Notes
    -----
    "diversity" maximises v^T E v over probability vectors v, E = -expm1(-t D): by the
    Karush-Kuhn-Tucker conditions the potential sum_j v_j E(x, x_j) is maximal on the
    support; as t -> 0 it tends to a convex function of x, whose maximum over the points
    is reached only at extreme points. For t > 0 the potential is no longer convex and the
    guarantee holds only approximately. See ``docs/guide-hull.md`` for measured precision
    and recall against `scipy.spatial.ConvexHull`.

    References
    ----------
    .. [1] G. Fung, E. Bunch, D. Dickinson, "Approximating the convex hull via metric space
       magnitude", arXiv:1908.02692 (2019).
    .. [2] T. Leinster, M. Meckes, "Maximizing diversity in biology and beyond", Entropy 18
       (2016).

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.hull import convex_hull_approximation
    >>> g = np.linspace(0.0, 1.0, 5)
    >>> X = np.array([[x, y] for x in g for y in g])   # a 5 x 5 grid: 4 corners on the hull
    >>> convex_hull_approximation(X, t=0.1)
    array([ 0,  4, 20, 24])

    At the default scale (0.5 / R here) the collinear points of the edges come in as well:
    they lie on the hull's boundary but are not vertices.

    >>> convex_hull_approximation(X).size
    16
    """
    if method not in METHODS:
        raise InvalidInputError(
            f"unknown method {method!r}; choose one of {', '.join(map(repr, METHODS))}"
        )
    P, first = _check_input(X)
    U = P[first]
    if U.shape[0] == 1:
        raise InvalidInputError("all points of X coincide: there is no hull to approximate")
    U = _affine_coordinates(U)
    t = default_hull_scale(U) if t is None else _check_scale(t)
    if U.shape[1] == 1:  # on a line the hull is the two end points, whatever the method
        x = U[:, 0]
        return np.sort(first[[int(np.argmin(x)), int(np.argmax(x))]])
    if method == "diversity":
        support = _max_diversity_support(U, t)[0]
    else:
        if not (
            isinstance(magnitude_rtol, Real)
            and not isinstance(magnitude_rtol, bool)
            and 0 < magnitude_rtol < 1
        ):
            raise InvalidInputError(
                f"magnitude_rtol must be a number in (0, 1), got {magnitude_rtol!r}"
            )
        support = _moment_elimination(U, t, float(magnitude_rtol))
    return np.sort(first[support])


def _affine_coordinates(U: np.ndarray) -> np.ndarray:
    """U in coordinates of its affine hull: same distances, as many columns as its rank.

    Points that span only a k-dimensional affine subspace (collinear points in the plane,
    coplanar points in space) have the hull of that subspace; the default scale then uses k.
    """
    C = U - U.mean(axis=0)
    _, sv, Vt = np.linalg.svd(C, full_matrices=False)
    rank = int((sv > sv[0] * max(U.shape) * np.finfo(float).eps).sum()) if sv[0] > 0 else 0
    if rank == U.shape[1]:
        return U
    return C @ Vt[:rank].T


# ---------------------------------------------------------------- maximum diversity


def _max_diversity_support(U: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Support and probability vector of argmax_{v >= 0, sum v = 1} v^T E v, E = 1 - e^{-tD}.

    Active set on the simplex (Lawson-Hanson): add the points of largest potential (E v)_i
    that exceed lambda = v^T E v (one at first, then up to half the support size at a time,
    so that a large support is reached in few rounds); solve E_BB y = 1 on the support
    (v = y / sum y); if some entry is not positive, step from the old v towards the new one
    until the first entry reaches 0 and drop it. The objective increases at every step and
    each round ends at the optimum of its support, so no support repeats. E_BB^{-1} is kept by
    block bordering (add) and Schur complements (drop), refreshed by a direct inverse once
    every max(32, |B|) drops or when iterative refinement of E_BB y = 1 with it does not reach
    round-off: O(n |B|^2 + |B|^3) in all. Only the columns of E at points of
    the support are formed.
    """
    n = U.shape[0]
    Uc = U - U.mean(axis=0)

    def columns(J: np.ndarray) -> np.ndarray:
        return -np.expm1(-t * cdist(Uc, Uc[J]))

    i0 = int(np.argmax((Uc**2).sum(axis=1)))  # farthest from the centroid: an extreme point
    # cols[:, slots[i]] = E[:, support[i]]; zeros, not np.empty: the potential multiplies
    # unused slots by 0, and 0 * (garbage NaN) would be NaN
    cols = np.zeros((n, 16))
    cols[:, :1] = columns(np.array([i0]))
    support, slots, free = [i0], [0], list(range(15, 0, -1))
    v = np.ones(1)
    inv = np.zeros((1, 1))  # E_BB^{-1}; E_BB = [0] for one point is singular: not used
    drops = 0
    vfull = np.zeros(cols.shape[1])
    for _ in range(10 * n + 100):
        k = len(support)
        vfull[:] = 0.0
        vfull[slots] = v
        g = cols @ vfull
        lam = float(g[support] @ v)
        g[support] = -np.inf
        viol = np.flatnonzero(g > lam * (1.0 + _KKT_RTOL))
        if viol.size == 0:
            break
        m = min(viol.size, max(1, k // 2))
        J = viol[np.argpartition(-g[viol], m - 1)[:m]] if m < viol.size else viol
        while len(free) < m:  # grow the column store
            old = cols.shape[1]
            grown = np.zeros((n, 2 * old))
            grown[:, :old] = cols
            cols = grown
            free.extend(range(2 * old - 1, old - 1, -1))
            vfull = np.zeros(2 * old)
        new_slots = [free.pop() for _ in range(m)]
        cols[:, new_slots] = columns(J)
        B = cols[np.ix_(support, new_slots)]  # E between the support and the new points
        C = cols[np.ix_(J, new_slots)]
        inv = (
            np.linalg.inv(np.block([[np.zeros((1, 1)), B], [B.T, C]]))
            if k == 1
            else (_border(inv, B, C))
        )
        support.extend(int(j) for j in J)
        slots.extend(new_slots)
        v = np.append(v, np.zeros(m))
        while True:
            E_BB = cols[np.ix_(support, slots)]
            if drops >= max(_REFRESH, len(support)):
                inv = np.linalg.inv(E_BB)
                drops = 0
            y, ok = _refined_solve(E_BB, inv)
            if not ok:  # the updated inverse has drifted: start it afresh
                inv = np.linalg.inv(E_BB)
                drops = 0
                y, _ = _refined_solve(E_BB, inv)
            new = y / float(y.sum())
            if (new > 0).all():
                v = new
                break
            neg = np.flatnonzero(new <= 0)
            step = v[neg] / (v[neg] - new[neg])
            drop = int(neg[np.argmin(step)])
            v = v + float(step.min()) * (new - v)
            v = np.maximum(np.delete(v, drop), 0.0)
            v /= v.sum()
            support.pop(drop)
            free.append(slots.pop(drop))
            if len(support) == 1:
                v, inv = np.ones(1), np.zeros((1, 1))
                break
            inv = _unborder(inv, drop)
            drops += 1
    return np.array(support, dtype=np.intp), v


def _refined_solve(E: np.ndarray, inv: np.ndarray) -> tuple[np.ndarray, bool]:
    """y with E y = 1 from an approximate inverse, by iterative refinement; and whether the
    residual reached round-off level (relative to |E| |y|)."""
    y = inv.sum(axis=1)
    for _ in range(_REFINE_STEPS):
        r = 1.0 - E @ y
        if np.abs(r).max() <= _REFINE_RTOL * float((np.abs(E) @ np.abs(y)).max()):
            return y, True
        y = y + inv @ r
    return y, False


def _border(inv: np.ndarray, B: np.ndarray, C: np.ndarray) -> np.ndarray:
    """Inverse of [[A, B], [B^T, C]] from inv = A^{-1} (block Schur complement)."""
    k, m = B.shape
    MB = inv @ B
    S_inv = np.linalg.inv(C - B.T @ MB)
    top = MB @ S_inv
    out = np.empty((k + m, k + m))
    out[:k, :k] = inv + top @ MB.T
    out[:k, k:] = -top
    out[k:, :k] = -top.T
    out[k:, k:] = S_inv
    return out


def _unborder(inv: np.ndarray, i: int) -> np.ndarray:
    """Inverse of a matrix with row and column i deleted, from the inverse of the whole."""
    keep = np.delete(np.arange(inv.shape[0]), i)
    c = inv[keep, i]
    return inv[np.ix_(keep, keep)] - np.outer(c, inv[i, keep]) / inv[i, i]


# ---------------------------------------------------------------- moments


def _moments(Z: np.ndarray) -> tuple[float, np.ndarray]:
    """(|tS|, moments w_x^2 / (Z^{-1})_xx) of the space with similarity matrix Z."""
    L = cholesky(Z, lower=True, check_finite=False)
    Li = solve_triangular(L, np.eye(Z.shape[0]), lower=True, check_finite=False)
    w = Li.T @ Li.sum(axis=1)
    diag = np.einsum("ij,ij->j", Li, Li)
    return float(w.sum()), w * w / diag


def _moment_elimination(U: np.ndarray, t: float, rtol: float) -> np.ndarray:
    n, d = U.shape
    check_dense_memory(n, 3.0, what="method='moments'")
    Z = cdist(U, U)
    np.multiply(Z, -t, out=Z)
    np.exp(Z, out=Z)
    full, m = _moments(Z)
    budget = rtol * (full - 1.0)
    alive = np.arange(n)
    frac = 0.25
    while alive.size > d + 1:
        k = max(1, min(int(frac * alive.size), alive.size - d - 1))
        order = np.argsort(m, kind="stable")
        trial = np.sort(alive[order[k:]])
        mag, m_trial = _moments(Z[np.ix_(trial, trial)])
        if full - mag <= budget:
            alive, m = trial, m_trial
            continue
        if k == 1:
            break
        frac /= 4.0
    return alive
