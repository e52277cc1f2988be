"""metric-magnitude: magnitude of finite metric spaces, exact where it can be.

>>> import metric_magnitude as mm
>>> round(mm.magnitude([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 10.0), 4)
2.9998
"""

from . import asymmetric
from .analysis import Analysis, SpaceSummary, analyse
from .core import magnitude, magnitude_derivative, solve, spread, weights
from .diversity import Comparison, compare, mag_area, mag_diff
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
from .function import (
    InterpolationWarning,
    MagnitudeFunction,
    magnitude_dimension,
    magnitude_function,
)
from .io import load_space, read_array, read_edge_list
from .plotting import plot_functions, plot_mag_diffs, plot_weights
from .report import Report, analysis_report
from .scales import ConvergenceWarning, convergence_scale
from .solvers import METHODS, MagnitudeResult
from .spaces import MetricSpace, distance_matrix

__version__ = "0.1.0"

__all__ = [
    "METHODS",
    "Analysis",
    "Comparison",
    "ConvergenceWarning",
    "IllConditionedWarning",
    "InsufficientMemoryError",
    "InterpolationWarning",
    "InvalidInputError",
    "MagnitudeError",
    "MagnitudeFunction",
    "MagnitudeResult",
    "MagnitudeWarning",
    "MetricSpace",
    "MissingDependencyError",
    "NotPositiveDefiniteError",
    "NotPositiveDefiniteWarning",
    "Report",
    "SingularSimilarityError",
    "SpaceSummary",
    "__version__",
    "analyse",
    "analysis_report",
    "asymmetric",
    "compare",
    "convergence_scale",
    "distance_matrix",
    "load_space",
    "mag_area",
    "mag_diff",
    "magnitude",
    "magnitude_derivative",
    "magnitude_dimension",
    "magnitude_function",
    "plot_functions",
    "plot_mag_diffs",
    "plot_weights",
    "read_array",
    "read_edge_list",
    "solve",
    "spread",
    "weights",
]
