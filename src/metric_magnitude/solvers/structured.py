r"""Closed-form magnitude for points on a line and for l1 lattices, in O(n log n).

Points on a line
    Sort the n distinct points and let `g_i` be the gaps between consecutive ones.
    `Z = e^{-tD}` then has a tridiagonal inverse (Leinster 2013, PRIMER section 2):
    with `q_i = e^{-t g_i}`,

    .. math::

        (Z^{-1})_{i,i+1} = -\frac{q_i}{1 - q_i^2}, \qquad
        (Z^{-1})_{ii} = \frac{1}{1 - q_{i-1}^2} + \frac{1}{1 - q_i^2} - 1

    (a missing gap at either end counts as `q = 0`). Summing its rows gives the weighting

    .. math::

        w_1 = \tfrac12\bigl(1 + \tanh\tfrac{t g_1}{2}\bigr), \quad
        w_i = \tfrac12\bigl(\tanh\tfrac{t g_{i-1}}{2} + \tanh\tfrac{t g_i}{2}\bigr), \quad
        w_n = \tfrac12\bigl(1 + \tanh\tfrac{t g_{n-1}}{2}\bigr),

    hence `|tX| = 1 + \sum_i \tanh(t g_i / 2)` and
    `\frac{d}{dt}|tX| = \sum_i \frac{g_i}{2}\,\mathrm{sech}^2(t g_i / 2)`. Every term is
    positive, so `|tX| - 1` and every weight keep full relative accuracy at any scale
    (no cancellation as `t \to 0`, where the dense Z is nearly singular).

l1 lattices
    Under the cityblock metric a full lattice `A_1 \times \dots \times A_k` (any spacing
    per axis) has `Z = Z_{A_1} \otimes \dots \otimes Z_{A_k}`, so
    `|tX| = \prod_a |tA_a|` and `w(x) = \prod_a w_{A_a}(x_a)`, each factor a
    line. This covers pixel grids of images and regular lattices in any dimension.

Which inputs qualify
    *Line*: 1-D data under any of the norms ``euclidean``, ``cityblock``, ``chebyshev``; or
    points in R^d that are collinear (see `is_collinear`), for which every such norm
    restricted to the line is a multiple of the 1-D distance. *Lattice*: cityblock metric,
    every combination of the distinct coordinate values of each axis present exactly (an exact
    test on the float values: a lattice whose coordinates carry rounding noise is not
    detected and falls back to the general solvers).

Repeated points are merged, as everywhere in the library: the magnitude is that of the
distinct points and the copies of a point share its weight equally.
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_points, check_scales
from ..exceptions import InvalidInputError
from ._result import MagnitudeResult

__all__ = [
    "grid_axes",
    "grid_magnitude",
    "grid_weights",
    "is_collinear",
    "line_magnitude",
    "line_magnitude_derivative",
    "line_weights",
    "structured_solve",
]

_EPS = np.finfo(np.float64).eps

# Norm order of each metric for which collinear points form a line metric.
_LINE_METRICS = {
    "euclidean": 2.0,
    "l2": 2.0,
    "cityblock": 1.0,
    "manhattan": 1.0,
    "l1": 1.0,
    "chebyshev": np.inf,
}
_GRID_METRICS = {"cityblock", "manhattan", "l1"}

# Default relative tolerance of the collinearity test (see is_collinear).
COLLINEAR_TOL = 1e-12


# ---------------------------------------------------------------- 1-D closed forms


def _line_scale(g: np.ndarray, t: float, weights: bool, order: int, cond: bool = True):
    """Closed forms on sorted distinct points with gaps g (all > 0), one scale.

    Returns (|tX| - 1, weights in sorted order or None, [d^k |tX| / dt^k, k = 1..order],
    reciprocal 1-norm condition number of Z, or NaN when ``cond`` is False).
    """
    m = g.shape[0] + 1
    if m == 1:
        return 0.0, (np.ones(1) if weights else None), [0.0] * order, 1.0
    x = 0.5 * t * g
    th = np.tanh(x)
    m1 = float(np.sum(th))
    w = None
    if weights:
        w = np.empty(m)
        w[0] = 0.5 * (1.0 + th[0])
        w[-1] = 0.5 * (1.0 + th[-1])
        w[1:-1] = 0.5 * (th[:-1] + th[1:])
    derivs = []
    if order:
        e = np.exp(-2.0 * x)  # sech^2 x = 4 e^{-2x} / (1 + e^{-2x})^2: no overflow
        sech2 = 4.0 * e / (1.0 + e) ** 2
        h = 0.5 * g
        derivs.append(float(np.sum(h * sech2)))
        if order >= 2:
            derivs.append(float(np.sum(h * h * (-2.0 * sech2 * th))))
        if order >= 3:
            derivs.append(float(np.sum(h**3 * (4.0 * sech2 - 6.0 * sech2 * sech2))))
    if not cond:
        return m1, w, derivs, math.nan
    # exact 1-norms: Z^-1 is tridiagonal; Z's column sums by an O(n log n) scan
    q = np.exp(-t * g)
    inv = 1.0 / -np.expm1(-2.0 * t * g)  # 1 / (1 - q^2) without cancellation
    off = q * inv
    col = np.full(m, -1.0)
    col[:-1] += inv + off
    col[1:] += inv + off
    col[0] += 1.0
    col[-1] += 1.0
    zsum = 1.0 + _decay_sums(q) + _decay_sums(q[::-1])[::-1]
    rcond = min(1.0, 1.0 / (float(zsum.max()) * float(col.max())))
    return m1, w, derivs, rcond


def _decay_sums(q: np.ndarray) -> np.ndarray:
    """L_i = sum_{j < i} prod_{j <= k < i} q_k (L_0 = 0), i.e. L_i = q_{i-1} (1 + L_{i-1}).

    A parallel prefix scan of the affine maps L -> q L + q (log2(n) vectorised passes),
    so that the 1-norm of Z costs no Python loop over the points.
    """
    a = q.copy()
    b = q.copy()
    shift = 1
    while shift < a.shape[0]:
        b[shift:] = a[shift:] * b[:-shift] + b[shift:]
        a[shift:] = a[shift:] * a[:-shift]
        shift *= 2
    return np.concatenate(([0.0], b))


def _sorted_line_1d(x: np.ndarray):
    """Sort 1-D coordinates; return (order, new-group flags in sorted order, gaps)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    diff = np.diff(xs)
    new = np.empty(x.shape[0], dtype=bool)
    new[0] = True
    new[1:] = diff != 0.0
    return order, new, diff[new[1:]]


