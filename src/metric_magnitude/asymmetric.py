r"""Magnitude of asymmetric spaces and of general matrices: weightings and coweightings.

The rest of the library takes symmetric distances. This module drops that condition:

* a quasi-metric (or any nonnegative "distance" with a zero diagonal) given as an (n, n)
  array, possibly asymmetric and possibly infinite (similarity 0);
* a networkx ``DiGraph`` (or ``Graph``), read through its directed shortest-path lengths;
* ``kind="similarity"``: a square real matrix Z given directly, the *magnitude of a matrix*.

For a square matrix Z (here Z = exp(-t D) elementwise, or given), following Leinster [1]_:

* a **weighting** is a column vector w with Z w = 1;
* a **coweighting** is a row vector v with v^T Z = 1^T;
* if both exist, 1^T w = v^T Z w = v^T 1, so their sums agree: Z *has magnitude*
  |Z| = sum(w) = sum(v). It does not depend on which (co)weighting is taken.
* If Z is invertible both are unique and |Z| = 1^T Z^{-1} 1, the sum of the entries of Z^{-1}.

For symmetric Z a weighting is a coweighting, and all this is ordinary magnitude.

Numerics. One LU factorisation (`scipy.linalg.lu_factor`) per scale gives w and v (two
triangular solves each) and LAPACK's estimate of the condition number. For distances, where
Z(t) is ill-conditioned (as t -> 0 it tends to the all-ones matrix), the small-t form of the
core library is used instead: with E = 1 - Z = -expm1(-t D), u = E^{-1} 1 and a = 1^T u,
w = u / (a - 1) and |tX| = a / (a - 1) (the same a comes from E^T, so this form gives the
coweighting too). Where Z is numerically singular, its singular value decomposition decides
whether 1 lies in the range of Z (a weighting exists) and of Z^T (a coweighting exists), and
the minimum-norm ones w = Z^+ 1, v = Z^{+T} 1 are returned (Z^+ the Moore–Penrose
pseudoinverse). Then |Z| = 1^T Z^+ 1, Chen and Vigneaux's formula [3]_.

References
----------
.. [1] T. Leinster, "The magnitude of metric spaces", Doc. Math. 18 (2013), 857-905,
   section 1.1 (the magnitude of a matrix) and section 1.3 (enriched categories).
.. [2] S. Huntsman, "Magnitude of arithmetic scalar and matrix categories",
   arXiv:2304.08334 (2023).
.. [3] S. Chen and J. P. Vigneaux, "A formula for the categorical magnitude in terms of
   the Moore-Penrose pseudoinverse", arXiv:2303.12176 (2023).

Examples
--------
>>> import numpy as np
>>> from metric_magnitude import asymmetric
>>> D = [[0.0, 1.0],
...      [3.0, 0.0]]                       # d(a, b) = 1, d(b, a) = 3
>>> asymmetric.magnitude(D, 1.0)       # (2 - e^-1 - e^-3) / (1 - e^-4)
1.6118556566...
>>> asymmetric.weighting(D, 1.0)
array([0.64391426, 0.9679414 ])
>>> asymmetric.coweighting(D, 1.0)
array([0.9679414 , 0.64391426])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy.linalg import LinAlgWarning, lapack, lu_factor, lu_solve, svd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import shortest_path

from ._validation import _as_float_array, _check_finite, check_dense_memory, check_scales
from .exceptions import (
    IllConditionedWarning,
    InvalidInputError,
    MagnitudeError,
    SingularSimilarityError,
)
from .spaces import _edge_length, _is_graph

__all__ = [
    "KINDS",
    "AsymmetricResult",
    "MagnitudeMismatchError",
    "MagnitudeUndefinedError",
    "coweighting",
    "distance_matrix",
    "magnitude",
    "similarity_matrix",
    "solve",
    "weighting",
]

KINDS = ("distances", "similarity")

_EPS = np.finfo(np.float64).eps
# Relative tolerance for round-off in user-given distances (negative entries, the diagonal).
_DISTANCE_RTOL = 1e-12
# Estimated relative error of the (co)weighting above which IllConditionedWarning is given.
_WARN_WEIGHT_ERROR = 1e-4
# Estimated relative error of the LU solution above which the small-t form is tried as well.
_TRY_SMALL_T_ERROR = 1e-12
# A solution w of the least-squares problem min ||Z w - 1|| is a weighting when
# ||Z w - 1|| <= _CONSISTENCY_RTOL * (||1|| + ||Z|| ||w||)  (2-norms).
_CONSISTENCY_RTOL = 1e-8
# Default tolerance on |sum(w) - sum(v)| relative to the magnitude (see `magnitude`).
DEFAULT_RTOL = 1e-8
# Dense (n, n) float64 arrays held at once: D, Z, the LU factor, and E or the SVD factors.
_DENSE_MATRICES = 4.0


class MagnitudeUndefinedError(SingularSimilarityError):
    """Z is singular and has no weighting, or no coweighting, so what was asked is undefined.

    A subclass of `metric_magnitude.SingularSimilarityError` (so also of
    ``numpy.linalg.LinAlgError``).

    Attributes
    ----------
    scale : float or None
        The scale t (None for ``kind="similarity"``).
    has_weighting, has_coweighting : bool
        Whether Z w = 1, respectively v^T Z = 1^T, has a solution.
    """

    def __init__(self, message: str, scale, has_weighting: bool, has_coweighting: bool):
        super().__init__(message, scale=scale)
        self.has_weighting = has_weighting
        self.has_coweighting = has_coweighting


class MagnitudeMismatchError(MagnitudeError, np.linalg.LinAlgError):
    """The computed sums of the weighting and of the coweighting disagree.

    In exact arithmetic they are equal whenever both exist, so a disagreement beyond the
    tolerance means that the magnitude is too ill-conditioned to be computed in float64 to
    that tolerance.

    Attributes
    ----------
    scale : float or None
        The scale t (None for ``kind="similarity"``).
    weighting_sum, coweighting_sum : float
        sum(w) and sum(v) as computed.
    """

    def __init__(self, message: str, scale, weighting_sum: float, coweighting_sum: float):
        super().__init__(message)
        self.scale = scale
        self.weighting_sum = weighting_sum
        self.coweighting_sum = coweighting_sum


@dataclass(frozen=True)
class AsymmetricResult:
    """Weighting, coweighting and magnitude of one matrix or of one space at several scales.

    Arrays are indexed by scale first (a single row for ``kind="similarity"``). Where a
    weighting (coweighting) does not exist its row is NaN; where either is missing the
    magnitude is NaN.

    Attributes
    ----------
    scales : ndarray of shape (k,) or None
        None for ``kind="similarity"``.
    magnitude : ndarray of shape (k,)
        sum(w), NaN where the magnitude is undefined.
    weighting : ndarray of shape (k, n)
        The weighting w, Z w = 1; the minimum-norm one where Z is singular.
    coweighting : ndarray of shape (k, n)
        The coweighting v, v^T Z = 1^T; the minimum-norm one where Z is singular.
    coweighting_sum : ndarray of shape (k,)
        sum(v) as computed (equal to ``magnitude`` up to rounding).
    has_weighting, has_coweighting : ndarray of bool, shape (k,)
    rank : ndarray of int, shape (k,)
        Numerical rank of Z (n where it was solved by LU, i.e. Z is invertible).
    rcond : ndarray of shape (k,)
        Estimated reciprocal 1-norm condition number of the matrix factored.
    methods : tuple of str
        Per scale: ``"lu"`` (LU of Z), ``"small_t"`` (LU of E = 1 - Z) or ``"svd"``
        (Z numerically singular: minimum-norm solutions).
    nodes : list or None
        For graph input, the nodes in the order of the entries (``list(G.nodes)``).
    """

    scales: np.ndarray | None
    magnitude: np.ndarray
    weighting: np.ndarray
    coweighting: np.ndarray
    coweighting_sum: np.ndarray
    has_weighting: np.ndarray
    has_coweighting: np.ndarray
    rank: np.ndarray
    rcond: np.ndarray
    methods: tuple
    nodes: list | None = None

    @property
    def unique(self) -> np.ndarray:
        """Whether the weighting and coweighting are unique (Z invertible), per scale."""
        return self.rank == self.weighting.shape[-1]


# ---------------------------------------------------------------- input


def _check_kind(kind) -> str:
    if kind not in KINDS:
        raise InvalidInputError(
            f"unknown kind {kind!r}; choose 'distances' (an (n, n) array of distances or a "
            "networkx graph, with a scale t) or 'similarity' (a square matrix Z, no t)"
        )
    return kind


def _square(arr: np.ndarray, name: str, what: str) -> None:
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InvalidInputError(
            f"{name} must be a square (n, n) {what}, got shape {arr.shape}; "
            "metric_magnitude.asymmetric takes distance or similarity matrices, not points "
            "(for points use mm.magnitude)"
        )
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty: a space needs at least one point")


def _check_distances(D, name: str) -> np.ndarray:
    """A clean float64 copy of a possibly asymmetric distance matrix, or raise.

    +inf is allowed off the diagonal (similarity 0: e.g. unreachable in a digraph). Round-off
    negatives and a round-off diagonal (relative 1e-12 of the largest finite entry) are set
    to zero; larger ones are errors.
    """
    arr = _as_float_array(D, name)
    _square(arr, name, "distance matrix")
    if np.isnan(arr).any():
        i, j = np.argwhere(np.isnan(arr))[0]
        raise InvalidInputError(
            f"{name} contains NaN at index ({i}, {j}); distances must be numbers "
            "(inf is allowed for 'unreachable')"
        )
    finite = np.isfinite(arr)
    scale = float(np.abs(arr[finite]).max()) if finite.any() else 0.0
    tol = _DISTANCE_RTOL * max(scale, np.finfo(float).tiny)
    if (arr < -tol).any():
        i, j = np.argwhere(arr < -tol)[0]
        raise InvalidInputError(
            f"{name} has a negative distance {float(arr[i, j])!r} at ({i}, {j}); "
            "distances must be non-negative (for a general matrix Z use kind='similarity')"
        )
    diag = np.abs(np.diagonal(arr))
    if not (diag <= tol).all():
        i = int(np.argmax(np.where(np.isfinite(diag), diag, np.inf)))
        raise InvalidInputError(
            f"{name} has a nonzero diagonal entry D[{i}, {i}] = {float(arr[i, i])!r}; "
            "the distance of a point to itself must be 0 (for a general matrix Z use "
            "kind='similarity')"
        )
    clean = np.array(arr, dtype=np.float64, order="C")  # a copy: never alias user memory
    np.fill_diagonal(clean, 0.0)
    np.maximum(clean, 0.0, out=clean)
    return clean


def _check_similarity(Z, name: str) -> np.ndarray:
    arr = _as_float_array(Z, name)
    _square(arr, name, "similarity matrix")
    _check_finite(arr, name, "entry of a similarity matrix")
    return np.array(arr, dtype=np.float64, order="C")


def _edge_weight(u, v, data) -> float:
    return _edge_length(u, v, data.get("weight", 1.0), allow_inf=True)


def _graph_distances(G) -> tuple[list, np.ndarray]:
    """Directed shortest-path lengths of a networkx graph; inf where unreachable.

    Edges of a ``Graph`` go both ways; the lightest of parallel edges counts; self-loops
    are ignored; zero-weight edges are edges of length 0.
    """
    nodes = list(G.nodes)
    n = len(nodes)
    if n == 0:
        raise InvalidInputError("the graph has no nodes: a space needs at least one point")
    check_dense_memory(n, _DENSE_MATRICES, what="metric_magnitude.asymmetric")
    index = {v: i for i, v in enumerate(nodes)}
    directed = G.is_directed()
    best: dict[tuple[int, int], float] = {}
    for u, v, data in G.edges(data=True):
        w = _edge_weight(u, v, data)
        if u == v:
            continue
        i, j = index[u], index[v]
        for key in [(i, j)] if directed else [(i, j), (j, i)]:
            if w < best.get(key, np.inf):
                best[key] = w
    if best:
        ij = np.array(list(best.keys()))
        # explicit zeros are kept: scipy.sparse.csgraph reads them as zero-length edges
        adj = csr_matrix((np.array(list(best.values())), (ij[:, 0], ij[:, 1])), shape=(n, n))
        if adj.nnz != len(best):  # pragma: no cover - scipy dropped explicit zeros
            raise RuntimeError("scipy.sparse dropped zero-weight edges")
    else:
        adj = csr_matrix((n, n))
    D = shortest_path(adj, method="D", directed=True)
    np.fill_diagonal(D, 0.0)
    return nodes, np.ascontiguousarray(D)


def _prepare(X, t, kind):
    """(matrix, scales or None, scalar t?, nodes or None) from user input, validated."""
    _check_kind(kind)
    if kind == "similarity":
        if t is not None:
            raise InvalidInputError(
                "t does not apply to kind='similarity' (Z is used as given); pass "
                "Z = exp(-t D) yourself, or pass distances with kind='distances'"
            )
        if _is_graph(X):
            raise InvalidInputError(
                "a graph gives distances, not similarities: use kind='distances'"
            )
        shape = getattr(X, "shape", ())
        if len(shape) == 2 and shape[0] == shape[1]:
            check_dense_memory(shape[0], _DENSE_MATRICES, what="metric_magnitude.asymmetric")
        return _check_similarity(X, "Z (a similarity matrix)"), None, True, None
    if t is None:
        raise InvalidInputError(
            "a scale t is required for kind='distances' (Z = exp(-t D)); for a matrix Z "
            "given directly use kind='similarity'"
        )
    scales, scalar = check_scales(t)
    if _is_graph(X):
        nodes, D = _graph_distances(X)
        return D, scales, scalar, nodes
    shape = getattr(X, "shape", ())
    if len(shape) == 2 and shape[0] == shape[1]:
        check_dense_memory(shape[0], _DENSE_MATRICES, what="metric_magnitude.asymmetric")
    return _check_distances(X, "D (a distance matrix)"), scales, scalar, None


# ---------------------------------------------------------------- solvers


class _Solution(NamedTuple):
    w: np.ndarray | None  # None: no weighting exists
    v: np.ndarray | None  # None: no coweighting exists
    method: str
    rcond: float
    rank: int
    est: float  # estimated relative error of w and v


def _lu(A: np.ndarray):
    """LU factors of A and the estimated reciprocal 1-norm condition number."""
    anorm = float(np.abs(A).sum(axis=0).max())
    with warnings.catch_warnings():
        # an exactly singular A is handled by the caller (rcond 0), not a LinAlgWarning
        warnings.simplefilter("ignore", LinAlgWarning)
        lu, piv = lu_factor(A, check_finite=False)
    if anorm == 0.0 or not np.all(np.diagonal(lu)):
        return (lu, piv), 0.0
    rcond, info = lapack.dgecon(lu, anorm, norm="1")
    return (lu, piv), float(rcond) if info == 0 else 0.0


def _singular_threshold(n: int) -> float:
    return 10.0 * n * _EPS


def _solve_lu(Z: np.ndarray, ones: np.ndarray) -> _Solution:
    n = Z.shape[0]
    fac, rcond = _lu(Z)
    if rcond < _singular_threshold(n):
        return _Solution(None, None, "lu", rcond, -1, np.inf)  # singular: the caller decides
    w = lu_solve(fac, ones, check_finite=False)
    v = lu_solve(fac, ones, trans=1, check_finite=False)
    return _Solution(w, v, "lu", rcond, n, _EPS / rcond)


def _solve_small_t(D: np.ndarray, t: float, ones: np.ndarray) -> _Solution | None:
    """Z = J - E with E = 1 - Z from expm1: w = E^{-1} 1 / (a - 1), v likewise from E^T.

    Returns None where E is (numerically) singular or the magnitude is at a pole (a = 1).
    """
    n = D.shape[0]
    E = np.multiply(D, -t)
    np.expm1(E, out=E)
    np.negative(E, out=E)  # inf distances: expm1(-inf) = -1, so E = 1 there
    fac, rcond = _lu(E)
    if rcond < _singular_threshold(n):
        return None
    u = lu_solve(fac, ones, check_finite=False)
    ut = lu_solve(fac, ones, trans=1, check_finite=False)
    a, at = float(u.sum()), float(ut.sum())
    if a == 1.0 or at == 1.0:
        return None
    m1 = 1.0 / (a - 1.0)  # |tX| - 1
    if not np.isfinite(m1) or abs(1.0 + m1) * n * _EPS > 1e-4:  # a - 1 is rounding noise
        return None
    est = _EPS / rcond * max(1.0, abs(1.0 + m1))
    return _Solution(u * m1, ut / (at - 1.0), "small_t", rcond, n, est)


def _solve_svd(Z: np.ndarray, ones: np.ndarray) -> _Solution:
    """Minimum-norm weighting and coweighting of a numerically singular Z, where they exist."""
    n = Z.shape[0]
    U, s, Vt = svd(Z, check_finite=False, lapack_driver="gesvd")
    smax = float(s[0]) if s.size else 0.0
    rank = int(np.sum(s > smax * n * _EPS)) if smax > 0 else 0
    if rank == 0:
        return _Solution(None, None, "svd", 0.0, 0, np.inf)
    Ur, sr, Vr = U[:, :rank], s[:rank], Vt[:rank].T
    w = Vr @ ((Ur.T @ ones) / sr)  # Z^+ 1
    v = Ur @ ((Vr.T @ ones) / sr)  # Z^{+T} 1
    sqrt_n = np.sqrt(n)

    def consistent(res, x):
        return float(np.linalg.norm(res)) <= _CONSISTENCY_RTOL * (
            sqrt_n + smax * float(np.linalg.norm(x))
        )

    has_w = consistent(Z @ w - ones, w)
    has_v = consistent(Z.T @ v - ones, v)
    rcond = float(sr[-1] / smax)  # of the rank-r part the solutions come from
    return _Solution(w if has_w else None, v if has_v else None, "svd", rcond, rank, _EPS / rcond)


def _solve_one(M: np.ndarray, t: float | None, ones: np.ndarray) -> _Solution:
    """Weighting and coweighting of Z = M (similarity) or Z = exp(-t M) (distances)."""
    Z = M if t is None else np.exp(np.multiply(M, -t))
    sol = _solve_lu(Z, ones)
    if t is not None and sol.est > _TRY_SMALL_T_ERROR:
        alt = _solve_small_t(M, t, ones)
        if alt is not None and alt.est < sol.est:
            return alt
    if sol.w is None and sol.rank < 0:
        return _solve_svd(Z, ones)
    return sol


def _where(t: float | None) -> str:
    return "" if t is None else f" at t = {t!r}"


def _solve_all(M, scales, nodes, *, need: str, rtol: float | None) -> AsymmetricResult:
    """Solve at every scale; raise per ``need`` ("weighting", "coweighting", "magnitude"
    or "none") where it does not exist, and warn where the solutions are inaccurate."""
    n = M.shape[0]
    ones = np.ones(n)
    ts = [None] if scales is None else [float(s) for s in scales]
    k = len(ts)
    W = np.full((k, n), np.nan)
    V = np.full((k, n), np.nan)
    mag = np.full(k, np.nan)
    cosum = np.full(k, np.nan)
    has_w = np.zeros(k, dtype=bool)
    has_v = np.zeros(k, dtype=bool)
    rank = np.zeros(k, dtype=int)
    rcond = np.zeros(k)
    methods = []
    for i, t in enumerate(ts):
        sol = _solve_one(M, t, ones)
        _raise_if_missing(sol, t, need)
        if sol.w is not None:
            W[i], has_w[i] = sol.w, True
        if sol.v is not None:
            V[i], has_v[i] = sol.v, True
            cosum[i] = float(sol.v.sum())
        if sol.w is not None and sol.v is not None:
            mag[i] = float(sol.w.sum())
            if rtol is not None:
                _check_agreement(sol, t, rtol)
        if sol.est > _WARN_WEIGHT_ERROR and (sol.w is not None or sol.v is not None):
            warnings.warn(
                f"Z is ill-conditioned{_where(t)} (estimated condition number of the "
                f"{sol.method!r} system {1 / max(sol.rcond, 1e-300):.1e}): the weighting and "
                f"coweighting may have relative errors near {sol.est:.0e}",
                IllConditionedWarning,
                stacklevel=3,
            )
        rank[i], rcond[i] = sol.rank, sol.rcond
        methods.append(sol.method)
    return AsymmetricResult(
        scales, mag, W, V, cosum, has_w, has_v, rank, rcond, tuple(methods), nodes
    )


def _raise_if_missing(sol: _Solution, t: float | None, need: str) -> None:
    missing_w = sol.w is None and need in ("weighting", "magnitude")
    missing_v = sol.v is None and need in ("coweighting", "magnitude")
    if not (missing_w or missing_v):
        return
    has = {"weighting": sol.w is not None, "coweighting": sol.v is not None}
    what = "weighting (Z w = 1)" if missing_w else "coweighting (v^T Z = 1^T)"
    if need == "magnitude":
        if has["weighting"] or has["coweighting"]:
            present = "a weighting" if has["weighting"] else "a coweighting"
            absent = "coweighting" if has["weighting"] else "weighting"
            why = (
                f"it has {present} but no {absent}, so the magnitude is undefined (it needs "
                "both; the sums of the many solutions it has are not all equal)"
            )
        else:
            why = "it has neither a weighting nor a coweighting, so the magnitude is undefined"
    else:
        why = f"it has no {what}: 1 is not in the range of Z{'^T' if missing_v else ''}"
    raise MagnitudeUndefinedError(
        f"the similarity matrix Z is singular{_where(t)} (numerical rank {max(sol.rank, 0)}) "
        f"and {why}" + ("; a nearby scale usually has one" if t is not None else ""),
        scale=t,
        has_weighting=has["weighting"],
        has_coweighting=has["coweighting"],
    )


def _check_agreement(sol: _Solution, t: float | None, rtol: float) -> None:
    sw, sv = float(sol.w.sum()), float(sol.v.sum())
    n = sol.w.shape[0]
    floor = 16.0 * n * _EPS * min(float(np.abs(sol.w).sum()), float(np.abs(sol.v).sum()))
    gap = abs(sw - sv)
    if not gap <= rtol * max(abs(sw), abs(sv)) + floor:
        rel = gap / max(abs(sw), abs(sv), np.finfo(float).tiny)
        raise MagnitudeMismatchError(
            f"sum(w) = {sw!r} and sum(v) = {sv!r} differ{_where(t)} by {gap:.2e} (relative "
            f"{rel:.1e}), beyond rtol = {rtol:g}: they are equal in exact arithmetic, so the "
            "magnitude is too ill-conditioned here to be trusted to rtol (estimated condition "
            f"number of the {sol.method!r} system {1 / max(sol.rcond, 1e-300):.1e}); pass a "
            "larger rtol to accept it, or use solve() to see both sums",
            scale=t,
            weighting_sum=sw,
            coweighting_sum=sv,
        )


# ---------------------------------------------------------------- public API


def _per_scale(values: np.ndarray, scalar: bool):
    return float(values[0]) if scalar else values


def _check_rtol(rtol) -> float:
    try:
        rtol = float(rtol)
    except (TypeError, ValueError):
        raise InvalidInputError(f"rtol must be a number, got {rtol!r}") from None
    if not rtol >= 0:
        raise InvalidInputError(f"rtol must be >= 0, got {rtol!r}")
    return rtol


def solve(X, t=None, *, kind: str = "distances") -> AsymmetricResult:
    """Weighting, coweighting and magnitude at every scale, without raising where they fail
    to exist (NaN there instead); the flags and ranks say what exists.

    Parameters
    ----------
    X, t, kind
        As in `magnitude`.

    Returns
    -------
    AsymmetricResult

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude import asymmetric
    >>> res = asymmetric.solve([[1.0, 0.0], [1.0, 0.0]], kind="similarity")
    >>> res.has_weighting, res.has_coweighting, res.rank
    (array([ True]), array([False]), array([1]))
    >>> res.weighting          # Z w = 1 holds for w = (1, c), any c: the minimum-norm one
    array([[1., 0.]])
    >>> res.magnitude          # no coweighting: undefined
    array([nan])
    """
    M, scales, _, nodes = _prepare(X, t, kind)
    return _solve_all(M, scales, nodes, need="none", rtol=None)


def magnitude(X, t=None, *, kind: str = "distances", rtol: float = DEFAULT_RTOL):
    r"""Magnitude of an asymmetric space or of a matrix: sum(w) = sum(v).

    Defined when Z has both a weighting w (Z w = 1) and a coweighting v (v^T Z = 1^T);
    then 1^T w = v^T Z w = v^T 1. For invertible Z it is 1^T Z^-1 1, the sum of the entries
    of Z^-1.

    Parameters
    ----------
    X : array_like of shape (n, n) or networkx.DiGraph / networkx.Graph
        With ``kind="distances"``: distances d(i, j) in row i, column j, non-negative, zero
        diagonal, asymmetric allowed, ``inf`` allowed (similarity 0); or a graph, read
        through its directed shortest-path lengths (edge attribute ``weight``, default 1,
        must be non-negative; unreachable pairs are at distance ``inf``). Entries follow
        ``list(G.nodes)``. With ``kind="similarity"``: any square matrix Z of finite reals.
    t : float or array_like of shape (k,), optional
        Scale(s) > 0, required for ``kind="distances"`` (Z = exp(-t D) elementwise), not
        allowed for ``kind="similarity"``.
    kind : {"distances", "similarity"}, default="distances"
    rtol : float, default=1e-8
        sum(w) and sum(v) are computed separately and must agree:
        |sum(w) - sum(v)| <= rtol * max(|sum(w)|, |sum(v)|) + 16 n eps min(|w|_1, |v|_1).
        Otherwise
        `MagnitudeMismatchError` is raised.

    Returns
    -------
    float or ndarray of shape (k,)
        sum(w). A float for a scalar t and for ``kind="similarity"``.

    Raises
    ------
    InvalidInputError
        Malformed input (the message says what to fix).
    MagnitudeUndefinedError
        Z is singular and lacks a weighting or a coweighting (a
        `metric_magnitude.SingularSimilarityError`; ``scale`` names t).
    MagnitudeMismatchError
        sum(w) and sum(v) disagree beyond ``rtol``: the magnitude is too ill-conditioned.

    Warns
    -----
    IllConditionedWarning
        The (co)weighting carries few correct digits (estimated relative error > 1e-4).

    Notes
    -----
    Where Z is singular but both a weighting and a coweighting exist, the magnitude is
    still well defined and equals `\mathbf 1^T Z^+ \mathbf 1` (Z^+ the Moore–Penrose
    pseudoinverse). Repeated points (d(a, b) = d(b, a) = 0 and equal rows and columns) are
    an example: their weight is shared equally, as in `metric_magnitude.weights`.

    References
    ----------
    .. [1] T. Leinster, "The magnitude of metric spaces", Doc. Math. 18 (2013), section 1.1.
    .. [2] S. Huntsman, "Magnitude of arithmetic scalar and matrix categories",
       arXiv:2304.08334 (2023).

    Examples
    --------
    >>> import numpy as np
    >>> import networkx as nx
    >>> from metric_magnitude import asymmetric
    >>> C = nx.cycle_graph(5, create_using=nx.DiGraph)   # directed 5-cycle, homogeneous
    >>> q = np.exp(-1.0)
    >>> bool(np.isclose(asymmetric.magnitude(C, 1.0), 5 / sum(q**j for j in range(5))))
    True
    >>> asymmetric.magnitude([[2.0, 1.0], [0.0, 4.0]], kind="similarity")  # sum of Z^-1
    0.625
    """
    rtol = _check_rtol(rtol)
    M, scales, scalar, nodes = _prepare(X, t, kind)
    res = _solve_all(M, scales, nodes, need="magnitude", rtol=rtol)
    return _per_scale(res.magnitude, scalar)


def weighting(X, t=None, *, kind: str = "distances"):
    """The weighting w: Z w = 1, i.e. sum_j Z[i, j] w[j] = 1 for every i.

    Parameters
    ----------
    X, t, kind
        As in `magnitude`.

    Returns
    -------
    ndarray of shape (n,) for a scalar t or ``kind="similarity"``, else (k, n)
        Unique where Z is invertible. Where Z is singular and a weighting exists, there are
        infinitely many (w plus anything in the null space of Z): the minimum-norm one,
        Z^+ 1, is returned; it gives repeated points equal shares.

    Raises
    ------
    InvalidInputError
    MagnitudeUndefinedError
        No weighting exists (Z singular and 1 not in its range); ``scale`` names t.

    Examples
    --------
    >>> from metric_magnitude import asymmetric
    >>> asymmetric.weighting([[1.0, 0.5], [0.0, 1.0]], kind="similarity")
    array([0.5, 1. ])
    """
    M, scales, scalar, _ = _prepare(X, t, kind)
    W = _solve_all(M, scales, None, need="weighting", rtol=None).weighting
    return W[0] if scalar else W


def coweighting(X, t=None, *, kind: str = "distances"):
    """The coweighting v: v^T Z = 1^T, i.e. sum_i v[i] Z[i, j] = 1 for every j.

    The weighting of the transpose: the coweighting of distances D is the weighting of
    D^T (the reversed quasi-metric, or the reversed digraph).

    Parameters
    ----------
    X, t, kind
        As in `magnitude`.

    Returns
    -------
    ndarray of shape (n,) for a scalar t or ``kind="similarity"``, else (k, n)
        Unique where Z is invertible; otherwise the minimum-norm one, Z^{+T} 1.

    Raises
    ------
    InvalidInputError
    MagnitudeUndefinedError
        No coweighting exists; ``scale`` names t.

    Examples
    --------
    >>> from metric_magnitude import asymmetric
    >>> asymmetric.coweighting([[1.0, 0.5], [0.0, 1.0]], kind="similarity")
    array([1. , 0.5])
    """
    M, scales, scalar, _ = _prepare(X, t, kind)
    V = _solve_all(M, scales, None, need="coweighting", rtol=None).coweighting
    return V[0] if scalar else V


def distance_matrix(X) -> np.ndarray:
    """The (possibly asymmetric) distance matrix this module uses for X.

    Parameters
    ----------
    X : array_like of shape (n, n) or networkx graph
        For a graph: directed shortest-path lengths, rows and columns in the order of
        ``list(G.nodes)``, ``inf`` where unreachable.

    Returns
    -------
    ndarray of shape (n, n)

    Examples
    --------
    >>> import networkx as nx
    >>> from metric_magnitude import asymmetric
    >>> asymmetric.distance_matrix(nx.path_graph(3, create_using=nx.DiGraph))
    array([[ 0.,  1.,  2.],
           [inf,  0.,  1.],
           [inf, inf,  0.]])
    """
    if _is_graph(X):
        return _graph_distances(X)[1]
    shape = getattr(X, "shape", ())
    if len(shape) == 2 and shape[0] == shape[1]:
        check_dense_memory(shape[0], _DENSE_MATRICES, what="metric_magnitude.asymmetric")
    return _check_distances(X, "D (a distance matrix)")


def similarity_matrix(X, t=None, *, kind: str = "distances") -> np.ndarray:
    """The matrix Z whose weighting and coweighting this module computes.

    Returns
    -------
    ndarray of shape (n, n) for a scalar t or ``kind="similarity"``, else (k, n, n)
        exp(-t D) elementwise (0 where D is infinite), or the validated Z.

    Examples
    --------
    >>> from metric_magnitude import asymmetric
    >>> asymmetric.similarity_matrix([[0.0, 1.0], [float("inf"), 0.0]], 2.0)
    array([[1.        , 0.13533528],
           [0.        , 1.        ]])
    """
    M, scales, scalar, _ = _prepare(X, t, kind)
    if scales is None:
        return M
    Z = np.exp(-scales[:, None, None] * M[None])
    return Z[0] if scalar else Z
