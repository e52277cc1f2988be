"""Solvers for the weighting equation Z(t) w = 1; one shared result type.

``method="auto"`` of `metric_magnitude.solve` chooses among them (``docs/large-n.md``): the
closed forms for lines and l1 lattices (`structured_solve`), the truncated sparse solver at
large scales (`sparse_solve`), the dense factorisations (`solve_dense`) and matrix-free
conjugate gradients (`solve_iterative`).
"""

from ..exceptions import CertificationError, CertificationWarning
from ._result import MagnitudeResult
from .dense import METHODS, solve_dense
from .iterative import IterativeResult, SimilarityOperator, solve_iterative
from .sparse import SparseResult, sparse_solve
from .structured import structured_solve

__all__ = [
    "METHODS",
    "CertificationError",
    "CertificationWarning",
    "IterativeResult",
    "MagnitudeResult",
    "SimilarityOperator",
    "SparseResult",
    "solve_dense",
    "solve_iterative",
    "sparse_solve",
    "structured_solve",
]
