"""Approximate weights for scoring at scale: local nearest-neighbour systems, or a few CG steps.

The exact weighting w (Z(t) w = 1) costs a dense solve (n^3 / 3) or a certified matrix-free
CG (``method="cg"`` of `metric_magnitude.weights`). For scoring (outliers, boundaries), where
only the ranking of the weights matters, two cheaper approximations:

* ``"nearest_neighbour"``: for each point x_i, the (k+1) x (k+1) system of x_i and its k
  nearest neighbours N_i, Z_S(t) u = 1 with S = {x_i} u N_i, and w_i ~ u_i, x_i's own entry.
  Cost O(n k^3) after a k-d tree query; memory O(n k). It rests on the weighting being local:
  Bunch, Kline, Dickinson, Bhat and Fung, "Weighting vectors for machine learning: numerical
  harmonic analysis applied to boundary detection" (2021), show that under mild assumptions the
  weighting can be approximated in linear time from nearest neighbours. The exact procedure of
  the paper was not available to us; this module's local system is our own reading of that idea.
  It is exact for k = n - 1 and as t -> infinity (all weights -> 1), and accurate when
  t r_k >> 1, r_k the distance to the k-th neighbour: the scales where |tX| is a sizeable
  fraction of n, those used for scoring. At small t (|tX| close to 1) the weighting is global
  and the local systems say nothing useful.
* ``"cg"``: ``iterations`` steps of preconditioned conjugate gradients on Z(t) w = 1 with the
  matrix-free products and the preconditioner of `metric_magnitude.solvers.iterative`
  (randomly pivoted Cholesky plus block Jacobi over k-d leaves), from w = 0, and no
  certificate. Cost: ``iterations`` products, O(n^2) each, memory O(n * leaf).

For either, ``weights.sum()`` estimates |tX|; after CG from zero it is a lower bound (Gauss
quadrature) for spaces of negative type. The measured errors against exact weights are in
``docs/guide-approximate.md`` (``benchmarks/bench_approximate.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ._validation import check_points, check_scales
from .exceptions import InvalidInputError, SingularSimilarityError

__all__ = ["APPROXIMATIONS", "approximate_weights"]

APPROXIMATIONS = ("nearest_neighbour", "cg")
_ALIASES = {"nearest_neighbor": "nearest_neighbour", "nn": "nearest_neighbour"}
_P = {"euclidean": 2.0, "cityblock": 1.0, "chebyshev": np.inf}
_DEFAULT_K = 50
_DEFAULT_ITERATIONS = 10
_CHUNK_ENTRIES = 1 << 21  # entries of the local distance matrices held at once (16 MiB)


def approximate_weights(
    X,
    t,
    *,
    metric: str = "euclidean",
    method: str = "nearest_neighbour",
    k: int | None = None,
    iterations: int | None = None,
    preconditioner: str = "auto",
    kernel: str = "auto",
    seed: int = 0,
) -> np.ndarray:
    """Approximate weights of the points of X at scale t, never forming the n x n matrix.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points. Copies (and points closer than 4 eps * diameter) are merged and share their
        weight equally, as in `metric_magnitude.weights`.
    t : float or array_like of shape (s,)
        Scale(s) > 0.
    metric : {"euclidean", "cityblock", "chebyshev"}, default="euclidean"
        Also ``"l2"``, ``"manhattan"``, ``"l1"``.
    method : {"nearest_neighbour", "cg"}, default="nearest_neighbour"
        ``"nearest_neighbour"`` (also ``"nearest_neighbor"``): each point's own entry of the
        weighting of itself and its k nearest neighbours. ``"cg"``: ``iterations`` steps of
        preconditioned CG from zero, no certificate. See the module docstring.
    k : int, optional
        Neighbours per point (``"nearest_neighbour"`` only), 1 <= k <= n - 1; default
        ``min(50, n - 1)``. Capped at the number of distinct points minus one.
    iterations : int, optional
        CG steps (``"cg"`` only), >= 1; default 10.
    preconditioner : str, default="auto"
        ``"cg"`` only: as in `metric_magnitude.solvers.iterative.solve_iterative`.
    kernel : {"auto", "numpy", "numba"}, default="auto"
        ``"cg"`` only: how products are computed
        (`metric_magnitude.solvers.iterative.SimilarityOperator`).
    seed : int, default=0
        ``"cg"`` only: seed of the preconditioner's random pivots.

    Returns
    -------
    ndarray of shape (n,) for a scalar ``t``, else (s, n)
        Approximate weights in the input order; their sum estimates |tX|.

    Raises
    ------
    InvalidInputError
        Bad points, scales, metric, method, k or iterations (the message says which).
    SingularSimilarityError
        A local system is singular (possible only for metrics not of negative type).

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> X = np.random.default_rng(0).standard_normal((400, 2))
    >>> w = mm.approximate_weights(X, 10.0, k=40)
    >>> exact = mm.weights(X, 10.0)
    >>> bool(np.linalg.norm(w - exact) < 0.05 * np.linalg.norm(exact))
    True
    >>> w_all = mm.approximate_weights(X, 10.0, k=399)   # k = n - 1: the exact weights
    >>> bool(np.allclose(w_all, exact, rtol=1e-9, atol=0))
    True
    """
    from .solvers.iterative import _canonical_metric, _merge_close_points

    P = check_points(X)
    scales, scalar = check_scales(t)
    n = P.shape[0]
    if not isinstance(metric, str) or _canonical_metric(metric) not in _P:
        raise InvalidInputError(
            f"approximate_weights supports metric 'euclidean', 'cityblock' or 'chebyshev' "
            f"(k-d tree neighbours), got {metric!r}; for other metrics use mm.weights"
        )
    metric = _canonical_metric(metric)
    if not isinstance(method, str) or _ALIASES.get(method, method) not in APPROXIMATIONS:
        raise InvalidInputError(
            f"unknown method {method!r}; choose one of {', '.join(map(repr, APPROXIMATIONS))}"
        )
    method = _ALIASES.get(method, method)
    if method == "nearest_neighbour":
        if iterations is not None:
            raise InvalidInputError("iterations applies to method='cg' only; give k instead")
        k = _check_count(k, "k", default=min(_DEFAULT_K, n - 1), low=1, high=n - 1)
    else:
        if k is not None:
            raise InvalidInputError("k applies to method='nearest_neighbour' only; give "
                                    "iterations instead")
        iterations = _check_count(iterations, "iterations", default=_DEFAULT_ITERATIONS,
                                  low=1, high=None)

    first, group = _merge_close_points(P, metric)
    Q = P[first]
    if Q.shape[0] == 1:
        W = np.ones((scales.shape[0], 1))
    elif method == "nearest_neighbour":
        W = _local_weights(Q, scales, metric, min(k, Q.shape[0] - 1))
    else:
        W = _cg_weights(Q, scales, metric, iterations, preconditioner, kernel, seed)
    count = np.bincount(group, minlength=Q.shape[0])
    W = W[:, group] / count[group]  # copies share their point's weight
    return W[0] if scalar else W


def _check_count(value, name: str, *, default: int, low: int, high: int | None) -> int:
    if value is None:
        return default  # (k = 0 for a single point, which needs no neighbours)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low:
        raise InvalidInputError(f"{name} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise InvalidInputError(
            f"{name} must be at most n - 1 = {high} (the other points), got {value}"
        )
    return value


def _local_distances(C: np.ndarray, metric: str) -> np.ndarray:
    """Distances within each set: C of shape (B, m, d) -> (B, m, m), one coordinate at a time
    (the order cdist sums them in), without a (B, m, m, d) temporary."""
    out = np.zeros((C.shape[0], C.shape[1], C.shape[1]))
    for j in range(C.shape[2]):
        diff = C[:, :, None, j] - C[:, None, :, j]
        if metric == "euclidean":
            out += diff * diff
        elif metric == "cityblock":
            out += np.abs(diff)
        else:
            np.maximum(out, np.abs(diff), out=out)
    if metric == "euclidean":
        np.sqrt(out, out=out)
    return out


def _local_weights(Q: np.ndarray, scales: np.ndarray, metric: str, k: int) -> np.ndarray:
    """Own entry of the weighting of each point and its k nearest neighbours."""
    n = Q.shape[0]
    _, idx = cKDTree(Q).query(Q, k=k + 1, p=_P[metric])
    idx = np.asarray(idx).reshape(n, k + 1)
    # the point itself first (it is its own nearest neighbour: copies were merged)
    own = idx == np.arange(n)[:, None]
    missing = ~own.any(axis=1)
    if missing.any():  # pragma: no cover - only with exact ties at distance 0
        idx[missing, -1] = np.flatnonzero(missing)
        own = idx == np.arange(n)[:, None]
    pos = np.argmax(own, axis=1)
    idx[np.arange(n), pos] = idx[:, 0]
    idx[:, 0] = np.arange(n)
    from .solvers.iterative import _BlasOneThread

    W = np.empty((scales.shape[0], n))
    step = max(1, _CHUNK_ENTRIES // (k + 1) ** 2)
    ones = np.ones((1, k + 1, 1))
    with _BlasOneThread():  # many small solves: threaded BLAS only stalls (100x, measured)
        _solve_local(Q, idx, scales, metric, k, step, ones, W)
    return W


def _solve_local(Q, idx, scales, metric, k, step, ones, W) -> None:
    n = Q.shape[0]
    for a in range(0, n, step):
        b = min(n, a + step)
        D = _local_distances(Q[idx[a:b]], metric)
        for s, t in enumerate(scales):
            Z = np.exp(-t * D)
            try:
                u = np.linalg.solve(Z, np.broadcast_to(ones, (b - a, k + 1, 1)))
            except np.linalg.LinAlgError as exc:
                raise SingularSimilarityError(
                    f"a local similarity matrix (a point and its {k} nearest neighbours) is "
                    f"singular at t = {float(t)!r}; the metric is not of negative type there: "
                    "use mm.weights with method='ldl'", float(t)
                ) from exc
            W[s, a:b] = u[:, 0, 0]


def _cg_weights(Q, scales, metric, iterations, preconditioner, kernel, seed) -> np.ndarray:
    """``iterations`` steps of preconditioned CG from zero at each scale (no certificate)."""
    from .solvers.iterative import (
        _FAR_FIELD_BUDGET,
        _MAX_RANK,
        SimilarityOperator,
        _BlasOneThread,
        _check_preconditioner,
        _memory_check,
        _Preconditioner,
    )

    _check_preconditioner(preconditioner)
    op = SimilarityOperator(Q, metric=metric, kernel=kernel)
    _check_preconditioner(preconditioner, op)
    n = op.n
    max_rank = _memory_check(n, op.dim, _MAX_RANK, op.leaf, op.threads, 1, False)
    max_rank = min(max_rank, max(0, n // 4))
    W = np.empty((scales.shape[0], n))
    with _BlasOneThread():
        for s, t in enumerate(scales):
            rng = np.random.default_rng(seed)  # each scale as if computed alone
            # far-field pairs worth at most 5e-10 per row are skipped, as at rtol = 1e-8
            S = op.scaled(float(t), far_field_budget=_FAR_FIELD_BUDGET * 1e-8)
            M = _Preconditioner(S, preconditioner, max_rank, rng)
            x = np.zeros(n)
            r = np.ones(n)
            z = M(r)
            p = z.copy()
            rz = float(r @ z)
            for _ in range(iterations):
                Zp = S.apply(p)
                pZp = float(p @ Zp)
                if not (pZp > 0 and np.isfinite(pZp)):
                    break  # converged to rounding, or Z(t) is not positive definite
                alpha = rz / pZp
                x += alpha * p
                r -= alpha * Zp
                z = M(r)
                rz_new = float(r @ z)
                p = z + (rz_new / rz) * p
                rz = rz_new
                if rz <= 0:
                    break
            W[s] = x[op.iperm]
    return W