def _groups(order: np.ndarray, new: np.ndarray):
    """Sorted-order group flags -> (group of every input row, multiplicity of each group)."""
    gid_sorted = np.cumsum(new) - 1
    group = np.empty(order.shape[0], dtype=np.int64)
    group[order] = gid_sorted
    count = np.bincount(gid_sorted)
    return group, count


class _Line:
    """Points on a line: sorted distinct points, their gaps, and how input rows map to them."""

    __slots__ = ("count", "gaps", "group")

    def __init__(self, order: np.ndarray, new: np.ndarray, gaps: np.ndarray):
        self.group, self.count = _groups(order, new)
        self.gaps = gaps

    @property
    def n_distinct(self) -> int:
        return int(self.count.shape[0])


def _as_coordinates(x) -> np.ndarray:
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    P = check_points(arr, name="x")
    if P.shape[1] != 1:
        raise InvalidInputError(
            f"x must hold 1-D coordinates, shape (n,) or (n, 1), got shape {P.shape}; for "
            "points in R^d use structured_solve(X, t), which detects collinear points"
        )
    return P[:, 0]


# ---------------------------------------------------------------- collinearity


def _collinear_line(P: np.ndarray, metric: str, tol: float) -> _Line | None:
    """The line model of points P (n, d), or None if they are not collinear within tol."""
    n, d = P.shape
    if d == 1:
        return _Line(*_sorted_line_1d(P[:, 0]))
    p = _LINE_METRICS[metric]
    c = P.mean(axis=0)
    Xc = P - c
    # principal direction from the d x d Gram matrix: for (nearly) collinear data the top
    # eigenvalue is well separated, so the direction is accurate to rounding level
    G = Xc.T @ Xc
    evals, evecs = np.linalg.eigh(G)
    u = evecs[:, -1]
    if not evals[-1] > 0.0:  # every row the same point
        order = np.arange(n)
        new = np.zeros(n, dtype=bool)
        new[0] = True
        return _Line(order, new, np.empty(0))
    # Cheap rejection: if the test below passes, consecutive residual differences are at most
    # sqrt(2 tol) (g_k + g_k+1), so every |r_i| <= 2 sqrt(2 tol) L (L the length along the
    # line), the second eigenvalue is <= 8 n tol L^2 and the first >= L^2 / 2.
    if evals[-2] > (32.0 * d * n * tol + 16.0 * d * _EPS) * evals[-1]:
        return None
    # s elementwise (no BLAS): identical rows get identical s, so copies sort together
    s = Xc[:, 0] * u[0]
    for k in range(1, d):
        s = s + Xc[:, k] * u[k]
    order = np.argsort(s, kind="stable")
    Ps = P[order]
    ss = s[order]
    dP = np.diff(Ps, axis=0)
    ds = np.diff(ss)
    same_row = ~np.any(dP != 0.0, axis=1)
    new = np.empty(n, dtype=bool)
    new[0] = True
    new[1:] = ~same_row
    dP = dP[~same_row]
    ds = ds[~same_row]
    if ds.size == 0:
        return _Line(order, new, np.empty(0))
    if not ds.min() > 0.0:  # distinct points with the same projection
        return None
    # residuals from the line, and between consecutive distinct points
    R = Xc[order] - ss[:, None] * u[None, :]
    dR = np.diff(R[new], axis=0)
    if p == 2.0:
        gaps = np.sqrt(np.einsum("ij,ij->i", dP, dP))
        dr = np.sqrt(np.einsum("ij,ij->i", dR, dR))
        # g - ds = |dr|^2 / (g + ds) exactly (g^2 = ds^2 + |dr|^2): second order
        ds_true = np.sqrt(np.maximum(gaps * gaps - dr * dr, 0.0))
        err = dr * dr / (gaps + ds_true)
        low = gaps - err  # = ds, the projected gap
    else:
        gaps = np.linalg.norm(dP, ord=p, axis=1)
        dr = np.linalg.norm(dR, ord=p, axis=1)
        err = 2.0 * dr
        low = gaps - err
    # rounding of the computed projections s: their order is certain beyond this gap
    noise = 4.0 * (d + 2) * _EPS * float(np.abs(P).max()) * float(np.abs(u).sum())
    if not low.min() > 2.0 * noise:
        return None
    if _window_ratio(err, low) > tol:
        return None
    return _Line(order, new, gaps)


