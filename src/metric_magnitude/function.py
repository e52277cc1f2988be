"""The magnitude function t -> |tX| from few exact solves, with a known error.

Two engines, chosen by `magnitude_function`:

* **Reduced basis** (positive definite spaces of at least 64 distinct points with finite
  distances, ``method="auto"``): a few exact factorisations (*snapshots*, typically 5 to 8 for
  a 100-scale function) give the weighting and its first three t-derivatives; their span holds
  the weighting at every scale of the range, and the Galerkin model on it (`_reduced.py`)
  gives |tX| and its derivatives anywhere for O(r^3) each, r a few dozen. The model is a lower
  bound on |tX|; its error is estimated by the model without the highest derivatives, and
  snapshots are added where that estimate exceeds half the tolerance. The convergence-scale
  search of ``scales="auto"`` or ``"linear"`` uses the same model, so its snapshots are reused.
* **Exact anchors** (every other space, or an explicit ``method``): each anchor is an exact
  solve (`metric_magnitude.solvers.solve_dense` with ``derivative=3``).
* **Per scale** (points whose dense matrices would not fit in memory, or ``method="cg"`` or
  ``"sparse"``): every requested scale is solved by `metric_magnitude.solve` (the closed
  forms, the sparse truncation or matrix-free CG, each certified to ``rtol``), warm-started
  from the previous scale, with the first derivative from one more matrix-free product.
  Between them the function is the cubic Hermite interpolant of those values and first
  derivatives (from 3 positive scales on), whose error is estimated, not certified.

With the other two, the function between anchors is the two-point Hermite interpolant of
degree 7 (piecewise Bernstein polynomials matching value and three derivatives at both ends). With
exact anchors, the interpolation error of an interval is estimated by comparing that
polynomial with the degree-11 Hermite interpolant through the interval's anchors and a
neighbouring one; with the reduced basis it is measured against the model inside every
interval. Intervals that miss the tolerance are split at their midpoint, until every interval
meets it.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BPoly, KroghInterpolator

from ._validation import check_scales_with_zero
from .exceptions import InvalidInputError, MagnitudeWarning
from .solvers import solve_dense
from .spaces import Metric, MetricSpace, as_space

# INFO lines on the long runs (the per-scale engine: minutes at 100,000 points)
_log = logging.getLogger(__name__)

__all__ = ["InterpolationWarning", "MagnitudeFunction", "magnitude_dimension", "magnitude_function"]

# Below this many requested scales, solving at each one is cheaper than interpolating.
_DIRECT_SOLVE_MAX = 12
_MAX_ANCHORS = 400
_DERIVATIVE_RTOL_FLOOR = 1e-9
_INITIAL_ANCHORS = 6
# the per-scale engine interpolates from this many positive scales (the error estimate of an
# interval needs a neighbouring scale)
_PER_SCALE_MIN_INTERPOLATION = 3
# magnitude_dimension and analyse on the per-scale engine: scales of their functions (one
# solve each; `_default_n_scales`)
_PER_SCALE_DEFAULT_SCALES = 24
# From this many distinct points on, positive definite spaces use the reduced-basis model
# (`_reduced.py`): a few factorisations for the whole range instead of one per anchor.
_REDUCED_MIN_POINTS = 64
# sample points per interval for the error estimate (fractions of the interval)
_SAMPLES = np.linspace(0.05, 0.95, 10)
# The neighbour-based estimate came within a factor 1.5 of the true error on random clouds
# (true/estimate <= 1.5); it is inflated by this factor so that it bounds the error.
_SAFETY = 4.0


class InterpolationWarning(MagnitudeWarning):
    """The magnitude function could not be interpolated to the requested tolerance."""


class _Anchors:
    """Values and derivatives at anchor scales, computed on demand and cached.

    From an exact solve at each anchor, or (``model`` given) from the reduced-basis model,
    whose own error is estimated separately.
    """

    def __init__(self, space: MetricSpace, method: str, model=None, t_max: float = 0.0):
        self.space = space
        self.method = method
        self.model = model
        self.t_max = t_max
        self.t = np.empty(0)
        self.d = np.empty((0, 4))  # |tX|, and its first three t-derivatives

    def add(self, ts) -> None:
        ts = np.setdiff1d(np.asarray(ts, dtype=float), self.t)
        if ts.size == 0:
            return
        if self.model is not None:
            new = self.model.evaluate(ts, self.t_max, nu=3, with_sub=False)[0]
        else:
            sp = self.space
            res = solve_dense(
                sp.distances,
                ts,
                method=self.method,
                weights=False,
                derivative=3,
                known_positive_definite=sp.known_positive_definite,
                has_infinite_distances=sp.has_infinite_distances,
            )
            new = np.column_stack([res.magnitude, res.derivative])
        t = np.concatenate([self.t, ts])
        order = np.argsort(t)
        self.t = t[order]
        self.d = np.concatenate([self.d, new])[order]

    @property
    def n_solves(self) -> int:
        return self.model.n_snapshots if self.model is not None else int(self.t.size)

    @property
    def solved(self) -> tuple[np.ndarray, np.ndarray]:
        """Scales of the exact solves and |tX| with its derivatives there."""
        if self.model is None:
            return self.t, self.d
        ts = np.sort(np.asarray(self.model.scales))
        return ts, np.array([self.model.exact[t] for t in ts])


def _local_estimate(t, d, i, j, k) -> tuple[float, float]:
    """Max |Hermite on [t_i, t_j] - Hermite through t_i, t_j, t_k| (matching the c columns
    of d, the value and c - 1 derivatives: degree 7 against 11 for c = 4, 3 against 5 for
    the per-scale engine's c = 2).

    Returns the estimates for the value and for the first derivative on [t_i, t_j].
    """
    a, b = t[i], t[j]
    c = d.shape[1]
    nodes = sorted((i, j, k), key=lambda m: t[m])
    lo, hi = t[nodes[0]], t[nodes[-1]]
    half = 0.5 * (hi - lo)
    mid = 0.5 * (hi + lo)
    # rescale to [-1, 1] so the Krogh interpolant stays well conditioned
    x = np.repeat([(t[m] - mid) / half for m in nodes], c)
    y = np.concatenate([d[m] * half ** np.arange(c) for m in nodes])
    krogh = KroghInterpolator(x, y)
    seg = BPoly.from_derivatives([a, b], [d[i], d[j]])
    s = a + _SAMPLES * (b - a)
    xs = (s - mid) / half
    dv = np.max(np.abs(seg(s) - krogh(xs)))
    dd = np.max(np.abs(seg.derivative()(s) - krogh.derivative(xs) / half))
    return float(dv), float(dd)


def _interval_estimates(t, d, cache=None) -> tuple[np.ndarray, np.ndarray]:
    """Relative error estimates of value and derivative for each interval [t_i, t_i+1].

    ``cache`` maps (t_i, t_i+1, t_k) to a computed estimate: refinement only changes the
    intervals next to new anchors.
    """
    cache = {} if cache is None else cache
    m = t.size
    ev = np.zeros(m - 1)
    ed = np.zeros(m - 1)
    scale_v = np.abs(d[:, 0])
    # the derivative decays like e^{-t d_min} at large t: measure it against its largest size
    dscale = max(float(np.abs(d[:, 1]).max()), 1e-300)
    for i in range(m - 1):
        for k in (i - 1, i + 2):
            if 0 <= k < m:
                key = (t[i], t[i + 1], t[k])
                if key not in cache:
                    cache[key] = _local_estimate(t, d, i, i + 1, k)
                v, dv = cache[key]
                ev[i] = max(ev[i], v / max(scale_v[i], scale_v[i + 1]))
                ed[i] = max(ed[i], dv / dscale)
    return _SAFETY * ev, _SAFETY * ed


def _build(anchors: _Anchors, lo: float, hi: float, rtol: float):
    """Refine anchors on [lo, hi] until every interval's estimate is below rtol."""
    anchors.add(np.geomspace(lo, hi, _INITIAL_ANCHORS))
    cache: dict = {}
    while True:
        inside = (anchors.t >= lo) & (anchors.t <= hi)
        t, d = anchors.t[inside], anchors.d[inside]
        ev, ed = _interval_estimates(t, d, cache)
        # derivatives from the solver carry ~eps/t relative error as t -> 0 (tests), so the
        # derivative is refined to 1e-9 at best
        bad = np.flatnonzero((ev > rtol) | (ed > max(rtol, _DERIVATIVE_RTOL_FLOOR)))
        if bad.size == 0:
            return t, d, ev, ed
        if anchors.t.size >= _MAX_ANCHORS:
            warnings.warn(
                f"the magnitude function could not be interpolated to rtol={rtol:g} with "
                f"{anchors.t.size} anchors (estimated relative error of the values "
                f"{ev.max():.1e}, of the derivative {ed.max():.1e}); Z(t) may be singular or "
                "nearly so inside the range",
                InterpolationWarning,
                stacklevel=4,
            )
            return t, d, ev, ed
        anchors.add(0.5 * (t[bad] + t[bad + 1]))


@dataclass(frozen=True, eq=False)
class MagnitudeFunction:
    """The magnitude function of a space on an interval of scales.

    Returned by `magnitude_function`; do not construct it directly.

    Attributes
    ----------
    scales : ndarray of shape (k,)
        The scales asked for (or chosen by ``scales="auto"``).
    values : ndarray of shape (k,)
        |tX| at each scale, to relative accuracy ``rtol``.
    derivative : ndarray of shape (k,)
        d|tX|/dt at each scale: from the exact derivatives w^T (D o Z) w at the anchors,
        interpolated with a known error, never by finite differences.
    dimension : ndarray of shape (k,)
        The magnitude dimension profile t f'(t) / f(t).
    error_estimate : float
        Estimated maximum relative error of the function on its range, at the scales and
        between them (``derivative_error_estimate``: of the derivative, relative to its
        largest size); zero where every scale was solved exactly and there is no
        interpolant. With the ``"per scale"`` engine, the larger of the certified error of
        the values and the estimated error of the interpolant between them.
    certified_error : float or None
        ``"per scale"`` engine only: the largest certified relative error of ``values``
        (a bound, from the solver's two-sided bounds at each scale); None for the other
        engines, whose values come from an interpolant with an estimated error.
    anchor_scales : ndarray
        Where exact solves were made; ``n_solves`` counts them.
    solver : str
        ``"reduced basis"`` (few exact solves span the weighting over the whole range),
        ``"exact anchors"`` (an exact solve at every anchor) or ``"per scale"`` (large n:
        a certified solve at each requested scale, and the cubic Hermite interpolant
        through them from 3 positive scales on); see `magnitude_function`.
    """

    scales: np.ndarray
    values: np.ndarray
    derivative: np.ndarray
    error_estimate: float
    derivative_error_estimate: float
    anchor_scales: np.ndarray
    anchor_data: np.ndarray
    n_points: int
    rtol: float
    _poly: BPoly | None
    solver: str = "exact anchors"
    certified_error: float | None = None

    @property
    def n_solves(self) -> int:
        return int(self.anchor_scales.size)

    @property
    def dimension(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.scales > 0, self.scales * self.derivative / self.values, 0.0)

    @property
    def t_min(self) -> float:
        return float(self.scales[0])

    @property
    def t_max(self) -> float:
        return float(self.scales[-1])

    def _check_range(self, t: np.ndarray) -> None:
        lo, hi = self.t_min, self.t_max
        tol = 1e-12 * hi
        if (t < lo - tol).any() or (t > hi + tol).any():
            bad = t[(t < lo - tol) | (t > hi + tol)][0]
            raise InvalidInputError(
                f"t = {float(bad)!r} is outside the range of this magnitude function "
                f"[{lo!r}, {hi!r}]; compute a function over a range that contains it"
            )

    def __call__(self, t):
        """|tX| at any t in [t_min, t_max], to the function's ``rtol``.

        Returns a float for a scalar ``t``, else an array.
        """
        arr, scalar = check_scales_with_zero(t, name="t")
        self._check_range(arr)
        out = self._evaluate(arr, 0)
        return float(out[0]) if scalar else out

    def derivative_at(self, t):
        """d|tX|/dt at any t in [t_min, t_max] (interpolated from exact anchor derivatives)."""
        arr, scalar = check_scales_with_zero(t, name="t")
        self._check_range(arr)
        out = self._evaluate(arr, 1)
        return float(out[0]) if scalar else out

    def dimension_at(self, t):
        """The magnitude dimension profile t f'(t) / f(t) at any t in [t_min, t_max]."""
        arr, scalar = check_scales_with_zero(t, name="t")
        self._check_range(arr)
        out = arr * self._evaluate(arr, 1) / self._evaluate(arr, 0)
        return float(out[0]) if scalar else out

    def _evaluate(self, t: np.ndarray, nu: int) -> np.ndarray:
        if self._poly is None:  # solved exactly at each scale: only those scales exist
            idx = np.searchsorted(self.scales, t)
            idx = np.clip(idx, 0, self.scales.size - 1)
            if not np.allclose(self.scales[idx], t, rtol=1e-14, atol=0):
                raise InvalidInputError(
                    "this magnitude function was solved at its scales only; "
                    + self._no_interpolant_hint()
                )
            return (self.values if nu == 0 else self.derivative)[idx]
        out = self._poly(t, nu)
        if nu == 0:
            out = np.where(t == 0, 1.0, out)
        return out

    def area(self, t_min: float | None = None, t_max: float | None = None) -> float:
        """Integral of |tX| dt over [t_min, t_max] (default: the whole range).

        Exact integration of the interpolant (piecewise polynomials), so its relative error
        is that of the values, ``error_estimate``.
        """
        lo = self.t_min if t_min is None else float(t_min)
        hi = self.t_max if t_max is None else float(t_max)
        if not lo <= hi:
            raise InvalidInputError(f"t_min = {lo!r} must not exceed t_max = {hi!r}")
        self._check_range(np.array([lo, hi]))
        if self._poly is None:
            raise InvalidInputError(
                "area needs an interpolated magnitude function; " + self._no_interpolant_hint()
            )
        return float(self._poly.integrate(lo, hi))

    def _no_interpolant_hint(self) -> str:
        if self.solver == "per scale":
            return (
                f"for these {self.n_points} points every scale was a separate certified solve "
                "(method='cg' or 'sparse', or points whose dense matrices would not fit in "
                "memory), and an interpolant needs at least "
                f"{_PER_SCALE_MIN_INTERPOLATION} positive scales: ask magnitude_function for "
                "the scales you need, or for more of them"
            )
        return (
            "ask magnitude_function for those scales, or for more than "
            f"{_DIRECT_SOLVE_MAX} scales to get an interpolant"
        )

    def plot(self, ax=None, dimension: bool = False, **kwargs):
        """Plot the function (or its dimension profile) on a matplotlib Axes; returns it."""
        from ._optional import import_optional

        plt = import_optional("matplotlib.pyplot")
        if ax is None:
            _, ax = plt.subplots()
        y = self.dimension if dimension else self.values
        ax.plot(self.scales, y, **kwargs)
        ax.set_xlabel("scale t")
        ax.set_ylabel("magnitude dimension t f'(t) / f(t)" if dimension else "magnitude |tX|")
        return ax

    def __repr__(self) -> str:
        return (
            f"MagnitudeFunction(n_points={self.n_points}, scales=[{self.t_min:.4g}, "
            f"{self.t_max:.4g}] ({self.scales.size}), n_solves={self.n_solves}, "
            f"error_estimate={self.error_estimate:.1e})"
        )


def _model_anchors(anchors: _Anchors, lo: float, hi: float, rtol: float):
    """Anchors from the reduced model, dense enough that the Hermite interpolant meets rtol.

    The model is cheap to evaluate, so the interpolation error is measured, not estimated:
    at the midpoint of every interval (where the error of a two-point Hermite interpolant,
    proportional to (t - a)^4 (t - b)^4, peaks) and at 0.31 and 0.69 of it (where the
    slope's error peaks), against the model itself. Intervals that miss the tolerance get
    their midpoint as a new anchor; the returned estimates are twice the measured errors.
    """
    # about 100 anchors; midpoints are added only where the measured error asks for them
    nodes = np.unique(np.concatenate([np.geomspace(lo, hi, 48), np.linspace(lo, hi, 49)[1:]]))
    d_tol = max(rtol, _DERIVATIVE_RTOL_FLOOR)
    for _ in range(20):
        anchors.add(nodes)
        t, d = anchors.t, anchors.d
        poly = BPoly.from_derivatives(t, list(d))
        # the value's error peaks at the midpoint, the slope's near 0.31 and 0.69
        frac = np.array([0.31, 0.5, 0.69])
        probe = (t[:-1, None] + frac * (t[1:] - t[:-1])[:, None]).ravel()
        m = anchors.model.evaluate(probe, hi, nu=1, with_sub=False)[0]
        dscale = max(float(np.abs(d[:, 1]).max()), 1e-300)
        ev = (np.abs(poly(probe) - m[:, 0]) / np.abs(m[:, 0])).reshape(-1, 3).max(axis=1)
        ed = (np.abs(poly(probe, 1) - m[:, 1]) / dscale).reshape(-1, 3).max(axis=1)
        mids = 0.5 * (t[1:] + t[:-1])
        bad = (ev > 0.5 * rtol) | (ed > 0.5 * d_tol)
        if not bad.any():
            break
        nodes = mids[bad]
    else:
        warnings.warn(
            f"the magnitude function could not be interpolated to rtol={2 * rtol:g} with "
            f"{t.size} anchors of the reduced model (measured relative error of the values "
            f"{2 * ev.max():.1e}); Z(t) may be nearly singular inside the range",
            InterpolationWarning,
            stacklevel=4,
        )
    return t, d, 2.0 * ev, 2.0 * ed


def _solves_per_scale(space: MetricSpace, method: str) -> bool:
    """Whether `magnitude_function` solves each scale by `metric_magnitude.solve`: an
    iterative method was asked for, or ``"auto"`` for points whose dense matrices (the
    other engines' snapshots and anchors) would not fit in memory."""
    from .core import ITERATIVE_METHODS, _dense_does_not_fit

    return method in ITERATIVE_METHODS or (method == "auto" and _dense_does_not_fit(space))


def _default_n_scales(space: MetricSpace, method: str) -> int:
    """Scales of a function on [t_conv / 1000, t_conv] where the caller leaves it open: 100,
    or `_PER_SCALE_DEFAULT_SCALES` on the per-scale engine, where each is an iterative
    solve and the cubic interpolant goes between them."""
    return _PER_SCALE_DEFAULT_SCALES if _solves_per_scale(space, method) else 100


def _per_scale_function(space: MetricSpace, arr: np.ndarray, method: str, rtol: float):
    """The ``"per scale"`` engine: a certified solve (with derivative) at every scale, and
    the cubic Hermite interpolant through them from `_PER_SCALE_MIN_INTERPOLATION` positive
    scales on."""
    from .core import solve

    positive = arr[arr > 0]
    mag, der, gap, derr = (np.empty(0) for _ in range(4))
    if positive.size:
        _log.info("per-scale engine: %d scale(s) from t = %.6g to %.6g, a certified solve "
                  "(rtol = %g) with its derivative at each", positive.size, positive[0],
                  positive[-1], rtol)
        _, res = solve(space, positive, method=method, weights=False, derivative=True,
                       rtol=rtol)
        mag, der = res.magnitude, res.derivative
        gap = np.nan_to_num(res.error_bound, nan=0.0)  # NaN: a closed form, exact
        derr = np.nan_to_num(res.derivative_error, nan=0.0)
    pad = arr.size - positive.size  # t = 0: |0X| = 1
    dscale = max(float(np.abs(der).max(initial=0.0)), 1e-300)
    certified = float(gap.max(initial=0.0))
    ev = ed = 0.0
    poly = None
    if positive.size >= _PER_SCALE_MIN_INTERPOLATION:
        poly, ev, ed = _per_scale_interpolant(positive, mag, der, gap, derr, rtol, pad > 0)
    return MagnitudeFunction(
        arr, np.concatenate([np.ones(pad), mag]), np.concatenate([np.full(pad, np.nan), der]),
        max(certified, ev), max(float(derr.max(initial=0.0)) / dscale, ed), positive,
        np.column_stack([mag, der]), space.n_points, rtol, poly, "per scale", certified,
    )


def _per_scale_interpolant(t, mag, der, gap, derr, rtol: float, with_zero: bool):
    """Cubic Hermite interpolant through certified values and derivatives at the scales t,
    and the largest estimated relative errors of its values and of its derivative.

    The interpolation error of each interval is estimated as with exact anchors (against
    the quintic through a neighbour, `_interval_estimates`); to it are added what the data's
    own errors can do: the values' certified relative errors (the value basis functions sum
    to at most 1), and the derivatives' errors times 4h/27 (the largest value of a slope
    basis function on an interval of length h). With t = 0 the first interval is bridged
    from |0X| = 1 by a quadratic, its errors estimated from how far the first scale's
    tangent misses 1 at t = 0 and how far its slope is from the secant.
    """
    d = np.column_stack([mag, der])
    ev, ed = _interval_estimates(t, d)
    h = np.diff(t)
    fmin = np.minimum(np.abs(mag[:-1]), np.abs(mag[1:]))
    # the derivatives' certified bounds are loose (1e-2 where the error is 1e-9, measured
    # at small t), and would swamp the estimate: what is expected of them, 10 sqrt(rtol)
    # relative, is used where that is smaller
    derr = np.minimum(derr, 10.0 * np.sqrt(rtol) * np.abs(der))
    dmax = np.maximum(derr[:-1], derr[1:])
    dscale = max(float(np.abs(der).max()), 1e-300)
    ev = ev + np.maximum(gap[:-1], gap[1:]) + 4.0 / 27.0 * h * dmax / fmin
    # the derivative: slope basis derivatives are at most 1, value basis derivatives 1.5 / h
    ed = ed + (dmax + 1.5 * np.maximum(gap[:-1] * np.abs(mag[:-1]),
                                       gap[1:] * np.abs(mag[1:])) / h) / dscale
    poly = _hermite(t, d, with_zero)
    if with_zero:
        # the bridge is the quadratic through 1, f(t1) and f'(t1): its departure from the
        # tangent at t1 (values) and from the secant (slopes) measure its curvature
        secant = (mag[0] - 1.0) / t[0]
        ev = np.concatenate([[_SAFETY * abs(mag[0] - der[0] * t[0] - 1.0) / abs(mag[0])], ev])
        ed = np.concatenate([[_SAFETY * abs(secant - der[0]) / dscale], ed])
    return poly, float(ev.max()), float(ed.max())


def _hermite(t, d, with_zero: bool) -> BPoly:
    """Piecewise Hermite interpolant through t (values and derivatives in the rows of d),
    bridged from |0X| = 1 (a value only) when ``with_zero``."""
    if with_zero:
        return BPoly.from_derivatives(np.concatenate([[0.0], t]), [[1.0], *d])
    return BPoly.from_derivatives(t, list(d))


def _reduced_model_for(space: MetricSpace, method: str):
    """A reduced-basis model where it applies, else None (exact anchors are used)."""
    if not (
        method == "auto"
        and space.known_positive_definite
        and not space.has_infinite_distances
        and space.n_distinct >= _REDUCED_MIN_POINTS
    ):
        return None
    from ._reduced import ReducedModel

    return ReducedModel(space.distances)


def _function_from_anchors(space, scales, method, rtol, model=None):
    """Anchors and interpolant covering ``scales`` (sorted; 0 allowed first).

    Returns (anchors, value error estimates, derivative error estimates, interpolant).
    """
    hi = float(scales[-1])
    lo = float(scales[scales > 0][0])
    if scales[0] == 0.0:
        # the stretch [0, lo] is bridged from |0X| = 1 to the first anchor: keep it short,
        # in the range (t diam(X) <= 1e-4) and relative to the top
        D = space.distances  # no n x n temporary: max over finite entries, row by row
        diam = (float(D.max()) if not space.has_infinite_distances
                else max(float(r[np.isfinite(r)].max(initial=0.0)) for r in D))
        lo = min(lo, 1e-5 * hi, 1e-4 / diam if diam > 0 else lo)
    model_ev = model_ed = 0.0
    if model is not None:
        from ._reduced import MAX_DEGREE, chebyshev_degree, refine

        if chebyshev_degree(hi * model.h) > MAX_DEGREE:
            model = None  # the expansion would cost more than exact anchors
        else:
            # half the tolerance for the model, half for the interpolation between anchors
            model_ev, model_ed = refine(model, lo, hi, 0.5 * rtol, extra=scales[scales > 0])
            model.release()
    anchors = _Anchors(space, method, model, hi)
    if model is None:
        t, d, ev, ed = _build(anchors, lo, hi, rtol)
    else:
        t, d, ev, ed = _model_anchors(anchors, lo, hi, 0.5 * rtol)
    ev, ed = ev + model_ev, ed + model_ed
    poly = _hermite(t, d, scales[0] == 0.0)
    if scales[0] == 0.0:
        # error of the bridge: the anchor's Taylor polynomial, taken back to t = 0
        taylor0 = d[0, 0] - d[0, 1] * lo + d[0, 2] * lo**2 / 2 - d[0, 3] * lo**3 / 6
        ev = np.concatenate([[abs(taylor0 - 1.0)], ev])
    return anchors, ev, ed, poly


def magnitude_function(
    X,
    scales="auto",
    *,
    metric: Metric = "euclidean",
    n_scales: int = 100,
    q: float = 0.95,
    rtol: float = 1e-8,
    method: str = "auto",
) -> MagnitudeFunction:
    """The magnitude function t -> |tX| over many scales, from few exact solves.

    Parameters
    ----------
    X : array_like, networkx.Graph or MetricSpace
        As in `metric_magnitude.magnitude`.
    scales : "auto", "linear" or array_like of shape (k,)
        ``"auto"``: ``n_scales`` scales spaced geometrically from ``t_conv / 1000`` to the
        convergence scale ``t_conv`` where |tX| = q n (`convergence_scale`).
        ``"linear"``: magnipy's grid, ``np.linspace(0, t_conv, n_scales)``; the same as
        passing that array after `convergence_scale`, but one call, which reuses the
        search's factorisations. An array is honoured exactly: finite, strictly increasing,
        positive (0 is allowed as the first scale, with value 1, as magnipy does).
    metric : str or callable, default="euclidean"
    n_scales : int, default=100
        Number of scales for ``scales="auto"``.
    q : float in (0, 1), default=0.95
        Proportion of the number of distinct points that defines the convergence scale.
    rtol : float, default=1e-8
        Relative accuracy of the values (and of the derivative, relative to its size).
        On the ``"per scale"`` engine it is certified at every scale for the values; the
        derivative, from the computed weights, is then only about sqrt(rtol) accurate (its
        bound is ``derivative_error_estimate``).
    method : str, default="auto"
        ``"auto"`` uses the reduced-basis engine where it applies (module docstring), and
        for points whose dense matrices would not fit in memory solves each scale by
        `metric_magnitude.solve` (``solver="per scale"``: each scale costs an iterative
        solve, so ask for ``n_scales`` of about 20 there). ``"cg"`` and ``"sparse"`` do the
        same at any n; any other method name solves exactly at every anchor with that
        solver, as in `metric_magnitude.magnitude`.

    Returns
    -------
    MagnitudeFunction

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> x = np.linspace(0.0, 3.0, 7)[:, None]          # 1 + 6 tanh(t / 4) on a line
    >>> f = mm.magnitude_function(x, np.linspace(0.1, 10, 50))
    >>> bool(np.allclose(f.values, 1 + 6 * np.tanh(f.scales / 4), rtol=1e-8))
    True
    >>> f.n_solves < 50
    True
    >>> bool(abs(f(2.5) - (1 + 6 * np.tanh(2.5 / 4))) < 1e-7)
    True

    A larger cloud goes through the reduced basis: magnipy's 100-scale grid, convergence
    search included, from a handful of factorisations.

    >>> X = np.random.default_rng(0).normal(size=(300, 10))
    >>> g = mm.magnitude_function(X, "linear")
    >>> g.solver, g.n_solves <= 8, g.error_estimate <= 1e-8
    ('reduced basis', True, True)
    >>> exact = mm.magnitude(X, g.scales[1:])
    >>> bool(np.max(np.abs(g.values[1:] / exact - 1)) <= g.error_estimate)
    True
    """
    from .scales import _check_q, _convergence_scale_and_model

    if not (isinstance(rtol, int | float) and 1e-14 <= rtol < 1):
        raise InvalidInputError(f"rtol must be a number in [1e-14, 1), got {rtol!r}")
    space = as_space(X, metric)
    model = None
    if isinstance(scales, str):
        if scales not in ("auto", "linear"):
            raise InvalidInputError(
                f"scales must be 'auto', 'linear' or an array, got {scales!r}"
            )
        if not (isinstance(n_scales, int | np.integer) and n_scales >= 2):
            raise InvalidInputError(f"n_scales must be an integer >= 2, got {n_scales!r}")
        t_conv, model = _convergence_scale_and_model(space, _check_q(q), method, 1e-12)
        if t_conv == 0.0:
            raise InvalidInputError(
                f"q n = {q!r} * {space.n_distinct} <= 1, and |tX| >= 1 at every scale (a space "
                "with one distinct point has magnitude 1): there is no convergence scale to "
                "end the automatic range; raise q or pass scales explicitly"
            )
        if scales == "auto":
            arr = np.geomspace(t_conv / 1000.0, t_conv, int(n_scales))
        else:
            arr = np.linspace(0.0, t_conv, int(n_scales))
    else:
        arr, _ = check_scales_with_zero(scales, increasing=True)
    if _solves_per_scale(space, method):
        return _per_scale_function(space, arr, method, rtol)
    positive = arr[arr > 0]
    if positive.size <= _DIRECT_SOLVE_MAX:
        anchors = _Anchors(space, method)
        anchors.add(positive)
        vals = np.concatenate([np.ones(arr.size - positive.size), anchors.d[:, 0]])
        ders = np.concatenate([np.full(arr.size - positive.size, np.nan), anchors.d[:, 1]])
        return MagnitudeFunction(
            arr, vals, ders, 0.0, 0.0, anchors.t, anchors.d, space.n_points, rtol, None
        )
    if model is None:
        model = _reduced_model_for(space, method)
    anchors, ev, ed, poly = _function_from_anchors(space, arr, method, rtol, model)
    vals = poly(arr)
    vals[arr == 0] = 1.0
    ders = poly(arr, 1)
    return MagnitudeFunction(
        arr,
        vals,
        ders,
        float(ev.max(initial=0.0)),
        float(ed.max(initial=0.0)),
        *anchors.solved,
        space.n_points,
        rtol,
        poly,
        "exact anchors" if anchors.model is None else "reduced basis",
    )


def magnitude_dimension(
    X,
    *,
    metric: Metric = "euclidean",
    q: float = 0.95,
    rtol: float = 1e-8,
    method: str = "auto",
) -> float:
    """The magnitude dimension of a point cloud: the peak of its dimension profile.

    The rule: the maximum of t f'(t) / f(t) = d log|tX| / d log t over the automatic range
    [t_conv / 1000, t_conv] of `magnitude_function` (t_conv the convergence scale
    for ``q``), located on 2,000 geometrically spaced scales of the interpolant. Points
    whose dense matrices would not fit in memory (the ``"per scale"`` engine: one iterative
    solve per scale) get a profile from 24 scales and the cubic interpolant between them.

    For a sample of a d-dimensional manifold the profile rises towards d while the sample
    looks like a continuum and falls back to 0 once the points separate. Measured on
    n = 2000 samples (docs/dimension.md): close to d on shapes without a boundary (circle
    1.007, 2-sphere 1.977), well below it on shapes with one (square 1.74, cube 2.23), and
    slowly better with n.

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> line = np.linspace(0, 1, 400)[:, None]
    >>> 0.9 < mm.magnitude_dimension(line) <= 1.0
    True
    """
    space = as_space(X, metric)
    # the per-scale engine solves every scale: a coarser grid, and its interpolant between
    n_scales = _default_n_scales(space, method)
    f = magnitude_function(space, "auto", n_scales=n_scales, q=q, rtol=rtol, method=method)
    return _peak_dimension(f, f.t_min, f.t_max)


def _peak_dimension(f: MagnitudeFunction, lo: float, hi: float) -> float:
    """The rule of `magnitude_dimension`: max of the profile on 2,000 scales in [lo, hi]."""
    return float(f.dimension_at(np.geomspace(lo, hi, 2000)).max())
