"""One call that computes everything the command line and the report show about spaces.

`analyse` runs, for each space, one magnitude function (which gives the values, the
dimension profile, the convergence scale, the magnitude dimension and MagArea at once), the
weights at one scale, and, for two or more spaces, a `metric_magnitude.compare` on
a common interval. The faces (CLI, HTML report, demo) only format what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from ._validation import check_names
from .core import weights as _weights
from .diversity import Comparison, _compare_spaces
from .exceptions import InvalidInputError
from .function import (
    MagnitudeFunction,
    _default_n_scales,
    _peak_dimension,
    magnitude_function,
)
from .scales import _check_q, convergence_scale
from .spaces import Metric, MetricSpace, as_space

__all__ = ["Analysis", "SpaceSummary", "analyse"]

SCHEMA_VERSION = 1


@dataclass(frozen=True, eq=False)
class SpaceSummary:
    """What `analyse` found about one space.

    Attributes
    ----------
    name : str
    n_points, n_distinct : int
    n_features : int or None
        Coordinates per point (None for distance matrices and graphs).
    function : MagnitudeFunction
        On ``[0] + geomspace(t_conv / 1000, t_conv, n_scales)``.
    t_conv : float
        Convergence scale, where |tX| = q n_distinct.
    magnitude_dimension : float
        Peak of the dimension profile on [t_conv / 1000, t_conv] (the rule of
        `metric_magnitude.magnitude_dimension`).
    mag_area : float
        MagArea on the space's own interval [0, t_conv] (as `metric_magnitude.mag_area`).
    weight_scale : float
        The scale of ``weights``: where |tX| = n_distinct / 2.
    weights : ndarray of shape (n_points,)
    """

    name: str
    n_points: int
    n_distinct: int
    n_features: int | None
    function: MagnitudeFunction
    t_conv: float
    magnitude_dimension: float
    mag_area: float
    weight_scale: float
    weights: np.ndarray
    points: np.ndarray | None = field(default=None, repr=False)

    def top_weights(self, k: int = 5) -> list[tuple[int, float]]:
        """The ``k`` largest weights as (index, weight), largest first."""
        order = np.argsort(self.weights, kind="stable")[::-1][:k]
        return [(int(i), float(self.weights[i])) for i in order]

    def to_dict(self, *, include_weights: bool = False) -> dict:
        """Plain JSON-ready numbers (the CLI's ``--json`` output)."""
        f = self.function
        positive = f.scales > 0
        out = {
            "name": self.name,
            "n_points": self.n_points,
            "n_distinct": self.n_distinct,
            "n_features": self.n_features,
            "convergence_scale": self.t_conv,
            "magnitude_dimension": self.magnitude_dimension,
            "mag_area": self.mag_area,
            "weight_scale": self.weight_scale,
            "n_solves": f.n_solves,
            "error_estimate": f.error_estimate,
            "scales": f.scales[positive].tolist(),
            "magnitude": f.values[positive].tolist(),
            "derivative": f.derivative[positive].tolist(),
            "dimension": f.dimension[positive].tolist(),
            "top_weights": [{"index": i, "weight": w} for i, w in self.top_weights()],
        }
        if include_weights:
            out["weights"] = self.weights.tolist()
        return out


@dataclass(frozen=True, eq=False)
class Analysis:
    """The result of `analyse`: one `SpaceSummary` per space, and a comparison.

    Attributes
    ----------
    spaces : list of SpaceSummary
    comparison : Comparison or None
        MagArea and MagDiff on a common interval, for two or more spaces.
    settings : dict
        The options used (metric, q, n_scales, rtol).
    """

    spaces: list
    comparison: Comparison | None
    settings: dict

    def to_dict(self, *, include_weights: bool = False) -> dict:
        out = {
            "schema_version": SCHEMA_VERSION,
            "settings": self.settings,
            "spaces": [s.to_dict(include_weights=include_weights) for s in self.spaces],
        }
        if self.comparison is not None:
            c = self.comparison
            out["comparison"] = {
                "names": list(c.names),
                "t_cut": c.t_cut,
                "mag_areas": c.mag_areas.tolist(),
                "mag_diffs": c.mag_diffs.tolist(),
            }
        return out


def _half_scale(f: MagnitudeFunction, target: float) -> float:
    """The scale in f's range where f = target (f increases), or the nearer end."""
    ts, vs = f.scales, f.values
    if target <= vs[0]:
        return float(ts[ts > 0][0])
    if target >= vs[-1]:
        return float(ts[-1])
    i = int(np.searchsorted(vs, target))  # vs[i-1] < target <= vs[i] for increasing vs
    lo, hi = float(ts[i - 1]), float(ts[i])
    if not f(lo) < target < f(hi):
        return hi
    return float(brentq(lambda t: f(t) - target, lo, hi, xtol=1e-12 * hi))


def _summarise(space: MetricSpace, name: str, points, q, n_scales, rtol, method):
    t_conv = convergence_scale(space, q=q, method=method)
    if t_conv == 0.0:
        raise InvalidInputError(
            f"{name}: q n = {q} * {space.n_distinct} <= 1 (a space with one distinct point "
            "has magnitude 1 at every scale); there is nothing to analyse"
        )
    if n_scales is None:
        n_scales = _default_n_scales(space, method)
    scales = np.concatenate([[0.0], np.geomspace(t_conv / 1000.0, t_conv, n_scales)])
    f = magnitude_function(space, scales, rtol=rtol, method=method)
    t_w = _half_scale(f, space.n_distinct / 2.0)
    coords = None
    if points is not None:
        arr = np.asarray(points)
        coords = arr if arr.ndim == 2 and arr.shape[0] == space.n_points else None
    return SpaceSummary(
        name=name,
        n_points=space.n_points,
        n_distinct=space.n_distinct,
        n_features=None if coords is None else int(coords.shape[1]),
        function=f,
        t_conv=t_conv,
        magnitude_dimension=_peak_dimension(f, t_conv / 1000.0, t_conv),
        mag_area=f.area(0.0, t_conv) / t_conv,
        weight_scale=t_w,
        weights=_weights(space, t_w),
        points=coords,
    )


def analyse(
    spaces: Sequence,
    names: Sequence[str] | None = None,
    *,
    metric: Metric = "euclidean",
    q: float = 0.95,
    n_scales: int | None = None,
    rtol: float = 1e-8,
    method: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> Analysis:
    """Magnitude function, dimension, MagArea and weights of each space; MagDiff between them.

    Parameters
    ----------
    spaces : sequence of array_like, networkx.Graph or MetricSpace
        One or more spaces. Points given as arrays are kept for plots of the weights.
    names : sequence of str, optional
        Default ``X_0, X_1, ...``.
    metric : str or callable, default="euclidean"
    q : float in (0, 1), default=0.95
        Defines each convergence scale t_conv, where |tX| = q n.
    n_scales : int, optional
        Geometrically spaced scales of each function on [t_conv / 1000, t_conv] (plus t = 0),
        at least 13. Default: 100, or 24 for a space on the per-scale engine (points whose
        dense matrices do not fit in memory, or ``method="cg"`` / ``"sparse"``), where each
        scale is a certified iterative solve (minutes at 100,000 points) and the function
        between them is the cubic interpolant (`metric_magnitude.magnitude_function`).
    rtol : float, default=1e-8
        Relative accuracy of the magnitude functions.
    method : str, default="auto"
    progress : callable, optional
        Called with a short description after each step (one step per space, one for the
        comparison): ``analysis_steps(len(spaces))`` steps in all.

    Returns
    -------
    Analysis

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> a = mm.analyse([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) / 3],
    ...                names=["wide", "narrow"])
    >>> [s.name for s in a.spaces], a.comparison.mag_diffs.shape
    (['wide', 'narrow'], (2, 2))
    >>> areas = a.comparison.mag_areas          # on a common interval: wide is more diverse
    >>> bool(areas[0] > areas[1])
    True
    """
    spaces = list(spaces)
    if not spaces:
        raise InvalidInputError("analyse needs at least one space, got none")
    _check_q(q)
    if n_scales is not None and not (isinstance(n_scales, int | np.integer)
                                     and n_scales >= 13):
        raise InvalidInputError(
            f"n_scales must be an integer >= 13 or None (the default), got {n_scales!r}")
    names = check_names(names, len(spaces))
    step = progress or (lambda what: None)
    summaries, metric_spaces = [], []
    for x, name in zip(spaces, names, strict=True):
        space = as_space(x, metric)
        points = None if isinstance(x, MetricSpace) or metric == "precomputed" else x
        if points is not None and hasattr(points, "edges"):
            points = None
        summaries.append(_summarise(space, name, points, q,
                                    None if n_scales is None else int(n_scales), rtol, method))
        metric_spaces.append(space)
        step(name)
    comparison = None
    if len(spaces) >= 2:
        t_convs = np.array([s.t_conv for s in summaries])
        comparison = _compare_spaces(metric_spaces, names, t_convs, rtol=rtol, method=method)
        step("comparison")
    settings = {"metric": metric if isinstance(metric, str) else getattr(metric, "__name__",
                                                                          "callable"),
                "q": q, "n_scales": "auto" if n_scales is None else int(n_scales),
                "rtol": rtol, "method": method}
    return Analysis(summaries, comparison, settings)


def analysis_steps(n_spaces: int) -> int:
    """Number of ``progress`` calls `analyse` makes for ``n_spaces`` spaces."""
    return n_spaces + (1 if n_spaces >= 2 else 0)