def _window_ratio(num: np.ndarray, den: np.ndarray) -> float:
    """max over windows of 2 or 3 consecutive entries of sum(num) / sum(den).

    By the mediant inequality this is the max over all windows of length >= 2, since every
    such window splits into consecutive blocks of 2 or 3.
    """
    if num.shape[0] < 2:
        return 0.0
    r = float(np.max((num[1:] + num[:-1]) / (den[1:] + den[:-1])))
    if num.shape[0] >= 3:
        r = max(
            r, float(np.max((num[2:] + num[1:-1] + num[:-2]) / (den[2:] + den[1:-1] + den[:-2])))
        )
    return r


def _metric_name(metric) -> str | None:
    return metric.lower() if isinstance(metric, str) else None


def is_collinear(X, tol: float = COLLINEAR_TOL, *, metric: str = "euclidean") -> bool:
    r"""Whether the points are collinear, so that the closed form for a line applies.

    A principal direction u is fitted (eigenvector of the centred Gram matrix, a PCA), every
    point is written `x_i = c + s_i u + r_i` with `r_i \perp u`, and the points
    are sorted by `s_i`. The line model keeps the true distance `g_k` between
    consecutive points and replaces every other distance by the sum of the `g_k` in
    between: exact for consecutive pairs and for collinear points. For other pairs the sum
    exceeds the true distance (triangle inequality) by at most `\sum_k e_k`, and the
    true distance is at least `\sum_k (g_k - e_k)`, where

    * Euclidean: `e_k = |\Delta r_k|^2 / (g_k + \Delta s_k)`, exactly
      `g_k - \Delta s_k` (second order in the distance from the line);
    * cityblock / chebyshev (a norm): `e_k = 2 \|\Delta r_k\|` (first order).

    So the relative error of every pairwise distance is at most the largest ratio
    `\sum e_k / \sum (g_k - e_k)` over runs of consecutive gaps, which (mediant
    inequality) is attained by a run of 2 or 3 gaps: an O(n) test. The points count as
    collinear when it is at most ``tol``, and when every projected gap exceeds twice the
    rounding error of the computed projections, so that the sorted order is certain. The
    default 1e-12 accepts float data that is collinear up to coordinate rounding (for example
    a million points on a line through the origin, whose closest pair is ~1e-12 apart);
    rounding far from the origin is a real departure from the line relative to small gaps,
    and such data is left to the general solvers. Copies of a point are merged first;
    distinct points with the same projection are never collinear. O(n d + n log n).

    Parameters
    ----------
    X : array_like of shape (n, d)
    tol : float, default=1e-12
        Largest accepted relative error of a pairwise distance in the line model.
    metric : {"euclidean", "cityblock", "chebyshev"}, default="euclidean"

    Returns
    -------
    bool

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import is_collinear
    >>> s = np.linspace(0.0, 1.0, 5)
    >>> is_collinear(np.c_[s, 2 * s, -s])
    True
    >>> is_collinear([[0.0, 0.0], [1.0, 0.0], [2.0, 1e-3]])
    False
    """
    P = check_points(X)
    name = _metric_name(metric)
    if name not in _LINE_METRICS:
        raise InvalidInputError(
            f"is_collinear supports the metrics {sorted(_LINE_METRICS)}, got {metric!r}"
        )
    return _collinear_line(P, name, float(tol)) is not None


