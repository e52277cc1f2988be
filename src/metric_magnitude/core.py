"""Magnitude, weights, derivative and spread of a finite metric space."""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from ._validation import available_memory, check_dense_memory, check_scales
from .exceptions import CertificationError, InsufficientMemoryError, InvalidInputError
from .solvers import METHODS, MagnitudeResult, solve_dense
from .solvers._result import _bounds_text
from .solvers.dense import _similarity
from .spaces import DENSE_MATRICES, Metric, MetricSpace, as_space

# INFO lines per scale or batch of scales (`docs/large-n.md`, watching a long run)
_log = logging.getLogger(__name__)

__all__ = ["magnitude", "magnitude_derivative", "solve", "spread", "weights"]


# Methods besides the dense METHODS; none of them forms an n x n matrix of points.
# Certified to rtol (metric_magnitude.solvers.iterative and .sparse):
ITERATIVE_METHODS = ("cg", "sparse")
# Exact closed forms (metric_magnitude.solvers.structured); "structured" is either:
STRUCTURED_METHODS = ("structured", "line", "grid")
LARGE_N_METHODS = ITERATIVE_METHODS + STRUCTURED_METHODS

# method="auto" tries the sparse truncation at a scale only for at least this many distinct
# points, and only where a sample estimates that the truncated Z(t) keeps at most this
# fraction of its entries: the first where the dense solver is the alternative, the second
# where cg is. Measured (docs/large-n.md, "How auto chooses"): the sparse solver beats the
# dense Cholesky up to a kept fraction of about 0.3 at n = 1,000, 0.4 at 2,000, 0.45 at
# 5,000 and beyond 0.2 (6x faster there) at 10,000; it broke even with cg near 0.035 at
# n = 10,000 and 20,000 (numba kernel, before cg's float32 products; 0.1 at 5,000). Under
# 2,000 points every method takes well under 0.2 s and the dense result is exact.
_SPARSE_MIN_N = 2000
_SPARSE_MAX_DENSITY = 0.3
_SPARSE_MAX_DENSITY_VS_CG = 0.03
# ... and against cg, at most this many kept entries a row: since cg's float32 products and
# sparse-inverse preconditioner the crossover fell with n, to a kept fraction of 0.0085 at
# n = 20,000 (170 a row) and about 0.002 at 100,000 (200 a row), where the sparse solve at
# 0.019 took 2.6x cg's time and 6.1 GB (cg: about 0.5 GB). Without numba (cg on the numpy
# tiles, in float64) the sparse solver did not win either: 1.06 to 1.1x cg's time at 0.0011
# to 0.0085 and 1.3 to 2.4x at 0.03 to 0.26 (20,000 points), 1.3x and 1.4x at 0.0067 and
# 0.0023 (100,000), where the limit used to be 10% (benchmarks/study_sparse_vs_cg.py,
# docs/large-n.md "The crossovers, measured")
_SPARSE_MAX_ROW_ENTRIES_VS_CG = 200
_SPARSE_METRICS = {"euclidean", "l2", "cityblock", "manhattan", "l1"}
_DEFAULT_RTOL = 1e-8  # certified relative gap of the cg and sparse paths


def _check_method(method: str) -> None:
    if method not in METHODS and method not in LARGE_N_METHODS:
        raise InvalidInputError(
            f"unknown method {method!r}; choose one of "
            f"{', '.join(map(repr, METHODS + LARGE_N_METHODS))}"
        )


def _n_rows(space: MetricSpace) -> int:
    """Distinct rows the solvers see now (without computing distances)."""
    if space._distances is not None:
        return int(space._distances.shape[0])
    return int(space._points.shape[0])


def _dense_does_not_fit(space: MetricSpace) -> bool:
    """Points whose dense matrices (not yet computed) would not fit in memory."""
    if space._distances is not None or space._points is None:
        return False
    n = space._points.shape[0]
    return DENSE_MATRICES * 8.0 * n * n > available_memory()


def _points_metric(space: MetricSpace) -> str | None:
    """The metric's lower-case name when the space is points under a named metric."""
    if space._points is None or not isinstance(space.metric, str):
        return None
    return space.metric.lower()


