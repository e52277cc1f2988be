"""Scale finding: the convergence scale where |tX| reaches a proportion of the points."""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from .exceptions import InvalidInputError, MagnitudeWarning
from .solvers import solve_dense
from .spaces import Metric, MetricSpace, as_space

__all__ = ["ConvergenceWarning", "convergence_scale"]

_MAX_STEPS = 60  # decades searched when bracketing, and iterations of the root finder
# an INFO line per search (its solves log their own: `docs/large-n.md`, watching a long run)
_log = logging.getLogger(__name__)


class ConvergenceWarning(MagnitudeWarning):
    """A scale search ended without meeting its tolerance."""


def _check_q(q) -> float:
    if not (isinstance(q, int | float | np.floating) and 0 < q < 1):
        raise InvalidInputError(f"q must be a number strictly between 0 and 1, got {q!r}")
    return float(q)


def _evaluator(space: MetricSpace, method: str, rtol: float | None = None):
    """f(t) = (|tX|, d|tX|/dt), cached: exact solves, or for spaces that `solve` takes
    scale by scale (`function._solves_per_scale`) certified to ``rtol``."""
    from .function import _solves_per_scale

    cache: dict[float, tuple[float, float]] = {}
    if _solves_per_scale(space, method):
        from .core import solve

        def f_large(t: float) -> tuple[float, float]:
            if t not in cache:
                _, res = solve(space, [t], method=method, weights=False, derivative=True,
                               rtol=rtol)
                cache[t] = float(res.magnitude[0]), float(res.derivative[0])
            return cache[t]

        return f_large
    D = space.distances

    def f(t: float) -> tuple[float, float]:
        if t in cache:
            return cache[t]
        res = solve_dense(
            D,
            np.array([t]),
            method=method,
            weights=False,
            derivative=True,
            known_positive_definite=space.known_positive_definite,
            has_infinite_distances=space.has_infinite_distances,
        )
        cache[t] = float(res.magnitude[0]), float(res.derivative[0])
        return cache[t]

    return f


def _coarse_side(space: MetricSpace, method: str, target: float, rtol: float = 1e-3):
    """below(t): whether |tX| < target, from a solve certified to ``rtol`` only (the
    bracketing of `_newton_search` needs no more unless |tX| is that close to the target;
    then None, and the caller solves to full accuracy). At 100,000 points the search's
    first scales, far below t_conv, are small-t solves that cost minutes to 1e-8."""
    from .core import solve

    def below(t: float) -> bool | None:
        _, res = solve(space, [t], method=method, weights=False, rtol=rtol)
        m = float(res.magnitude[0])
        gap = float(res.error_bound[0]) if res.error_bound is not None else 0.0
        # the estimate lies in [lower, upper], upper - lower <= gap * lower
        if m * (1.0 + gap) < target:
            return True
        if m * (1.0 - gap) >= target:
            return False
        return None

    return below


def _magnipy_search(f, target: float) -> float:
    from scipy.optimize import toms748

    def g(t: float) -> float:
        return (1.0 if t == 0 else f(t)[0]) - target

    lo, hi = 0.0, 10.0
    for _ in range(_MAX_STEPS):
        if g(hi) >= 0:
            break
        lo, hi = hi, hi * 10.0
    else:
        raise InvalidInputError(
            f"|tX| never reached q n = {target:g} up to t = {hi:g}: no convergence scale"
        )
    return float(toms748(g, lo, hi, maxiter=100, rtol=1e-5))


def convergence_scale(
    X,
    q: float = 0.95,
    *,
    metric: Metric = "euclidean",
    method: str = "auto",
    rtol: float = 1e-12,
    algorithm: str = "newton",
) -> float:
    """The smallest scale t with |tX| = q n, n the number of distinct points.

    The rule: starting from t = 1 / (median distance), the scale is multiplied (or divided)
    by 10 until the first decade [t, 10 t] with |tX| < q n <= |10 tX| is found; inside it a
    Newton iteration with the exact derivative w^T (D o Z) w, safeguarded by bisection in
    log t, finds the crossing to relative accuracy ``rtol`` in t. On positive definite
    spaces the magnitude function is increasing in practice, so this is the first crossing.

    Parameters
    ----------
    X : array_like, networkx.Graph or MetricSpace
    q : float in (0, 1), default=0.95
    metric : str or callable, default="euclidean"
    method : str, default="auto"
        The solver, as in `metric_magnitude.magnitude`.
    rtol : float, default=1e-12
        Relative accuracy of the returned scale.
    algorithm : {"newton", "magnipy"}, default="newton"
        ``"magnipy"`` reproduces magnipy 1.0.0's search exactly (docs/magnipy-conventions.md):
        bracket [0, 10] if |10X| >= q n, else the first decade [10^k, 10^(k+1)] that
        crosses; then `scipy.optimize.toms748` with rtol=1e-5, which lands within
        about 1e-9 of the exact root. Use it to match numbers published with magnipy.

    Returns
    -------
    float
        The convergence scale; 0.0 where q n <= 1 (a single distinct point, or q <= 1 / n),
        since |tX| >= 1 = |0X| at every t on positive definite spaces.

    Raises
    ------
    InvalidInputError
        ``q`` outside (0, 1).

    Warns
    -----
    ConvergenceWarning
        If no scale up to 10^60 times the start reaches q n (a space that is not positive
        definite may never get there): the largest scale tried is returned.

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> t = mm.convergence_scale([[0.0], [1.0]], q=0.95)   # 2 / (1 + e^-t) = 1.9
    >>> bool(np.isclose(t, np.log(19)))
    True
    """
    q = _check_q(q)
    if algorithm not in ("newton", "magnipy"):
        raise InvalidInputError(
            f"algorithm must be 'newton' or 'magnipy', got {algorithm!r}"
        )
    space = as_space(X, metric)
    if algorithm == "magnipy":
        if q * space.n_distinct <= 1:
            return 0.0
        return _magnipy_search(_evaluator(space, method), q * space.n_distinct)
    return _convergence_scale_and_model(space, q, method, rtol)[0]


