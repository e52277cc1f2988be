"""Magnitude, weights, derivative and spread of a finite metric space."""

from __future__ import annotations

import numpy as np

from ._validation import available_memory, check_scales
from .exceptions import InvalidInputError
from .solvers import METHODS, MagnitudeResult, solve_dense
from .solvers.dense import _similarity
from .spaces import DENSE_MATRICES, Metric, MetricSpace, as_space

__all__ = ["magnitude", "magnitude_derivative", "solve", "spread", "weights"]


# matrix-free methods (metric_magnitude.solvers.iterative), besides the dense METHODS
ITERATIVE_METHODS = ("cg",)


def _check_method(method: str) -> None:
    if method not in METHODS and method not in ITERATIVE_METHODS:
        raise InvalidInputError(
            f"unknown method {method!r}; choose one of "
            f"{', '.join(map(repr, METHODS + ITERATIVE_METHODS))}"
        )


def _dense_does_not_fit(space: MetricSpace) -> bool:
    """Points whose dense matrices (not yet computed) would not fit in memory."""
    if space._distances is not None or space._points is None:
        return False
    n = space._points.shape[0]
    return DENSE_MATRICES * 8.0 * n * n > available_memory()


def _solve_cg(space: MetricSpace, scales: np.ndarray, rtol, weights: bool) -> MagnitudeResult:
    from .solvers.iterative import solve_iterative

    res = solve_iterative(space, scales, rtol=1e-8 if rtol is None else rtol, weights=weights)
    k = scales.shape[0]
    return MagnitudeResult(
        scales,
        res.magnitude,
        res.magnitude - 1.0,
        res._space_weights,
        None,
        ("cg",) * k,
        res.rcond_bound,
        np.ones(k, dtype=bool),
    )


def _expand_weights(space: MetricSpace, res: MagnitudeResult) -> np.ndarray:
    if "cg" in res.methods and space._distances is None:
        # the matrix-free path never computed distances: expand over the merged copies only
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
) -> tuple[MetricSpace, MagnitudeResult]:
    """Solve the weighting equation at one or more scales and return everything.

    The lower-level entry point behind `magnitude`, `weights` and
    `magnitude_derivative`: it returns the `MetricSpace` (with the merged
    duplicates) and a `MagnitudeResult` with the solver used at each scale and its
    condition estimate.

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> space, res = mm.solve([[0.0], [1.0]], [1e-9, 1.0], derivative=True)
    >>> res.methods
    ('small_t', 'small_t')
    >>> float(res.magnitude_minus_one[0])   # tanh(1e-9 / 2), no cancellation
    5e-10

    With ``method="cg"`` (matrix-free conjugate gradients with certified bounds on |tX|,
    `metric_magnitude.solvers.iterative.solve_iterative`), ``rtol`` is the relative
    gap certified at every scale (default 1e-8); derivatives are not available there.
    ``method="auto"`` switches to ``"cg"`` for points (of a negative-type metric) whose dense
    matrices would not fit in memory, and ``res.methods`` says so.
    """
    _check_method(method)
    scales, _ = check_scales(t)
    space = as_space(X, metric)
    if method == "auto" and not derivative and space.known_positive_definite:
        if _dense_does_not_fit(space):
            method = "cg"
    if method == "cg":
        if derivative:
            raise InvalidInputError(
                "method='cg' does not compute derivatives; use method='auto' or 'cholesky'"
            )
        return space, _solve_cg(space, scales, rtol, weights)
    if rtol is not None:
        from .solvers.iterative import _check_rtol

        _check_rtol(rtol)  # the dense methods are exact to rounding (about 1e-12)
    res = solve_dense(
        space.distances,
        scales,
        method=method,
        weights=weights,
        derivative=derivative,
        known_positive_definite=space.known_positive_definite,
        has_infinite_distances=space.has_infinite_distances,
    )
    return space, res


def _per_scale(values: np.ndarray, scalar: bool):
    return float(values[0]) if scalar else values


def magnitude(X, t, *, metric: Metric = "euclidean", method: str = "auto",
              rtol: float | None = None):
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
    method : {"auto", "cholesky", "small_t", "ldl", "cg"}, default="auto"
        ``"auto"`` makes one Cholesky factorisation per scale: of Z(t), or where
        |tX| may be below 2 (spread < 2) of the small-t form (PRIMER section 4), which keeps
        |tX| - 1 and the weights accurate as t -> 0. A space whose Z(t) is not positive
        definite gets LDL^T solves and a `NotPositiveDefiniteWarning`. For points
        whose dense matrices would not fit in memory, ``"auto"`` uses ``"cg"``:
        matrix-free preconditioned conjugate gradients that never form Z(t) and stop once
        ``upper - lower <= rtol * lower`` is certified for bounds ``lower <= |tX| <= upper``
        (``docs/large-n.md``).
    rtol : float, optional
        Relative gap ``(upper - lower) / lower`` to certify on the ``"cg"`` path (default
        1e-8). The dense methods are exact to rounding (about 1e-12 relative,
        ``docs/accuracy.md``): there ``rtol`` is only checked to be in (0, 1).

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
        The dense matrices would not fit in available memory.
    CertificationError
        ``method="cg"``: the tolerance could not be certified (not positive definite,
        maxiter, below the rounding floor); the error carries the best bounds found.

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
    _, res = solve(X, t, metric=metric, method=method, weights=False, rtol=rtol)
    return _per_scale(res.magnitude, scalar)


def weights(X, t, *, metric: Metric = "euclidean", method: str = "auto",
            rtol: float | None = None):
    """The weighting w with Z(t) w = 1, one weight per input point.

    Copies of a repeated point share its weight equally.

    Parameters
    ----------
    X, t, metric, method, rtol
        As in `magnitude`. On the ``"cg"`` path ``rtol`` certifies |tX|; the 2-norm
        error of the weights is at most ``||1 - Z w|| / lambda`` (see
        `metric_magnitude.solvers.iterative.solve_iterative`, ``weight_error``).

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
    space, res = solve(X, t, metric=metric, method=method, weights=True, rtol=rtol)
    W = _expand_weights(space, res)
    return W[0] if scalar else W


def magnitude_derivative(X, t, *, metric: Metric = "euclidean", method: str = "auto"):
    r"""Exact derivative `\frac{d}{dt}|tX| = w^T (D \circ Z) w`.

    Differentiating `Z w = \mathbf 1` gives `Z w' = (D \circ Z) w`, hence
    `\frac{d}{dt} \mathbf 1^T w = w^T (D \circ Z) w`: one matrix-vector product on top
    of the solve, no finite differences.

    Parameters
    ----------
    X, t, metric, method
        As in `magnitude`.

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
    _, res = solve(X, t, metric=metric, method=method, weights=False, derivative=True)
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