# ---------------------------------------------------------------- public 1-D functions


def _derivative_order(derivative) -> int:
    order = int(derivative)
    if not 0 <= order <= 3:
        raise InvalidInputError(f"derivative order must be 0..3, got {derivative!r}")
    return order


def _solve_line(line: _Line, scales: np.ndarray, weights: bool, order: int, cond: bool = False):
    """Per scale: (|tX| - 1, weights per distinct sorted point, derivatives, rcond)."""
    return [_line_scale(line.gaps, float(t), weights, order, cond) for t in scales]


def line_magnitude(x, t):
    r"""Magnitude of points on a line: `|tX| = 1 + \sum_i \tanh(t g_i / 2)`.

    O(n log n) (one sort) and accurate to a few ulps at every scale, including
    `|tX| - 1` at tiny t.

    Parameters
    ----------
    x : array_like of shape (n,) or (n, 1)
        Coordinates; repeated values are merged.
    t : float or array_like of shape (k,)
        Scale(s) > 0.

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> from metric_magnitude.solvers.structured import line_magnitude
    >>> line_magnitude([0.0, 1.0, 3.0], [0.5, 2.0])   # 1 + tanh(t/2) + tanh(t)
    array([1.70703582, 2.72562174])
    >>> from metric_magnitude.solvers.structured import structured_solve
    >>> float(structured_solve([[0.0], [1.0]], 1e-8).magnitude_minus_one[0])  # tanh(5e-9)
    5e-09
    """
    scales, scalar = check_scales(t)
    line = _Line(*_sorted_line_1d(_as_coordinates(x)))
    out = np.array([1.0 + r[0] for r in _solve_line(line, scales, False, 0)])
    return float(out[0]) if scalar else out


