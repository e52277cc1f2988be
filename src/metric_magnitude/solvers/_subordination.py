"""A lower bound on lambda_min(exp(-t D)) for Euclidean points that does not weaken with d.

Subordination: exp(-t r) = int_0^inf exp(-s r^2) phi_t(s) ds, with phi_t the Levy density
t / (2 sqrt(pi)) s^(-3/2) exp(-t^2 / (4 s)) (a probability density, its distribution function
erfc(t / (2 sqrt(s)))). So Z(t) = int G_s phi_t(s) ds with the Gaussian kernel matrices
G_s = exp(-s D o D), each positive semi-definite for points in any R^d, and

    lambda_min(Z(t)) >= int_0^inf max(0, g(s)) phi_t(s) ds,

for any g(s) <= lambda_min(G_s), here Gershgorin: g(s) = 1 - max_i sum_{j != i} exp(-s r_ij^2).
The row sums are bounded from each point's k nearest neighbours (k = 16): the k nearest
squared distances a_i1 <= ... <= a_ik and, for the other n - 1 - k points, a_i(k+1):

    sum_{j != i} exp(-s r_ij^2) <= sum_{l <= k} exp(-s a_il) + (n - 1 - k) exp(-s a_i(k+1)).

Every term falls with s, so g (from this bound) is non-decreasing and its value at the left
end of each cell of a geometric grid of s bounds it on the whole cell: the integral is bounded
below by a finite sum with the masses erfc(t / (2 sqrt(s_m))) - erfc(t / (2 sqrt(s_m+1))).
The profile g on the grid does not depend on t: it is computed once per set of points, and
each scale costs one sum over the grid.

Only the nearest neighbours matter because g(s) > 0 needs (n - 1 - k) exp(-s a_i(k+1)) < 1,
where the kernel exp(-s r^2) is already negligible beyond the near neighbours. Measured on
200 Gaussian points at t = 0.01 to 30 against numpy's eigvalsh
(``benchmarks/study_eigenvalue_bounds.py --ratios``): within a factor 1.13 of lambda_min in
R^1, 1.24 in R^3, 1.7 in R^10, 2.2 in R^50 and 2.7 in R^768, where the separation bound
(`iterative.separation_bound`) is up to 2.0, 3.2, 5.7, 30 and 1e31 times below lambda_min.

Rounding: neighbour distances from the k-d tree (up to 8 dimensions) carry the relative error
(d + 5) u of a computed distance; above, a blocked Gram product |x'|^2 + |y'|^2 - 2 x'.y' on
centred coordinates, off by at most (2 gamma_(d+3) + 8 u)(|x'|^2 + |y'|^2) (with the centring),
which is subtracted. The row-sum bound and the masses get relative margins far above their
rounding (1e-12, 1e-9).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import erfc

_U = np.finfo(np.float64).eps / 2
_U32 = float(np.finfo(np.float32).eps) / 2
NEIGHBOURS = 16
_GRID = 256  # points of the geometric grid of s
_TREE_MAX_DIM = 8  # above: blocked Gram products (the k-d tree's exact search slows down)
_CHUNK_ENTRIES = 1 << 22


def nearest_squared_distances(P: np.ndarray, k: int, threads: int = 1) -> np.ndarray:
    """Lower bounds on the squared distances from each point to its k + 1 nearest others,
    ascending, shape (n, k + 1) (fewer columns where n <= k + 1)."""
    n, d = P.shape
    m = min(k + 1, n - 1)
    if m <= 0:
        return np.zeros((n, 0))
    if d <= _TREE_MAX_DIM:
        dist, idx = cKDTree(P).query(P, k=m + 1, workers=threads)
        # drop each point itself (an exact duplicate may come first: then drop the last)
        own = idx == np.arange(n)[:, None]
        own[~own.any(axis=1), -1] = True
        dist = dist[~own].reshape(n, m)
        return (dist * (1.0 - (d + 6) * _U)) ** 2
    return _gram_nearest(P, m)


def _gram_nearest(P: np.ndarray, m: int) -> np.ndarray:
    """`nearest_squared_distances` by blocks of Gram products (many dimensions).

    Candidates by float32 Gram products (BLAS, about twice float64's speed), then their
    squared distances again in float64, with rigorous error bounds for both: a point left
    out is farther (in float64) than m listed ones.
    """
    n, d = P.shape
    Q = P - P.mean(axis=0)
    s = np.einsum("ij,ij->i", Q, Q) * (1.0 + 2.0 * (d + 1) * _U)
    rel = (2.0 * (d + 3) * _U / (1.0 - (d + 3) * _U) + 8.0 * _U) * (1.0 + 1e-6)
    # float32: the same bound with u32, plus the rounding of the coordinates to float32
    # (|x - y| moves by u32 (|x| + |y|), its square by at most 4 u32 (|x|^2 + |y|^2) more),
    # and the float64 squared norms' own error
    rel32 = (2.0 * (d + 3) * _U32 / (1.0 - (d + 3) * _U32) + 14.0 * _U32) * 1.01 + 2 * rel
    Q32 = Q.astype(np.float32)
    s32 = s.astype(np.float32)
    smax = float(s.max())
    # a random sample of columns: each row's m-th smallest squared distance among them
    # is above its m nearest overall, so only entries below it (and its rounding) are kept
    sample = np.random.default_rng(0).choice(n, size=min(n, max(64 * m, 2048)), replace=False)
    out = np.empty((n, m))
    rows = max(16, _CHUNK_ENTRIES // max(n, 1))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        own = np.arange(r1 - r0), np.arange(r0, r1)
        G = Q32[r0:r1] @ Q32.T
        G *= -2.0
        G += s32[r0:r1, None]
        G += s32[None, :]
        G[own] = np.inf  # the points themselves
        S = G[:, sample]
        thr = np.partition(S, m - 1, axis=1)[:, m - 1] if S.shape[1] > m else S.max(axis=1)
        # the m-th smallest in float32, k (at most thr): m points are within e of it in
        # float64, and one beyond k + 2 e (float32) is beyond k + e in float64, so not among
        # the m nearest
        e = rel32 * (s[r0:r1] + smax) * 1.01
        ii, jj = np.nonzero(G <= (thr + 2.0 * e)[:, None])
        v32 = G[ii, jj]
        del G, S
        order = np.lexsort((v32, ii))
        ii, jj, v32 = ii[order], jj[order], v32[order]
        first = np.searchsorted(ii, np.arange(r1 - r0))
        k = v32[first + m - 1]
        keep = np.nonzero(v32 <= (k + 2.0 * e)[ii])[0]
        ii, jj = ii[keep], jj[keep]
        # the candidates in float64, from the coordinates
        vals = (s[r0 + ii] + s[jj]) - 2.0 * np.einsum("ij,ij->i", Q[r0 + ii], Q[jj])
        order = np.lexsort((vals, ii))
        ii, jj, vals = ii[order], jj[order], vals[order]
        first = np.searchsorted(ii, np.arange(r1 - r0))
        pick = first[:, None] + np.arange(m)[None, :]
        near = vals[pick]  # each row has at least m candidates
        # the rounding of each computed squared distance (for the last column, the largest
        # over the row's other points: it bounds every point not listed)
        err = rel * (s[r0:r1, None] + s[jj[pick]])
        err[:, -1] = rel * (s[r0:r1] + smax)
        out[r0:r1] = np.maximum(near - err, 0.0)
    # (subtracting row-dependent errors can break the order; only the last column must stay
    # a bound for all points beyond the listed ones, which it is)
    return out


def gershgorin_profile(A: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(s, g): a geometric grid of s and lower bounds g(s) of lambda_min(exp(-s D o D)) on it
    (Gershgorin with the neighbour bound of the row sums; g non-decreasing), from the
    squared-distance bounds A of `nearest_squared_distances`."""
    if n <= 1:
        return np.array([0.0]), np.array([1.0])
    m = A.shape[1]
    if not (A[:, 0].min() > 0):
        return np.array([0.0]), np.array([0.0])  # coincident points: Z(t) is singular
    # the explicit terms are the first m - 1 neighbours (all, where n - 1 <= m)
    k = m - 1 if n - 1 > m else m
    rest = n - 1 - k
    explicit = A[:, :k]
    tail = A[:, -1]
    # g(s) <= 1 - rest exp(-s min tail) is <= 0 below s_lo; above s_hi every term is below
    # 1e-16 / n
    s_lo = math.log(rest) / float(tail.min()) if rest >= 2 else 1e-3 / float(A.max())
    s_hi = (math.log(n) + 40.0) / float(A[:, 0].min())
    s = np.geomspace(s_lo, max(s_hi, 2.0 * s_lo), _GRID)
    # only rows that can hold the maximum somewhere on the grid are summed in full: a row's
    # sum lies between its nearest term (plus the tail) and k times it (plus the tail)
    near = A[:, 0]
    low = np.zeros(_GRID)
    chunk = max(1, (1 << 21) // _GRID)
    for r0 in range(0, A.shape[0], chunk):
        r1 = min(A.shape[0], r0 + chunk)
        L = np.exp(-near[r0:r1, None] * s[None, :])
        if rest > 0:
            L += rest * np.exp(-tail[r0:r1, None] * s[None, :])
        np.maximum(low, L.max(axis=0), out=low)
    cand = []
    for r0 in range(0, A.shape[0], chunk):
        r1 = min(A.shape[0], r0 + chunk)
        U = k * np.exp(-near[r0:r1, None] * s[None, :])
        if rest > 0:
            U += rest * np.exp(-tail[r0:r1, None] * s[None, :])
        cand.append(r0 + np.flatnonzero((U * (1.0 + 1e-12) >= low).any(axis=1)))
    cand = np.concatenate(cand)
    worst = np.zeros(_GRID)
    rows = max(1, (1 << 21) // (_GRID * (k + 1)))
    for c0 in range(0, cand.shape[0], rows):
        idx = cand[c0:c0 + rows]
        F = np.exp(-explicit[idx, :, None] * s[None, None, :]).sum(axis=1)
        if rest > 0:
            F += rest * np.exp(-tail[idx, None] * s[None, :])
        np.maximum(worst, F.max(axis=0), out=worst)
    g = 1.0 - worst * (1.0 + 1e-12) - 1e-15
    return s, np.maximum(g, 0.0)


def profile(P: np.ndarray, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """`gershgorin_profile` of the points P from their `NEIGHBOURS` nearest neighbours."""
    return gershgorin_profile(nearest_squared_distances(P, NEIGHBOURS, threads), P.shape[0])


def bound_from_profile(t: float, s: np.ndarray, g: np.ndarray) -> float:
    """int max(0, g) phi_t over the grid's cells (g at each cell's left end), t > 0."""
    if not t > 0:
        return 0.0
    if s.shape[0] == 1:
        return float(g[0]) if s[0] == 0.0 else 0.0
    cdf = erfc(t / (2.0 * np.sqrt(s)))  # P(S <= s_m), increasing
    mass = np.diff(np.append(cdf, 1.0))
    return float(min(1.0, max(0.0, float(g @ np.maximum(mass, 0.0)) * (1.0 - 1e-9))))
