"""metric-magnitude: magnitude of finite metric spaces, exact where it can be.

>>> import metric_magnitude as mm
>>> round(mm.magnitude([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 10.0), 4)
2.9998
"""

from .core import magnitude, magnitude_derivative, solve, spread, weights
from .exceptions import (
    IllConditionedWarning,
    InsufficientMemoryError,
    InvalidInputError,
    MagnitudeError,
    MagnitudeWarning,
    MissingDependencyError,
    NotPositiveDefiniteError,
    NotPositiveDefiniteWarning,
    SingularSimilarityError,
)
from .solvers import METHODS, MagnitudeResult
from .spaces import MetricSpace, distance_matrix

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "IllConditionedWarning",
    "InsufficientMemoryError",
    "InvalidInputError",
    "MagnitudeError",
    "MagnitudeResult",
    "MagnitudeWarning",
    "MetricSpace",
    "MissingDependencyError",
    "NotPositiveDefiniteError",
    "NotPositiveDefiniteWarning",
    "SingularSimilarityError",
    "__version__",
    "distance_matrix",
    "magnitude",
    "magnitude_derivative",
    "solve",
    "spread",
    "weights",
]