def line_magnitude_derivative(x, t):
    r"""Exact `\frac{d}{dt}|tX| = \sum_i \frac{g_i}{2}\,\mathrm{sech}^2(t g_i/2)`.

    Parameters
    ----------
    x, t
        As in `line_magnitude`.

    Returns
    -------
    float or ndarray of shape (k,)

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import line_magnitude_derivative
    >>> bool(np.isclose(line_magnitude_derivative([0.0, 2.0], 0.5), 1 / np.cosh(0.5) ** 2))
    True
    """
    scales, scalar = check_scales(t)
    line = _Line(*_sorted_line_1d(_as_coordinates(x)))
    out = np.array([r[2][0] for r in _solve_line(line, scales, False, 1)])
    return float(out[0]) if scalar else out


def line_weights(x, t):
    r"""Weighting of points on a line, in closed form, one weight per input point.

    Interior points get `\frac12(\tanh\frac{t g_{i-1}}{2} + \tanh\frac{t g_i}{2})`,
    the two ends `\frac12(1 + \tanh\frac{t g}{2})`. Copies of a point share its weight.

    Parameters
    ----------
    x, t
        As in `line_magnitude`.

    Returns
    -------
    ndarray of shape (n,) for a scalar t, else (k, n)

    Examples
    --------
    >>> from metric_magnitude.solvers.structured import line_weights
    >>> line_weights([0.0, 1.0, 1.0], 1.0)   # as mm.weights: the copies share
    array([0.73105858, 0.36552929, 0.36552929])
    """
    scales, scalar = check_scales(t)
    line = _Line(*_sorted_line_1d(_as_coordinates(x)))
    W = np.stack([r[1] for r in _solve_line(line, scales, True, 0)])
    W = (W / line.count)[:, line.group]
    return W[0] if scalar else W


# ---------------------------------------------------------------- l1 lattices


class _Grid:
    """A full lattice: per-axis sorted distinct values, each row's axis indices, copies."""

    __slots__ = ("axes", "count", "group", "index")

    def __init__(self, axes, index, group, count):
        self.axes = axes  # list of sorted distinct coordinate values per axis
        self.index = index  # list of (n,) index of every row's value on each axis
        self.group = group  # (n,) lattice node of every row (raveled index)
        self.count = count  # (n_nodes,) copies of each node


def _detect_grid(P: np.ndarray) -> _Grid | None:
    n, d = P.shape
    axes, index = [], []
    size = 1
    for k in range(d):
        vals, inv = np.unique(P[:, k], return_inverse=True)
        axes.append(vals)
        index.append(inv.reshape(-1))
        size *= int(vals.shape[0])  # Python int: no overflow
        if size > n:
            return None
    lin = np.ravel_multi_index(tuple(index), tuple(a.shape[0] for a in axes))
    count = np.bincount(lin, minlength=size)
    if not (count > 0).all():
        return None
    return _Grid(axes, index, lin, count)


def grid_axes(X):
    """The per-axis coordinate values if X is a full rectangular lattice, else None.

    X is a lattice when every combination of the distinct values of each coordinate occurs
    (copies allowed): `n_{distinct} = \\prod_a (\\text{distinct values on axis } a)`.
    The spacing may differ between axes and need not be uniform. The test is exact on the
    float values. O(n d log n).

    Parameters
    ----------
    X : array_like of shape (n, d)

    Returns
    -------
    list of ndarray, or None

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import grid_axes
    >>> X = np.array([[i, j] for i in range(3) for j in (0.0, 0.5)])
    >>> [a.tolist() for a in grid_axes(X)]
    [[0.0, 1.0, 2.0], [0.0, 0.5]]
    >>> grid_axes(X[:-1]) is None
    True
    """
    g = _detect_grid(check_points(X))
    return None if g is None else g.axes


