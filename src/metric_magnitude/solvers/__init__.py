"""Solvers for the weighting equation Z(t) w = 1; one shared result type."""

from ._result import MagnitudeResult
from .dense import METHODS, solve_dense

__all__ = ["METHODS", "MagnitudeResult", "solve_dense"]
