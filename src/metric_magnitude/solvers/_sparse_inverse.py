"""A sparse approximate inverse Cholesky factor of Z(t) = exp(-t D) for low-dimensional points.

The preconditioner ``"sparse_inverse"`` of `metric_magnitude.solvers.iterative`: Z^-1 ~ L L^T
with L sparse, by Kullback-Leibler minimisation (Schaefer, Katzfuss and Owhadi, "Sparse
Cholesky factorization by Kullback-Leibler minimization", SIAM J. Sci. Comput. 2021).

Why it works here: in R^3, exp(-t |x|) is the Green's function of the local operator
(t^2 - Delta)^2 / (8 pi t), so Z^-1 is nearly local (the weights of a point are decided by
its neighbourhood), at every scale t. Points are ordered coarse to fine, and each point's
column of L involves only the points ordered after it (coarser ones, and its own level)
within ``rho`` times its own length scale ``l_i``: the "screening effect" makes the rest
nearly irrelevant. Then column i is, exactly, the KL-optimal one for that sparsity,

    L[s_i, i] = Z[s_i, s_i]^-1 e_1 / sqrt(e_1^T Z[s_i, s_i]^-1 e_1),    s_i = (i, later...),

one small dense Cholesky per point. The ordering is a multilevel grid in place of the exact
maximin ordering: each point gets a random priority, and its level is the coarsest grid
(cells of H / 2^k, H the largest extent) in whose cell it has the lowest priority, with
length scale l_i = H / 2^level; points are then ordered finest level first (this is the
reverse of the maximin order, as the paper's inverse factor needs). A cell holds one
representative per level, so a column has at most about (2 rho + 1)^d entries.

The pattern depends on the points only, and is computed once per operator; the values are
computed per scale. The factor is only a preconditioner: nothing certified depends on it.
Measured (20,000 Gaussian points in R^3, rtol 1e-6; docs/large-n.md): rho = 4 gives about 75
entries per column and 2 to 4 times fewer CG iterations than Nystrom + block Jacobi at
small and middle scales, where those grow with n.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack
from scipy.sparse import csc_matrix
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist

_MAX_LEVELS = 48


def grid_levels(P: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each point's level in a multilevel grid, and its length scale H / 2^level.

    A point's level is the coarsest k at which it has the lowest (random) priority in its
    cell of side H / 2^k; cells are nested, so a point that represents its cell at level k
    does at every finer level too.
    """
    n, d = P.shape
    lo = P.min(axis=0)
    H = float((P.max(axis=0) - lo).max())
    if not H > 0:
        return np.zeros(n, dtype=np.int64), np.full(n, np.inf)
    H *= 1.0 + 1e-9  # the largest coordinate falls inside the last cell
    prio = np.random.default_rng(seed).permutation(n)
    level = np.full(n, -1, dtype=np.int64)
    for k in range(_MAX_LEVELS):
        cells = np.floor((P - lo) * (2.0**k / H)).astype(np.int64)
        if (2.0**k + 1.0) ** d < 2.0**62:
            key = np.ravel_multi_index(cells.T, (2**k + 1,) * d)
        else:
            key = np.unique(cells, axis=0, return_inverse=True)[1].ravel()
        order = np.lexsort((prio, key))
        first = np.ones(n, dtype=bool)
        first[1:] = key[order[1:]] != key[order[:-1]]
        reps = order[first]
        level[reps[level[reps] < 0]] = k
        if (level >= 0).all():
            break
    level[level < 0] = _MAX_LEVELS  # (points closer than H 2^-48: merged before this)
    scale = H / 2.0 ** level.astype(float)
    # the coarsest point has no point after it: any length scale will do
    return level, scale