def _solve_grid(grid: _Grid, scales: np.ndarray, weights: bool, order: int):
    """Per scale: (|tX| - 1, weights per input row (copies sharing) or None, derivs, rcond)."""
    lines = [_Line(np.arange(a.shape[0]), np.ones(a.shape[0], bool), np.diff(a)) for a in grid.axes]
    out = []
    for t in scales:
        per_axis = [_line_scale(line.gaps, float(t), weights, order) for line in lines]
        # |tX| - 1 = prod(1 + a_k) - 1 = expm1(sum log1p(a_k)): accurate at tiny t
        m1 = math.expm1(math.fsum(math.log1p(r[0]) for r in per_axis))
        derivs = []
        if order:
            # Leibniz rule on the product of the per-axis magnitude functions
            acc = [1.0] + [0.0] * order
            for r in per_axis:
                f = [1.0 + r[0], *r[2]]
                acc = [
                    sum(math.comb(k, j) * acc[j] * f[k - j] for j in range(k + 1))
                    for k in range(order + 1)
                ]
            derivs = acc[1:]
        w = None
        if weights:
            w = np.ones(grid.group.shape[0])
            for r, idx in zip(per_axis, grid.index, strict=True):
                w *= r[1][idx]
            w /= grid.count[grid.group]
        rcond = math.prod(r[3] for r in per_axis)
        out.append((m1, w, derivs, rcond))
    return out


def _as_grid(X) -> _Grid:
    g = _detect_grid(check_points(X))
    if g is None:
        raise InvalidInputError(
            "X is not a full rectangular lattice (some combination of the per-axis "
            "coordinate values is missing); use mm.magnitude(X, t, metric='cityblock')"
        )
    return g


def grid_magnitude(X, t):
    r"""Magnitude of a full lattice under the cityblock metric: `\prod_a |tA_a|`.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points forming a full lattice (see `grid_axes`); copies are merged.
    t : float or array_like of shape (k,)

    Returns
    -------
    float or ndarray of shape (k,)

    Raises
    ------
    InvalidInputError
        X is not a full lattice.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import grid_magnitude
    >>> X = np.array([[i, j] for i in range(4) for j in range(3)], dtype=float)
    >>> m = grid_magnitude(X, 0.7)   # (1 + 3 tanh(t/2)) (1 + 2 tanh(t/2))
    >>> bool(np.isclose(m, (1 + 3 * np.tanh(0.35)) * (1 + 2 * np.tanh(0.35))))
    True
    """
    scales, scalar = check_scales(t)
    out = np.array([1.0 + r[0] for r in _solve_grid(_as_grid(X), scales, False, 0)])
    return float(out[0]) if scalar else out


def grid_weights(X, t):
    """Weighting of a full lattice under the cityblock metric: products of 1-D weightings.

    Parameters
    ----------
    X, t
        As in `grid_magnitude`.

    Returns
    -------
    ndarray of shape (n,) for a scalar t, else (k, n)
        One weight per input row; copies of a point share its weight.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import grid_weights
    >>> X = np.array([[i, j] for i in range(3) for j in range(3)], dtype=float)
    >>> grid_weights(X, 50.0).round(6)   # large t: every weight -> 1
    array([1., 1., 1., 1., 1., 1., 1., 1., 1.])
    """
    scales, scalar = check_scales(t)
    W = np.stack([r[1] for r in _solve_grid(_as_grid(X), scales, True, 0)])
    return W[0] if scalar else W


# ---------------------------------------------------------------- dispatcher


