"""Magnitude vectors of images: the weight of every pixel, and edge maps read from them.

An image becomes a finite metric space whose points are its pixels: pixel (i, j) with
intensity I(i, j) is the point (i, j, lambda * I(i, j)), measured with the l1 metric (the
default) or the Euclidean one, at scale t. The intensity has to enter the metric: the bare pixel
grid (lambda = 0) gives every image of a given size the same weights. Pixels whose intensity
differs from that of their neighbours are far from them, so they behave like boundary points
and receive large weights: the weights light up edges (Adamer et al. [1]_).

Solvers (``method=``), one per situation:

``grid``
    The bare l1 grid (lambda = 0, or a constant image). Z(t) is the Kronecker product of two
    path matrices [q^|i - j|] (q = e^-t), so the weighting is the outer product of two 1-D
    weightings, 1 / (1 + q) at the ends and tanh(t / 2) inside: O(n) and exact.
``dense``
    The library's dense solver (`metric_magnitude.weights`) on the n = rows * cols pixel
    points: exact to rounding, O(n^3) time and O(n^2) memory, so small images only.
``cg``
    Preconditioned conjugate gradients on the whole image with a truncated similarity
    operator (never the dense n x n matrix). Every entry of Z(t) is at most e^(-t rho), rho
    the spatial distance of the two pixels, so entries beyond a radius R are dropped, R
    chosen from ``rtol``; the operator is a banded (diagonal-storage) sparse matrix with
    O(R^2 n) entries. The preconditioner is the exact inverse of the bare grid (a 9-point
    stencil, from the Kronecker structure). For the l1 metric the result is certified:
    Z(t) = G o K with G the bare grid matrix and K positive semi-definite with unit diagonal,
    so lambda_min(Z) >= lambda_min(G) = tanh(t / 2)^2 (Schur), and the relative error
    ||w - w_exact||_2 / ||w||_2 (w the computed weights) is at most ``error_bound`` <=
    ``rtol``.
``patches``
    The approximation of [1]_: tiles of ``patch_size`` pixels, each solved densely together with
    a margin of ``halo`` pixels, whose weights are discarded. Not certified; its error decays
    like e^(-t * halo) (measured in ``docs/guide-images.md``).
``exact``
    ``dense`` where it is cheap (at most 4096 pixels), else ``cg`` with ``rtol=1e-10``.
``auto``
    ``grid`` for the bare l1 grid, else whichever of ``dense`` and ``cg`` is estimated cheaper.

References
----------
.. [1] M. F. Adamer, E. De Brouwer, L. O'Bray, B. Rieck, "The magnitude vector of images",
   arXiv:2110.15188 (2021).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy import ndimage, sparse

from ._validation import _as_float_array, available_memory, check_dense_memory, check_scales
from .exceptions import InvalidInputError
from .scales import ConvergenceWarning

__all__ = [
    "METHODS",
    "ImageWeighting",
    "edges",
    "grid_weights",
    "image_points",
    "magnitude_vector",
    "solve_image",
]

METHODS = ("auto", "exact", "dense", "cg", "patches", "grid")

_METRICS = {
    "l1": "l1",
    "cityblock": "l1",
    "manhattan": "l1",
    "euclidean": "euclidean",
    "l2": "euclidean",
}
_CHANNELS = (None, "luminance", "vector")
# ITU-R BT.601 luma, as in the paper's code, PIL and MATLAB's rgb2gray
_LUMA = np.array([0.299, 0.587, 0.114])
# Largest image that method="exact" solves densely (64 x 64 pixels: 128 MiB per matrix).
_EXACT_DENSE_MAX = 4096
_EXACT_RTOL = 1e-10
# Memory the cg operator may keep between matrix-vector products; beyond it, its diagonals
# are recomputed at every product (slower, same result).
_OPERATOR_BYTES = 2 << 30
# Iterations assumed when "auto" compares the cost of cg with that of a dense solve.
_AUTO_CG_ITERATIONS = 30


@dataclass(frozen=True)
class ImageWeighting:
    """The weighting of an image's pixels and how it was computed.

    Attributes
    ----------
    weights : ndarray of shape (rows, cols)
        The weight of every pixel.
    t : float
        The scale.
    intensity_scale : float
        The lambda that was used (``"auto"`` resolved to a number).
    metric : {"l1", "euclidean"}
    method : {"grid", "dense", "cg", "patches"}
        The solver that ran.
    iterations : int
        Conjugate-gradient iterations (0 for the other solvers).
    radius : float or None
        ``cg`` only: pixel pairs farther apart than this (in the metric's spatial distance)
        were dropped from Z(t).
    error_bound : float or None
        ``cg`` with the l1 metric: a proven upper bound on the relative error
        ||w - w_exact||_2 / ||w||_2, truncation included. None where no bound is proven:
        ``grid`` and ``dense`` are exact up to rounding, ``patches`` is an approximation,
        ``cg`` with the Euclidean metric stops on a heuristic.
    """

    weights: np.ndarray
    t: float
    intensity_scale: float
    metric: str
    method: str
    iterations: int = 0
    radius: float | None = None
    error_bound: float | None = None

    @property
    def magnitude(self) -> float:
        """The magnitude of the image, the sum of the weights."""
        return float(self.weights.sum())


# ------------------------------------------------------------------------------ validation


def _check_image(image, channels) -> np.ndarray:
    """Return the image as a float64 array of shape (rows, cols, n_channels), or raise."""
    if channels not in _CHANNELS:
        raise InvalidInputError(
            f"unknown channels={channels!r}; choose None (a grey image), 'luminance' or 'vector'"
        )
    arr = _as_float_array(image, "image")
    if arr.ndim == 1:
        raise InvalidInputError(
            f"image must be 2-D (rows, cols), got a 1-D array of length {arr.shape[0]}; "
            "for a 1-D signal pass image[None, :]"
        )
    if arr.ndim == 3 and channels is None:
        raise InvalidInputError(
            f"image has shape {arr.shape}, a colour or multi-channel image; pass "
            "channels='luminance' to convert RGB(A) to grey, or channels='vector' to use "
            "every channel as an intensity coordinate"
        )
    if arr.ndim not in (2, 3):
        raise InvalidInputError(
            f"image must be 2-D (rows, cols), or 3-D (rows, cols, channels) with channels=..., "
            f"got shape {arr.shape}"
        )
    if arr.ndim == 2 and channels is not None:
        raise InvalidInputError(
            f"channels={channels!r} needs a 3-D image (rows, cols, channels), got shape "
            f"{arr.shape}; leave channels=None for a grey image"
        )
    if arr.size == 0:
        raise InvalidInputError(f"image is empty (shape {arr.shape}): it needs at least one pixel")
    if not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        kind = "NaN" if np.isnan(arr[bad]) else "an infinite value"
        raise InvalidInputError(
            f"image contains {kind} at {bad}; every intensity must be finite: fill missing "
            "pixels first (e.g. with np.nan_to_num or an inpainting method)"
        )
    if arr.ndim == 2:
        return np.ascontiguousarray(arr[:, :, None])
    if channels == "luminance":
        if arr.shape[2] not in (3, 4):
            raise InvalidInputError(
                f"channels='luminance' needs 3 (RGB) or 4 (RGBA) channels, got "
                f"{arr.shape[2]}; use channels='vector' for other channel counts"
            )
        return np.ascontiguousarray((arr[:, :, :3] @ _LUMA)[:, :, None])
    return np.ascontiguousarray(arr)


def _check_t(t) -> float:
    scales, scalar = check_scales(t)
    if not scalar:
        raise InvalidInputError(
            f"t must be a single scale for images, got {scales.size} values; call once per scale"
        )
    return float(scales[0])


def _check_metric(metric) -> str:
    if not isinstance(metric, str) or metric.lower() not in _METRICS:
        raise InvalidInputError(
            f"unknown image metric {metric!r}; choose 'l1' (alias 'cityblock') or 'euclidean'"
        )
    return _METRICS[metric.lower()]


def _check_method(method) -> str:
    if method not in METHODS:
        raise InvalidInputError(
            f"unknown method {method!r}; choose one of {', '.join(map(repr, METHODS))}"
        )
    return method


def _check_positive(value, name: str, *, integer: bool = False, allow_zero: bool = False):
    kind = Integral if integer else Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        what = "an integer" if integer else "a number"
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be {what} {bound}, got {value!r}")
    return int(value) if integer else float(value)


def _resolve_intensity_scale(intensity_scale, img: np.ndarray) -> float:
    """lambda as a number: ``"auto"`` is 1 / (intensity range), the largest over channels."""
    if isinstance(intensity_scale, str):
        if intensity_scale != "auto":
            raise InvalidInputError(
                f"intensity_scale must be 'auto' or a number >= 0, got {intensity_scale!r}"
            )
        spread = float((img.max(axis=(0, 1)) - img.min(axis=(0, 1))).max())
        return 1.0 / spread if spread > 0 else 0.0
    if (
        not isinstance(intensity_scale, Real)
        or isinstance(intensity_scale, bool)
        or not math.isfinite(intensity_scale)
        or intensity_scale < 0
    ):
        raise InvalidInputError(
            f"intensity_scale must be 'auto' or a finite number >= 0, got {intensity_scale!r}; "
            "it multiplies the intensities, so a negative value has no meaning (0 is the bare "
            "pixel grid)"
        )
    return float(intensity_scale)


def _is_bare(scaled: np.ndarray) -> bool:
    """True when every pixel has the same (scaled) intensity: the metric is the bare grid."""
    return bool((scaled == scaled[:1, :1, :]).all())


# ------------------------------------------------------------------------- the bare grid


def _path_weights(n: int, t: float) -> np.ndarray:
    """Weighting of n points at unit spacing on a line: 1/(1+q) at the ends, tanh(t/2) inside."""
    if n == 1:
        return np.ones(1)
    w = np.full(n, math.tanh(t / 2.0))
    w[0] = w[-1] = 1.0 / (1.0 + math.exp(-t))
    return w


def _path_inverse(n: int, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Tridiagonal inverse of [q^|i-j|] (q = e^-t): (diagonal, off-diagonal)."""
    if n == 1:
        return np.ones(1), np.zeros(0)
    q = math.exp(-t)
    one_minus_q2 = -math.expm1(-2.0 * t)
    diag = np.full(n, (1.0 + q * q) / one_minus_q2)
    diag[0] = diag[-1] = 1.0 / one_minus_q2
    return diag, np.full(n - 1, -q / one_minus_q2)


def _apply_tridiagonal(X: np.ndarray, diag: np.ndarray, off: np.ndarray, axis: int):
    if axis == 0:
        Y = X * diag[:, None]
        Y[:-1] += off[:, None] * X[1:]
        Y[1:] += off[:, None] * X[:-1]
    else:
        Y = X * diag[None, :]
        Y[:, :-1] += off[None, :] * X[:, 1:]
        Y[:, 1:] += off[None, :] * X[:, :-1]
    return Y


def grid_weights(shape, t) -> np.ndarray:
    """Weights of the bare rows x cols pixel grid with the l1 metric, in closed form.

    Z(t) of the grid is the Kronecker product of the two path matrices, so the weighting is
    the outer product of two path weightings: 1 / (1 + e^-t) at both ends of a path and
    tanh(t / 2) inside. The magnitude is (1 + (rows - 1) tanh(t/2)) (1 + (cols - 1) tanh(t/2)).
    These are the weights of any constant image, and `edges` divides by them.

    Parameters
    ----------
    shape : tuple of two ints
        (rows, cols), both >= 1.
    t : float
        Scale, > 0.

    Returns
    -------
    ndarray of shape (rows, cols)

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.images import grid_weights
    >>> w = grid_weights((3, 4), 1.0)
    >>> w.shape
    (3, 4)
    >>> bool(np.isclose(w.sum(), (1 + 2 * np.tanh(0.5)) * (1 + 3 * np.tanh(0.5))))
    True
    """
    t = _check_t(t)
    if (
        not isinstance(shape, tuple | list)
        or len(shape) != 2
        or not all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in shape)
    ):
        raise InvalidInputError(f"shape must be two integers (rows, cols) >= 1, got {shape!r}")
    rows, cols = (int(s) for s in shape)
    return np.outer(_path_weights(rows, t), _path_weights(cols, t))