def _convergence_scale_and_model(space: MetricSpace, q: float, method: str, rtol: float):
    """(t_conv, the reduced-basis model built on the way or None), ``algorithm="newton"``,
    logged (INFO) with its time."""
    started = time.perf_counter()
    t, model = _search_convergence_scale(space, q, method, rtol)
    _log.info("convergence scale t = %.6g (|tX| = %g n), %.1f s", t, q,
              time.perf_counter() - started)
    return t, model


def _search_convergence_scale(space: MetricSpace, q: float, method: str, rtol: float):
    """`_convergence_scale_and_model`'s search.

    Positive definite spaces large enough for `function._reduced_model_for` search with
    snapshots and the model's lower bound (`_reduced.convergence_search`), and hand the model
    on so that `magnitude_function` reuses its snapshots; others use exact solves.
    """
    from .core import _n_rows
    from .function import _reduced_model_for, _solves_per_scale

    per_scale = _solves_per_scale(space, method)
    # the per-scale solvers never compute the n x n distances, which n_distinct may do to
    # merge rows at distance 0 (the iterative solvers merge near-copies themselves)
    n = _n_rows(space) if per_scale else space.n_distinct
    if q * n <= 1:  # |tX| >= 1 = |0X| already (one point, or q <= 1/n)
        return 0.0, None
    target = q * n
    if per_scale:
        # each value is certified to 1e-8 (cg, sparse): t to 1e-6 relative is what that
        # supports, and each Newton step is a full iterative solve
        rtol_t = max(rtol, 1e-6)
        return _newton_search(_evaluator(space, method, 1e-8), target,
                              _start_scale(space, nearest=True), rtol_t,
                              below=_coarse_side(space, method, target)), None
    model = _reduced_model_for(space, method)
    if model is not None:
        from ._reduced import convergence_search

        t = convergence_search(model, target, _start_scale(space), rtol)
        if t is not None:
            return t, model
    return _newton_search(_evaluator(space, method), target, _start_scale(space), rtol), None


def _start_scale(space: MetricSpace, nearest: bool = False) -> float:
    """1 / (median distance), the median taken over at most ~64 rows (no n^2 temporary).

    With ``nearest``: 1 / (median distance of those rows' points to their nearest
    neighbour), a start within a decade or two of t_conv (where the points are nearly
    separated), so that the search does not begin with small scales, which are the dearest
    solves when each is iterative (20,000 points in R^3: 6.3 s at 1 / median distance, 1 s
    near t_conv).
    """
    if space._distances is None and space._points is not None:
        from scipy.spatial.distance import cdist

        P = space._points  # the distances of ~64 rows only, as the large-n paths need
        rows = cdist(P[:: max(1, P.shape[0] // 64)], P, metric=space.metric)
    else:
        D = space.distances
        rows = D[:: max(1, D.shape[0] // 64)]
    ok = np.isfinite(rows) & (rows > 0)
    if nearest and ok.any(axis=1).all():
        return 1.0 / float(np.median(np.where(ok, rows, np.inf).min(axis=1)))
    return 1.0 / float(np.median(rows[ok]))


def _newton_search(f, target: float, t: float, rtol: float, below=None) -> float:
    """First decade crossing of f(t)[0] = target, then safeguarded Newton in it.

    ``f(t)`` returns (|tX|, d|tX|/dt); callers cache it, so no scale is solved twice.
    ``below(t)``: optional cheaper test of f(t)[0] < target for the bracketing (None where
    it cannot tell: then f decides).
    """

    def is_below(t: float) -> bool:
        side = below(t) if below is not None else None
        return f(t)[0] < target if side is None else side

    low = is_below(t)
    lo = hi = None
    step = 10.0 if low else 0.1
    for _ in range(_MAX_STEPS):
        if low:
            lo = t
        else:
            hi = t
        if lo is not None and hi is not None:
            break
        t *= step
        low = is_below(t)
    if lo is None or hi is None:
        m = f(t)[0]
        warnings.warn(
            f"|tX| did not cross q n = {target:g} within {_MAX_STEPS} decades of the start; "
            f"returning t = {t:g}, where |tX| = {m:g}",
            ConvergenceWarning,
            stacklevel=3,
        )
        return float(t)
    # Newton from the upper end (the function is concave there in practice)
    t = hi
    m, dm = f(t)
    for _ in range(_MAX_STEPS):
        g = m - target
        if g >= 0:
            hi = t
        else:
            lo = t
        t_new = t - g / dm if dm > 0 else np.inf
        if not (lo < t_new < hi):
            t_new = float(np.sqrt(lo * hi))  # bisection in log t
        if abs(t_new - t) <= rtol * t or (hi - lo) <= rtol * lo:
            return float(t_new)
        t = t_new
        m, dm = f(t)
    warnings.warn(
        f"convergence scale search did not reach rtol={rtol:g}; returning t = {t:g}",
        ConvergenceWarning,
        stacklevel=3,
    )
    return float(t)
