"""Input validation: one place that turns user input into clean arrays or a clear error.

Public functions call these checks once; private solvers trust what they receive.
"""

from __future__ import annotations

import os
from numbers import Real

import numpy as np

from .exceptions import InsufficientMemoryError, InvalidInputError

# Relative tolerance for symmetry and a zero diagonal in user-given distance matrices:
# float round-off from a user's own computation is accepted and cleaned, real asymmetry is not.
_SYMMETRY_RTOL = 1e-12


def _as_float_array(X, name: str) -> np.ndarray:
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged nested lists and the like
        raise InvalidInputError(
            f"{name} could not be read as a numeric array ({exc}); "
            "pass a rectangular array of numbers"
        ) from exc
    if arr.dtype == object or arr.dtype.kind in "USVMmO":
        raise InvalidInputError(
            f"{name} must hold numbers, got dtype {arr.dtype}; "
            "convert it to floats first (e.g. np.asarray(X, dtype=float))"
        )
    if arr.dtype.kind == "c":
        raise InvalidInputError(
            f"{name} is complex ({arr.dtype}); it must hold real numbers (take .real or "
            "abs() first if that is what you mean)"
        )
    return arr.astype(np.float64, copy=False)


def _check_finite(arr: np.ndarray, name: str, what: str) -> None:
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "an infinite value"
        raise InvalidInputError(
            f"{name} contains {kind} at index {tuple(int(i) for i in bad)}; "
            f"every {what} must be finite: drop or impute such rows first"
        )


def check_points(X, *, name: str = "X") -> np.ndarray:
    """Return X as a C-contiguous float64 array of shape (n, d), or raise.

    >>> check_points([[0.0, 1.0], [2.0, 3.0]]).shape
    (2, 2)
    """
    arr = _as_float_array(X, name)
    if arr.ndim == 1:
        raise InvalidInputError(
            f"{name} must be 2-D with shape (n_points, n_features), got a 1-D array of "
            f"length {arr.shape[0]}; for points on a line use {name}.reshape(-1, 1)"
        )
    if arr.ndim != 2:
        raise InvalidInputError(
            f"{name} must be 2-D with shape (n_points, n_features), got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty: a metric space needs at least one point")
    if arr.shape[1] == 0:
        raise InvalidInputError(f"{name} has {arr.shape[0]} points but no coordinates")
    _check_finite(arr, name, "coordinate")
    return np.ascontiguousarray(arr)


def check_distance_matrix(D, *, name: str = "D") -> np.ndarray:
    """Return D as a clean symmetric float64 distance matrix with a zero diagonal, or raise.

    Round-off asymmetry (relative 1e-12) is symmetrised, and a round-off diagonal and
    round-off negative entries are set to zero; anything larger is an error. The triangle
    inequality is not checked (O(n^3)): magnitude is defined for any symmetric non-negative
    matrix.

    >>> check_distance_matrix([[0, 1], [1, 0]])
    array([[0., 1.],
           [1., 0.]])
    """
    arr = _as_float_array(D, name)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise InvalidInputError(
            f"{name} must be a square (n, n) distance matrix, got shape {arr.shape}; "
            "for coordinates of points, do not pass metric='precomputed'"
        )
    if arr.shape[0] == 0:
        raise InvalidInputError(f"{name} is empty: a metric space needs at least one point")
    if np.isinf(arr).any() and not np.isnan(arr).any():
        raise InvalidInputError(
            f"{name} contains infinite distances; magnitude adds over components, so compute "
            "each connected component separately, or pass a networkx graph (which may be "
            "disconnected)"
        )
    _check_finite(arr, name, "distance")
    scale = float(np.abs(arr).max())
    tol = _SYMMETRY_RTOL * max(scale, np.finfo(float).tiny)
    if (arr < -tol).any():
        i, j = np.argwhere(arr < -tol)[0]
        raise InvalidInputError(
            f"{name} has a negative distance {float(arr[i, j])!r} at ({i}, {j}); "
            "distances must be non-negative"
        )
    asym = np.abs(arr - arr.T)
    if (asym > tol).any():
        i, j = np.unravel_index(int(np.argmax(asym)), asym.shape)
        raise InvalidInputError(
            f"{name} is not symmetric: D[{i}, {j}] = {float(arr[i, j])!r} but D[{j}, {i}] = "
            f"{float(arr[j, i])!r}; symmetrise it (e.g. (D + D.T) / 2) if that is what you mean, "
            "or for a quasi-metric or directed graph use mm.asymmetric.magnitude(D, t)"
        )
    diag = np.abs(np.diagonal(arr))
    if (diag > tol).any():
        i = int(np.argmax(diag))
        raise InvalidInputError(
            f"{name} has a nonzero diagonal entry D[{i}, {i}] = {float(arr[i, i])!r}; "
            "the distance of a point to itself must be 0"
        )
    clean = (arr + arr.T) * 0.5
    np.fill_diagonal(clean, 0.0)
    np.maximum(clean, 0.0, out=clean)  # round-off negatives (e.g. 1 - cos) are zeros
    return clean