def _grid_preconditioner(rows: int, cols: int, t: float):
    """v -> G(t)^{-1} v for the bare l1 grid: a 9-point stencil, the Kronecker inverse."""
    da, oa = _path_inverse(rows, t)
    db, ob = _path_inverse(cols, t)

    def apply(v: np.ndarray) -> np.ndarray:
        X = v.reshape(rows, cols)
        return _apply_tridiagonal(_apply_tridiagonal(X, db, ob, 1), da, oa, 0).ravel()

    return apply


# ------------------------------------------------------------------------- pixel points


def image_points(image, intensity_scale="auto", *, channels=None) -> np.ndarray:
    """The pixels of an image as points (i, j, lambda * I(i, j)), one row per pixel.

    Rows follow the pixels in row-major order (``image.ravel()``), so the weights of these
    points, reshaped to the image's shape, are its magnitude vector; this is what the
    ``dense`` method solves, and a way to use any function of the library on an image.

    Parameters
    ----------
    image : array_like of shape (rows, cols), or (rows, cols, channels) with ``channels``
    intensity_scale : float >= 0 or "auto", default="auto"
        lambda, the length in pixels of one unit of intensity. ``"auto"`` is
        1 / (max - min) over the image (the largest range over channels), so the full
        intensity range counts as much as one pixel step, whatever the units; 0 for a
        constant image.
    channels : {None, "luminance", "vector"}, default=None
        How to read a 3-D image: None refuses it, ``"luminance"`` converts RGB(A) to grey
        (0.299 R + 0.587 G + 0.114 B, alpha dropped), ``"vector"`` makes every channel an
        intensity coordinate (the point has 2 + channels coordinates).

    Returns
    -------
    ndarray of shape (rows * cols, 2 + n_channels)

    Examples
    --------
    >>> from metric_magnitude.images import image_points
    >>> image_points([[0.0, 2.0]], intensity_scale=0.5)
    array([[0., 0., 0.],
           [0., 1., 1.]])
    """
    img = _check_image(image, channels)
    lam = _resolve_intensity_scale(intensity_scale, img)
    return _points(img * lam)