def _check_output_memory(space: MetricSpace, k: int, weights: bool) -> None:
    """The k x n weights (distinct rows, then input points) must fit as well."""
    if weights:
        need = 8.0 * k * (_n_rows(space) + space.n_points)
        if need > available_memory():
            raise InsufficientMemoryError(
                f"the weights at {k} scales of {space.n_points} points need about "
                f"{need / 2**30:.1f} GiB but only {available_memory() / 2**30:.1f} GiB is "
                "available; ask for fewer scales at a time, or for the magnitude alone "
                "(mm.magnitude, or weights=False)"
            )


def _solve_structured(space, scales, method, weights, derivative) -> MagnitudeResult | None:
    """The exact closed forms for a line or an l1 lattice, or None if X is neither."""
    from .solvers.structured import _solve_structured as solve_structured

    name = _points_metric(space)
    if name is None:
        return None
    kinds = ("grid", "line") if method in ("auto", "structured") else (method,)
    return solve_structured(space._points, scales, name, weights, int(derivative), kinds)


def _structured_error(space: MetricSpace, method: str) -> InvalidInputError:
    what = {
        "line": "collinear points under the euclidean, cityblock or chebyshev metric",
        "grid": "a full rectangular lattice of points under the cityblock metric",
        "structured": "collinear points (euclidean, cityblock or chebyshev metric) or a full "
        "rectangular lattice (cityblock metric)",
    }[method]
    got = (
        "a distance matrix or a graph"
        if space._points is None
        else f"points (metric {space.metric!r}) that are not"
    )
    return InvalidInputError(
        f"method={method!r} needs {what}; X is {got}. Use method='auto', which detects "
        "them and otherwise picks a general solver (see docs/large-n.md for the collinearity "
        "and lattice tests)"
    )


def _auto_plan(space: MetricSpace, scales: np.ndarray, derivative, rtol: float) -> list:
    """The solver method="auto" uses at each scale: "dense", "sparse" or "cg"."""
    k = scales.shape[0]
    fits = not _dense_does_not_fit(space)
    if not space.known_positive_definite:
        if not fits:
            check_dense_memory(  # raises, naming how large n may be
                space._points.shape[0],
                DENSE_MATRICES,
                what=f"method='auto' with the metric {space.metric!r} (not of negative type, "
                "so only the dense solver applies)",
            )
        return ["dense"] * k
    if derivative and fits:  # the dense solvers' derivatives are exact to rounding
        return ["dense"] * k
    plan = ["dense" if fits else "cg"] * k
    name = _points_metric(space)
    n = _n_rows(space)
    if name in _SPARSE_METRICS and n >= _SPARSE_MIN_N:
        from .solvers.sparse import _Planner

        planner = _Planner(space._points, name)
        budget = 0.8 * available_memory()
        if fits:
            max_density = _SPARSE_MAX_DENSITY
        else:
            max_density = min(_SPARSE_MAX_DENSITY_VS_CG, _SPARSE_MAX_ROW_ENTRIES_VS_CG / n)
        # fewer entries are kept at larger scales: stop at the first scale (going down) that
        # is too dense or too large
        for i in np.argsort(-scales, kind="stable"):
            density, need = planner.estimate(float(scales[i]), rtol)
            if density > max_density or need > budget:
                break
            plan[i] = "sparse"
    return plan


def _solve_cg(space: MetricSpace, scales: np.ndarray, rtol, weights: bool,
              derivative: bool = False, client=None) -> MagnitudeResult:
    from .solvers.iterative import solve_iterative

    res = solve_iterative(space, scales, rtol=_DEFAULT_RTOL if rtol is None else rtol,
                          weights=weights, derivative=derivative, client=client)
    k = scales.shape[0]
    return MagnitudeResult(
        scales,
        res.magnitude,
        res.magnitude - 1.0,
        res._space_weights,
        res.derivative,
        ("cg",) * k,
        res.rcond_bound,
        np.ones(k, dtype=bool),
        res.gap,
        res.derivative_error,
    )


