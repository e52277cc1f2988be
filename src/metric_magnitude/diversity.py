"""Diversity from magnitude functions: MagArea, MagDiff and many-space comparison.

Definitions of Limbeck et al., "Metric Space Magnitude for Evaluating the Diversity of
Latent Representations" (NeurIPS 2024), as their reference implementation magnipy 1.0.0
computes them (docs/magnipy-conventions.md): on the interval [0, t_cut],

    MagArea(X)    = (1 / t_cut) * integral_0^t_cut |tX| dt
    MagDiff(X, Y) = (1 / t_cut) * integral_0^t_cut | |tX| - |tY| | dt

with |0X| = 1, and for several spaces t_cut the median (a quantile) of their convergence
scales, or the convergence scale of a reference space. magnipy integrates by the trapezoid
rule on ``n_ts`` = 30 equally spaced scales; ``integration="trapezoid"`` reproduces that,
while the default ``integration="exact"`` integrates the interpolated magnitude function
exactly (its relative error is the function's ``rtol``, against the trapezoid rule's
O(t_cut^2 / n_ts^2) discretisation error).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Chebyshev

from ._validation import check_names
from .exceptions import InvalidInputError
from .function import MagnitudeFunction, magnitude_function
from .scales import _check_q, convergence_scale
from .spaces import Metric, as_space

__all__ = ["Comparison", "compare", "mag_area", "mag_diff"]

_INTEGRATION = ("exact", "trapezoid")


def _check_options(integration: str, n_ts: int) -> None:
    if integration not in _INTEGRATION:
        raise InvalidInputError(
            f"integration must be one of {_INTEGRATION}, got {integration!r}"
        )
    if not (isinstance(n_ts, int | np.integer) and n_ts >= 2):
        raise InvalidInputError(f"n_ts must be an integer >= 2, got {n_ts!r}")


def _check_t_cut(t_cut) -> float:
    if not (isinstance(t_cut, int | float | np.floating) and np.isfinite(t_cut) and t_cut > 0):
        raise InvalidInputError(f"t_cut must be a finite number > 0, got {t_cut!r}")
    return float(t_cut)


def _function_on(space, t_cut, n_ts, rtol, method) -> MagnitudeFunction:
    # more than the direct-solve threshold of scales, so the result is an interpolant
    n = max(int(n_ts), 16)
    return magnitude_function(space, np.linspace(0.0, t_cut, n), rtol=rtol, method=method)


def _integral_abs_difference(f, g, t_cut: float, absolute: bool) -> float:
    """integral_0^t_cut (f - g) or |f - g|, exactly for the piecewise polynomials.

    ``g=None`` stands for the zero function (MagArea).
    """
    fs = [f] if g is None else [f, g]
    pts = np.unique(np.concatenate([h._poly.x for h in fs]))
    pts = pts[(pts > 0) & (pts < t_cut)]
    pts = np.concatenate([[0.0], pts, [t_cut]])
    total = 0.0
    for a, b in itertools.pairwise(pts):
        # f - g is one polynomial of degree <= 7 on [a, b]: fit it exactly, then split at
        # its real roots so that |f - g| integrates exactly
        x = a + (b - a) * 0.5 * (1 - np.cos(np.pi * (np.arange(12) + 0.5) / 12))
        y = f._poly(x) if g is None else f._poly(x) - g._poly(x)
        p = Chebyshev.fit(x, y, 9, domain=[a, b])
        cuts = [a, b]
        if absolute:
            r = p.roots()
            r = r[np.isreal(r)].real
            cuts = [a, *sorted(r[(r > a) & (r < b)]), b]
        P = p.integ()
        for c0, c1 in itertools.pairwise(cuts):
            piece = float(P(c1) - P(c0))
            total += abs(piece) if absolute else piece
    return total


def _summaries(fs, t_cut, n_ts, integration, absolute, normalise):
    """(scales, values, MagAreas, MagDiff matrix) of functions fs on [0, t_cut]."""
    k = len(fs)
    ts = np.linspace(0.0, t_cut, n_ts)
    values = np.array([f(ts) for f in fs])
    if integration == "exact":
        areas = np.array([_integral_abs_difference(f, None, t_cut, True) for f in fs])
        diffs = np.zeros((k, k))
        for i in range(k):
            for j in range(i + 1, k):
                diffs[i, j] = _integral_abs_difference(fs[i], fs[j], t_cut, absolute)
                diffs[j, i] = diffs[i, j] if absolute else -diffs[i, j]
    else:
        areas = np.trapezoid(np.abs(values), ts, axis=1)
        d = values[:, None, :] - values[None, :, :]
        diffs = np.trapezoid(np.abs(d) if absolute else d, ts, axis=2)
    if normalise:
        areas, diffs = areas / t_cut, diffs / t_cut
    return ts, values, areas, diffs


def _t_conv(space, q, method, algorithm):
    return convergence_scale(space, q=q, method=method, algorithm=algorithm)


def mag_area(
    X,
    t_cut: float | None = None,
    *,
    metric: Metric = "euclidean",
    q: float = 0.95,
    n_ts: int = 30,
    integration: str = "exact",
    normalise: bool = True,
    convergence: str = "newton",
    rtol: float = 1e-8,
    method: str = "auto",
) -> float:
    """MagArea: the area under the magnitude function on [0, t_cut], over t_cut.

    Parameters
    ----------
    X : array_like, networkx.Graph or MetricSpace
    t_cut : float, optional
        End of the interval; default the convergence scale of X for ``q``.
    metric : str or callable, default="euclidean"
    q : float, default=0.95
        Proportion defining the convergence scale (magnipy's ``target_prop``).
    n_ts : int, default=30
        Number of equally spaced scales for ``integration="trapezoid"``.
    integration : {"exact", "trapezoid"}, default="exact"
        ``"exact"`` integrates the interpolated function exactly; ``"trapezoid"`` is
        magnipy's rule on ``np.linspace(0, t_cut, n_ts)``.
    normalise : bool, default=True
        Divide by t_cut (magnipy's ``scale=True``).
    convergence : {"newton", "magnipy"}, default="newton"
        Root finder for the default t_cut (see `convergence_scale`).
    rtol : float, default=1e-8
        Relative accuracy of the magnitude values used.
    method : str, default="auto"
        Solver, as in `metric_magnitude.magnitude`.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> x = [[0.0], [1.0]]   # |tX| = 2 / (1 + e^-t), integral = 2 log((1 + e^T) / 2)
    >>> T = 3.0
    >>> bool(np.isclose(mm.mag_area(x, T), 2 * np.log((1 + np.exp(T)) / 2) / T, rtol=1e-8))
    True
    """
    _check_options(integration, n_ts)
    q = _check_q(q)
    space = as_space(X, metric)
    t_cut = (
        _t_conv(space, q, method, convergence) if t_cut is None else _check_t_cut(t_cut)
    )
    f = _function_on(space, t_cut, n_ts, rtol, method)
    return float(_summaries([f], t_cut, n_ts, integration, True, normalise)[2][0])


def mag_diff(
    X,
    Y,
    t_cut: float | None = None,
    *,
    metric: Metric = "euclidean",
    q: float = 0.95,
    n_ts: int = 30,
    integration: str = "exact",
    absolute: bool = True,
    normalise: bool = True,
    convergence: str = "newton",
    rtol: float = 1e-8,
    method: str = "auto",
) -> float:
    """MagDiff: the area between the magnitude functions of X and Y on [0, t_cut], over t_cut.

    ``t_cut`` defaults to the median of the two convergence scales (their mean), as
    magnipy's Diversipy does for a collection. ``absolute=False`` gives the signed area
    of |tX| - |tY|. Other parameters as in `mag_area`.

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> A = rng.normal(size=(60, 2))
    >>> round(mm.mag_diff(A, A), 12)
    0.0
    >>> mm.mag_diff(A, 0.5 * A) > 0      # shrinking the points lowers the function
    True
    """
    _check_options(integration, n_ts)
    q = _check_q(q)
    sx, sy = as_space(X, metric), as_space(Y, metric)
    if t_cut is None:
        t_cut = float(np.median([_t_conv(s, q, method, convergence) for s in (sx, sy)]))
    else:
        t_cut = _check_t_cut(t_cut)
    fs = [_function_on(s, t_cut, n_ts, rtol, method) for s in (sx, sy)]
    return float(_summaries(fs, t_cut, n_ts, integration, absolute, normalise)[3][0, 1])


@dataclass(frozen=True, eq=False)
class Comparison:
    """Magnitude functions of several spaces on one common interval, and their summaries.

    Attributes
    ----------
    names : list of str
    t_convs : ndarray of shape (k,)
        Convergence scale of each space.
    t_cut : float
        End of the common interval (a quantile of ``t_convs``, or a reference's).
    scales : ndarray of shape (n_ts,)
        ``np.linspace(0, t_cut, n_ts)``.
    values : ndarray of shape (k, n_ts)
        Each space's magnitude function at ``scales``.
    mag_areas : ndarray of shape (k,)
    mag_diffs : ndarray of shape (k, k)
        Pairwise MagDiff (symmetric for ``absolute=True``; entry [i, j] is the signed
        area of f_i - f_j otherwise).
    reference : int or None
    functions : list of MagnitudeFunction
    """

    names: list
    t_convs: np.ndarray
    t_cut: float
    scales: np.ndarray
    values: np.ndarray
    mag_areas: np.ndarray
    mag_diffs: np.ndarray
    reference: int | None
    functions: list

    @property
    def normalised_mag_diffs(self) -> np.ndarray:
        """MagDiff to the reference space divided by the reference's MagArea."""
        if self.reference is None:
            raise InvalidInputError("normalised MagDiffs need compare(..., reference=i)")
        r = self.reference
        return self.mag_diffs[r] / self.mag_areas[r]

    def table(self) -> str:
        """A plain-text table of the convergence scales and MagAreas."""
        width = max(len(n) for n in [*self.names, "space"])
        lines = [f"{'space':<{width}}  {'t_conv':>12}  {'MagArea':>12}"]
        for n, tc, a in zip(self.names, self.t_convs, self.mag_areas, strict=True):
            lines.append(f"{n:<{width}}  {tc:12.6g}  {a:12.6g}")
        return "\n".join(lines)


def compare(
    spaces,
    names=None,
    *,
    metric: Metric = "euclidean",
    q: float = 0.95,
    quantile: float = 0.5,
    reference: int | None = None,
    t_cut: float | None = None,
    n_ts: int = 30,
    integration: str = "exact",
    absolute: bool = True,
    normalise: bool = True,
    convergence: str = "newton",
    rtol: float = 1e-8,
    method: str = "auto",
) -> Comparison:
    """Compare the diversity of several spaces on a common interval of scales.

    The common interval is [0, t_cut] with t_cut the ``quantile`` (default the median) of
    the spaces' convergence scales, or the convergence scale of ``spaces[reference]``, or
    given. Each space's magnitude function is computed once on it; MagArea of each and the
    MagDiff matrix follow (see `mag_area`, `mag_diff`).

    Parameters
    ----------
    spaces : sequence of array_like, networkx.Graph or MetricSpace
        At least two spaces.
    names : sequence of str, optional
    quantile : float in [0, 1], default=0.5
    reference : int, optional
        Index of the reference space (sets t_cut and the normalised MagDiffs).
    metric, q, t_cut, n_ts, integration, absolute, normalise, convergence, rtol, method
        As in `mag_diff`.

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(1)
    >>> wide, narrow = rng.normal(size=(80, 2)), 0.3 * rng.normal(size=(80, 2))
    >>> c = mm.compare([wide, narrow], names=["wide", "narrow"])
    >>> bool(c.mag_areas[0] > c.mag_areas[1])
    True
    >>> c.mag_diffs.shape
    (2, 2)
    """
    _check_options(integration, n_ts)
    spaces = list(spaces)
    if len(spaces) < 2:
        raise InvalidInputError(
            f"compare needs at least two spaces, got {len(spaces)}; for one space use "
            "mag_area or magnitude_function"
        )
    names = check_names(names, len(spaces))
    if reference is not None and not (
        isinstance(reference, int | np.integer) and 0 <= reference < len(spaces)
    ):
        raise InvalidInputError(
            f"reference must be an index in 0..{len(spaces) - 1}, got {reference!r}"
        )
    if not (isinstance(quantile, int | float) and 0 <= quantile <= 1):
        raise InvalidInputError(f"quantile must be in [0, 1], got {quantile!r}")
    sp = [as_space(s, metric) for s in spaces]
    t_convs = np.array([_t_conv(s, q, method, convergence) for s in sp])
    return _compare_spaces(sp, names, t_convs, quantile, reference, t_cut, n_ts, integration,
                           absolute, normalise, rtol, method)


def _compare_spaces(sp, names, t_convs, quantile=0.5, reference=None, t_cut=None, n_ts=30,
                    integration="exact", absolute=True, normalise=True, rtol=1e-8,
                    method="auto") -> Comparison:
    """`compare` on MetricSpaces whose convergence scales are known."""
    if t_cut is not None:
        t_cut = _check_t_cut(t_cut)
    elif reference is not None:
        t_cut = float(t_convs[reference])
    else:
        t_cut = float(np.quantile(t_convs, quantile))
    fs = [_function_on(s, t_cut, n_ts, rtol, method) for s in sp]
    ts, values, areas, diffs = _summaries(fs, t_cut, n_ts, integration, absolute, normalise)
    return Comparison(names, t_convs, t_cut, ts, values, areas, diffs, reference, fs)