def _result(scales, per_scale, weights_of, order, label) -> MagnitudeResult:
    k = scales.shape[0]
    m1 = np.array([r[0] for r in per_scale])
    W = np.stack([weights_of(r[1]) for r in per_scale]) if weights_of is not None else None
    dmag = None
    if order:
        dmag = np.array([r[2] for r in per_scale])
        if order == 1:
            dmag = dmag[:, 0]
    rcond = np.array([r[3] for r in per_scale])
    return MagnitudeResult(
        scales, 1.0 + m1, m1, W, dmag, (label,) * k, rcond, np.ones(k, dtype=bool)
    )


def structured_solve(
    X,
    t,
    *,
    metric: str = "euclidean",
    weights: bool = True,
    derivative: bool | int = False,
    tol: float = COLLINEAR_TOL,
) -> MagnitudeResult | None:
    """Solve by a closed form when X is a line or an l1 lattice; None when neither applies.

    Tried in this order: a full lattice under the cityblock metric (`grid_axes`), then
    collinear points under a norm metric (`is_collinear`; 1-D data always qualifies).
    The detection costs O(n d log n) and returns quickly on unstructured data.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points (rows). Copies are merged.
    t : float or array_like of shape (k,)
        Scale(s) > 0.
    metric : str, default="euclidean"
        ``euclidean``/``l2``, ``cityblock``/``manhattan``/``l1`` or ``chebyshev``; any other
        metric (or a callable) returns None.
    weights : bool, default=True
    derivative : bool or int, default=False
        False, True (first derivative) or an order 1..3, as in
        `metric_magnitude.solvers.solve_dense`.
    tol : float, default=1e-12
        Collinearity tolerance, see `is_collinear`.

    Returns
    -------
    MagnitudeResult or None
        ``methods`` is ``"line"`` or ``"grid"`` at every scale. Weights have one entry per
        input row (copies sharing), which for distinct rows is the order
        `metric_magnitude.MetricSpace` uses. ``rcond`` is the reciprocal
        1-norm condition number of Z(t), computed exactly (from the tridiagonal
        inverse and a prefix scan for the column sums of Z; a product over the axes of a
        lattice); ``positive_definite`` is True.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.structured import structured_solve
    >>> s = np.array([0.0, 1.0, 3.0])
    >>> res = structured_solve(np.c_[0.6 * s, 0.8 * s], 2.0)   # a line in the plane
    >>> res.methods, res.magnitude.round(8)
    (('line',), array([2.72562174]))
    >>> structured_solve(np.random.default_rng(0).random((5, 2)), 1.0) is None
    True
    """
    scales, _ = check_scales(t)
    order = _derivative_order(derivative)
    return _solve_structured(check_points(X), scales, metric, weights, order, tol=tol)


def _solve_structured(
    P: np.ndarray,
    scales: np.ndarray,
    metric,
    weights: bool,
    order: int,
    kinds: tuple = ("grid", "line"),
    tol: float = COLLINEAR_TOL,
) -> MagnitudeResult | None:
    """`structured_solve` on validated points and scales, trying only ``kinds``.

    O(n d log n) and O(n d) memory: no n x n array is made, so it serves any n.
    """
    name = _metric_name(metric)
    if name not in _LINE_METRICS:
        return None
    # 1-D data is a lattice too, but reported as a line unless only "grid" is asked for
    if "grid" in kinds and name in _GRID_METRICS and (P.shape[1] > 1 or "line" not in kinds):
        grid = _detect_grid(P)
        if grid is not None:
            per_scale = _solve_grid(grid, scales, weights, order)
            return _result(scales, per_scale, (lambda w: w) if weights else None, order, "grid")
    if "line" not in kinds:
        return None
    line = _collinear_line(P, name, float(tol))
    if line is None:
        return None
    per_scale = _solve_line(line, scales, weights, order, cond=True)

    def expand(w):
        return (w / line.count)[line.group]

    return _result(scales, per_scale, expand if weights else None, order, "line")