def check_scales(t, *, name: str = "t") -> tuple[np.ndarray, bool]:
    """Return (scales as a 1-D float64 array, whether t was a scalar), or raise.

    >>> check_scales(2.0)
    (array([2.]), True)
    """
    scalar = isinstance(t, Real) or (isinstance(t, np.ndarray) and t.ndim == 0)
    if isinstance(t, Real) and not isinstance(t, bool):
        t = float(t)  # fractions.Fraction and the like would become object arrays
    arr = _as_float_array(t, name)
    if arr.ndim > 1:
        raise InvalidInputError(f"{name} must be a number or a 1-D array, got shape {arr.shape}")
    arr = np.atleast_1d(arr)
    if arr.size == 0:
        raise InvalidInputError(f"{name} is empty: give at least one scale")
    if not np.isfinite(arr).all():
        raise InvalidInputError(
            f"{name} contains a non-finite scale ({float(arr[~np.isfinite(arr)][0])!r}); "
            "scales must be finite positive numbers"
        )
    if (arr <= 0).any():
        raise InvalidInputError(
            f"scale {name} must be > 0, got {float(arr[arr <= 0][0])!r}; the magnitude at t = 0 is "
            "1 by convention, at t < 0 it is not defined"
        )
    return arr, scalar


def check_scales_with_zero(t, *, name: str = "scales", increasing: bool = False):
    """Like `check_scales`, but t = 0 is allowed (|0X| = 1 by convention).

    With ``increasing=True`` the scales must be strictly increasing, so 0 can only come
    first. Returns (scales as a 1-D float64 array, whether t was a scalar).

    >>> check_scales_with_zero([0.0, 0.5, 1.0], increasing=True)
    (array([0. , 0.5, 1. ]), False)
    """
    arr = _as_float_array(t, name)
    if arr.ndim > 1:
        raise InvalidInputError(f"{name} must be a number or a 1-D array, got shape {arr.shape}")
    if arr.ndim == 1 and arr.size == 0:
        raise InvalidInputError(f"{name} is empty: give at least one scale")
    if np.any(arr == 0):
        rest, scalar = (np.atleast_1d(arr), arr.ndim == 0)
        positive = rest[rest != 0]
        if positive.size:
            check_scales(positive, name=name)
        out = rest
    else:
        out, scalar = check_scales(t, name=name)
    if increasing and out.size > 1 and not (np.diff(out) > 0).all():
        i = int(np.argmax(np.diff(out) <= 0))
        raise InvalidInputError(
            f"{name} must be strictly increasing, but {name}[{i}] = {float(out[i])!r} and "
            f"{name}[{i + 1}] = {float(out[i + 1])!r}; sort them and drop repeats"
        )
    return out, scalar


def available_memory() -> int:
    """Bytes of memory this process may still allocate (Linux MemAvailable, else a guess)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def check_dense_memory(n: int, n_matrices: float, *, what: str = "the dense solver") -> None:
    """Raise InsufficientMemoryError if ``n_matrices`` dense (n, n) float64 arrays do not fit.

    The message says how large n may be on this machine.
    """
    need = n_matrices * 8.0 * n * n
    avail = available_memory()
    if need > avail:
        n_max = int(np.sqrt(avail / (8.0 * n_matrices)))
        raise InsufficientMemoryError(
            f"{what} needs about {need / 2**30:.1f} GiB for n = {n} points "
            f"({n_matrices:g} dense {n}x{n} float64 matrices) but only "
            f"{avail / 2**30:.1f} GiB is available; on this machine n may be at most about "
            f"{n_max}: subsample the data or use a machine with more memory"
        )


def check_names(names, k: int, what: str = "spaces") -> list[str]:
    """Names for k things as strings: ``X_0, X_1, ...`` when None, else exactly k of them.

    >>> check_names(None, 2)
    ['X_0', 'X_1']
    """
    if names is None:
        return [f"X_{i}" for i in range(k)]
    names = [str(n) for n in names]
    if len(names) != k:
        raise InvalidInputError(f"got {len(names)} names for {k} {what}; give one name each")
    return names