def _sparse_derivative(space: MetricSpace, t: float, res, rtol: float) -> tuple[float, float]:
    """d|tX|/dt from the sparse solver's weights, by one matrix-free product (its far field
    truncated as a cg solve to ``rtol`` truncates it: at the large scales where the sparse
    solver runs, most pairs)."""
    from .solvers.iterative import SimilarityOperator, _derivative_from_weights

    # built once per space (the k-d partition of the points), again if its rows changed
    cached = getattr(space, "_derivative_operator", None)
    if cached is None or cached[0] is not space._points:
        cached = (space._points, SimilarityOperator(space._points, metric=space.metric))
        space._derivative_operator = cached
    return _derivative_from_weights(cached[1], t, res.weights, res.weights_error, rtol)


def _solve_sparse_scale(space: MetricSpace, t: float, rtol: float, weights: bool):
    """One scale by the truncated sparse solver; CertificationError when rtol is not met."""
    from .exceptions import BoundNotCertifiedWarning
    from .solvers.sparse import sparse_solve

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BoundNotCertifiedWarning)  # raised below instead
        res = sparse_solve(space._points, t, metric=space.metric, rtol=rtol, weights=weights)
    if not res.certified:
        why = (
            "no positive lower bound on lambda_min(Z(t)) could be established"
            if not np.isfinite(res.upper)
            else f"the certified relative error is {res.bound:.1e}"
        )
        raise CertificationError(
            f"magnitude at t = {t!r} not certified to rtol = {rtol:g} by the sparse "
            f"method: {why}. Best certified bounds: {res.lower!r} <= |tX| <= {res.upper!r} "
            f"(estimate {res.magnitude!r}); use method='cg' or a dense method, or a larger "
            "rtol",
            scale=t,
            lower=res.lower,
            upper=res.upper,
            estimate=res.magnitude,
            iterations=res.iterations,
            reason="no_eigenvalue_bound" if not np.isfinite(res.upper) else "sparse_bound",
        )
    return res


def _remap_rows(W: np.ndarray, old_inverse: np.ndarray, new_inverse: np.ndarray, m: int):
    """Weights of old distinct rows -> rows after the dense path merged some of them.

    The dense path merges rows whose computed distance is at rounding level (4 eps times the
    diameter); a merged row's weight is the sum of its members', as the weighting of a
    pseudometric space would have it.
    """
    first = np.zeros(W.shape[-1], dtype=np.int64)
    first[old_inverse] = np.arange(old_inverse.shape[0])  # an input row of each old row
    target = new_inverse[first]
    out = np.zeros((*W.shape[:-1], m))
    np.add.at(out, (..., target), W)
    return out