def _points(scaled: np.ndarray) -> np.ndarray:
    rows, cols, _ = scaled.shape
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.column_stack([ii.ravel(), jj.ravel(), scaled.reshape(rows * cols, -1)]).astype(
        np.float64
    )


# ---------------------------------------------------------------------------- dense path


def _solve_dense(scaled: np.ndarray, t: float, metric: str) -> np.ndarray:
    from .core import weights

    rows, cols, _ = scaled.shape
    w = weights(_points(scaled), t, metric="cityblock" if metric == "l1" else "euclidean")
    return np.asarray(w).reshape(rows, cols)


# ------------------------------------------------------------------------------- cg path


def _lambda_min_bound(t: float, metric: str) -> float:
    """Lower bound on lambda_min(Z(t)): proven for l1, a heuristic for the Euclidean metric.

    l1: Z = G o K, G the bare grid's matrix, K = exp(-t lambda |I_p - I_q|) (per channel, a
    product) positive semi-definite with unit diagonal, so lambda_min(Z) >= lambda_min(G)
    (Schur), and lambda_min(G) >= tanh(t/2)^2 (the symbol of the path's Toeplitz matrix).
    Euclidean: the l1 bound at t / sqrt(2), a heuristic, not a proof (on 30 x 30 test images,
    t from 0.3 to 4, the smallest eigenvalue exceeded it 3 to 11 times).
    """
    s = t if metric == "l1" else t / math.sqrt(2.0)
    return math.tanh(s / 2.0) ** 2