def pattern(P: np.ndarray, p: float, rho: float, levels=None):
    """The sparsity of L: for column i, i itself first, then the points ordered after it
    within rho * l_i (in the metric with exponent p). ``levels``: `grid_levels` (P), if
    computed already. Returns (colptr, rows) as in CSC."""
    n = P.shape[0]
    level, scale = grid_levels(P) if levels is None else levels
    # finest level first; the order within a level is the index order
    order = np.lexsort((np.arange(n), -level))
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    cols, rows = [np.arange(n)], [np.arange(n)]  # the diagonal
    for k in np.unique(level):
        coarse = np.flatnonzero(level <= k)
        pts = np.flatnonzero(level == k)
        radius = rho * float(scale[pts[0]])
        pairs = cKDTree(P[pts]).sparse_distance_matrix(
            cKDTree(P[coarse]), radius, p=p, output_type="ndarray")
        i, j = pts[pairs["i"]], coarse[pairs["j"]]
        later = pos[j] > pos[i]
        cols.append(i[later])
        rows.append(j[later])
    cols, rows = np.concatenate(cols), np.concatenate(rows)
    # by column; a stable sort keeps each column's own point (the diagonal, put first)
    # first, and the rest in the trees' (deterministic) order
    rows = rows[np.argsort(cols, kind="stable")]
    colptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=n))))
    return colptr, rows