def _run_plan(space, scales, plan, dense_method, weights, derivative, rtol, auto,
              client=None):
    """Solve each scale by the method of ``plan`` and put the results together in order."""
    k = scales.shape[0]
    mag = np.empty(k)
    mag1 = np.empty(k)
    rcond = np.empty(k)
    pd = np.ones(k, dtype=bool)
    used = [""] * k
    deriv = None
    gap = np.full(k, np.nan)  # certified relative error of the iterative scales
    derr = np.full(k, np.nan) if derivative else None
    rows: dict[int, np.ndarray] = {}  # scale index -> weights of the distinct rows

    def run_dense(idx):
        return solve_dense(
            space.distances,  # the n x n matrix: only on this path
            scales[idx],
            method=dense_method,
            weights=weights,
            derivative=derivative,
            known_positive_definite=space.known_positive_definite,
            has_infinite_distances=space.has_infinite_distances,
        )

    def put_derivative(idx, values):
        nonlocal deriv
        if values is not None:
            values = np.asarray(values)
            if deriv is None:
                deriv = np.full((k, *values.shape[1:]), np.nan)
            deriv[idx] = values

    def store(idx, res):
        mag[idx], mag1[idx], rcond[idx] = res.magnitude, res.magnitude_minus_one, res.rcond
        pd[idx] = res.positive_definite
        put_derivative(idx, res.derivative)
        if res.error_bound is not None:
            gap[idx] = res.error_bound
        if res.derivative_error is not None:
            derr[idx] = res.derivative_error
        for j, i in enumerate(idx):
            used[i] = res.methods[j]
            if weights:
                rows[i] = res.weights[j]

    dense = [i for i in range(k) if plan[i] == "dense"]
    if dense:  # first: computing the distances may merge rows, which the others then use
        started = time.perf_counter()
        store(dense, run_dense(dense))
        _log.info("dense: %d scale(s) of %d points by %s, %.1f s", len(dense),
                  space.n_distinct, ", ".join(sorted({used[i] for i in dense})),
                  time.perf_counter() - started)
    later_dense, cg = [], [i for i in range(k) if plan[i] == "cg"]
    fits = not _dense_does_not_fit(space)
    for i in (i for i in range(k) if plan[i] == "sparse"):
        t = float(scales[i])
        started = time.perf_counter()
        try:
            res = _solve_sparse_scale(space, t, rtol, weights or derivative)
        except (CertificationError, InvalidInputError) as exc:
            # auto: the bounds were too weak, or the sample's estimate was off (after the
            # fact, SparseTooDenseError or InsufficientMemoryError): the next method in line
            if not auto:
                raise
            (later_dense if fits else cg).append(i)
            _log.info("sparse: t = %.6g not solved (%s), %.1f s; %s next", t,
                      type(exc).__name__, time.perf_counter() - started,
                      "dense" if fits else "cg")
            continue
        _log.info("sparse: t = %.6g, %s, %.1f s", t,
                  _bounds_text(res.lower, res.upper, True), time.perf_counter() - started)
        mag[i], mag1[i] = res.magnitude, res.magnitude - 1.0
        rcond[i], used[i], gap[i] = res.rcond_bound, "sparse", res.bound
        if derivative:
            value, derr[i] = _sparse_derivative(space, t, res, rtol)
            put_derivative([i], [value])
        if weights:
            rows[i] = res.weights
    if later_dense:
        before = space._inverse
        m_before = _n_rows(space)
        store(later_dense, run_dense(later_dense))
        if weights and _n_rows(space) != m_before:
            for i in rows.keys() - set(later_dense):
                rows[i] = _remap_rows(rows[i], before, space._inverse, _n_rows(space))
    if cg:
        cg = sorted(cg)
        store(cg, _solve_cg(space, scales[cg], rtol, weights, derivative, client))
    W = np.stack([rows[i] for i in range(k)]) if weights else None
    return MagnitudeResult(scales, mag, mag1, W, deriv, tuple(used), rcond, pd, gap, derr)


def _expand_weights(space: MetricSpace, res: MagnitudeResult) -> np.ndarray:
    if space._distances is None:
        # no path computed distances: expand over the merged copies only (MetricSpace's
        # own expansion would compute the n x n distances to find them)
        inverse = space._inverse
        return (res.weights / np.bincount(inverse))[..., inverse]
    return space.expand_weights(res.weights)


