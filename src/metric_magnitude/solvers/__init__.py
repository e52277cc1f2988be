"""Solvers for the weighting equation Z(t) w = 1; one shared result type."""

from ._result import MagnitudeResult
from .dense import METHODS, solve_dense
from .iterative import (
    CertificationError,
    CertificationWarning,
    IterativeResult,
    SimilarityOperator,
    solve_iterative,
)

__all__ = [
    "METHODS",
    "CertificationError",
    "CertificationWarning",
    "IterativeResult",
    "MagnitudeResult",
    "SimilarityOperator",
    "solve_dense",
    "solve_iterative",
]
