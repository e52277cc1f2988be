"""The one result type every solver returns."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def _bounds_text(lower: float, upper: float, certified: bool) -> str:
    """``|tX| in [lower, upper] (relative gap g)`` for the solvers' log lines, marked where
    not certified."""
    gap = (upper - lower) / lower if lower > 0 else math.inf
    text = f"|tX| in [{lower:.10g}, {upper:.10g}] (relative gap {gap:.1e})"
    return text if certified else text + ", NOT certified"


@dataclass(frozen=True)
class MagnitudeResult:
    """Magnitude, weights and derivative of one space at several scales.

    All arrays are indexed by scale first. Weights are those of the *distinct* points
    (see `MetricSpace.inverse <metric_magnitude.MetricSpace>` to expand them).

    Attributes
    ----------
    scales : ndarray of shape (k,)
    magnitude : ndarray of shape (k,)
    magnitude_minus_one : ndarray of shape (k,)
        |tX| - 1 computed without cancellation (from the small-t form where it was used).
    weights : ndarray of shape (k, n_distinct) or None
    derivative : ndarray of shape (k,) or None
        d|tX|/dt = w^T (D o Z) w.
    methods : tuple of str
        The solver used at each scale: ``"cholesky"``, ``"small_t"`` or ``"ldl"``.
    rcond : ndarray of shape (k,)
        LAPACK's estimate of the reciprocal 1-norm condition number of the matrix solved.
    positive_definite : ndarray of bool, shape (k,)
        Whether Z(t) was found positive definite (by the Cholesky factorisation or the
        inertia of its LDL^T factorisation).
    error_bound : ndarray of shape (k,) or None
        The certified relative error of ``magnitude`` at the scales solved by ``"cg"`` or
        ``"sparse"``; NaN at scales solved directly (exact up to rounding, see ``rcond``).
    derivative_error : ndarray of shape (k,) or None
        With ``derivative``: a bound on its absolute error at the ``"cg"`` and ``"sparse"``
        scales, from the certified error of their weights
        (`metric_magnitude.solvers.iterative.derivative_error_bound`); NaN elsewhere.
    """

    scales: np.ndarray
    magnitude: np.ndarray
    magnitude_minus_one: np.ndarray
    weights: np.ndarray | None
    derivative: np.ndarray | None
    methods: tuple
    rcond: np.ndarray
    positive_definite: np.ndarray
    error_bound: np.ndarray | None = None
    derivative_error: np.ndarray | None = None