def solve(
    X,
    t,
    *,
    metric: Metric = "euclidean",
    method: str = "auto",
    weights: bool = True,
    derivative: bool = False,
    rtol: float | None = None,
    client=None,
) -> tuple[MetricSpace, MagnitudeResult]:
    """Solve the weighting equation at one or more scales and return everything.

    The lower-level entry point behind `magnitude`, `weights` and
    `magnitude_derivative`: it returns the `MetricSpace` (with the merged
    duplicates) and a `MagnitudeResult` with the solver used at each scale
    (``res.methods``) and its condition estimate.

    ``method="auto"`` chooses, cheapest first (measured crossovers in ``docs/large-n.md``):

    1. ``"line"`` / ``"grid"``: points (not a distance matrix) that are certified collinear
       under the euclidean, cityblock or chebyshev metric, or that form a full rectangular
       lattice under the cityblock metric, at any n: exact closed forms in O(n log n)
       (`metric_magnitude.solvers.structured`), derivatives included.
    2. ``"sparse"``, per scale: points under the euclidean or cityblock metric, at least
       2,000 of them, at a scale where a sample of 200 points estimates that the truncated
       Z(t) keeps at most 30% of its entries (where the dense matrices would not fit, so
       that cg is the alternative: 3% and at most 200 entries a row) and fits in memory
       (`metric_magnitude.solvers.sparse.sparse_solve`: certified to ``rtol``).
    3. the dense solvers (``"cholesky"``, ``"small_t"``, ``"ldl"``, see `magnitude`) where
       their n x n matrices fit in memory;
    4. ``"cg"`` (matrix-free conjugate gradients with certified bounds,
       `metric_magnitude.solvers.iterative.solve_iterative`) for points of a negative-type
       metric whose dense matrices would not fit.

    A sparse scale that cannot be certified after all goes on to 3 or 4. With
    ``derivative=True``, ``"auto"`` prefers 3 wherever it fits (exact derivatives); on the
    ``"cg"`` and ``"sparse"`` paths the first derivative w^T (D o Z) w comes from the
    computed weights by one more matrix-free product, with a bound on its error from the
    weights' certified error (``res.derivative_error``). The dense and structured results
    are exact to rounding; on the ``"cg"`` and ``"sparse"`` paths ``rtol`` (default 1e-8) is
    the relative gap certified at every scale (``res.error_bound``), else
    `CertificationError` is raised with the best bounds found. Every path estimates its
    memory before allocating and raises `InsufficientMemoryError` when it would not fit. No
    path but the dense one forms an n x n matrix.

    ``client`` (a ``dask.distributed.Client``) computes the products of the scales solved
    by ``"cg"`` on that cluster's workers (``docs/guide-distributed.md``); the other paths
    ignore it.

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> space, res = mm.solve([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]], [1e-9, 1.0],
    ...                       derivative=True)
    >>> res.methods
    ('small_t', 'cholesky')
    >>> space, res = mm.solve([[0.0], [1.0]], 1e-9)   # a line: the closed form
    >>> res.methods, float(res.magnitude_minus_one[0])   # tanh(1e-9 / 2), no cancellation
    (('line',), 5e-10)
    >>> X = np.random.default_rng(0).standard_normal((2000, 2))
    >>> space, res = mm.solve(X, [0.5, 300.0], weights=False)   # |tX| close to n at t = 300
    >>> res.methods
    ('cholesky', 'sparse')
    """
    _check_method(method)
    scales, _ = check_scales(t)
    if rtol is not None:
        from .solvers.iterative import _check_rtol

        rtol = _check_rtol(rtol)
    space = as_space(X, metric)
    try:
        return space, _dispatch(space, scales, method, weights, derivative, rtol, client)
    except MemoryError as exc:  # an estimate before an allocation was too optimistic
        raise InsufficientMemoryError(
            f"ran out of memory solving for {space.n_points} points at {scales.shape[0]} "
            f"scale(s) with method={method!r}; subsample the data, ask for fewer scales at a "
            "time, or use a machine with more memory"
        ) from exc


def _dispatch(space, scales, method, weights, derivative, rtol, client=None) -> MagnitudeResult:
    _check_output_memory(space, scales.shape[0], weights)
    if method in STRUCTURED_METHODS or method == "auto":
        res = _solve_structured(space, scales, method, weights, derivative)
        if res is not None:
            return res
        if method != "auto":
            raise _structured_error(space, method)
    if method == "sparse" and _points_metric(space) not in _SPARSE_METRICS:
        got = "a distance matrix or a graph" if space._points is None else repr(space.metric)
        raise InvalidInputError(
            f"method='sparse' needs points under the euclidean or cityblock metric (got "
            f"{got}); use method='cg' or a dense method"
        )
    certified_rtol = _DEFAULT_RTOL if rtol is None else rtol
    k = scales.shape[0]
    if method == "auto":
        plan = _auto_plan(space, scales, derivative, certified_rtol)
    elif method in ITERATIVE_METHODS:
        plan = [method] * k
    else:
        plan = ["dense"] * k
    if derivative > 1 and ("cg" in plan or "sparse" in plan):
        raise InvalidInputError(
            f"the iterative methods ('cg', 'sparse') compute the first derivative only "
            f"(derivative={derivative!r}); use a dense method for higher ones, on a space "
            "whose dense matrices fit in memory"
        )
    if plan == ["cg"] * k:
        return _solve_cg(space, scales, rtol, weights, derivative, client)
    dense_method = method if method in METHODS else "auto"
    return _run_plan(space, scales, plan, dense_method, weights, derivative, certified_rtol,
                     method == "auto", client)


def _per_scale(values: np.ndarray, scalar: bool):
    return float(values[0]) if scalar else values


