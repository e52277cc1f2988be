"""metric-magnitude: magnitude of finite metric spaces, exact where it can be.

>>> import metric_magnitude as mm
>>> round(mm.magnitude([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], 10.0), 4)
2.9998
"""

import logging as _logging

from . import asymmetric
from .analysis import Analysis, SpaceSummary, analyse
from .core import magnitude, magnitude_derivative, solve, spread, weights
from .diversity import Comparison, compare, mag_area, mag_diff
from .exceptions import (
    CertificationError,
    CertificationWarning,
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
from .hull import convex_hull_approximation, default_hull_scale
from .io import load_space, read_array, read_edge_list
from .plotting import plot_functions, plot_mag_diffs, plot_weights
from .report import Report, analysis_report
from .scales import ConvergenceWarning, convergence_scale
from .solvers import METHODS, MagnitudeResult
from .spaces import MetricSpace, distance_matrix

__version__ = "0.1.0"

# the solvers log INFO lines (each certified scale, its bounds and time) to the logger
# "metric_magnitude"; silent unless the application configures logging (docs/large-n.md)
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

# Imported on first use: the estimators import scikit-learn (when it is installed) for their
# base classes, which would add about a second to every `import metric_magnitude`.
_LAZY = {
    "MagnitudeBoundaryDetector": "outliers",
    "MagnitudeOutlierDetector": "outliers",
    "boundary_scores": "outliers",
    "MagnitudeClassifier": "classification",
    "active_learning": None,
    "images": None,
    "graphs": None,
    "compute_many": "distributed",  # imports dask only when it runs
    "approximate_weights": "approximate",
}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module = _LAZY[name]
        value = (import_module(f".{name}", __name__) if module is None
                 else getattr(import_module(f".{module}", __name__), name))
        globals()[name] = value  # cached: later look-ups skip __getattr__
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "METHODS",
    "Analysis",
    "CertificationError",
    "CertificationWarning",
    "Comparison",
    "ConvergenceWarning",
    "IllConditionedWarning",
    "InsufficientMemoryError",
    "InterpolationWarning",
    "InvalidInputError",
    "MagnitudeBoundaryDetector",
    "MagnitudeClassifier",
    "MagnitudeError",
    "MagnitudeFunction",
    "MagnitudeOutlierDetector",
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
    "active_learning",
    "analyse",
    "analysis_report",
    "approximate_weights",
    "asymmetric",
    "boundary_scores",
    "compare",
    "compute_many",
    "convergence_scale",
    "convex_hull_approximation",
    "default_hull_scale",
    "distance_matrix",
    "graphs",
    "images",
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