def _spatial(di: np.ndarray, dj: np.ndarray, metric: str) -> np.ndarray:
    return (np.abs(di) + np.abs(dj)) if metric == "l1" else np.hypot(di, dj)


def _outside_box(box: int, t: float) -> float:
    """Sum of e^(-t m) over all offsets with max(|di|, |dj|) = m > box (8 m of them each)."""
    q = math.exp(-t)
    return 8.0 * q ** (box + 1) * ((box + 1) - box * q) / (1.0 - q) ** 2


def _choose_offsets(rows: int, cols: int, t: float, metric: str, dropped_max: float):
    """Half-plane pixel offsets to keep, the radius, and a bound on every dropped row sum.

    Dropped entries of Z are at most e^(-t rho) (rho the spatial distance: the intensity only
    lengthens distances), so the sum of e^(-t rho) over all offsets beyond the radius, both
    half planes, bounds every row sum of the dropped part, hence its 2-norm (it is
    symmetric). Offsets are enumerated in a box max(|di|, |dj|) <= box; beyond the box
    (rho >= max(|di|, |dj|) > box for both metrics) the sum is bounded in closed form.
    """
    box = max(rows, cols) - 1
    while box > 1 and _outside_box(box // 2, t) <= dropped_max / 2.0:
        box //= 2
    outside = 0.0 if box >= max(rows, cols) - 1 else _outside_box(box, t)
    di, dj = np.meshgrid(
        np.arange(min(rows, box + 1)),
        np.arange(-min(cols - 1, box), min(cols, box + 1)),
        indexing="ij",
    )
    half = (di > 0) | ((di == 0) & (dj > 0))
    di, dj = di[half], dj[half]
    rho = _spatial(di, dj, metric)
    order = np.argsort(rho, kind="stable")
    di, dj, rho = di[order], dj[order], rho[order]
    e = np.exp(-t * rho)
    tail = 2.0 * np.cumsum(e[::-1])[::-1] + outside  # tail[k]: offsets k, k+1, ... dropped
    tail = np.append(tail, outside)
    # cut only between distinct radii, at the first place where the tail is small enough
    cuts = np.flatnonzero(np.append(rho[1:] > rho[:-1], True)) + 1
    k = int(cuts[np.argmax(tail[cuts] <= dropped_max)]) if rho.size else 0
    radius = float(rho[k - 1]) if k > 0 else 0.0
    return di[:k], dj[:k], radius, float(tail[k])


class _TruncatedSimilarity:
    """Z(t) of the image's pixels without the pairs beyond a radius, as a banded operator.

    Each kept offset (di, dj) is a diagonal of the n x n matrix (row-major pixel order) at
    distance di * cols + dj, zero where the pair would wrap around a row; scipy's diagonal
    storage multiplies by it in compiled code. The diagonals are kept when they fit in
    ``_OPERATOR_BYTES``, else rebuilt in chunks at each product.
    """

    def __init__(self, scaled: np.ndarray, t: float, metric: str, di, dj):
        self.scaled, self.t, self.metric = scaled, t, metric
        self.rows, self.cols, _ = scaled.shape
        self.n = self.rows * self.cols
        self.di, self.dj = di, dj
        per_offset = 2 * 8 * self.n
        budget = min(_OPERATOR_BYTES, available_memory() // 4)
        self.chunk = max(1, int(budget // per_offset))
        self.cached = len(di) <= self.chunk
        self._matrix = self._build(0, len(di)) if self.cached else None

    def _build(self, start: int, stop: int):
        rows, cols, n = self.rows, self.cols, self.n
        di, dj = self.di[start:stop], self.dj[start:stop]
        # (di, dj) and (di + 1, dj - cols) share a flat diagonal; their supports are disjoint
        shifts, slot = np.unique(di * cols + dj, return_inverse=True)
        k = shifts.size
        data = np.zeros((2 * k, n))
        X = self.scaled
        grey = X.shape[2] == 1
        for m, a, b in zip(slot.ravel(), di, dj, strict=True):
            a, b = int(a), int(b)
            ra, rb = slice(0, rows - a), slice(max(0, -b), cols - max(0, b))
            sa, sb = slice(a, rows), slice(max(0, b), cols - max(0, -b))
            if grey:
                diff = X[ra, rb, 0] - X[sa, sb, 0]
                sq = np.abs(diff, out=diff) if self.metric == "l1" else np.square(diff, out=diff)
            else:
                diff = X[ra, rb, :] - X[sa, sb, :]
                sq = (np.abs(diff) if self.metric == "l1" else diff * diff).sum(axis=2)
            if self.metric == "l1":
                d = np.add(sq, a + abs(b), out=sq)
            else:
                d = np.sqrt(np.add(sq, a * a + b * b, out=sq), out=sq)
            lower = data[2 * m + 1].reshape(rows, cols)  # entry (p + shift, p) at column p
            lower[ra, rb] += np.exp(np.multiply(d, -self.t, out=d), out=d)
        for m, shift in enumerate(shifts):
            shift = int(shift)  # > 0: half-plane offsets; entry (p, p + shift) at column p + shift
            data[2 * m, shift:] = data[2 * m + 1, : n - shift]
        offsets = np.empty(2 * k, dtype=np.int64)
        offsets[0::2], offsets[1::2] = shifts, -shifts
        return sparse.dia_matrix((data, offsets), shape=(n, n))

    def matvec(self, v: np.ndarray) -> np.ndarray:
        if self.cached:
            return v + self._matrix @ v
        y = v.copy()
        for start in range(0, len(self.di), self.chunk):
            y += self._build(start, min(start + self.chunk, len(self.di))) @ v
        return y


def _solve_cg(scaled, t, metric, rtol, maxiter):
    rows, cols, _ = scaled.shape
    n = rows * cols
    mu = _lambda_min_bound(t, metric)
    di, dj, radius, dropped = _choose_offsets(rows, cols, t, metric, rtol * mu / 4.0)
    op = _TruncatedSimilarity(scaled, t, metric, di, dj)
    precondition = _grid_preconditioner(rows, cols, t)
    ones = np.ones(n)
    x = precondition(ones)  # the bare grid's weights: exact for a constant image
    target = rtol * mu - dropped  # > 0 since dropped <= rtol * mu / 4

    iterations = 0
    for _restart in range(3):
        r = ones - op.matvec(x)
        z = precondition(r)
        p = z.copy()
        rz = float(r @ z)
        while iterations < maxiter:
            if np.linalg.norm(r) <= target * np.linalg.norm(x):
                break
            Ap = op.matvec(p)
            alpha = rz / float(p @ Ap)
            x += alpha * p
            r -= alpha * Ap
            z = precondition(r)
            rz_new = float(r @ z)
            p *= rz_new / rz
            p += z
            rz = rz_new
            iterations += 1
        true_residual = float(np.linalg.norm(ones - op.matvec(x)))  # the recursion may drift
        if true_residual <= target * np.linalg.norm(x) or iterations >= maxiter:
            break
    bound = (true_residual + dropped * float(np.linalg.norm(x))) / (mu * float(np.linalg.norm(x)))
    if bound > rtol:
        what = "bound on the relative error" if metric == "l1" else "estimated relative error"
        warnings.warn(
            f"conjugate gradients stopped after {iterations} iterations (maxiter={maxiter}) "
            f"with a {what} of {bound:.2e} > rtol = {rtol:.1e}; raise maxiter, or use a larger "
            "t (Z(t) is worse conditioned at small t)",
            ConvergenceWarning,
            stacklevel=4,
        )
    return x.reshape(rows, cols), iterations, radius, (bound if metric == "l1" else None)


def _cg_cost(rows: int, cols: int, t: float, metric: str, rtol: float) -> float:
    """Estimated flops of the cg path (used by method='auto')."""
    mu = _lambda_min_bound(t, metric)
    di, _, _, _ = _choose_offsets(rows, cols, t, metric, rtol * mu / 4.0)
    n = rows * cols
    return _AUTO_CG_ITERATIONS * (4.0 * len(di) + 20.0) * n + 20.0 * len(di) * n


# -------------------------------------------------------------------------- patches path


def _solve_patches(scaled, t, metric, patch_size, halo):
    """Tiles of patch_size, each solved densely with a margin of halo pixels (then dropped)."""
    rows, cols, _ = scaled.shape
    out = np.empty((rows, cols))
    windows: dict[tuple[int, int], list] = {}
    for i0 in range(0, rows, patch_size):
        for j0 in range(0, cols, patch_size):
            i1, j1 = min(i0 + patch_size, rows), min(j0 + patch_size, cols)
            I0, J0 = max(i0 - halo, 0), max(j0 - halo, 0)
            I1, J1 = min(i1 + halo, rows), min(j1 + halo, cols)
            windows.setdefault((I1 - I0, J1 - J0), []).append((I0, J0, i0, j0, i1, j1))
    for (h, w), group in windows.items():
        m = h * w
        check_dense_memory(m, 3, what="method='patches' (one window)")
        ii, jj = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        di = ii.ravel()[:, None] - ii.ravel()[None, :]
        dj = jj.ravel()[:, None] - jj.ravel()[None, :]
        rho = _spatial(di, dj, metric).astype(np.float64)
        chunk = max(1, (64 << 20) // (8 * m * m))
        for start in range(0, len(group), chunk):
            part = group[start : start + chunk]
            vals = np.stack(
                [scaled[I0 : I0 + h, J0 : J0 + w, :].reshape(m, -1) for I0, J0, *_ in part]
            )
            diff = vals[:, :, None, :] - vals[:, None, :, :]
            if metric == "l1":
                D = rho + np.abs(diff).sum(axis=3)
            else:
                D = np.sqrt(rho * rho + (diff * diff).sum(axis=3))
            Z = np.exp(-t * D)
            W = np.linalg.solve(Z, np.ones((len(part), m, 1))).reshape(len(part), h, w)
            for Wk, (I0, J0, i0, j0, i1, j1) in zip(W, part, strict=True):
                out[i0:i1, j0:j1] = Wk[i0 - I0 : i1 - I0, j0 - J0 : j1 - J0]
    return out


# ------------------------------------------------------------------------------- public


def solve_image(
    image,
    t=2.0,
    *,
    intensity_scale="auto",
    metric="l1",
    method="auto",
    channels=None,
    rtol=1e-6,
    maxiter=1000,
    patch_size=16,
    halo=None,
) -> ImageWeighting:
    """Weights of every pixel of an image, with the solver that ran and its accuracy.

    The lower-level twin of `magnitude_vector`, which returns only the weights.
    Parameters as there.

    Returns
    -------
    ImageWeighting

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.images import solve_image
    >>> image = np.zeros((40, 40))
    >>> image[:, 20:] = 1.0                        # a vertical step
    >>> res = solve_image(image, 1.0)
    >>> res.method, res.error_bound <= 1e-6            # certified relative error
    ('cg', True)
    >>> # the gap between columns 19 and 20 is 1 + lambda = 2 (lambda = 1 / range): the metric
    >>> # is a product of two lines, so the magnitude has a closed form
    >>> exact = (1 + 39 * np.tanh(0.5)) * (1 + 38 * np.tanh(0.5) + np.tanh(1.0))
    >>> bool(abs(res.magnitude - exact) <= 1e-6 * exact)
    True
    """
    t = _check_t(t)
    metric = _check_metric(metric)
    method = _check_method(method)
    img = _check_image(image, channels)
    lam = _resolve_intensity_scale(intensity_scale, img)
    rtol = _check_positive(rtol, "rtol")
    if rtol >= 1:
        raise InvalidInputError(f"rtol must be < 1, got {rtol!r}")
    maxiter = _check_positive(maxiter, "maxiter", integer=True)
    patch_size = _check_positive(patch_size, "patch_size", integer=True)
    if halo is None:
        halo = math.ceil(8.0 / t)
    else:
        halo = _check_positive(halo, "halo", integer=True, allow_zero=True)
    rows, cols, _ = img.shape
    scaled = img * lam
    bare = _is_bare(scaled)
    if bare:
        scaled = np.zeros((rows, cols, 1))

    if method == "grid":
        if metric != "l1" or not bare:
            raise InvalidInputError(
                "method='grid' solves only the bare pixel grid with the l1 metric (a constant "
                "image, or intensity_scale=0); use method='auto' for this image"
            )
    elif method == "auto":
        if bare and metric == "l1":
            method = "grid"
        else:
            dense_cost = (rows * cols) ** 3 / 3.0 + 30.0 * (rows * cols) ** 2
            cg_cost = _cg_cost(rows, cols, t, metric, rtol)
            method = "dense" if dense_cost < cg_cost else "cg"
    elif method == "exact":
        method = "dense" if rows * cols <= _EXACT_DENSE_MAX else "cg"
        rtol = min(rtol, _EXACT_RTOL)

    kwargs = {"t": t, "intensity_scale": lam, "metric": metric, "method": method}
    if method == "grid":
        return ImageWeighting(grid_weights((rows, cols), t), **kwargs)
    if method == "dense":
        return ImageWeighting(_solve_dense(scaled, t, metric), **kwargs)
    if method == "patches":
        return ImageWeighting(_solve_patches(scaled, t, metric, patch_size, halo), **kwargs)
    w, iterations, radius, bound = _solve_cg(scaled, t, metric, rtol, maxiter)
    return ImageWeighting(w, iterations=iterations, radius=radius, error_bound=bound, **kwargs)


def magnitude_vector(
    image,
    t=2.0,
    *,
    intensity_scale="auto",
    metric="l1",
    method="auto",
    channels=None,
    rtol=1e-6,
    maxiter=1000,
    patch_size=16,
    halo=None,
) -> np.ndarray:
    r"""The magnitude vector of an image: the weight of every pixel, shaped like the image.

    Pixel (i, j) is the point (i, j, lambda I(i, j)); with the l1 metric two pixels are
    `d = |i - i'| + |j - j'| + \lambda |I(i, j) - I(i', j')|` apart (the Euclidean
    metric takes the root of the sum of squares). The weighting w solves Z(t) w = 1 with
    Z(t) = exp(-t d) over all pairs of pixels (see the module docstring for the solvers).

    Parameters
    ----------
    image : array_like of shape (rows, cols)
        A grey image, any real dtype. 3-D arrays (rows, cols, channels) need ``channels``.
    t : float, default=2.0
        Scale, > 0: one pixel step has length t. Small t couples distant pixels (weights may
        turn negative below t ~ 0.5, and cg costs grow like 1 / t^2: 512 x 512 pixels take
        about 1 s at t = 2 and 9 s at t = 1); large t isolates every pixel (all weights
        tend to 1).
    intensity_scale : float >= 0 or "auto", default="auto"
        lambda, the length in pixels of one unit of intensity. ``"auto"`` is
        1 / (max - min) of the image, which makes the weights independent of the intensity
        units (I and a I + b give the same weights for a > 0); 0 is the bare grid.
    metric : {"l1", "euclidean"}, default="l1"
        ``"cityblock"`` and ``"manhattan"`` are aliases of ``"l1"``, ``"l2"`` of
        ``"euclidean"``. Only l1 has the Kronecker closed form and the certified cg bound.
    method : {"auto", "exact", "dense", "cg", "patches", "grid"}, default="auto"
        See the module docstring. ``"grid"`` requires the bare grid (l1, constant image or
        ``intensity_scale=0``).
    channels : {None, "luminance", "vector"}, default=None
        For 3-D images: None refuses them, ``"luminance"`` converts RGB(A) to grey with the
        BT.601 weights (0.299, 0.587, 0.114; alpha dropped), ``"vector"`` uses every channel
        as an intensity coordinate (l1: the channel differences add up).
    rtol : float, default=1e-6
        ``cg``: the target for the relative error ||w - w_exact||_2 / ||w||_2, proven
        for l1 (``error_bound`` in `solve_image`'s result); single pixels may be off by
        up to about 10 rtol relative to the largest weight.
    maxiter : int, default=1000
        ``cg``: most iterations.
    patch_size, halo : int
        ``patches``: tile size (default 16) and margin (default ceil(8 / t)).

    Returns
    -------
    ndarray of shape (rows, cols)

    Raises
    ------
    InvalidInputError
        Malformed input: the message names it (NaN, wrong shape, t <= 0, ...).
    InsufficientMemoryError
        ``method="dense"`` on an image too large for memory.

    Warns
    -----
    ConvergenceWarning
        ``cg`` stopped at ``maxiter`` before reaching ``rtol``.

    References
    ----------
    .. [1] M. F. Adamer, E. De Brouwer, L. O'Bray, B. Rieck, "The magnitude vector of
       images", arXiv:2110.15188 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.images import magnitude_vector, grid_weights
    >>> image = np.zeros((6, 8))
    >>> image[:, 4:] = 1.0                          # a step between columns 3 and 4
    >>> w = magnitude_vector(image, 1.0)
    >>> w.shape
    (6, 8)
    >>> bool((w[:, 3:5] > w[:, 1:3]).all())          # pixels on the step weigh more
    True
    >>> bool(np.allclose(magnitude_vector(np.ones((6, 8)), 1.0), grid_weights((6, 8), 1.0)))
    True
    """
    return solve_image(
        image,
        t,
        intensity_scale=intensity_scale,
        metric=metric,
        method=method,
        channels=channels,
        rtol=rtol,
        maxiter=maxiter,
        patch_size=patch_size,
        halo=halo,
    ).weights


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the cut of a histogram that maximises the between-class variance."""
    hist, edges_ = np.histogram(values, bins=bins)
    centres = (edges_[:-1] + edges_[1:]) / 2.0
    w0 = np.cumsum(hist)[:-1].astype(np.float64)
    w1 = values.size - w0
    s0 = np.cumsum(hist * centres)[:-1]
    m0 = s0 / np.maximum(w0, 1)
    m1 = (float((hist * centres).sum()) - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges_[1:-1][int(np.argmax(between))])


def edges(
    image,
    t=2.0,
    *,
    intensity_scale="auto",
    metric="l1",
    method="auto",
    sigma=1.0,
    threshold=None,
    channels=None,
    rtol=1e-6,
) -> np.ndarray:
    """An edge map from the magnitude vector: a score per pixel, or edges where it is high.

    The score of a pixel is its weight divided by its weight in the bare pixel grid, minus 1:
    0 in a featureless image, positive where a pixel is set apart from its neighbours by
    its intensity. Dividing by the bare grid's weights removes the image border, which is a
    boundary of the metric space but not an edge of the picture.

    Parameters
    ----------
    image, t, intensity_scale, metric, method, channels
        As in `magnitude_vector`; ``intensity_scale="auto"`` is taken from the image
        before smoothing.
    sigma : float >= 0, default=1.0
        Standard deviation (pixels) of a Gaussian blur applied to the image first (per
        channel, ``mode="nearest"``), as in Canny's detector; 0 turns it off. The weights,
        being a nonlinear function of intensity differences, are sensitive to pixel noise:
        on the synthetic shapes of ``docs/guide-images.md`` the blur is what makes them
        competitive with Sobel.
    threshold : None, float or "otsu", default=None
        None returns the score map; a number returns ``score > threshold``; ``"otsu"`` picks
        the threshold with Otsu's method on the scores.
    rtol : float, default=1e-6
        Accuracy of the weights (``cg``), looser than in `magnitude_vector`: an edge
        map needs no more.

    Returns
    -------
    ndarray of shape (rows, cols)
        float64 scores, or bool edges when ``threshold`` is given.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.images import edges
    >>> image = np.zeros((12, 12))
    >>> image[3:9, 3:9] = 1.0                       # a bright square
    >>> E = edges(image, 1.0, sigma=0, threshold="otsu")
    >>> bool(E[3, 5] and E[5, 3] and not E[5, 5] and not E[0, 0])
    True
    """
    img = _check_image(image, channels)
    lam = _resolve_intensity_scale(intensity_scale, img)
    sigma = _check_positive(sigma, "sigma", allow_zero=True)
    if not (
        threshold is None
        or (isinstance(threshold, str) and threshold == "otsu")
        or (
            isinstance(threshold, Real)
            and not isinstance(threshold, bool)
            and math.isfinite(threshold)
        )
    ):
        raise InvalidInputError(
            f"threshold must be None (the score map), a finite number or 'otsu', got {threshold!r}"
        )
    if sigma > 0:
        img = ndimage.gaussian_filter(img, sigma=(sigma, sigma, 0), mode="nearest")
    grey = img if img.shape[2] > 1 else img[:, :, 0]
    options = {"metric": metric, "method": method, "rtol": rtol}
    chan = "vector" if img.shape[2] > 1 else None
    w = magnitude_vector(grey, t, intensity_scale=lam, channels=chan, **options)
    if _check_metric(metric) == "l1":
        bare = grid_weights(w.shape, t)
    else:
        bare = magnitude_vector(np.zeros(w.shape), t, intensity_scale=0.0, **options)
    score = w / bare - 1.0
    if threshold is None:
        return score
    cut = _otsu(score.ravel()) if isinstance(threshold, str) else float(threshold)
    return score > cut