def magnitude(X, t, *, metric: Metric = "euclidean", method: str = "auto",
              rtol: float | None = None, client=None):
    r"""Magnitude `|tX| = \mathbf 1^T Z(t)^{-1} \mathbf 1` with `Z(t) = e^{-tD}`.

    Parameters
    ----------
    X : array_like of shape (n, d), (n, n), networkx.Graph or MetricSpace
        Points (rows), a distance matrix with ``metric="precomputed"``, an undirected graph
        (shortest-path metric, edge attribute ``weight``) or a `MetricSpace`.
        Repeated points are merged: the result is the magnitude of the distinct points.
    t : float or array_like of shape (k,)
        Scale(s), finite and > 0. An array computes the distances once.
    metric : str or callable, default="euclidean"
        A `scipy.spatial.distance.cdist` metric name, a callable, or
        ``"precomputed"``.
    method : str, default="auto"
        One of ``"auto"``, ``"cholesky"``, ``"small_t"``, ``"ldl"`` (dense), ``"line"``,
        ``"grid"``, ``"structured"`` (closed forms), ``"sparse"``, ``"cg"`` (certified).
        ``"auto"`` picks per scale (the rule is in `solve` and ``docs/large-n.md``): the exact
        closed forms for points on a line or an l1 lattice (``"line"``, ``"grid"``; any n,
        O(n log n)); the truncated sparse solver (``"sparse"``) for 2,000 points or more at
        large scales, where Z(t) is nearly diagonal; else one dense Cholesky factorisation
        per scale: of Z(t), or where |tX| may be below 2 (spread < 2) of the small-t form
        (PRIMER section 4), which keeps |tX| - 1 and the weights accurate as t -> 0. A space
        whose Z(t) is not positive definite gets LDL^T solves and a
        `NotPositiveDefiniteWarning`. For points whose dense matrices would not fit in
        memory, ``"auto"`` uses ``"cg"``: matrix-free preconditioned conjugate gradients
        that never form Z(t). ``"sparse"`` and ``"cg"`` stop once
        ``upper - lower <= rtol * lower`` is certified for bounds
        ``lower <= |tX| <= upper`` (``docs/large-n.md``). ``"structured"`` is ``"line"`` or
        ``"grid"``, whichever applies.
    rtol : float, optional
        Relative gap ``(upper - lower) / lower`` to certify on the ``"sparse"`` and ``"cg"``
        paths (default 1e-8). The dense and structured methods are exact to rounding (about
        1e-12 relative, ``docs/accuracy.md``): there ``rtol`` is only checked to be in
        (0, 1).
    client : dask.distributed.Client, optional
        Compute the products of the ``"cg"`` path on this Dask cluster's workers (points
        under a named metric only; ``docs/guide-distributed.md``). Other paths ignore it.

    Returns
    -------
    float or ndarray of shape (k,)
        A float for a scalar ``t``, else one value per scale.

    Raises
    ------
    InvalidInputError
        Malformed input (the message says what to fix).
    SingularSimilarityError
        Z(t) is singular at a requested scale (the message names the scale).
    InsufficientMemoryError
        The chosen solver would not fit in the available memory (every path estimates its
        memory before allocating).
    CertificationError
        ``method="cg"`` or ``"sparse"`` (or ``"auto"`` where it chose ``"cg"``): the
        tolerance could not be certified (not positive definite, maxiter, below the rounding
        floor); the error carries the best bounds found (``lower``, ``upper``).

    Notes
    -----
    Accuracy (measured against 40-digit mpmath, see ``docs/accuracy.md``): relative error
    of |tX| below 1e-12 and of |tX| - 1 below 1e-10 for t >= 1e-8.

    References
    ----------
    .. [1] T. Leinster, "The magnitude of metric spaces", Doc. Math. 18 (2013).

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> mm.magnitude([[0.0], [1.0]], 1.0)   # two points: 2 / (1 + e^-1)
    1.462117157260...
    >>> mm.magnitude([[0.0], [1.0], [3.0]], [0.5, 2.0])  # 1 + tanh(t/2) + tanh(t)
    array([1.70703582, 2.72562174])
    """
    scalar = check_scales(t)[1]
    _, res = solve(X, t, metric=metric, method=method, weights=False, rtol=rtol,
                   client=client)
    return _per_scale(res.magnitude, scalar)


