"""Exception and warning classes of metric-magnitude.

Every error a user can cause is an `InvalidInputError` (a ``ValueError``), so
``except ValueError`` keeps working; numerical failures that depend on the scale are
`SingularSimilarityError` (a ``numpy.linalg.LinAlgError``). Warnings derive from
`MagnitudeWarning` so they can be filtered as one family.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CertificationError",
    "CertificationWarning",
    "IllConditionedWarning",
    "InsufficientMemoryError",
    "InvalidInputError",
    "MagnitudeError",
    "MagnitudeWarning",
    "MissingDependencyError",
    "NotPositiveDefiniteError",
    "NotPositiveDefiniteWarning",
    "SingularSimilarityError",
]


class MagnitudeError(Exception):
    """Base class of every error raised by metric-magnitude."""


class InvalidInputError(MagnitudeError, ValueError):
    """The input is malformed: the message says what is wrong and how to fix it."""


class InsufficientMemoryError(InvalidInputError):
    """The problem would not fit in the memory available to this process."""


class MissingDependencyError(MagnitudeError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class SingularSimilarityError(MagnitudeError, np.linalg.LinAlgError):
    """The similarity matrix Z(t) is singular at the requested scale.

    Attributes
    ----------
    scale : float
        The scale t at which Z(t) is (numerically) singular.
    """

    def __init__(self, message: str, scale: float):
        super().__init__(message)
        self.scale = scale


class NotPositiveDefiniteError(MagnitudeError, np.linalg.LinAlgError):
    """Z(t) is not positive definite but a positive-definite-only method was requested."""

    def __init__(self, message: str, scale: float):
        super().__init__(message)
        self.scale = scale


class CertificationError(MagnitudeError, np.linalg.LinAlgError):
    """The requested tolerance on |tX| could not be certified at a scale.

    Raised by the certified large-n methods (``method="cg"``, ``"sparse"``). The message
    says why; the attributes carry the best certified bounds found, so that a caller can
    still use them (``lower <= |tX| <= upper``; ``-inf`` / ``inf`` where nothing could be
    certified, e.g. a space not known to be positive definite).

    Attributes
    ----------
    scale : float
    lower, upper : float
        Best certified bounds on |tX| at ``scale``.
    estimate : float
        The solver's estimate of |tX| (not certified).
    iterations : int
    reason : str
        ``"maxiter"``, ``"breakdown"``, ``"not_positive_definite"``, ``"no_eigenvalue_bound"``,
        ``"rounding_floor"`` or (``method="sparse"``) ``"sparse_bound"``.
    """

    def __init__(self, message, *, scale, lower, upper, estimate=np.nan, iterations=0,
                 reason=""):
        super().__init__(message)
        self.scale = float(scale)
        self.lower = float(lower)
        self.upper = float(upper)
        self.estimate = float(estimate)
        self.iterations = int(iterations)
        self.reason = reason


class SparseTooDenseError(InvalidInputError):
    """Z(t) keeps too many entries after truncation for the sparse method to pay off."""


class MagnitudeWarning(UserWarning):
    """Base class of every warning emitted by metric-magnitude."""


class NotPositiveDefiniteWarning(MagnitudeWarning):
    """Z(t) is not positive definite: the magnitude was computed with a symmetric
    indefinite (LDL^T) solve and may be negative or not monotone in t."""


class IllConditionedWarning(MagnitudeWarning):
    """Z(t) is so ill-conditioned that the weights carry few correct digits."""


class CertificationWarning(MagnitudeWarning):
    """A scale's tolerance was not certified (``strict=False``); its bounds are reported."""


class BoundNotCertifiedWarning(CertificationWarning):
    """The requested relative tolerance could not be certified; the best bounds are given."""