def neighbour_pattern(P: np.ndarray, p: float, k: int, seed: int = 0,
                      eps: float | None = None, threads: int = 1):
    """The sparsity of L for points in many dimensions: for column i, i itself first, then
    (about) its k nearest among the points ordered after it, in a random order.

    A grid of cells has no useful resolution in R^10 (2^10 cells at the first level), and a
    radius that holds a few neighbours at the finest level holds nearly every point at the
    coarse ones. A random order is a crude coarse-to-fine order (the last points are spread
    out, and each point's later neighbours are farther the later it comes), and k
    neighbours bound a column's size whatever d is. The neighbours are found with a k-d
    tree on the points at and after each dyadic block of the order (the later half of the
    points seen by the first block, the later half of the rest by the next, ...), asking
    2k + 1 neighbours (at least k of them later, for all but unlucky points) with the
    tree's approximate search (each within 1 + ``eps`` of the true distance), on
    ``threads`` threads. By default eps = 1 up to 10 dimensions and 1 + 0.8 (d - 10) above:
    at 100,000 points in R^10 the exact search took 46 s and eps = 1 3 s, with the same CG
    iterations at 20,000 points (10; eps = 3: 13, eps = 9: 16); in R^20 eps = 1, 3, 9 took
    58, 9.8 and 2.2 s at 100,000 points and gave the same 9 iterations at 20,000 (distances
    concentrate: the 20th neighbour is 1.2 times as far as the first, against 1.45 in R^10).
    Returns (colptr, rows) as in CSC.
    """
    n, d = P.shape
    if eps is None:
        eps = 1.0 + 0.8 * max(0, d - 10)
    pos = np.random.default_rng(seed).permutation(n)  # each point's place in the order
    order = np.argsort(pos)
    cols, rows = [np.arange(n)], [np.arange(n)]  # the diagonal
    a, size = 0, max(n // 2, 1)
    while a < n - 1:
        b = min(n, a + size)
        block, seen = order[a:b], order[a:]
        kk = min(seen.shape[0], 2 * k + 1)
        _, J = cKDTree(P[seen]).query(P[block], k=kk, p=p, eps=eps, workers=threads)
        J = seen[np.asarray(J).reshape(block.shape[0], kk)]
        later = pos[J] > pos[block][:, None]
        keep = later & (np.cumsum(later, axis=1) <= k)  # the k nearest later ones
        cols.append(np.broadcast_to(block[:, None], J.shape)[keep])
        rows.append(J[keep])
        a, size = b, max(size // 2, 1)
    cols, rows = np.concatenate(cols), np.concatenate(rows)
    rows = rows[np.argsort(cols, kind="stable")]  # each column's own point stays first
    colptr = np.concatenate(([0], np.cumsum(np.bincount(cols, minlength=n))))
    return colptr, rows


def estimated_entries(P: np.ndarray, p: float, rho: float, levels, sample: int = 256) -> float:
    """An over-estimate of the pattern's entries, from a random sample of points: the
    points of their level or coarser within rho * l_i (the pattern keeps only the ones
    ordered after i: about half of its own level's). Counting the points of every level
    instead over-estimated 15 to 20 times (20,000 Gaussian points in R^3), which kept
    rho = 5 from 100,000 points."""
    n = P.shape[0]
    if n == 0:
        return 0.0
    level, scale = levels
    idx = np.random.default_rng(0).choice(n, size=min(n, sample), replace=False)
    counts = np.empty(idx.shape[0])
    for k in np.unique(level[idx]):
        mine = level[idx] == k
        radius = rho * min(float(scale[idx[mine][0]]), np.finfo(float).max)
        counts[mine] = cKDTree(P[level <= k]).query_ball_point(
            P[idx[mine]], radius, p=p, return_length=True)
    return float(np.mean(counts)) * n


def factor(P: np.ndarray, metric: str, t: float, colptr: np.ndarray,
           rows: np.ndarray, threads: int = 1, compiled: bool = True) -> csc_matrix:
    """L (CSC, n x n) with Z(t)^-1 ~ L L^T, column by column (module docstring).

    With numba and ``compiled``: compiled columns (distances, exp, a Cholesky four rows at a
    time, two triangular solves) on ``threads`` threads; otherwise a loop over LAPACK calls,
    about twice as slow (their call overhead). At rho = 5 on 100,000 Gaussian points in R^3
    (148 entries a column on average, 485 at most) the compiled factor took 26.5 s on two
    threads, against 46.2 s with the Cholesky one row at a time (t = 0.3, one run each,
    2026-11-24, a slow day for this machine).
    """
    n = P.shape[0]
    vals = np.empty(rows.shape[0])
    if compiled and _numba_columns() is not None:
        _factor_numba(P, 1 if metric == "cityblock" else 0, t, colptr, rows, vals, threads)
    else:
        _factor_lapack(P, metric, t, colptr, rows, vals)
    return csc_matrix((vals, rows, colptr), shape=(n, n))


def _factor_numba(P, metric_code, t, colptr, rows, vals, threads):
    from concurrent.futures import ThreadPoolExecutor

    columns = _numba_columns()
    n = P.shape[0]
    sizes = np.diff(colptr).astype(float)
    # contiguous chunks of about equal work (m^3 per column), a few per thread
    cost = np.cumsum(sizes**3)
    n_chunks = max(1, min(n, 4 * threads))
    cuts = np.searchsorted(cost, cost[-1] * np.arange(1, n_chunks) / n_chunks) if n else []
    bounds = np.unique(np.concatenate(([0], cuts, [n]))).astype(np.int64)
    maxm = int(sizes.max()) if n else 0

    def run(c):
        columns(P, metric_code, float(t), colptr, rows, int(bounds[c]), int(bounds[c + 1]),
                maxm, vals)

    if threads <= 1 or len(bounds) <= 2:
        for c in range(len(bounds) - 1):
            run(c)
    else:
        with ThreadPoolExecutor(threads) as ex:
            list(ex.map(run, range(len(bounds) - 1)))


_COLUMNS = []


def _numba_columns():
    """The compiled column loop, or None where numba is not installed."""
    if not _COLUMNS:
        try:
            from ._sparse_inverse_kernels import factor_columns
        except ImportError:  # pragma: no cover - depends on the environment
            factor_columns = None
        _COLUMNS.append(factor_columns)
    return _COLUMNS[0]


def _factor_lapack(P, metric, t, colptr, rows, vals):
    n = P.shape[0]
    for i in range(n):
        a, b = colptr[i], colptr[i + 1]
        idx = rows[a:b]
        G = cdist(P[idx], P[idx], metric)
        G *= -t
        np.exp(G, out=G)
        e = np.zeros(b - a)
        e[0] = 1.0
        y = _spd_solve(G, e)
        vals[a:b] = y / np.sqrt(y[0])


def _spd_solve(G: np.ndarray, e: np.ndarray) -> np.ndarray:
    """G^-1 e for a small symmetric positive definite G (overwritten), shifted where
    round-off (near duplicate points) makes its Cholesky fail: this is a preconditioner."""
    from .iterative import _shifted_cholesky

    c = _shifted_cholesky(G, 0.0, floor=1e-14 * G.shape[0])
    return lapack.dpotrs(c, e, lower=1)[0]