def weights(X, t, *, metric: Metric = "euclidean", method: str = "auto",
            rtol: float | None = None, client=None):
    """The weighting w with Z(t) w = 1, one weight per input point.

    Copies of a repeated point share its weight equally.

    Parameters
    ----------
    X, t, metric, method, rtol, client
        As in `magnitude`. On the ``"cg"`` and ``"sparse"`` paths ``rtol`` certifies |tX|;
        the 2-norm error of the weights is bounded separately (``weight_error`` of
        `metric_magnitude.solvers.iterative.solve_iterative`, ``weights_error`` of
        `metric_magnitude.solvers.sparse.sparse_solve`).

    Returns
    -------
    ndarray of shape (n,) for a scalar ``t``, else (k, n)
        For a graph, entries follow ``list(G.nodes)``.

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> mm.weights([[0.0], [1.0], [1.0]], 1.0)   # the copy of 1.0 shares its weight
    array([0.73105858, 0.36552929, 0.36552929])
    """
    scalar = check_scales(t)[1]
    space, res = solve(X, t, metric=metric, method=method, weights=True, rtol=rtol,
                       client=client)
    W = _expand_weights(space, res)
    return W[0] if scalar else W


def magnitude_derivative(X, t, *, metric: Metric = "euclidean", method: str = "auto",
                         rtol: float | None = None):
    r"""Exact derivative `\frac{d}{dt}|tX| = w^T (D \circ Z) w`.

    Differentiating `Z w = \mathbf 1` gives `Z w' = (D \circ Z) w`, hence
    `\frac{d}{dt} \mathbf 1^T w = w^T (D \circ Z) w`: one matrix-vector product on top
    of the solve, no finite differences.

    Parameters
    ----------
    X, t, metric, method
        As in `magnitude`. The dense and structured (``"line"``, ``"grid"``) methods give
        the derivative exact to rounding, and ``"auto"`` uses them wherever they fit. For
        points whose dense matrices do not fit, ``"auto"`` (or ``"cg"``, ``"sparse"``)
        computes it from the weights certified to ``rtol`` by one more matrix-free product;
        `solve` reports a bound on its error (``derivative_error``).
    rtol : float, optional
        As in `magnitude` (the ``"cg"`` and ``"sparse"`` paths only).

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> import numpy as np
    >>> d = mm.magnitude_derivative([[0.0], [2.0]], 0.5)   # d/dt (1 + tanh(t))
    >>> bool(np.isclose(d, 1 / np.cosh(0.5) ** 2))
    True
    """
    scalar = check_scales(t)[1]
    _, res = solve(X, t, metric=metric, method=method, weights=False, derivative=True,
                   rtol=rtol)
    return _per_scale(res.derivative, scalar)


def spread(X, t, *, metric: Metric = "euclidean"):
    r"""Willerton's spread `E(tX) = \sum_i 1 / \sum_j e^{-t d_{ij}}`.

    O(n^2) and no linear solve: a cheap companion of magnitude. It equals the magnitude
    on homogeneous spaces (all rows of D permutations of each other) and is bounded by it
    for Euclidean point sets. Like magnitude, it is computed on the distinct points, so a
    repeated point counts once.

    Parameters
    ----------
    X, t, metric
        As in `magnitude`.

    Returns
    -------
    float or ndarray of shape (k,)

    References
    ----------
    .. [1] S. Willerton, "Spread: a measure of the size of metric spaces",
       Int. J. Comput. Geom. Appl. 25 (2015).

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> mm.spread([[0.0], [1.0]], 1.0)   # two points: 2 / (1 + e^-1), as magnitude
    1.462117157260...
    """
    scales, scalar = check_scales(t)
    D = as_space(X, metric).distances
    out = np.empty(scales.shape[0])
    buf = np.empty_like(D)
    for i, s in enumerate(scales):
        Z = _similarity(D, float(s), buf)
        out[i] = float(np.sum(1.0 / Z.sum(axis=1)))
    return _per_scale(out, scalar)
