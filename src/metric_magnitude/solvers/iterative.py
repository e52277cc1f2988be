"""Matrix-free preconditioned conjugate gradients for Z(t) w = 1, with certified bounds.

For large n the dense solvers cannot even store Z(t) = exp(-t D) (8 n^2 bytes). This module
never forms it: `SimilarityOperator` multiplies by Z(t) in tiles computed on the fly
from the points (``scipy.spatial.distance.cdist`` on blocks of rows, then ``exp``), each tile
used twice (Z is symmetric), so memory is O(n * leaf) and the work per product is about n^2 / 2
distances and exponentials. Points are ordered by a k-d partition into leaves of about 256
points; at large scales, pairs of leaves whose bounding boxes are so far apart that every
entry between them is negligible are skipped, and the skipped mass is bounded and charged to
the certificate (see below).

Preconditioned conjugate gradients (PCG) solves Z w = 1 for spaces whose Z(t) is positive
definite (metrics of negative type: Euclidean, l1, Hamming). The preconditioner (``"auto"``)
is, for euclidean points in up to 3 dimensions at small and middle scales (and in up to 20
where Z(t) is spread), a sparse approximate inverse factor M^-1 = L L^T (`_sparse_inverse`;
a factor of the richer pattern also serves the next smaller scale of a chain); elsewhere
M = F F^T + blockdiag(R_II + sigma I): F is a randomly pivoted Cholesky (Nystrom) factor of
Z (Diaz, Epperly, Frangella, Tropp, Webber 2023), whose rank grows in blocks for as long as
each new pivot removes at least twice its own diagonal from the residual (many pivots at small
t, where Z is nearly low rank; one block at large t, where it is not); R_II = Z_II - F_I F_I^T
are the diagonal blocks of the Nystrom residual over the k-d leaves (block Jacobi over spatial
clusters, which is what matters at large t). Several scales are solved from the largest down,
each started at the Galerkin point of the span of the previous (larger) scales' weights: the
hard small scales come last, with the most to start from.

What is certified
-----------------
For symmetric positive definite Z and any vector x, with r = 1 - Z x and mu = 1^T Z^{-1} 1:

* lower: ``(1^T x)^2 / (x^T Z x) <= mu`` (variational principle, Cauchy-Schwarz in the Z inner
  product). At a CG iterate this is at least the Gauss-quadrature lower bound 1^T x.
* upper: ``mu = 2 1^T x - x^T Z x + r^T Z^{-1} r <= 2 1^T x - x^T Z x + ||r||^2 / lambda``
  for any ``0 < lambda <= lambda_min(Z)``.

The lower bound on lambda_min(Z) is the largest of these, each a theorem:

* Gershgorin for Z - c 1 1^T (0 <= c <= min Z_ij = exp(-t diameter), and c 1 1^T is positive
  semi-definite) with a positive scaling u (|x| and the vector of ones):
  ``lambda_min(Z) >= min_i (2 - (Z u)_i / u_i + c (sum(u) / u_i - 2))``; useful at large t,
  for every metric.
* Euclidean points with minimum separation q (Narcowich-Ward-Schaback argument): with
  psi = 1_B * 1_B / |B|, B the ball of radius q/2, v^T Z v >= c ||v||^2 where
  c = inf_w hat f(w) / hat psi(w) and f = exp(-t|x|); in closed form
  ``c = K_d tau inf_z (tau^2 + z^2)^(-(d+1)/2) / Lambda_{d/2}(z)^2`` with tau = t q / 2,
  K_d = 2^d Gamma((d+1)/2) Gamma(d/2+1) / sqrt(pi) and Lambda_nu(z) = 0F1(; nu+1; -z^2/4).
  The infimum is bounded below rigorously (cell-wise bounds on a grid with a derivative bound,
  and Nicholson's monotonicity of x (J_nu^2 + Y_nu^2) on the tail). Measured: within a factor
  2 to 6 of the true lambda_min on Gaussian clouds in R^2..R^10.
* Euclidean points in any dimension (subordination, `subordination_bound`): exp(-t r) is a
  mixture of Gaussians exp(-s r^2) with the Levy density of t, so lambda_min(Z) is at least
  the mixture of Gershgorin bounds of the Gaussian kernel matrices (row sums bounded from
  each point's 16 nearest neighbours). Measured: within a factor 1.24 of the true
  lambda_min in R^3, 1.7 in R^10, 2.7 in R^768 (the separation bound: up to 3.2x below
  lambda_min in R^3, 1e-31 in R^768).
* l1 points: Z is the Hadamard product of the one-dimensional matrices of the coordinates, so
  (Schur) lambda_min(Z) >= lambda_min of any one of them, bounded through their tridiagonal
  inverses; and a product-kernel version of the separation argument with the Chebyshev
  separation. Both are weak in high dimension.

The certificate is evaluated from one explicit product Z [x, |x|] (not from the recursively
updated CG residual), and it charges every rounding error that matters: the entries of the
computed Z (distances and exp, relative error at most ``(min(746, t diam) (d + 6) + 2) u``),
the sums (``gamma_m = 1.01 m u`` for the m terms summed into an entry of a product, numpy's
pairwise sums and BLAS norms), and the skipped far-field entries (a row-sum bound from the
leaves' bounding boxes). The space is the input after merging points closer than
4 eps * diameter, as the dense path does. For spaces of negative type the bounds are also
intersected with the theorem 1 <= |tX| <= n. What is *not* certified: the weights (their
2-norm error is bounded by ||r|| / lambda and reported as ``weight_error``), and correctness
of libm's exp and of scipy's cdist beyond their documented accuracy.

When the tolerance cannot be certified (maximum of iterations, breakdown, no eigenvalue bound,
or a tolerance below the rounding floor), `CertificationError` carries the best bounds
found; with ``strict=False`` a `CertificationWarning` is given instead and the result
says which scales were not certified.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import os
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy.linalg import lapack
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from scipy.special import gammaln, hyp0f1, jv, yv

from .._validation import available_memory, check_scales
from ..exceptions import (  # the certification classes live there; re-exported here
    CertificationError,
    CertificationWarning,
    InsufficientMemoryError,
    InvalidInputError,
)
from ._result import _bounds_text

# one INFO line per certified scale: a long run (minutes at 100,000 points) shows where it is
_log = logging.getLogger(__name__)

__all__ = [
    "PRECONDITIONERS",
    "CertificationError",
    "CertificationWarning",
    "IterativeResult",
    "SimilarityOperator",
    "coordinate_bound",
    "product_bound",
    "separation_bound",
    "solve_iterative",
    "subordination_bound",
]

PRECONDITIONERS = ("auto", "sparse_inverse", "nystrom+block_jacobi", "nystrom", "block_jacobi",
                   "none")
KERNELS = ("auto", "numpy", "numba")  # how products are computed (SimilarityOperator)
PRECISIONS = ("mixed", "double")  # of CG's search-direction products (solve_iterative)
# kernel="auto" uses numba from this many points: below, a product takes milliseconds and
# importing numba (0.5 to 1.5 s measured, plus a one-off compile of about 6 s; loading the
# compiled code from its disk cache takes 0.5 s) would cost more than it saves
_NUMBA_MIN_POINTS = 2048

_U = np.finfo(np.float64).eps / 2  # unit roundoff
_U32 = float(np.finfo(np.float32).eps) / 2
# precision="mixed": iterations without r^T M^-1 r halving before float64 takes over
_SINGLE_PATIENCE = 25
# warm start: the Galerkin point in the span of this many previous scales' weights (20
# geometric scales, 20,000 points in R^3: 203 iterations in all against 297 with the last
# weights alone; at 10,000, 4 and 6 previous scales: 155 and 145; study_warm_start.py),
# keeping the directions whose Rayleigh quotient is above _WARM_CUT times the largest
# (float32 noise; 1e-4 to 1e-10 gave the same counts)
_WARM_HISTORY = 4
_CHAIN_DESCENDING = True  # a chain runs from its largest scale down (study_warm_start.py)
_WARM_CUT = 1e-6
_LEAF = 256  # points per k-d leaf: row tiles and block-Jacobi blocks
# points per twig, the finer k-d cells within the leaves that the grid split's short-range
# pairs go by (leaves' boxes, 0.85 across at 100,000 Gaussian points in R^3, are about twice
# its cut-off radius: by leaves 8.8e8 pairs were computed, by twigs of 64 4.8e8, and a
# grid-served float32 product of 100,000 points takes 1.46 s against 1.83 s at t = 0.3,
# bench_grid_near.py)
_TWIG = 64
_CHUNK_ENTRIES = 1 << 21  # entries per distance tile (16 MiB of float64)
_ACCUMULATOR_BYTES = 64 << 20  # for the product's per-group accumulators (_run_jobs)
_EXP_UNDERFLOW = 746.0  # exp(-x) is exactly 0.0 in float64 for x > 745.2
_RANK_BLOCK = 64  # pivots per randomly pivoted Cholesky step
_MAX_RANK = 512
# the sparse approximate inverse (`_sparse_inverse`): its pattern's radius in length
# scales, and the dimensions where "auto" picks it (measured in R^3: docs/large-n.md)
_SPARSE_INVERSE_RHO = 4.0
# from this many points, at small scales (t * median length scale up to the last), a
# richer pattern: about 145 entries a column instead of 77 costs 4 to 5 times more to
# factor but about halves CG's iterations, and each iteration is a product of n^2 pairs
# (measured: docs/large-n.md)
_SPARSE_INVERSE_RICH = (5.0, 50_000, 0.2)
# along a chain of scales, a rich pattern's factor (about 8 products' cost at 100,000 points)
# also preconditions the next smaller scales down to 1/this of its own: 2 iterations more at
# most, and at the smallest scales fewer (20,000 points in R^3, rho = 5: 17 against 19 at
# t = 0.06 with the factor of 1.44 t, 16 against 15 at 0.2, 16 against 14 at 0.6)
_FACTOR_REUSE_RATIO = 1.5
# ... and down to 1/this where the grid split makes the scale's products cheap (a factor
# then costs about 20 of them): the 9 smallest scales of the 100,000-point function
# (t = 0.098 to 1.79) on 50,000 points, ratio 3 (three factors) against 1.5 (five): 105
# against 91 iterations, 229.3 against 254.3 s (one factor for all: 139, 215.3 s; but on
# 100,000 points the factor of t = 2.58 serving down to t = 0.14 left those scales at 18
# to 26 iterations, against 9 to 14 with their own or the next scale's: docs/large-n.md)
_FACTOR_REUSE_RATIO_GRID = 3.0
_SPARSE_INVERSE_MAX_DIM = 3
_SPARSE_INVERSE_MAX_T_SCALE = 1.5
# above _SPARSE_INVERSE_MAX_DIM dimensions the pattern is each point's nearest later
# neighbours in a random order (`_sparse_inverse.neighbour_pattern`), and "auto" picks it
# where a sampled spread of Z(t) is at least this fraction of n: below, Z is dominated by
# its smooth part, which Nystrom captures and the neighbours do not (20,000 Gaussian
# points in R^5, R^10 and R^20, study_sparse_inverse.py: equal iterations at spread
# fractions of about 0.003, fewer below with Nystrom, above with the neighbours), in up
# to _NEIGHBOUR_MAX_DIM dimensions (measured up to R^20; beyond, a k-d tree's search
# degrades towards brute force)
_SPARSE_INVERSE_NEIGHBOURS = 20
_NEIGHBOUR_MIN_SPREAD = 0.003
_NEIGHBOUR_MAX_DIM = 20
_SPREAD_SAMPLE = 128
# with derivative=True, a certificate that its own bound predicts to succeed computes the
# derivative's product in the same pass (study_fused_derivative.py)
_FUSE_DERIVATIVE = True
# certificates take Z~ |x| and Z~ 1 (for their rounding terms, Gershgorin and the
# derivative's bound) from bounds by the leaves' boxes, not from two more columns of their
# product (about a fifth of its cost: `_box_certificate_bounds`), where Gershgorin cannot
# beat the geometric eigenvalue bound and t times the median leaf diameter is at most this
# (the boxes' bounds loosen as exp(t diameter); the derivative's bound, which takes them
# through a Jensen bound that saturates, was within 1.3x of the exact columns' up to
# t diameter = 4 on 3,000 points)
_BOX_CERTIFICATE_T_DIAMETER = 4.0
# the subordination bound's neighbour search: always up to [0] dimensions (k-d tree) and above
# [1] (no other bound there); between, for up to this many pairs or a useless separation bound
_SUBORDINATION_DIMS = (3, 20)
_SUBORDINATION_PAIRS = 1e8
# with it, a certificate only where CG's residual bound predicts success (_pcg)
_SUBORDINATION_SKIPS_RZ_TEST = True
# dimensions from which float32 products use Gram tiles (BLAS, then one compiled pass:
# `_kernels.apply_gram_product`) rather than the fused numba kernel (bench_kernels.py --gram,
# 10,000 points: the fused kernel 1.02x of the Gram tiles' time in R^10, 1.13x in R^16,
# 3.9x in R^768; the numpy kernel has no other float32 path)
_GRAM_MIN_DIM = 16
# ... and float64 products (certificates included), by kernel (the fused float64 kernel
# 0.91x in R^16, 1.14x in R^24, 4.4x in R^768; numpy's cdist tiles 0.98x in R^24, 1.13x in
# R^32), where the error bound they charge is within _GRAM_DOUBLE_ERROR times the direct
# distances' one
_GRAM_DOUBLE_MIN_DIM = {"numba": 24, "numpy": 32}
# ... and the first product, which finds the separation: from Gram tiles it is looser (by
# about sqrt(c1) (2 rho + r), `SimilarityOperator._gram_distance_bounds`), and below this the
# separation bound on lambda_min depends on it
_GRAM_TRACK_MIN_DIM = 48
_GRAM_DOUBLE_ERROR = 16.0
# far-field entries skipped per row, relative to rtol: their effect on the bounds is about
# this fraction of the requested gap
_FAR_FIELD_BUDGET = 0.05
# below this many points the kernel's float32 product beats the grid split's (measured
# at 20,000 points in R^3: level); fewer do not build its grid
_GRID_SPLIT_MIN_N = 30_000
_SHIFT_SAMPLE = 64  # rows of the sample of pairs for the float32 products' shift
_SHIFT_MIN = 0.01  # ... and the smallest shift used
_HOMOGENEOUS = {"euclidean": 2.0, "cityblock": 1.0, "chebyshev": np.inf}
_METRIC_ALIASES = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "cityblock": "cityblock",
    "manhattan": "cityblock",
    "l1": "cityblock",
    "chebyshev": "chebyshev",
}
# metrics of negative type (every finite subset is positive definite, and 1 <= |tX| <= n)
_NEGATIVE_TYPE = {"euclidean", "cityblock", "hamming"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class IterativeResult:
    """What `solve_iterative` returns; arrays are indexed by scale first.

    Attributes
    ----------
    scales : ndarray of shape (k,)
    magnitude : ndarray of shape (k,)
        Estimate of |tX| (the sum of the computed weights, kept inside the bounds).
    lower, upper : ndarray of shape (k,)
        Certified bounds: ``lower <= |tX| <= upper``.
    weights : ndarray of shape (k, n_points) or None
        Weights of the input points (copies of a point share its weight).
    weight_error : ndarray of shape (k,)
        Certified bound on the 2-norm error of the weights of the distinct points
        (``||r|| / lambda``); ``inf`` where no eigenvalue bound was available.
    lambda_min_bound : ndarray of shape (k,)
        The certified lower bound on lambda_min(Z(t)) used (0 where none).
    lambda_bound_source : tuple of str
        Which bound gave it: ``"separation"``, ``"coordinates"``, ``"product"``,
        ``"gershgorin"`` or ``"none"``.
    iterations, matvecs : ndarray of int, shape (k,)
        CG iterations, and products with Z (iterations plus certificates and warm starts).
    preconditioners : tuple of str
        The preconditioner used at each scale, e.g. ``"nystrom(k=128)+block_jacobi(256)"``.
    certified : ndarray of bool, shape (k,)
        Whether ``upper - lower <= rtol * lower`` was certified.
    rtol : float
    n_distinct : int
        Number of points solved for (after merging copies and points closer than
        4 eps * diameter, as the dense path does).
    skipped_fraction : ndarray of shape (k,)
        Fraction of the pairs that the far-field truncation skipped (its effect is in the
        bounds).
    rcond_bound : ndarray of shape (k,)
        Certified lower bound on the reciprocal 2-norm condition number of Z(t):
        lambda_min_bound / (largest row sum of Z(t)).
    derivative : ndarray of shape (k,) or None
        d|tX|/dt = w^T (D o Z) w from the computed weights (``derivative=True``).
    derivative_error : ndarray of shape (k,) or None
        Bound on its absolute error, from the certified weight error
        (`derivative_error_bound`); ``inf`` where the weights have no error bound.
    """

    scales: np.ndarray
    magnitude: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    weights: np.ndarray | None
    weight_error: np.ndarray
    lambda_min_bound: np.ndarray
    lambda_bound_source: tuple
    iterations: np.ndarray
    matvecs: np.ndarray
    preconditioners: tuple
    certified: np.ndarray
    rtol: float
    n_distinct: int
    skipped_fraction: np.ndarray
    rcond_bound: np.ndarray
    derivative: np.ndarray | None = None
    derivative_error: np.ndarray | None = None
    # weights of the distinct rows of the MetricSpace (for MagnitudeResult), internal
    _space_weights: np.ndarray | None = field(default=None, repr=False)

    @property
    def gap(self) -> np.ndarray:
        """Certified relative gap (upper - lower) / lower at each scale."""
        return (self.upper - self.lower) / self.lower


# --------------------------------------------------------------------------- geometry


def _canonical_metric(metric):
    if callable(metric):
        return metric
    return _METRIC_ALIASES.get(metric.lower(), metric.lower())


def _resolve_kernel(kernel, metric, n: int) -> str:
    """``kernel=`` of SimilarityOperator -> "numpy" or "numba" (metric None: a distance matrix).

    Imports numba only where it will be used, so ``import metric_magnitude`` never does.
    """
    if kernel not in KERNELS:
        raise InvalidInputError(
            f"unknown kernel {kernel!r}; choose one of {', '.join(map(repr, KERNELS))}"
        )
    supported = isinstance(metric, str) and metric in ("euclidean", "cityblock", "chebyshev")
    if kernel == "numba":
        if not supported:
            what = ("a distance matrix (precomputed, a graph, or a MetricSpace whose distances "
                    "were computed)" if metric is None else f"metric {metric!r}")
            raise InvalidInputError(
                "kernel='numba' computes products from points with the euclidean, cityblock "
                f"or chebyshev metric, not from {what}; use kernel='auto' or 'numpy'"
            )
        from .._optional import import_optional

        import_optional("numba")  # MissingDependencyError naming the extra
        return "numba"
    if kernel == "auto" and supported and n >= _NUMBA_MIN_POINTS:
        try:
            from . import _kernels  # noqa: F401  (numba, and compiled code from its cache)
        except ImportError:  # not installed, or broken: the numpy path is always there
            return "numpy"
        return "numba"
    return "numpy"


def _kd_bounds(n: int, leaf: int, split=None) -> np.ndarray:
    """The leaf boundaries of `_kd_partition` for n points: its splits go by counts alone,
    so a finer partition's boundaries include these (its leaves refine them). ``split(a,
    b, m)`` is called at each split of a:b into a:a+m and a+m:b, before its halves'."""
    bounds = []
    stack = [(0, n)]
    while stack:
        a, b = stack.pop()
        if b - a <= leaf:
            bounds.append(a)
            continue
        m = (b - a) // 2
        if split is not None:
            split(a, b, m)
        stack.append((a + m, b))
        stack.append((a, a + m))
    return np.array([*sorted(bounds), n])


def _kd_partition(P: np.ndarray, leaf: int) -> tuple[np.ndarray, np.ndarray]:
    """Order the points by recursive median bisection along the widest coordinate.

    Returns (permutation, leaf boundaries): leaf i holds sorted positions starts[i]:starts[i+1]
    and has between leaf / 2 and leaf points.
    """
    perm = np.arange(P.shape[0])

    def split(a: int, b: int, m: int) -> None:
        idx = perm[a:b]
        Q = P[idx]
        k = int(np.argmax(Q.max(axis=0) - Q.min(axis=0)))
        perm[a:b] = idx[np.argpartition(Q[:, k], m)]

    return perm, _kd_bounds(P.shape[0], leaf, split)


def _minkowski_rows(gap: np.ndarray, p: float) -> np.ndarray:
    if p == 2.0:
        return np.sqrt(np.einsum("ij,ij->i", gap, gap))
    if p == 1.0:
        return gap.sum(axis=1)
    return gap.max(axis=1)


def _block_boxes(P: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lower corners, upper corners) of the blocks P[starts[i]:starts[i+1]] (sorted order)."""
    blocks = list(itertools.pairwise(starts))
    return (np.array([P[a:b].min(axis=0) for a, b in blocks]),
            np.array([P[a:b].max(axis=0) for a, b in blocks]))


def _box_distances(lo: np.ndarray, hi: np.ndarray, i: int, p: float) -> np.ndarray:
    """Lower bounds on the distance between points of box i and of every box (Minkowski p)."""
    return _minkowski_rows(np.maximum(0.0, np.maximum(lo - hi[i], lo[i] - hi)), p)


def _box_max_distances(lo: np.ndarray, hi: np.ndarray, i: int, p: float) -> np.ndarray:
    """Upper bounds on the distance between points of box i and of every box (before
    rounding: callers add a margin)."""
    return _minkowski_rows(np.maximum(hi - lo[i], hi[i] - lo), p)


# --------------------------------------------------------------------------- operator


def _default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


class _BlasOneThread:
    """Limit BLAS to one thread during a solve (through threadpoolctl, where installed).

    The solver's own threads share out the tiles, and its BLAS calls are small (tiles,
    blocks, a thin Nystrom factor). With multithreaded BLAS, the numpy and scipy OpenBLAS
    pools and our threads oversubscribe the cores: measured on 2 busy cores, a 600-point
    solve took 2.1 s instead of 0.2 s.
    """

    def __enter__(self):
        self._ctl = None
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - optional
            return self
        self._ctl = threadpool_limits(1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._ctl is not None:
            self._ctl.restore_original_limits()


class SimilarityOperator:
    """Products with Z(t) = exp(-t D) computed from the points, never storing Z.

    Parameters
    ----------
    points : array_like of shape (n, d), optional
        The points; distances come from `scipy.spatial.distance.cdist` with ``metric``
        on blocks of rows.
    metric : str or callable, default="euclidean"
    distances : array_like of shape (n, n), optional
        A distance matrix instead of points (then only Z's tiles are computed on the fly).
    leaf : int, optional
        Points per k-d leaf (row tile and block-Jacobi block), default 256.
    threads : int, optional
        Worker threads for the tiles (numpy and cdist release the GIL); default: the CPUs
        this process may use, at most 8.

    kernel : {"auto", "numpy", "numba"}, default="auto"
        ``"numpy"``: tiles from ``cdist``, ``np.exp`` and BLAS. ``"numba"``: fused kernels
        (`metric_magnitude.solvers._kernels`; the ``numba`` extra) for points with the
        euclidean, cityblock or chebyshev metric: same tiles, no tile-sized temporaries, a
        vectorised exp; results agree to about 1e-15. Its first use on a machine compiles
        for 5 to 10 s (then cached on disk). ``"auto"``: numba where it is installed and
        applies, from 2,048 points up; numpy otherwise. Float32 products (the search
        directions of ``precision="mixed"``) of euclidean points are computed from Gram
        tiles (BLAS) with the numpy kernel, and from 16 dimensions up with numba too
        (faster there than the fused kernel, whose distances loop over the coordinates);
        float64 ones from 32 (numpy) and 24 (numba) dimensions, where the certificate can
        charge their error (`_ScaledSimilarity.use_gram_double`).

    Memory: the points (or D), plus per thread one tile of at most 2^21 entries (16 MiB).

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.iterative import SimilarityOperator
    >>> X = np.random.default_rng(0).standard_normal((500, 3))
    >>> op = SimilarityOperator(X)
    >>> v = np.ones(500)
    >>> Z = np.exp(-2.0 * np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1)))
    >>> bool(np.allclose(op.matvec(v, 2.0), Z @ v, rtol=1e-13))
    True
    """

    def __init__(self, points=None, *, metric="euclidean", distances=None, leaf=None,
                 threads=None, kernel="auto"):
        if (points is None) == (distances is None):
            raise InvalidInputError("give either points or distances")
        self.metric = _canonical_metric(metric) if points is not None else "precomputed"
        if points is not None:
            P = np.ascontiguousarray(points, dtype=np.float64)
            if P.ndim != 2:
                raise InvalidInputError(f"points must be 2-D, got shape {P.shape}")
            n = P.shape[0]
            self.dim = P.shape[1]
            self.leaf = int(leaf or min(_LEAF, max(16, n // 4)))
            # the points ordered down to twigs of at most _TWIG (the grid split's near
            # pairs go by them), whose leaves of at most `leaf` are those of
            # _kd_partition(P, leaf): same points, each leaf's order refined
            twig = min(self.leaf, _TWIG)
            perm, self.twig_starts = _kd_partition(P, twig)
            starts = _kd_bounds(n, self.leaf)
            self._P = P[perm]
            self._D = None
            p = _HOMOGENEOUS.get(self.metric) if isinstance(self.metric, str) else None
            self._p = p
            if p is not None:
                self._lo, self._hi = _block_boxes(self._P, starts)
                # a computed box distance may exceed the true one by a few ulps per
                # coordinate: bounds from them are taken times this
                self._box_shrink = 1.0 - 4.0 * (self.dim + 8) * _U
                self._median_leaf_diameter = float(np.median(
                    _minkowski_rows(self._hi - self._lo, p)))
                # the largest distance from a point to its leaf box's centre (the Gram tiles'
                # coordinates), with a margin for its rounding
                centres = np.repeat(0.5 * (self._lo + self._hi), np.diff(starts), axis=0)
                off = self._P - centres
                self._leaf_radius = float(np.sqrt(np.einsum("ij,ij->i", off, off).max())
                                          ) * (1.0 + (self.dim + 4) * _U)
                ext = self._P.max(axis=0) - self._P.min(axis=0)
                self.diameter_bound = float(
                    np.sqrt(ext @ ext) if p == 2.0 else (ext.sum() if p == 1.0 else ext.max())
                )
            else:
                self.diameter_bound = np.inf
        else:
            D = np.asarray(distances, dtype=np.float64)
            if D.ndim != 2 or D.shape[0] != D.shape[1]:
                raise InvalidInputError(f"distances must be square, got shape {D.shape}")
            n = D.shape[0]
            self.dim = 0
            self.leaf = int(leaf or min(_LEAF, max(16, n // 4)))
            perm = np.arange(n)
            starts = np.array([*range(0, n, self.leaf), n])
            self.twig_starts = starts
            self._P = None
            self._D = D
            self._p = None
            self.diameter_bound = float(D.max()) if n else 0.0
        self.n = n
        self.perm = perm
        self.iperm = np.empty_like(perm)
        self.iperm[perm] = np.arange(n)
        self.starts = starts
        # below ~2000 points a product takes milliseconds: threads would cost more than they save
        self.threads = int(threads) if threads else (_default_threads() if n >= 2048 else 1)
        # relative error of a computed distance (0 for a given matrix): differences, squares,
        # the sum of d terms and the square root
        self.distance_rel_error = 0.0 if self._D is not None else (self.dim + 5) * _U
        self.kernel = _resolve_kernel(kernel, self.metric if self._D is None else None, n)
        # float32 products from Gram matrices (BLAS): euclidean points where the numba
        # kernel has no float32 path (numpy) or is slower (many dimensions)
        self._gram_single = (self.metric == "euclidean" and self._P is not None and n >= 2
                             and (self.kernel == "numpy" or self.dim >= _GRAM_MIN_DIM))
        # ... and float64 ones, where the solver finds them accurate enough
        # (`_ScaledSimilarity.use_gram_double`)
        self._gram_double = (self.metric == "euclidean" and self._P is not None and n >= 2
                             and self.dim >= _GRAM_DOUBLE_MIN_DIM[self.kernel])

    def single_is_accurate(self, q: float) -> bool:
        """Whether float32 products tell points ``q`` apart to within 1% of ``q``.

        The fused kernels' float32 distances (centred coordinates) are off by up to about
        d u32 diam. The Gram tiles compute |x - y|^2 = |x'|^2 + |y'|^2 - 2 x'.y' with x', y'
        relative to the row leaf's centre, off by up to about 2 (d + 2) u32 (|x'|^2 + |y'|^2),
        where |x'| <= rho (the largest leaf radius) and |y'| <= rho + |x - y|: relative to
        |x - y|^2, largest at the closest pair.
        """
        if not q > 0:
            return False
        if self._gram_single:
            rho = self._leaf_radius
            return (self.dim + 2) * _U32 * (rho * rho + (rho + q) ** 2) <= 0.01 * q * q
        return q >= 100.0 * max(self.dim, 1) * _U32 * self.diameter_bound

    def grid_layout(self):
        """The grid of `_grid_split` (built once), or None: euclidean points in R^3, numba
        kernel, at least `_GRID_SPLIT_MIN_N` points. (In R^2 its error at t rc = 1 was
        4e-6 to 6e-6 of |Z| |V|, against 4e-7 to 8e-7 in R^3 on as many points: not used.)"""
        if "_grid" not in self.__dict__:
            layout = None
            if (self.kernel == "numba" and self.metric == "euclidean" and self._P is not None
                    and self.dim == 3 and self.n >= _GRID_SPLIT_MIN_N
                    and float(np.ptp(self._P, axis=0).max()) > 0):
                from ._grid_split import GridLayout

                layout = GridLayout(self)
            self._grid = layout
        return self._grid

    def _single_shift(self, t: float) -> float:
        """A typical entry of Z(t), rounded to float32: exp(-t d) at the median distance d of
        a fixed sample of pairs (`_SHIFT_SAMPLE` rows by 4 times as many columns, drawn
        once), or 0 where that is below `_SHIFT_MIN`. (The median, not the mean: where most
        entries are far below the mean, at large scales, subtracting the mean would add
        rounding to all of them.)

        Float32 products subtract it from every entry and add the rank-one part back in
        float64 (`_ScaledSimilarity.single_shift`). At small scales Z is close to c 1 1^T,
        whose eigenvalue, about c n, magnifies the rounding of V to float32 along the
        constant vector: without the shift, mixed precision took 24 CG iterations where
        float64 took 16 (20,000 Gaussian points in R^3, t = 0.045; docs/large-n.md).
        """
        if self._P is None:  # a distance matrix: its products are never float32
            return 0.0
        sample = self.__dict__.get("_shift_sample")
        if sample is None:
            rng = np.random.default_rng(0)
            rows = rng.choice(self.n, size=min(self.n, _SHIFT_SAMPLE), replace=False)
            cols = rng.choice(self.n, size=min(self.n, 4 * _SHIFT_SAMPLE), replace=False)
            sample = cdist(self._P[rows], self._P[cols], metric=self.metric)
            sample = sample[rows[:, None] != cols[None, :]]
            self._shift_sample = sample = (float(np.median(sample)) if sample.size
                                           and np.all(np.isfinite(sample)) else np.inf)
        c = float(np.float32(math.exp(-t * sample)))
        # below, the rank-one part is too weak to matter (no iterations saved from t = 1 on,
        # c = 0.09, in R^3), and unshifted products keep their bits
        return c if c >= _SHIFT_MIN else 0.0

    def _gram_distance_error(self, r: float) -> float:
        """Bound on |r^ - r| for the float64 Gram-tile distance r^ of two points r apart.

        With x' = fl(x - c), y' = fl(y - c) (c the row leaf's centre, |x - c| <= rho,
        |y - c| <= rho + r): |x' - y'| is within u (2 rho + r) of r; the Gram entry and the
        squared norms (d terms each) and the two additions put G = |x'|^2 + |y'|^2 - 2 x'.y'
        within c1 (2 rho + r)^2 of |x' - y'|^2, c1 = (gamma_d + 2.02 u)(1 + u)^2, so its
        square root is within c1 (2 rho + r)^2 / |x' - y'|, then rounded once more. Valid
        where u (2 rho + r) <= 1e-6 r (`use_gram_double` checks it); convex in r.
        """
        d, rho = max(self.dim, 1), self._leaf_radius
        c1 = (d * _U / (1.0 - d * _U) + 2.02 * _U) * (1.0 + _U) ** 2
        return (1.000001 * _U * (2.0 * rho + 2.0 * r)
                + 1.000002 * c1 * (4.0 * rho * rho / r + 4.0 * rho + r))

    def _gram_distance_bounds(self, lo: float, hi: float, single: bool) -> tuple[float, float]:
        """Bounds on the true extreme distances from the extremes of Gram-tile distances.

        ``lo``, ``hi``: the smallest and largest computed (float32 with ``single``) over some
        pairs. Every computed r^ satisfies r^^2 (1 -+ u)^-2 = G within c1 (2 rho + r)^2 of
        |x' - y'|^2, itself within u_c (2 rho + r) of r (`_gram_distance_error`; u_c adds the
        rounding of the coordinates to float32), so r <= (r^ / (1 - u) + 2 rho w) / (1 - w)
        with w = sqrt(c1) + u_c, and the closest pair is at least
        sqrt(lo^2 / (1 + u)^2 - c1 (2 rho + r)^2) - u_c (2 rho + r) apart, r bounded so.
        """
        u = _U32 if single else _U
        d, rho = max(self.dim, 1), self._leaf_radius
        c1 = (d * u / (1.0 - d * u) + 2.02 * u) * (1.0 + u) ** 2
        uc = u + 1.01 * _U
        w = math.sqrt(c1) * (1 + 1e-12) + uc
        if not w < 0.5:
            return 0.0, np.inf

        def up(r):
            return (r / (1.0 - u) + 2.0 * rho * w) / (1.0 - w) * (1 + 1e-12)

        span = 2.0 * rho + up(lo)
        low = math.sqrt(max(0.0, (lo / (1.0 + u)) ** 2 - c1 * span * span)) - uc * span
        return max(0.0, low * (1 - 1e-12)), (up(hi) if hi > 0 else hi)

    def _twig_boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(boundaries, lower corners, upper corners) of the twigs (points only; built once)."""
        if getattr(self, "_twig_box_cache", None) is None:
            self._twig_box_cache = (self.twig_starts,
                                    *_block_boxes(self._P, self.twig_starts))
        return self._twig_box_cache

    @property
    def n_leaves(self) -> int:
        return self.starts.shape[0] - 1

    # distances in sorted order ----------------------------------------------------------
    def _dist(self, r0, r1, c0, c1) -> np.ndarray:
        if self._D is not None:
            return np.array(self._D[r0:r1, c0:c1])
        return cdist(self._P[r0:r1], self._P[c0:c1], metric=self.metric)

    def _dist_cols(self, r0, r1, cols) -> np.ndarray:
        """Distances from rows r0:r1 to the columns ``cols``, for what is not certified
        (preconditioners, estimates): by Gram products where float64 products use them."""
        if self._D is not None:
            return self._D[r0:r1][:, cols]
        if self._gram_double:
            R = self._P[r0:r1]
            centre = 0.5 * (R.min(axis=0) + R.max(axis=0))
            T = _gram_distances(R - centre, self._P[cols] - centre)
            own = np.flatnonzero((cols >= r0) & (cols < r1))
            T[cols[own] - r0, own] = 0.0  # a point's distance to itself, exactly
            return T
        return cdist(self._P[r0:r1], self._P[cols], metric=self.metric)

    def _centred(self, r0: int, r1: int, centre: np.ndarray, dtype=np.float64):
        """Points r0:r1 (sorted order) relative to ``centre`` in ``dtype``, and their
        squared norms: the coordinates of a Gram tile."""
        R = (self._P[r0:r1] - centre).astype(dtype, copy=False)
        return R, np.einsum("ij,ij->i", R, R)

    def _gram_tiles(self, i: int, dtype=np.float32):
        """Distances from leaf i's rows to columns c0:c1 by a Gram matrix, in ``dtype``.

        Coordinates are taken relative to the leaf box's centre (so the cancellation in
        |x|^2 + |y|^2 - 2 x.y is relative to the leaf's size for its nearby pairs), and the
        distance of a point to itself is exactly 0 (otherwise sqrt of a rounding error, about
        sqrt(u) |x|). Returns a function ``(c0, c1) -> (rows, c1 - c0)`` array of ``dtype``.
        In float64 each distance is within `_gram_distance_error` of the exact one.
        """
        r0, r1 = int(self.starts[i]), int(self.starts[i + 1])
        centre = 0.5 * (self._lo[i] + self._hi[i])
        R, sr = self._centred(r0, r1, centre, dtype)

        def dist(c0: int, c1: int) -> np.ndarray:
            C, sc = (R, sr) if (c0, c1) == (r0, r1) else self._centred(c0, c1, centre, dtype)
            G = _gram_distances(R, C, sr, sc)
            a, b = max(r0, c0), min(r1, c1)  # the points in both: distance exactly 0
            if a < b:
                G[np.arange(a - r0, b - r0), np.arange(a - c0, b - c0)] = 0.0
            return G

        return dist

    def scaled(self, t: float, far_field_budget: float = 0.0) -> _ScaledSimilarity:
        """Z(t) in sorted order, skipping far leaf pairs whose entries sum to at most
        ``far_field_budget`` in every row (with 0: only pairs whose entries underflow to
        exactly 0.0, so that the product is that of the dense Z)."""
        return _ScaledSimilarity(self, float(t), float(far_field_budget))

    def matmat(self, V, t: float) -> np.ndarray:
        """Z(t) @ V for V of shape (n, m), in the input order (no truncation)."""
        V = np.asarray(V, dtype=np.float64)
        if V.ndim != 2 or V.shape[0] != self.n:
            raise InvalidInputError(f"V must have shape ({self.n}, m), got {V.shape}")
        with _BlasOneThread():
            Y = self.scaled(t).apply(V[self.perm])
        return Y[self.iperm]

    def matvec(self, v, t: float) -> np.ndarray:
        """Z(t) @ v in the input order (no truncation)."""
        return self.matmat(np.asarray(v, dtype=np.float64).reshape(-1, 1), t)[:, 0]


class _ScaledSimilarity:
    """Z(t) of a SimilarityOperator at one scale, in the operator's sorted order."""

    def __init__(self, op: SimilarityOperator, t: float, budget: float):
        self.op = op
        self.t = t
        self.n = op.n
        starts = op.starts
        L = op.n_leaves
        sizes = np.diff(starts)
        self.near: list[list[tuple[int, int]]] = []
        eps_leaf = np.zeros(L)
        deps_leaf = np.zeros(L)
        self.skip_min_distance = np.inf
        self._skip = None  # the skipped leaf pairs (L x L), where there are any
        computed = 0
        if op._p is not None and L > 1:
            shrink = op._box_shrink
            bd = np.array([_box_distances(op._lo, op._hi, i, op._p) for i in range(L)])
            bd = np.minimum(bd, bd.T) * shrink
            # every entry between leaves i and j is at most exp(-t bd[i, j])
            mass = sizes[None, :] * np.exp(-t * bd)
            np.fill_diagonal(mass, np.inf)
            if budget > 0:
                # each leaf's rows may drop up to `budget` of far-field mass:
                # it selects its farthest leaves while their bound stays within the budget,
                # and a pair is skipped when both of its leaves selected it (so Z~ stays
                # symmetric and each row keeps within its budget)
                order = np.argsort(-bd, axis=1, kind="stable")
                cum = np.cumsum(np.take_along_axis(mass, order, axis=1), axis=1)
                sel = np.zeros((L, L), dtype=bool)
                np.put_along_axis(sel, order, cum <= budget, axis=1)
                skip = sel & sel.T
            else:  # only pairs whose entries all underflow to exactly 0.0
                skip = t * bd > _EXP_UNDERFLOW
            np.fill_diagonal(skip, False)
            eps_leaf = np.where(skip, mass, 0.0).sum(axis=1)
            # ... and of (D o Z)'s (the derivative's): d exp(-t d) at d >= bd is at most
            # bd exp(-t bd) where t bd >= 1 (it falls from d = 1/t on), else 1 / (e t)
            peak = np.where(t * bd >= 1.0, bd * np.exp(-t * bd), 1.0 / (math.e * t))
            deps_leaf = np.where(skip, sizes[None, :] * peak, 0.0).sum(axis=1)
            if skip.any():
                self.skip_min_distance = float(bd[skip].min())
                self._skip = skip
            for i in range(L):
                js = np.flatnonzero(~skip[i, i + 1:]) + i + 1
                self.near.append(_ranges(js, starts))
                computed += sizes[i] * (sizes[i] + 2 * sum(b - a for a, b in self.near[-1]))
        else:
            for i in range(L):
                self.near.append([(int(starts[i + 1]), self.n)] if i + 1 < L else [])
            computed = self.n * self.n
        # terms summed into one entry of a product, for the rounding bound gamma_m: at most
        # one tile's width by BLAS, then one partial sum per chunk, per leaf and per thread
        width = min(self.n, _CHUNK_ENTRIES // max(1, int(sizes.min()))) if L else 1
        self.sum_terms = width + 4 * L + op.threads + 16
        self.eps_row = np.repeat(eps_leaf, sizes)
        self.eps_max = float(eps_leaf.max()) if L else 0.0
        self.deps_row = np.repeat(deps_leaf, sizes)
        self.deps_max = float(deps_leaf.max()) if L else 0.0
        self.skipped_fraction = 1.0 - computed / float(self.n) ** 2
        self.computed_pairs = float(computed)
        # the float32 products by `_grid_split` where its grid serves this scale (decided
        # at the first such product)
        self._split = None
        self._split_checked = False
        self._layout = False  # (not looked for yet)
        # extreme distances over the computed off-diagonal pairs, set by apply(track_min=True)
        self.min_distance = np.inf
        self.max_distance = 0.0
        # float64 products from Gram tiles (`use_gram_double`; None: not decided yet), and
        # their error bounds
        self.gram_double: bool | None = None
        self._gram_errors = (np.inf, np.inf)
        # float32 products compute (Z - c 1 1^T) V and add c 1 (1^T V) in float64, c about
        # a typical entry (`single_shift`); only where no pair is skipped (then the shift
        # is exactly that rank-one term)
        self.single_shift = (op._single_shift(t) if computed == float(self.n) ** 2
                             else 0.0)

    # ------------------------------------------------------------------ products
    def apply(self, V: np.ndarray, track_min: bool = False,
              distance_weighted: bool | str = False, single: bool = False) -> np.ndarray:
        """Z~ @ V (sorted order), Z~ = Z with the skipped far-field entries set to 0.

        With ``distance_weighted``, (D o Z~) @ V instead: the product behind the derivative
        d|tX|/dt = w^T (D o Z) w; with ``"both"``, [Z~ V, (D o Z~) V] (shape (n, 2 m)) from
        one pass over the pairs (the distances and exponentials shared), with ``"first"``
        [Z~ V, (D o Z~) V[:, :1]] (shape (n, m + 1)). With ``single``
        (numba kernels and Gram tiles; ignored otherwise), in float32: uncertified, see
        `_kernels.apply_product` (the tracked distances are rigorous bounds all the same);
        unweighted ones as (Z~ - c 1 1^T) V in float32 plus c 1 (1^T V) in float64,
        c = `single_shift`.
        """
        V = np.ascontiguousarray(V, dtype=np.float64)
        if V.ndim == 1:
            return self.apply(V[:, None], track_min, distance_weighted, single)[:, 0]
        if single and not distance_weighted and not track_min:
            split = self.grid_split()
            if split is not None:
                return split.apply(self, V)
        op = self.op
        gram = op._gram_single if single else bool(self.gram_double)
        # the separation from Gram tiles is looser (`_GRAM_TRACK_MIN_DIM`)
        gram = gram and not (track_min and op.dim < _GRAM_TRACK_MIN_DIM)
        # float32 products only (the numpy kernel computes float64 ones from cdist)
        shift = (self.single_shift if single and not distance_weighted
                 and (gram or op.kernel == "numba") else 0.0)
        if distance_weighted == "first" and not (op.kernel == "numba" and not gram):
            # (only the fused kernel computes the one weighted column alone)
            return self.apply(V, track_min, "both", single)[:, :V.shape[1] + 1]
        if op.kernel == "numba" and not gram:
            from ._kernels import apply_product

            Y = apply_product(self, V, track_min, distance_weighted=distance_weighted,
                              single=single, shift=shift)
            return _unshift(Y, V, shift)
        n, m = V.shape
        mo = 2 * m if distance_weighted == "both" else m  # columns of the result
        scale = 1.0
        Vin = V
        if gram and single:
            # float32 keeps 8 exponent bits: V scaled to at most 1, so no product overflows
            scale = float(np.max(np.abs(V), initial=0.0))
            if not scale > 0:
                return np.zeros((n, mo))
            V = V / scale
        if op.kernel == "numba":  # Gram tiles, the rest of each in one compiled pass
            from ._kernels import apply_gram_product

            Y, lo, hi = apply_gram_product(self, V, track_min, distance_weighted, single,
                                           shift)
        else:
            Y, lo, hi = self._numpy_tiles(V.astype(np.float32) if gram and single else V,
                                          track_min, distance_weighted, gram, single, shift)
        if track_min:
            if gram:
                lo, hi = op._gram_distance_bounds(lo, hi, single)
            self.min_distance = min(self.min_distance, lo)
            self.max_distance = max(self.max_distance, hi)
        if gram and single:
            Y *= scale
        return _unshift(Y, Vin, shift)

    def grid_split(self):
        """The `_grid_split` product for this scale's float32 products, or None where its
        grid does not resolve Z(t) or would not be cheaper than the kernel by
        `_grid_split.GAIN` (the operator's grid is built at the first call)."""
        if not self._split_checked:
            if self.grid_serves():
                from ._grid_split import GridSplit

                self._split = GridSplit(self._layout, self.t, self.op.threads)
            self._split_checked = True
        return self._split

    def grid_serves(self) -> bool:
        """Whether `grid_split` has (or would have) a product for this scale: by the
        operator's grid, or where that does not resolve the scale (t rc > 1) by one of the
        scale's own (`_grid_split.GridLayout` with t; built here, once)."""
        if self._layout is False:
            layout = self.op.grid_layout()
            if layout is not None and not layout.serves(self.t, self.computed_pairs):
                if self.t * layout.rc > 1.0:
                    from ._grid_split import GridLayout

                    layout = GridLayout(self.op, t=self.t)
                    if not layout.serves(self.t, self.computed_pairs):
                        layout = None
                else:
                    layout = None
            self._layout = layout
        return self._layout is not None

    def _numpy_tiles(self, V, track_min, distance_weighted, gram, single, shift=0.0):
        """`apply`'s numpy kernel: ((Z~ - shift 1 1^T) V, min, max of the distances met)."""
        op = self.op
        n, m = V.shape
        mo = 2 * m if distance_weighted == "both" else m
        t = self.t
        starts = op.starts

        def leaf_tiles(acc, i):
            local_min, local_max = np.inf, 0.0
            r0, r1 = int(starts[i]), int(starts[i + 1])
            Vi = V[r0:r1]
            dist = (op._gram_tiles(i, np.float32 if single else np.float64) if gram
                    else lambda c0, c1: op._dist(r0, r1, c0, c1))
            T = dist(r0, r1)
            if track_min and r1 - r0 > 1:
                local_max = max(local_max, float(T.max()))
                np.fill_diagonal(T, np.inf)
                local_min = min(local_min, float(T.min()))
                np.fill_diagonal(T, 0.0)
            for k, Tk in enumerate(_tile_entries(T, t, distance_weighted, shift)):
                acc[r0:r1, k * m:(k + 1) * m] += Tk @ Vi
            width = max(1, _CHUNK_ENTRIES // (r1 - r0))
            for a, b in self.near[i]:
                for c0 in range(a, b, width):
                    c1 = min(b, c0 + width)
                    T = dist(c0, c1)
                    if track_min:
                        local_min = min(local_min, float(T.min()))
                        local_max = max(local_max, float(T.max()))
                    for k, Tk in enumerate(_tile_entries(T, t, distance_weighted, shift)):
                        acc[r0:r1, k * m:(k + 1) * m] += Tk @ V[c0:c1]
                        acc[c0:c1, k * m:(k + 1) * m] += Tk.T @ Vi
            return local_min, local_max

        return _run_jobs(list(range(op.n_leaves)), self.tile_work(), op.threads, (n, mo),
                         leaf_tiles)

    def tile_work(self) -> list[int]:
        """Per leaf, rows times (1 + columns of its tiles): the tile loops' balance weights."""
        sizes = np.diff(self.op.starts)
        return [int(sizes[i]) * (1 + sum(b - a for a, b in self.near[i]))
                for i in range(self.op.n_leaves)]

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """Exact columns Z[:, cols] (sorted order), shape (n, len(cols))."""
        op = self.op
        out = np.empty((self.n, len(cols)))
        step = max(1, _CHUNK_ENTRIES // max(1, len(cols)))
        for r0 in range(0, self.n, step):
            r1 = min(self.n, r0 + step)
            T = op._dist_cols(r0, r1, cols)
            np.multiply(T, -self.t, out=out[r0:r1])
        return np.exp(out, out=out)

    def diagonal_block(self, i: int) -> np.ndarray:
        """Z's block of leaf i (for block Jacobi: uncertified, so by Gram products where
        float64 products may use them)."""
        op = self.op
        r0, r1 = int(op.starts[i]), int(op.starts[i + 1])
        if op._gram_double:
            R, sr = op._centred(r0, r1, 0.5 * (op._lo[i] + op._hi[i]))
            T = _gram_distances(R, R, sr, sr)
            np.fill_diagonal(T, 0.0)
        else:
            T = op._dist(r0, r1, r0, r1)
        T *= -self.t
        return np.exp(T, out=T)

    def box_bounds(self, A: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Bounds lo <= Z~ A <= hi (entrywise; A >= 0 of shape (n, k), sorted order) from
        the leaves' boxes alone: each entry between leaves i and j lies in
        [exp(-t dmax_ij), exp(-t dmin_ij)] (dmin, dmax over the boxes), and a skipped pair's
        is 0 in Z~. O(L^2 k) work, no pair of points. None without boxes (a distance
        matrix, or a metric other than a Minkowski one)."""
        op = self.op
        if op._p is None:
            return None
        starts = op.starts
        L = op.n_leaves
        sums = np.add.reduceat(A, starts[:-1], axis=0)  # per leaf
        shrink = op._box_shrink
        hi = np.empty((L, A.shape[1]))
        lo = np.empty((L, A.shape[1]))
        own = np.empty(L)  # the bound within a leaf, which its diagonal (exactly 1) exceeds
        for i in range(L):
            near = np.exp(-self.t * _box_distances(op._lo, op._hi, i, op._p) * shrink)
            far = np.exp(-self.t * _box_max_distances(op._lo, op._hi, i, op._p)
                         * (2.0 - shrink))
            if self._skip is not None:
                near[self._skip[i]] = 0.0
                far[self._skip[i]] = 0.0
            hi[i] = near @ sums
            lo[i] = far @ sums
            own[i] = far[i]
        # the sums of non-negative terms (per leaf, then over the leaves) and exp: a
        # relative error of at most (L + leaf + 4) u
        sizes = np.diff(starts)
        g = 2.0 * (L + int(sizes.max()) + 8) * _U
        lo = np.repeat(lo, sizes, axis=0) + A * np.repeat(1.0 - own, sizes)[:, None]
        return np.repeat(hi * (1.0 + g), sizes, axis=0), lo * (1.0 - g)

    def entry_rel_error(self) -> float:
        """Bound on |Z^_ij - Z_ij| / Z_ij for the computed entries Z^ (distances and exp)."""
        if self.gram_double:
            return self._gram_errors[0]
        op = self.op
        td = min(_EXP_UNDERFLOW, self.t * op.diameter_bound * (1 + 1e-12))
        return (td * (op.distance_rel_error + _U) + 2.0 * _U) * 1.01

    def distance_rel_error(self) -> float:
        """Bound on |D^_ij - D_ij| / D_ij for the distances the float64 products use."""
        return self._gram_errors[1] if self.gram_double else self.op.distance_rel_error

    def use_gram_double(self, q: float) -> bool:
        """Compute float64 products from Gram tiles (BLAS) from now on, if they pay.

        For euclidean points in at least `_GRAM_DOUBLE_MIN_DIM` dimensions (by kernel: where
        the Gram tiles are the faster ones), where the separation
        is ``q`` or more and the entries' error bound (`SimilarityOperator._gram_distance_error`
        at the closest and the farthest pairs that do not underflow) is within
        `_GRAM_DOUBLE_ERROR` times the direct distances' one; the certificates then charge
        that bound (`entry_rel_error`, `distance_rel_error`). Returns whether it does.
        """
        op = self.op
        self.gram_double = False
        if not (op._gram_double and q > 0 and np.isfinite(q)
                and _U * (2.0 * op._leaf_radius + q) <= 1e-6 * q):
            return False
        t = self.t
        far = max(q, min(op.diameter_bound, _EXP_UNDERFLOW / t) * (1 + 1e-12))
        err = max(op._gram_distance_error(q), op._gram_distance_error(far))
        ez = (1.001 * t * (err + _U * far) + 2.0 * _U) * 1.01
        if not (t * err <= 1e-3 and ez <= _GRAM_DOUBLE_ERROR * self.entry_rel_error()):
            return False
        # distances: the bound relative to r decreases with r
        self._gram_errors = (ez, op._gram_distance_error(q) / q * 1.01)
        self.gram_double = True
        return True


def _gram_distances(R: np.ndarray, C: np.ndarray, sr=None, sc=None) -> np.ndarray:
    """sqrt(max(0, |r|^2 + |c|^2 - 2 r.c)) for the rows r of R and c of C (coordinates
    relative to a nearby centre), in their dtype; ``sr``, ``sc``: their squared norms."""
    sr = np.einsum("ij,ij->i", R, R) if sr is None else sr
    sc = np.einsum("ij,ij->i", C, C) if sc is None else sc
    G = R @ C.T
    G *= -2.0
    G += sr[:, None]
    G += sc[None, :]
    np.maximum(G, 0.0, out=G)
    return np.sqrt(G, out=G)


def _run_jobs(jobs: list, work: list, threads: int, shape: tuple, do_job):
    """Run ``do_job(acc, job) -> (min, max)`` for every job on up to ``threads`` threads.

    The jobs are dealt into groups before they run (heaviest first to the lightest group,
    by ``work``, the entries each computes); each group adds into an accumulator of its own
    (zeros of ``shape``), the threads take whole groups from a shared queue, and the
    accumulators are summed in group order. So the same inputs give the same bits, run
    after run (a queue of single jobs with one accumulator per thread did not, and CG with
    single-precision products magnified that to 1e-4 in the weights), while the queue still
    evens out cores that run at different speeds (dealing the jobs straight to the threads
    made products of 100,000 points in R^10 14% slower on this shared machine; with 8 groups
    per thread the medians of 4 interleaved runs were within the noise, 6.0 s against 6.4 s).
    Returns the sum of the accumulators and the min and max over the jobs' results: the
    product and the extreme distances of the tile loops (numpy here, numba in `_kernels`).
    """
    threads = max(1, min(threads, len(jobs)))
    # about 8 groups per thread, within a memory budget for their accumulators (one thread
    # needs no balancing: one group)
    room = _ACCUMULATOR_BYTES // max(1, 8 * math.prod(shape))
    n_groups = 1 if threads == 1 else max(threads, min(8 * threads, len(jobs), room))
    groups = [[] for _ in range(n_groups)]
    loads = [(0.0, g) for g in range(n_groups)]  # a heap of (load, group)
    for j in sorted(range(len(jobs)), key=lambda j: -work[j]):
        load, g = heapq.heappop(loads)
        groups[g].append(jobs[j])
        heapq.heappush(loads, (load + work[j], g))
    order = iter(range(n_groups))  # (the groups' loads are even)
    lock = threading.Lock()
    results: list = [None] * n_groups

    def worker():
        while True:
            with lock:
                g = next(order, None)
            if g is None:
                return
            acc = np.zeros(shape)
            lo, hi = np.inf, 0.0
            for job in groups[g]:
                a, b = do_job(acc, job)
                lo, hi = min(lo, a), max(hi, b)
            results[g] = (acc, lo, hi)

    if threads == 1:
        worker()
    else:
        with ThreadPoolExecutor(threads) as ex:
            for f in [ex.submit(worker) for _ in range(threads)]:
                f.result()
    total = results[0][0]
    for acc, _, _ in results[1:]:
        total += acc
    return total, min(r[1] for r in results), max(r[2] for r in results)


def _tile_entries(T: np.ndarray, t: float, distance_weighted: bool | str,
                  shift: float = 0.0) -> tuple:
    """The tiles a product multiplies by, from the distance tile T: (exp(-t T) - shift,) in
    place, (T * exp(-t T),) (a new array) when ``distance_weighted``, or both when it is
    ``"both"`` (the columns of their products side by side)."""
    if distance_weighted == "both":
        E = np.exp(T * -t)
        return E, E * T
    if distance_weighted:
        E = np.exp(T * -t)
        E *= T
        return (E,)
    T *= -t
    np.exp(T, out=T)
    if shift:
        T -= T.dtype.type(shift)
    return (T,)


def _unshift(Y: np.ndarray, V: np.ndarray, shift: float) -> np.ndarray:
    """(Z~ - shift 1 1^T) V + shift 1 (1^T V) = Z~ V: the rank-one part in float64."""
    if shift:
        Y += shift * V.sum(axis=0)
    return Y


def _ranges(js: np.ndarray, starts: np.ndarray) -> list[tuple[int, int]]:
    """Leaf indices (sorted) -> merged column ranges of consecutive leaves."""
    if js.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(js) > 1)
    first = np.concatenate([[js[0]], js[breaks + 1]])
    last = np.concatenate([js[breaks], [js[-1]]])
    return [(int(starts[a]), int(starts[b + 1])) for a, b in zip(first, last, strict=True)]


# --------------------------------------------------------------------------- eigenvalue bounds


@lru_cache(maxsize=64)
def _ball_table(d: int):
    """Grid data for the separation bound in R^d (independent of t and q).

    Returns (right cell ends b, log of an upper bound of Lambda^2 on each cell, log K_d,
    tail constant, Z0), or None where the Bessel functions cannot be evaluated.
    """
    nu = d / 2.0
    Z0 = 2.0 * nu + 40.0
    h = min(0.01, 0.5 / (nu + 1.0))
    z = np.arange(0.0, Z0 + h, h)
    a, b = z[:-1], z[1:]
    with np.errstate(all="ignore"):
        lam = np.abs(hyp0f1(nu + 1.0, -z * z / 4.0))
        ok = np.isfinite(lam)
        # |Lambda_nu'(z)| = z / (2 (nu + 1)) |Lambda_{nu+1}(z)| <= z / (2 (nu + 1))
        U = np.maximum(lam[:-1], lam[1:]) + b / (2.0 * (nu + 1.0)) * h / 2.0 + 1e-14
        U = np.where(ok[:-1] & ok[1:], np.minimum(U, 1.0), 1.0)
        logU2 = 2.0 * np.log(U)
        # Nicholson: for nu >= 1/2, x (J^2 + Y^2)(x) is non-increasing, so on [a, b] (a > 0)
        # Lambda^2 <= Gamma(nu+1)^2 4^nu a^(-2 nu) (J^2 + Y^2)(a)
        env = (2.0 * gammaln(nu + 1.0) + 2.0 * nu * math.log(2.0) - 2.0 * nu * np.log(a)
               + np.log(jv(nu, a) ** 2 + yv(nu, a) ** 2))
        env = np.where(np.isfinite(env), env, np.inf)
        logU2 = np.minimum(logU2, env)
        C0 = Z0 * (jv(nu, Z0) ** 2 + yv(nu, Z0) ** 2)
    if not (np.isfinite(C0) and C0 > 0) or not np.isfinite(logU2).all():
        return None
    logK = (d * math.log(2.0) + gammaln((d + 1) / 2.0) + gammaln(d / 2.0 + 1.0)
            - 0.5 * math.log(math.pi))
    tail = -2.0 * gammaln(nu + 1.0) - d * math.log(2.0) - math.log(C0)
    return b, logU2, float(logK), float(tail), Z0


def separation_bound(t: float, q: float, d: int) -> float:
    """Certified lower bound on lambda_min(exp(-t D)) for points in R^d (Euclidean) whose
    pairwise distances are all >= q (see the module docstring)."""
    if not (q > 0 and t > 0 and d >= 1):
        return 0.0
    table = _ball_table(int(d))
    if table is None:
        return 0.0
    b, logU2, logK, tail, Z0 = table
    tau = t * q / 2.0
    k = (d + 1) / 2.0
    cells = -k * np.log(tau * tau + b * b) - logU2
    tail_val = k * math.log(Z0 * Z0 / (tau * tau + Z0 * Z0)) + tail
    logc = logK + math.log(tau) + min(float(cells.min()), tail_val)
    # 1e-6: the evaluation error of the special functions, generously
    return float(min(1.0, math.exp(logc) * (1.0 - 1e-6))) if logc < 700 else 1.0


def subordination_bound(t, points, *, threads: int = 1):
    """Certified lower bound on lambda_min(exp(-t D)) for Euclidean points, in any dimension.

    exp(-t r) is a mixture of Gaussians exp(-s r^2) (subordination by the Levy density), so
    lambda_min(Z(t)) is at least the mixture of Gershgorin bounds of the Gaussian kernel
    matrices, whose row sums are bounded from each point's 16 nearest neighbours
    (`metric_magnitude.solvers._subordination`). Unlike `separation_bound` it does not
    weaken with the dimension: measured within a factor 1.24 of lambda_min in R^3, 1.7 in
    R^10 and 2.7 in R^768 (200 Gaussian points, t = 0.01 to 30), where the separation bound
    is up to 3.2, 5.7 and 1e31 times below it.

    Parameters
    ----------
    t : float or array_like of float
        Scales (> 0; a bound of 0 is returned for others).
    points : array_like of shape (n, d)
        Distinct points (coincident points give 0: Z(t) is singular).
    threads : int, default=1
        Threads of the neighbour search.

    Returns
    -------
    float or ndarray
        The bound for each scale (the nearest neighbours are found once).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> X = np.random.default_rng(0).standard_normal((300, 3))
    >>> lam = np.linalg.eigvalsh(np.exp(-cdist(X, X)))[0]
    >>> bool(lam / 1.5 <= subordination_bound(1.0, X) <= lam)
    True
    """
    from ._subordination import bound_from_profile, profile

    P = np.asarray(points, dtype=np.float64)
    if P.ndim != 2 or not np.isfinite(P).all():
        raise InvalidInputError(f"points must be a finite 2-D array, got shape {P.shape}")
    ts = np.asarray(t, dtype=np.float64)
    s, g = profile(P, threads)
    out = np.array([bound_from_profile(float(x), s, g) for x in ts.ravel()])
    return float(out[0]) if ts.ndim == 0 else out.reshape(ts.shape)


def _subordination_pays(op: SimilarityOperator, separation: float) -> bool:
    """Whether to compute the subordination bound: where its neighbour search is cheap (a
    k-d tree in up to 3 dimensions: 0.3 s for 100,000 points, then 2.5 s for the profile;
    a Gram search of at most _SUBORDINATION_PAIRS pairs), or necessary (above
    _SUBORDINATION_DIMS[1] dimensions, or a separation bound below 1e-8). Between, the
    separation bound costs about one iteration (each gains ~10x) and the search more: 81.6 s
    for 100,000 points in R^10 (study_eigenvalue_bounds.py --cost)."""
    low, high = _SUBORDINATION_DIMS
    return ("_subordination" in op.__dict__ or op.dim <= low or op.dim > high
            or float(op.n) ** 2 <= _SUBORDINATION_PAIRS or separation < 1e-8)


def _subordination_profile(op: SimilarityOperator):
    """The t-independent part of `subordination_bound` for the operator's points (once)."""
    cache = op.__dict__
    if "_subordination" not in cache:
        from ._subordination import profile

        cache["_subordination"] = profile(op._P, op.threads)
    return cache["_subordination"]


def product_bound(t: float, q_inf: float, d: int) -> float:
    """Certified lower bound on lambda_min for l1 points whose Chebyshev separation is >= q_inf.

    exp(-t ||x||_1) has Fourier transform prod_k 2t / (t^2 + w_k^2); the product of triangle
    functions (1 - |x_k| / q_inf)_+ vanishes at every other point, so lambda_min >= c1^d with
    c1 = beta inf_x x^2 / ((beta^2 + x^2) sin^2 x), beta = t q_inf / 2.
    """
    if not (q_inf > 0 and t > 0 and d >= 1):
        return 0.0
    beta = t * q_inf / 2.0
    x = np.linspace(0.0, np.pi, 4001)
    a, b = x[:-1], x[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a > 0, a / np.sin(a), 1.0)
    # (x / sin x)^2 increases and 1 / (beta^2 + x^2) decreases on (0, pi)
    inner = min(float(np.min(ratio**2 / (beta * beta + b * b))),
                np.pi**2 / (beta * beta + np.pi**2))
    logc = d * math.log(beta * inner)
    return float(min(1.0, math.exp(logc) * (1.0 - 1e-9))) if logc > -700 else 0.0


def coordinate_bound(t: float, P: np.ndarray) -> float:
    """Certified lower bound on lambda_min for l1 points: the best coordinate's 1-D bound.

    exp(-t ||x - y||_1) is the Hadamard product of the coordinates' 1-D matrices, so (Schur)
    lambda_min(Z) >= lambda_min(Z_k) for each k. Z_k (distinct sorted values, gaps g, q =
    e^-tg) has a tridiagonal inverse; its largest row sum bounds lambda_max(Z_k^-1).
    """
    best = 0.0
    for k in range(P.shape[1]):
        x = np.sort(P[:, k])
        if x.size < 2:
            return 1.0
        g = np.diff(x)
        if not (g > 0).all():
            continue
        q = np.exp(-t * g)
        s = -np.expm1(-2.0 * t * g)  # 1 - q^2
        ql = np.concatenate([[0.0], q])
        qr = np.concatenate([q, [0.0]])
        sl = np.concatenate([[1.0], s])
        sr = np.concatenate([s, [1.0]])
        diag = (1.0 - (ql * qr) ** 2) / (sl * sr)
        row = diag + ql / sl + qr / sr
        best = max(best, (1.0 - 1e-12) / float(row.max()))
    return best


# --------------------------------------------------------------------------- preconditioner


def _rpcholesky(S: _ScaledSimilarity, max_rank: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Block randomly pivoted Cholesky: Z ~ F F^T (Nystrom), F of shape (n, k).

    Pivots are sampled in blocks with probability proportional to the residual diagonal; the
    block's residual kernel is factored by an eigendecomposition (robust to dependent pivots).
    The rank grows while each accepted pivot removes at least twice its own diagonal from the
    residual's trace (so one block at large t, where Z is far from low rank).
    Returns (F, residual diagonal).
    """
    n = S.n
    d = np.ones(n)
    blocks = []
    k = 0
    while k < max_rank:
        total = float(d.sum())
        if total <= 1e-12 * n:
            break
        m = min(_RANK_BLOCK, max_rank - k, int(np.count_nonzero(d > 0)))
        if m <= 0:
            break
        piv = np.unique(rng.choice(n, size=m, replace=False, p=d / total))
        G = S.columns(piv)
        if blocks:
            F = np.hstack(blocks)
            G -= F @ F[piv].T
        H = G[piv]
        H = (H + H.T) / 2.0
        lam, Q = np.linalg.eigh(H)
        keep = lam > 1e-10 * max(float(lam.max()), 1e-300)
        if not keep.any():
            break
        Fn = G @ (Q[:, keep] / np.sqrt(lam[keep]))
        captured = np.einsum("ij,ij->i", Fn, Fn)
        d = np.maximum(d - captured, 0.0)
        blocks.append(Fn)
        k += Fn.shape[1]
        if captured.sum() < 2.0 * Fn.shape[1]:
            break
    F = np.hstack(blocks) if blocks else np.zeros((n, 0))
    return F, d


def _sparse_inverse_applies(op: SimilarityOperator) -> bool:
    """Whether the sparse approximate inverse is defined: points under the euclidean or
    cityblock metric ("auto" picks it for euclidean points in up to
    _SPARSE_INVERSE_MAX_DIM dimensions; under cityblock it measured slower than Nystrom
    plus block Jacobi: 66 against 44 iterations, 2,500 points in R^3 at t = 1)."""
    return (op._P is not None and op.metric in ("euclidean", "cityblock")
            and 1 <= op.dim and op.n >= 2)


def _check_preconditioner(preconditioner, op: SimilarityOperator | None = None) -> None:
    """A known preconditioner, and (given the operator) one that applies to its space."""
    if preconditioner not in PRECONDITIONERS:
        raise InvalidInputError(
            f"unknown preconditioner {preconditioner!r}; choose one of "
            f"{', '.join(map(repr, PRECONDITIONERS))}"
        )
    if preconditioner == "sparse_inverse" and op is not None and not _sparse_inverse_applies(op):
        raise InvalidInputError(
            "preconditioner='sparse_inverse' needs points under the euclidean or cityblock "
            f"metric (this space: {op.metric!r}{' distances' if op._P is None else ''}); "
            "use preconditioner='auto'"
        )


def _sparse_inverse_levels(op: SimilarityOperator):
    """The points' `_sparse_inverse.grid_levels` (computed once per operator)."""
    levels = getattr(op, "_sparse_inverse_levels", None)
    if levels is None:
        from ._sparse_inverse import grid_levels

        levels = op._sparse_inverse_levels = grid_levels(op._P)
    return levels


def _sparse_inverse_pays(op: SimilarityOperator, t: float) -> bool:
    """Whether "auto" uses the sparse inverse at scale t: euclidean points in up to
    _SPARSE_INVERSE_MAX_DIM dimensions, at scales where t times the median length scale
    of the ordering is at most _SPARSE_INVERSE_MAX_T_SCALE (beyond, Z is so close to the
    identity that both preconditioners need a few iterations, and the factor costs more:
    measured crossovers t * median = 1.3 at 10,000 and 1.6 at 100,000 points in R^3); in
    more dimensions (the neighbour pattern, up to _NEIGHBOUR_MAX_DIM), where the sampled
    spread fraction is at least _NEIGHBOUR_MIN_SPREAD."""
    if not (_sparse_inverse_applies(op) and op.metric == "euclidean"):
        return False
    if op.dim > _SPARSE_INVERSE_MAX_DIM:
        return (op.dim <= _NEIGHBOUR_MAX_DIM
                and _sampled_spread_fraction(op, t) >= _NEIGHBOUR_MIN_SPREAD)
    return _sparse_inverse_t_scale(op, t) <= _SPARSE_INVERSE_MAX_T_SCALE


def _sampled_spread_fraction(op: SimilarityOperator, t: float,
                             sample: int = _SPREAD_SAMPLE) -> float:
    """The mean of 1 / (row sum of Z(t)) over a random sample of rows: Willerton's spread
    of the space (sum of 1 / row sums) over n, estimated from ``sample`` full rows (exact
    where n <= sample). How far Z(t) is from its smooth part."""
    n = op.n
    idx = np.random.default_rng(0).choice(n, size=min(n, sample), replace=False)
    rows = np.zeros(idx.shape[0])
    step = max(1, _CHUNK_ENTRIES // idx.shape[0])
    for r0 in range(0, n, step):  # blocks of Z's columns idx (Z is symmetric)
        rows += np.exp(-t * op._dist_cols(r0, min(n, r0 + step), idx)).sum(axis=0)
    return float(np.mean(1.0 / rows))


def _sparse_inverse_rho(op: SimilarityOperator, t: float) -> float:
    """The pattern's radius, in length scales, for the factor at scale t."""
    rho, n_min, t_scale = _SPARSE_INVERSE_RICH
    if op.n >= n_min and _sparse_inverse_t_scale(op, t) <= t_scale:
        return rho
    return _SPARSE_INVERSE_RHO


def _sparse_inverse_t_scale(op: SimilarityOperator, t: float) -> float:
    """t times the median length scale of the ordering: how local Z(t) is at that
    resolution (what both of "auto"'s choices about the sparse inverse go by)."""
    return t * float(np.median(_sparse_inverse_levels(op)[1]))


def _neighbour_pattern(op: SimilarityOperator):
    """The factor's sparsity above _SPARSE_INVERSE_MAX_DIM dimensions (computed once per
    operator), or None where it would take more than a quarter of the available memory."""
    cache = op.__dict__.setdefault("_sparse_inverse_patterns", {})
    if "neighbours" not in cache:
        from ._sparse_inverse import neighbour_pattern

        k = _SPARSE_INVERSE_NEIGHBOURS
        # rows and values, the transpose's copy, and the search's 2k + 1 candidates
        fits = 32.0 * (k + 1) * op.n + 16.0 * (2 * k + 1) * op.n <= 0.25 * available_memory()
        cache["neighbours"] = (neighbour_pattern(op._P, op._p, k, threads=op.threads)
                                 if fits else False)
    return cache["neighbours"] or None


def _sparse_inverse_pattern(op: SimilarityOperator, rho: float):
    """The factor's sparsity of radius rho for the operator's points (computed once per
    radius), or None where it would take more than a quarter of the available memory."""
    cache = op.__dict__.setdefault("_sparse_inverse_patterns", {})
    if rho not in cache:
        from ._sparse_inverse import estimated_entries, pattern

        levels = _sparse_inverse_levels(op)
        # before building it: an over-estimate from a sample (a pattern of that radius is
        # nearly dense in high dimensions); the pattern, its values and the transpose's
        # copy take about 32 bytes an entry, and about three times that while it is built
        cached = False
        if 96.0 * estimated_entries(op._P, op._p, rho, levels) <= 0.5 * available_memory():
            try:
                colptr, rows = pattern(op._P, op._p, rho, levels=levels)
            except MemoryError:  # pragma: no cover - depends on the machine
                pass
            else:
                if 32.0 * rows.shape[0] <= 0.25 * available_memory():
                    cached = (colptr, rows)
        cache[rho] = cached
    return cache[rho] or None


class _Preconditioner:
    """M^-1 = L L^T (``"sparse_inverse"``), or M = F F^T + blockdiag(Z_II - F_I F_I^T +
    sigma I) and its inverse by Woodbury (the others)."""

    def __init__(self, S: _ScaledSimilarity, kind: str, max_rank: int, rng,
                 cheap_products: bool = False):
        n = S.n
        starts = S.op.starts
        if (kind == "sparse_inverse" and _sparse_inverse_applies(S.op)) or (
                kind == "auto" and _sparse_inverse_pays(S.op, S.t)):
            if S.op.dim > _SPARSE_INVERSE_MAX_DIM:
                pattern = _neighbour_pattern(S.op)
                label = f"neighbours={_SPARSE_INVERSE_NEIGHBOURS}"
            else:
                rho = _sparse_inverse_rho(S.op, S.t)
                pattern = _sparse_inverse_pattern(S.op, rho)
                if pattern is None and rho != _SPARSE_INVERSE_RHO:
                    rho = _SPARSE_INVERSE_RHO
                    pattern = _sparse_inverse_pattern(S.op, rho)
                label = f"rho={rho:g}"
            if pattern is not None:
                from ._sparse_inverse import factor

                self.kind = "sparse_inverse"
                self.t, self.rho = S.t, rho if S.op.dim <= _SPARSE_INVERSE_MAX_DIM else None
                self.cheap_products = cheap_products
                # compiled where the products are (numba installed, from 2,048 points up)
                self.L = factor(S.op._P, S.op.metric, S.t, *pattern, threads=S.op.threads,
                                compiled=S.op.kernel == "numba")
                self.LT = self.L.T.tocsr()
                self.rank = 0
                self.description = f"sparse_inverse({label}, {self.L.nnz / n:.0f} per column)"
                return
        if kind == "sparse_inverse":  # where it does not apply, or does not fit
            kind = "auto"
        self.kind = kind
        self.blocks = kind in ("auto", "nystrom+block_jacobi", "block_jacobi")
        if kind in ("auto", "nystrom+block_jacobi", "nystrom") and max_rank > 0:
            F, dres = _rpcholesky(S, max_rank, rng)
        else:
            F, dres = np.zeros((n, 0)), np.ones(n)
        self.rank = F.shape[1]
        parts = []
        if self.rank:
            parts.append(f"nystrom(k={self.rank})")
        if self.blocks:
            parts.append(f"block_jacobi({S.op.leaf})")
        self.description = "+".join(parts) if parts else "none"
        if self.blocks:
            sigma = max(1e-3 * float(dres.mean()), 1e-10)
            self.factors = []
            for i in range(S.op.n_leaves):
                r0, r1 = int(starts[i]), int(starts[i + 1])
                B = S.diagonal_block(i)
                if self.rank:
                    Fi = F[r0:r1]
                    B -= Fi @ Fi.T
                self.factors.append(_shifted_cholesky(B, sigma))
            self.starts = starts
        else:
            self.sigma = max(float(dres.mean()), 1e-10) if self.rank else 1.0
        if self.rank:
            self.F = F
            self.BF = self._Binv(F)
            C = np.eye(self.rank) + F.T @ self.BF
            c, info = lapack.dpotrf(C, lower=1)
            if info != 0:  # pragma: no cover - C is I + PSD
                raise np.linalg.LinAlgError("preconditioner's capacitance matrix is singular")
            self.C = c

    def serves(self, S: _ScaledSimilarity, kind: str, cheap_products: bool = False) -> bool:
        """Whether this preconditioner, built for a larger scale of a chain, may serve S too:
        a factor of the rich pattern, which S would get as well, from a scale at most
        _FACTOR_REUSE_RATIO times S's (its cost is several products; the iterations it
        adds are few, and at the smallest scales none), or _FACTOR_REUSE_RATIO_GRID times
        where both scales' float32 products go by the grid split (``cheap_products``, here
        and where it was built: more of them cost less than another factor)."""
        if self.kind != "sparse_inverse" or self.rho != _SPARSE_INVERSE_RICH[0]:
            return False
        ratio = (_FACTOR_REUSE_RATIO_GRID if self.cheap_products and cheap_products
                 else _FACTOR_REUSE_RATIO)
        if not S.t <= self.t <= ratio * S.t:
            return False
        chosen = (kind == "sparse_inverse" and _sparse_inverse_applies(S.op)) or (
            kind == "auto" and _sparse_inverse_pays(S.op, S.t))
        return chosen and _sparse_inverse_rho(S.op, S.t) == self.rho

    def _Binv(self, R: np.ndarray) -> np.ndarray:
        # a method, not a stored closure or bound method: a reference cycle through self
        # kept every scale's preconditioner (n x rank, twice) alive until the garbage
        # collector ran (1.1 GB for 20 scales of 10,000 points, measured)
        if not self.blocks:
            return R / self.sigma
        out = np.empty_like(R)
        s = self.starts
        for i, c in enumerate(self.factors):
            out[s[i]:s[i + 1]] = lapack.dpotrs(c, R[s[i]:s[i + 1]], lower=1)[0]
        return out

    def __call__(self, r: np.ndarray) -> np.ndarray:
        if self.kind == "none":
            return r.copy()
        if self.kind == "sparse_inverse":
            return self.L @ (self.LT @ r)
        y = self._Binv(r)
        if self.rank:
            y = y - self.BF @ lapack.dpotrs(self.C, self.F.T @ y, lower=1)[0]
        return y


def _shifted_cholesky(B: np.ndarray, sigma: float, floor: float = 0.0) -> np.ndarray:
    """Lower Cholesky factor of B + s I for the first shift s of sigma, 10 sigma, 100 sigma,
    ... (from sigma = 0: 0, floor, 10 floor, ...) that round-off lets through; B is
    shifted in place. For preconditioners only: near-duplicate points can make a positive
    definite block fail in floating point."""
    n = B.shape[0]
    B.flat[:: n + 1] += sigma
    for _ in range(20):
        c, info = lapack.dpotrf(B, lower=1, clean=1)
        if info == 0:
            return c
        step = 9.0 * sigma if sigma else floor  # pragma: no cover - round-off only
        B.flat[:: n + 1] += step  # pragma: no cover
        sigma += step  # pragma: no cover
    raise np.linalg.LinAlgError("preconditioner block not positive definite")  # pragma: no cover


# --------------------------------------------------------------------------- certificate


@dataclass
class _Certificate:
    lower: float
    upper: float
    lam: float
    source: str
    r: np.ndarray  # the residual 1 - Z~ x from an explicit product
    rnorm: float  # certified bound on ||1 - Z x||
    rfloor: float  # the part of rnorm that is rounding and truncation, not residual
    floor: float  # upper - lower with a zero residual: what more iterations cannot remove
    rowsums: np.ndarray | None
    weight_error: float
    norm: float  # certified bound on ||Z||_2 (largest row sum)
    derivative: tuple[float, float] | None = None  # (x^T (D o Z) x, its error bound)


def _box_certificate_bounds(S: _ScaledSimilarity, ax: np.ndarray, state: dict):
    """Bounds (hi, lo) on Z~ |x| and on Z~ 1 from the leaves' boxes (`box_bounds`), where
    the certificate may take them instead of computing both columns: t times the median
    leaf diameter at most `_BOX_CERTIFICATE_T_DIAMETER`, and Gershgorin (with the lower
    bounds in place of the products, so at least what the products would give) no better
    than the geometric eigenvalue bound already in hand. Else None."""
    op = S.op
    if op._p is None or S.t * op._median_leaf_diameter > _BOX_CERTIFICATE_T_DIAMETER:
        return None
    hi, lo = S.box_bounds(np.column_stack([ax, np.ones(S.n)]))
    if _gershgorin(S, ax, lo[:, 0], lo[:, 1], state) > max(state["geo_lam"], 0.0):
        return None
    return (hi[:, 0], lo[:, 0]), (hi[:, 1], lo[:, 1])


def _gershgorin(S: _ScaledSimilarity, ax: np.ndarray, Zax: np.ndarray, rows: np.ndarray,
                state: dict) -> float:
    """Gershgorin's lower bound on lambda_min(Z) from upper bounds on Z~ |x| and Z~ 1.

    For Z - c 1 1^T (c <= every entry of Z, so lambda_min(Z) >= lambda_min(Z - c 1 1^T))
    with the diagonal scalings 1 and |x|: lambda_min(Z) >= min_i 2 - (Z u)_i / u_i +
    c (sum(u) / u_i - 2), the skipped pairs charged by ``S.eps_row``, with margins for its
    own rounding. It decreases as Z~ |x| and Z~ 1 grow, so lower bounds on them in their
    place give at least its value from the products (`_box_certificate_bounds`).
    """
    n = S.n
    g = 1.01 * S.sum_terms * _U
    gs = 1.01 * (26 + math.log2(n)) * _U
    ez = S.entry_rel_error()
    c = math.exp(-S.t * state["max_distance"]) * (1.0 - ez) if state["max_distance"] else 0.0
    gersh1 = float(np.min(2.0 - (rows + S.eps_row) + c * (n - 2)))
    u = np.maximum(ax, 1e-20 * max(float(ax.max(initial=0.0)), 1e-280))
    su = float(np.sum(u)) * (1.0 - gs)
    gershx = float(np.min(2.0 - (Zax + S.eps_row * float(u.max())) / u
                          + c * np.minimum(su / u - 2.0, su / u * (1 + 2 * g) - 2.0)))
    return max(gersh1, gershx) * (1.0 - 1e-10) - 1e-15


def _bracket(S: _ScaledSimilarity, Y) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) around the exact Z~ v from Y: a computed product Z~ v with v >= 0 (its
    entries' and sums' rounding), or such a pair already."""
    if isinstance(Y, tuple):
        return Y
    infl = S.entry_rel_error() + 1.01 * S.sum_terms * _U + 1e-12
    return Y * (1.0 + infl), Y * (1.0 - infl)


def _certify(S: _ScaledSimilarity, x: np.ndarray, state: dict,
             derivative: bool = False) -> _Certificate:
    """Certified bounds on |tX| from x, by one explicit product Z~ [x, |x| (, 1)].

    ``derivative``: also d|tX|/dt from x (`_derivative`'s value and bound), by the same
    pass over the pairs: (D o Z~) x, its error bound from Z~ |x| and Z~ 1
    (`_weighted_bounds`). Where bounds on Z~ |x| and Z~ 1 from the leaves' boxes serve as
    well (`_box_certificate_bounds`), the product is Z~ x alone.
    """
    n = S.n
    ax = np.abs(x)
    box = _box_certificate_bounds(S, ax, state)
    if box is None:
        need_rows = derivative or state.get("rowsums") is None
        V = np.column_stack([x, ax, np.ones(n)] if need_rows else [x, ax])
    else:
        V = x[:, None]
    Y = _product(S, V, state, distance_weighted="first" if derivative else False)
    if derivative:
        Y, Yw = Y[:, :-1], Y[:, -1]
    Zx = Y[:, 0]
    if box is None:
        if state.get("rowsums") is None:
            state["rowsums"] = Y[:, 2].copy()
        Zax, rows = _bracket(S, Y[:, 1]), _bracket(S, state["rowsums"])
    else:
        Zax, rows = box
    # rounding: gamma_m for the products (S.sum_terms terms per entry), and numpy's pairwise
    # summation (np.sum over a contiguous array: at most 24 + log2(n) additions deep)
    g = 1.01 * S.sum_terms * _U
    gs = 1.01 * (26 + math.log2(n)) * _U
    ez = S.entry_rel_error()
    s = float(np.sum(x))
    ds = gs * float(np.sum(ax))
    q = float(np.sum(x * Zx))
    a = float(np.sum(ax * Zax[0])) * (1.0 + gs)  # >= |x|^T Z~ |x|
    dq = (ez + g + gs) * a
    gn = 1.01 * n * _U  # BLAS dot products and norms
    xnorm2 = float(x @ x) * (1.0 + gn)
    eT = min(S.eps_max * xnorm2,
             float(ax.max(initial=0.0)) * float(ax @ S.eps_row) * (1.0 + gn)) * (1 + 1e-9)
    r = 1.0 - Zx
    rfloor = ((ez + g) * float(np.linalg.norm(Zax[0])) * (1.0 + gn)
              + S.eps_max * math.sqrt(xnorm2) * (1 + 1e-9)
              + _U * (math.sqrt(n) + float(np.linalg.norm(Zx)) * (1.0 + gn)))
    rnorm = float(np.linalg.norm(r)) * (1.0 + gn) + rfloor
    # eigenvalue bound: geometry, or Gershgorin where it is larger
    lam, source = state["geo_lam"], state["geo_source"]
    gersh = _gershgorin(S, ax, Zax[0], rows[0], state)
    if gersh > lam:
        lam, source = gersh, "gershgorin"
    pd = state["known_pd"] or lam > 0
    if pd and abs(s) > ds:
        lower = (abs(s) - ds) ** 2 / (q + dq + eT)
        floor_lower = lower
    else:
        lower = floor_lower = -np.inf
    if pd and lam > 0:
        base = 2.0 * (s + ds) - (q - dq - eT)
        upper = base + rnorm * rnorm / lam
        floor_upper = base
        werr = rnorm / lam
    else:
        upper = floor_upper = np.inf
        werr = np.inf
    if state["negative_type"]:
        lower, floor_lower = max(lower, 1.0), max(floor_lower, 1.0)
        upper, floor_upper = min(upper, float(n)), min(floor_upper, float(n))
    norm = float(np.max(rows[0] + S.eps_row))
    return _Certificate(lower, upper, lam if lam > 0 else 0.0, source if lam > 0 else "none",
                        r, rnorm, rfloor, floor_upper - floor_lower, rows[0], werr, norm,
                        _derivative_from_products(
                            S, x, Yw, *_weighted_bounds(S, ax, Zax, rows, state), werr)
                        if derivative else None)


# --------------------------------------------------------------------------- PCG


@dataclass
class _ScaleOutcome:
    x: np.ndarray
    estimate: float
    lower: float
    upper: float
    lam: float
    source: str
    iterations: int
    matvecs: int
    certified: bool
    reason: str
    weight_error: float
    rcond: float
    derivative: tuple[float, float] | None = None  # from the final certificate's pass


def _product(S: _ScaledSimilarity, V: np.ndarray, state: dict,
             single: bool = False, distance_weighted: bool | str = False) -> np.ndarray:
    """Z~ V, counting products; the first product of a solve also finds the separation.

    ``single``: in float32 (uncertified; search directions only). The first product may be
    one: its distances are rigorous bounds, only looser; where float32 is not accurate
    enough for the separation they give (`SimilarityOperator.single_is_accurate`, which
    keeps the iterations in float64 too) it is computed again in float64.
    """
    track = state["min_distance"] is None
    if not track and S.gram_double is None:
        S.use_gram_double(state["min_distance"])
    Y = S.apply(V, track_min=track, single=single, distance_weighted=distance_weighted)
    state["matvecs"] += 1
    if track:
        _record_distances(S, state)
        if single and not S.op.single_is_accurate(state["min_distance"]):
            # float32 cannot tell these points apart well enough: exact distances, and a
            # float64 product, from the start
            S.min_distance, S.max_distance = np.inf, 0.0
            Y = S.apply(V, track_min=True, distance_weighted=distance_weighted)
            state["matvecs"] += 1
            _record_distances(S, state)
    return Y


def _record_distances(S: _ScaledSimilarity, state: dict) -> None:
    """The tracked extreme distances (with margins for their rounding) and the geometric
    eigenvalue bound they give."""
    q = min(S.min_distance, S.skip_min_distance)
    state["min_distance"] = q * (1.0 - S.op.distance_rel_error - 4 * _U)
    # skipped pairs lie within the bounding box's diameter
    dmax = max(S.max_distance, S.op.diameter_bound if S.skipped_fraction > 0 else 0.0)
    state["max_distance"] = dmax * (1.0 + S.op.distance_rel_error + 4 * _U)
    state["geo_lam"], state["geo_source"] = _geometric_bound(state["prep"], S.t, state)


def _single_is_accurate(S: _ScaledSimilarity, state: dict) -> bool:
    """Whether float32 products are close enough to Z~ for CG's search directions.

    Where float32 moves the closest pair's distance by more than 1%
    (`SimilarityOperator.single_is_accurate`), single precision computes another matrix (its
    small eigenvalue, about t q, is off by more than 1%).
    """
    return S.op.single_is_accurate(state["min_distance"])


def _galerkin_start(S: _ScaledSimilarity, X0: np.ndarray, state: dict):
    """The start x in span(X0) closest to the solution in the Z-norm, and 1 - Z x.

    X0 holds previous scales' weights as columns (newest first). The Galerkin condition
    Q^T Z Q c = Q^T 1 over an orthonormal basis Q of the span, solved by eigenvectors and
    cut where Z's Rayleigh quotients fall below _WARM_CUT times the largest (the columns
    are nearly parallel, and the product may be float32). One product with the block.
    """
    n = S.n
    X0 = X0.reshape(n, -1)
    Q, R = np.linalg.qr(X0)
    Q = Q[:, np.abs(np.diag(R)) > 1e-8 * np.abs(R).max(initial=0.0)]
    if Q.shape[1] == 0:
        return np.zeros(n), np.ones(n)
    # in float32 where allowed: it only starts the recursive residual, which the first
    # certificate replaces by an explicit one
    ZQ = _product(S, Q, state, state["single"] and (
        state["min_distance"] is None or _single_is_accurate(S, state))).reshape(n, -1)
    G = Q.T @ ZQ
    ev, U = np.linalg.eigh(0.5 * (G + G.T))
    if not (ev[-1] > 0 and np.all(np.isfinite(ev))):
        return np.zeros(n), np.ones(n)
    good = ev > _WARM_CUT * ev[-1]
    U, ev = U[:, good], ev[good]
    c = U @ ((U.T @ Q.sum(axis=0)) / ev)
    return Q @ c, 1.0 - ZQ @ c


def _pcg(S, M, x0, rtol, maxiter, state) -> _ScaleOutcome:
    """PCG on Z~ x = 1 from x0, certifying when the estimated gap is below rtol."""
    n = S.n
    state["matvecs"] = 0
    state["rowsums"] = None
    x, r = np.zeros(n), np.ones(n)
    if x0 is not None:
        x, r = _galerkin_start(S, x0, state)
    z = M(r)
    p = z.copy()
    rz = float(r @ z)
    best_lo, best_up = -np.inf, np.inf
    cert = None  # the certificate of the current x, if any
    attempt = 0.9  # certify when the certificate's own estimate is this fraction of rtol
    # ... or when r^T M^-1 r (about the true error) is this fraction: early where there is
    # no eigenvalue bound yet, late where the bound may just be too weak to certify
    conv_scale = 1.0
    # precision="mixed": the search directions' products in float32 while the points are
    # far enough apart for it, until the explicit residuals (each certificate's, in
    # float64) stop halving between two certificates, or r^T M^-1 r stops halving
    single = state["single"]
    last_rnorm = best_rz = np.inf
    certified_once = False
    best_it = 0
    it = 0
    reason = "maxiter"
    while it < maxiter:
        if single and state["min_distance"] is not None:  # (the first product finds it)
            single = _single_is_accurate(S, state)
        Zp = _product(S, p, state, single)
        it += 1
        pZp = float(p @ Zp)
        if single and not (pZp > 0 and np.isfinite(pZp)):
            single = False  # retry the step in float64 before calling it a breakdown
            Zp = _product(S, p, state)
            pZp = float(p @ Zp)
        if not (pZp > 0 and np.isfinite(pZp)):
            reason = "breakdown"
            break
        alpha = rz / pZp
        x += alpha * p
        r -= alpha * Zp
        cert = None
        z = M(r)
        rz_new = float(r @ z)
        if single:
            if rz_new < 0.5 * best_rz:
                best_rz, best_it = rz_new, it
            elif it - best_it >= _SINGLE_PATIENCE:
                # no progress in single precision: float64 from the explicit residual
                single = False
                r = 1.0 - _product(S, x, state)
                z = M(r)
                rz_new = float(r @ z)
                rz = 0.0  # restart (beta = 0)
        lower_est = float(x.sum()) + float(x @ r)  # 2 1^T x - x^T Z x, recursively
        lam = state["geo_lam"]
        res_est = ((math.sqrt(float(r @ r)) + S.eps_max * math.sqrt(float(x @ x))) ** 2 / lam
                   if lam > 0 else np.inf)
        # r^T M^-1 r estimates r^T Z^-1 r, the error of 2 1^T x - x^T Z x
        # ... but once a certificate has given the best eigenvalue bound there is (geometry
        # or Gershgorin), only res_est: the r^T M^-1 r test, which assumes the true lambda,
        # fired certificates that failed by 1.2 to 2.5x in the residual (20,000 points in
        # R^3, t = 0.08 to 0.25), and a third followed; and with the subordination bound
        # (within 1.2 to 2.7x of lambda_min) only res_est from the start: the r^T M^-1 r
        # test fired 8 first certificates that failed along the 20 scales of a function
        # (20,000 points in R^3), for the same iterations
        attempt_conv = (1e-2 if lam <= 0 else 1e-4) * conv_scale
        by_residual = res_est <= attempt * rtol * lower_est
        by_conv = lam <= 0 or not (certified_once or (_SUBORDINATION_SKIPS_RZ_TEST and
                                                       state["geo_source"] == "subordination"))
        if lower_est > 0 and (by_residual or (abs(rz_new) <= attempt_conv * rtol * lower_est
                                              and by_conv)):
            # the derivative in the same pass where this certificate is likely the last
            # (its own bound predicts success): the pairs' distances and exponentials
            # are most of a product's cost
            fuse = state.get("fuse_derivative", False) and by_residual
            cert = _certify(S, x, state, derivative=fuse)
            certified_once = True
            best_lo, best_up = max(best_lo, cert.lower), min(best_up, cert.upper)
            if best_up - best_lo <= rtol * best_lo:
                return _outcome(x, best_lo, best_up, cert, it, state, True, "")
            if cert.lam > state["geo_lam"]:
                state["geo_lam"], state["geo_source"] = cert.lam, cert.source
            if not cert.floor <= 0.5 * rtol * max(cert.lower, 1e-300):
                # rounding, truncation or a missing eigenvalue bound: iterating cannot help
                if not (state["known_pd"] or cert.lam > 0):
                    reason = "not_positive_definite"
                elif cert.lam <= 0:
                    reason = "no_eigenvalue_bound"
                else:
                    reason = "rounding_floor"
                break
            # the residual the eigenvalue bound needs, against what rounding allows
            needed = math.sqrt(0.5 * rtol * max(cert.lower, 0.0) * cert.lam)
            if cert.rfloor >= 0.5 * needed:
                reason = "no_eigenvalue_bound"
                break
            if single and cert.rnorm > 0.5 * last_rnorm:
                single = False
            last_rnorm = cert.rnorm
            # residual replacement: go on from the explicitly computed residual
            rz_recursive = rz_new
            r = cert.r
            z = M(r)
            rz_new = float(r @ z)
            if rz_new > 4.0 * rz_recursive:
                # the recursive residual had drifted (single-precision products): restart
                # from the explicit one, as beta = rz_new / rz would blow p up
                rz = 0.0
            attempt *= 0.25
            conv_scale *= 0.01
        beta = rz_new / rz if rz != 0 else 0.0
        p = z + beta * p
        rz = rz_new
    if cert is None:
        cert = _certify(S, x, state)
        best_lo, best_up = max(best_lo, cert.lower), min(best_up, cert.upper)
    ok = best_up - best_lo <= rtol * best_lo
    if not ok and reason in ("maxiter", "breakdown") and cert.lam <= 0:
        if not state["known_pd"]:
            reason = "not_positive_definite"
    return _outcome(x, best_lo, best_up, cert, it, state, ok, "" if ok else reason)


def _outcome(x, lo, up, cert, it, state, ok, reason) -> _ScaleOutcome:
    s = float(x.sum())
    est = min(max(s, lo), up) if lo <= up else s
    return _ScaleOutcome(x, est, lo, up, cert.lam, cert.source, it, state["matvecs"], ok,
                         reason, cert.weight_error, cert.lam / cert.norm, cert.derivative)


# --------------------------------------------------------------------------- driver


def _merge_close_points(P: np.ndarray, metric) -> tuple[np.ndarray, np.ndarray]:
    """Merge points closer than 4 eps * diameter (as the dense path's distance cleaning does).

    Returns (index of each group's first member, group label of every row).
    """
    n = P.shape[0]
    idx = np.arange(n)
    p = _HOMOGENEOUS.get(metric) if isinstance(metric, str) else None
    if p is None or n < 2:
        return idx, idx
    ext = P.max(axis=0) - P.min(axis=0)
    diam = float(np.sqrt(ext @ ext) if p == 2.0 else (ext.sum() if p == 1.0 else ext.max()))
    tol = 4.0 * np.finfo(np.float64).eps * diam
    if tol <= 0:
        return idx, idx
    pairs = _close_pairs_by_projection(P, p, tol) if P.shape[1] > 8 else None
    if pairs is None:
        pairs = cKDTree(P).query_pairs(tol, p=p, output_type="ndarray")
    if pairs.size == 0:
        return idx, idx
    _, labels = connected_components(
        coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)),
        directed=False,
    )
    first = np.full(labels.max() + 1, n)
    np.minimum.at(first, labels, idx)
    order = np.argsort(first)
    relabel = np.empty_like(order)
    relabel[order] = np.arange(order.size)
    return first[order], relabel[labels]


def _close_pairs_by_projection(P: np.ndarray, p: float, tol: float) -> np.ndarray | None:
    """The pairs i < j with ||P_i - P_j||_p <= tol, from a random projection (many
    dimensions, where a k-d tree's search degrades: 4.9 s for 5,000 points in R^768).

    |<x - y, v>| <= ||x - y||_2 <= ||x - y||_p for a unit v and p <= 2 (for p = inf, times
    sqrt(d)), so close pairs are close in the projection, up to its rounding (gamma_d |x|):
    only pairs within that window in the sorted projection are measured. None where the
    window holds too many pairs (then the caller uses the tree).
    """
    n, d = P.shape
    v = np.random.default_rng(0).standard_normal(d)
    v /= np.linalg.norm(v)
    proj = P @ v
    reach = tol * (math.sqrt(d) if p == np.inf else 1.0)
    window = reach + 2.0 * (d + 2) * _U * float(np.sqrt(np.einsum("ij,ij->i", P, P)).max()) * 1.01
    order = np.argsort(proj, kind="stable")
    ps = proj[order]
    ends = np.searchsorted(ps, ps + window, side="right")
    counts = ends - np.arange(n) - 1
    total = int(counts.sum())
    if total > 8 * n:
        return None
    a = np.repeat(np.arange(n), counts)
    b = a + 1 + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
    i, j = order[a], order[b]
    diff = np.abs(P[i] - P[j])
    dist = (np.sqrt(np.einsum("ij,ij->i", diff, diff)) if p == 2.0
            else (diff.sum(axis=1) if p == 1.0 else diff.max(axis=1)))
    keep = dist <= tol
    return np.sort(np.column_stack([i[keep], j[keep]]), axis=1)


def _check_rtol(rtol) -> float:
    try:
        rtol = float(rtol)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"rtol must be a number, got {rtol!r}") from exc
    if not (0 < rtol < 1):
        raise InvalidInputError(f"rtol must be in (0, 1), got {rtol!r}")
    return rtol


def _memory_check(n: int, dim: int, rank: int, leaf: int, threads: int, k: int,
                  weights: bool) -> int:
    """Bytes the solve needs; raise InsufficientMemoryError if even rank 0 does not fit.
    Returns the largest Nystrom rank that fits (<= rank)."""
    avail = available_memory()
    # points, CG's vectors, the warm start's (previous weights, their basis and its
    # product), tiles, and the products' accumulators: one per thread (4 columns at most),
    # or more within _ACCUMULATOR_BYTES (`_run_jobs`)
    base = (8.0 * (n * (dim + 12 + 3 * _WARM_HISTORY) + n * leaf
                   + threads * (_CHUNK_ENTRIES + 4 * n))
            + _ACCUMULATOR_BYTES)
    if weights:
        base += 8.0 * k * n
    if base > 0.8 * avail:
        raise InsufficientMemoryError(
            f"the iterative solver needs about {base / 2**30:.1f} GiB for n = {n} points but "
            f"only {avail / 2**30:.1f} GiB is available; subsample the data or use a machine "
            "with more memory"
        )
    per_rank = 8.0 * n * 4
    return int(max(0, min(rank, (0.8 * avail - base) // per_rank)))


def solve_iterative(
    X,
    scales,
    *,
    metric="euclidean",
    rtol: float = 1e-8,
    maxiter: int = 1000,
    preconditioner: str = "auto",
    rank: int | None = None,
    warm_start: bool = True,
    weights: bool = True,
    strict: bool = True,
    threads: int | None = None,
    seed: int = 0,
    client=None,
    kernel: str = "auto",
    derivative: bool = False,
    precision: str = "mixed",
) -> IterativeResult:
    """Magnitude by matrix-free preconditioned CG, with certified two-sided bounds.

    Stops at each scale once ``upper - lower <= rtol * lower`` is certified, where
    ``lower <= |tX| <= upper`` hold as theorems up to the rounding that the certificate
    accounts for (module docstring, and ``docs/large-n.md``).

    Parameters
    ----------
    X : array_like of shape (n, d), (n, n) with ``metric="precomputed"``, or MetricSpace
        Points are never turned into a dense distance matrix. Copies are merged, as are
        points closer than 4 eps * diameter (as the dense path does).
    scales : float or array_like of shape (k,)
        Solved from the largest down, each warm-started (``warm_start``) from the
        previous (larger) ones' weights: the small scales, where CG needs the most
        iterations, come last with the most to start from.
    metric : str or callable, default="euclidean"
        Certified at every scale for ``"euclidean"`` (separation bound) and, more weakly,
        ``"cityblock"``; for any other metric only where Gershgorin proves Z(t) positive
        definite (large t).
    rtol : float, default=1e-8
        Relative gap to certify.
    maxiter : int, default=1000
        CG iterations per scale.
    preconditioner : {"auto", "sparse_inverse", "nystrom+block_jacobi", "nystrom", \
"block_jacobi", "none"}
        ``"sparse_inverse"``: a sparse approximate inverse Cholesky factor, Z^-1 ~ L L^T, by
        Kullback-Leibler minimisation over a coarse-to-fine ordering of the points
        (`metric_magnitude.solvers._sparse_inverse`; points under the euclidean or
        cityblock metric only): in up to 3 dimensions each column holds the later points
        within a radius of a multilevel grid's length scale, in more dimensions each
        point's 20 nearest later points in a random order. ``"nystrom+block_jacobi"``:
        randomly pivoted Cholesky (Nystrom) of adaptive rank plus block Jacobi over the
        k-d leaves of its residual; ``"nystrom"`` and ``"block_jacobi"``: one part alone.
        ``"auto"``: the sparse inverse for euclidean points in up to 3 dimensions at small
        and middle scales (2 to 4 times fewer iterations in R^3; from 50,000 points at
        small scales with a richer pattern, rho = 5 instead of 4), and in 4 to 20
        dimensions where a sampled spread of Z(t) is at least 0.3% of n (about 2x fewer
        iterations in R^10 at |tX| ~ n/10); else Nystrom plus block Jacobi.
    rank : int, optional
        Largest Nystrom rank (default 512, less where memory is short).
    warm_start : bool, default=True
        Start each scale at the point of the span of the last four scales' weights that is
        closest to its solution in the Z(t)-norm (a Galerkin projection: one product with
        those four vectors): along a magnitude function's 20 geometric scales about 30%
        fewer iterations than starting from the best multiple of the last weights alone
        (``docs/large-n.md``). With False, every scale starts from zero.
    weights : bool, default=True
        Return the weights (k * n floats).
    strict : bool, default=True
        Raise `CertificationError` when a scale's tolerance cannot be certified;
        with False, warn (`CertificationWarning`) and report the bounds found.
    threads : int, optional
        Threads for the products (default: the CPUs available, at most 8).
    seed : int, default=0
        Seed of the random pivots (results are reproducible).
    client : distributed.Client, optional
        Compute the products with Z(t) over row blocks on the workers of this Dask cluster
        (`metric_magnitude.solvers._dask_operator.DaskSimilarityOperator`; points only, not
        distance matrices). ``threads`` is then ignored: each worker uses its own threads.
    kernel : {"auto", "numpy", "numba"}, default="auto"
        How the products are computed (see `SimilarityOperator`): ``"auto"`` uses the fused
        numba kernels where numba is installed, for points with the euclidean, cityblock or
        chebyshev metric, from 2,048 points up.
    derivative : bool, default=False
        Also compute d|tX|/dt = w^T (D o Z(t)) w at each scale from the computed weights w,
        by one more matrix-free product, with a bound on its error
        (`derivative_error_bound`).
    precision : {"mixed", "double"}, default="mixed"
        ``"mixed"``: CG's products with its search directions are computed in float32
        (about 2x faster than the numba kernel's float64, 3 to 11x faster than the numpy
        kernel's; relative error about 2^-24 (1 + t d diam) per entry): by the numba
        kernel, or for euclidean points with the numpy kernel or in 16 dimensions or more
        by Gram tiles (BLAS), unless float32 moves the closest pair's distance by more than
        1% (`SimilarityOperator.single_is_accurate`), and until CG stops making progress,
        then in float64. Every certificate, the residual it
        replaces the recursive one with, and the derivative are computed in float64; the
        first product also finds the separation of the points, from float32 distances with
        rigorous margins (again in float64 where those margins exceed 1% of it). So the
        bounds are as rigorous as with ``"double"``; only the number of iterations can
        differ. Cityblock and chebyshev points with ``kernel="numpy"`` (and distance
        matrices) always use float64.

    Returns
    -------
    IterativeResult

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.iterative import solve_iterative
    >>> X = np.random.default_rng(0).standard_normal((400, 3))
    >>> res = solve_iterative(X, [1.0, 4.0], rtol=1e-10)
    >>> bool(np.all(res.lower <= res.upper)), bool(np.all(res.gap <= 1e-10))
    (True, True)
    """
    from ..spaces import MetricSpace, as_space

    scales, _ = check_scales(scales)
    rtol = _check_rtol(rtol)
    _check_preconditioner(preconditioner)
    if int(maxiter) < 1:
        raise InvalidInputError(f"maxiter must be >= 1, got {maxiter!r}")
    if precision not in PRECISIONS:
        raise InvalidInputError(
            f"unknown precision {precision!r}; choose one of {', '.join(map(repr, PRECISIONS))}"
        )
    space = X if isinstance(X, MetricSpace) else as_space(X, metric)
    prep = _shared_prepare(space, threads, client, kernel)
    op = prep["op"]
    _check_preconditioner(preconditioner, op)
    n = op.n
    k = scales.shape[0]
    max_rank = _memory_check(n, max(op.dim, 1), _MAX_RANK if rank is None else int(rank),
                             op.leaf, op.threads, k, weights)
    max_rank = min(max_rank, max(0, n // 4))
    rng = np.random.default_rng(seed)
    state = {
        "prep": prep,
        "single": precision == "mixed",
        "known_pd": prep["known_pd"],
        "negative_type": prep["negative_type"],
        "min_distance": prep["min_distance"],
        "max_distance": prep["max_distance"],
    }
    with _BlasOneThread():
        return _solve_scales(scales, prep, state, rtol, int(maxiter), preconditioner,
                             max_rank, rng, warm_start, weights, strict, derivative)


def derivative_error_bound(Ax_norm: float, row_sum_max: float, rounding: float,
                           weight_error: float) -> float:
    """Bound on |x^T A x - w^T A w| for A = D o Z(t) and weights x with ||x - w|| <= e.

    With e = x - w: x^T A x - w^T A w = 2 (A x)^T e - e^T A e, and ||A||_2 is at most the
    largest row sum of the non-negative symmetric A, so the error is at most
    ``2 ||A x|| e + ||A||_inf e^2`` plus ``rounding`` (the computed form's own error).

    Examples
    --------
    >>> derivative_error_bound(3.0, 5.0, 0.0, 0.1)   # 2 * 3 * 0.1 + 5 * 0.1**2
    0.65
    >>> derivative_error_bound(3.0, 5.0, 0.0, float("inf"))   # no weight bound, no bound
    inf
    """
    values = (Ax_norm, row_sum_max, rounding, weight_error)
    if any(np.isnan(v) or v < 0 for v in values):
        raise InvalidInputError(
            "derivative_error_bound takes non-negative norms, rounding and weight error, got "
            f"{values!r}"
        )
    if not np.isfinite(weight_error):
        return np.inf
    e = weight_error
    return 2.0 * Ax_norm * e + row_sum_max * e * e + rounding


def _derivative(S: _ScaledSimilarity, x: np.ndarray, weight_error: float):
    """(x^T (D o Z~) x, its `derivative_error_bound`) for x in S's sorted order: one
    product with three columns (x, |x| for the rounding, and 1 for the row sums)."""
    Y = S.apply(np.column_stack([x, np.abs(x), np.ones(S.n)]), distance_weighted=True)
    return _derivative_from_products(S, x, Y[:, 0], Y[:, 1], Y[:, 2], weight_error)


def _weighted_bounds(S: _ScaledSimilarity, ax: np.ndarray, Zax, rows,
                     state: dict) -> tuple[np.ndarray, np.ndarray]:
    """Upper bounds on (D o Z~) |x| and (D o Z~) 1 from the computed Z~ |x| and Z~ 1 (or
    from (hi, lo) bounds on them: `_bracket`).

    An entry z = exp(-t d) has d z = phi(z) / t with phi(z) = -z ln z concave, so by Jensen
    sum_j a_j d_ij z_ij <= (A / t) phi(sum_j a_j z_ij / A) over j != i (A = sum_j a_j,
    a = |x| or 1), phi taken at its largest over the argument's rounding interval (phi
    peaks at 1/e); and d z <= dmax z (dmax the certified largest distance). The diagonal of
    D o Z~ is 0 where Z~'s is 1. The computed products are inflated by their rounding
    (entries and sums, as `_certify` does). Within a few times the products themselves
    (900 Gaussian points, t = 0.02 to 30: |x|^T (D o Z~) |x| 1.0 to 2.9 times, the largest
    row sum 1.0 to 6.6 times): they enter the derivative's bound only through its rounding
    and e^2 terms, and save the certificate two weighted columns.
    """
    n = S.n
    dmax = state["max_distance"] if state["max_distance"] else np.inf
    sax = float(np.sum(ax)) * (1.0 + 1.01 * (26 + math.log2(n)) * _U)
    out = []
    # (infl's 1e-12 covers the subtraction of the exact diagonal and the logarithm). A
    # larger A only loosens the bound (A phi(s / A) = s ln(A / s) grows with A), so A is
    # taken from above; the true s / A is at most 1 (every z <= 1)
    for Y, own, mass in ((Zax, ax, np.maximum(sax - ax, 0.0) + 4 * _U * sax),
                         (rows, 1.0, float(n - 1))):
        hi, lo = _bracket(S, Y)
        y = np.maximum(hi - own, 0.0)  # >= sum_{j != i} a_j z_ij
        y_lo = np.maximum(lo - own, 0.0)  # <= it
        # phi peaks at 1/e: its largest value over [y_lo, y] / A, within [0, 1]
        m = np.maximum(mass, 1e-300)
        u = np.clip(1.0 / math.e, np.minimum(y_lo / m, 1.0), np.minimum(y / m, 1.0))
        jensen = mass / S.t * (-u * np.log(np.maximum(u, 1e-300))) * (1.0 + 1e-12)
        out.append(np.minimum(dmax * y, jensen))
    return out[0], out[1]


def _derivative_from_products(S: _ScaledSimilarity, x: np.ndarray, Ax: np.ndarray,
                              Aax: np.ndarray, Arows: np.ndarray,
                              weight_error: float) -> tuple[float, float]:
    """`_derivative` from Ax = (D o Z~) x and Aax, Arows: (D o Z~) |x| and (D o Z~) 1 as
    computed, or bounds on them (`_weighted_bounds`), charging the pairs Z~ skips: A = D o Z
    differs from D o Z~ by at most ``S.deps_row`` in each row's sum (and so in its 2-norm,
    A being symmetric), which bounds the skipped part of x^T A x, ||A x|| and A's row sums."""
    n = S.n
    ax = np.abs(x)
    value = float(x @ Ax)
    g = 1.01 * (S.sum_terms + n) * _U + S.entry_rel_error() + S.distance_rel_error()
    gn = 1.01 * n * _U
    xnorm2 = float(x @ x) * (1.0 + gn)
    skipped = min(S.deps_max * xnorm2,
                  float(ax.max(initial=0.0)) * float(ax @ S.deps_row) * (1.0 + gn)) * (1 + 1e-9)
    rounding = g * float(ax @ Aax) * (1.0 + g) + skipped
    Ax_norm = (float(np.linalg.norm(Ax)) * (1.0 + gn)
               + S.deps_max * math.sqrt(xnorm2)) * (1 + 1e-9)
    row_sum_max = float(np.max(Arows * (1.0 + g) + S.deps_row))
    bound = derivative_error_bound(Ax_norm, row_sum_max, rounding, weight_error)
    return value, bound


def _derivative_from_weights(op: SimilarityOperator, t: float, w: np.ndarray,
                            weight_error: float, rtol: float = 0.0) -> tuple[float, float]:
    """d|tX|/dt = w^T (D o Z(t)) w from computed weights, and a bound on its error.

    ``w`` holds the weights of the operator's points (input order) and ``weight_error`` a
    bound on their 2-norm error (``inf`` if none: then so is the bound). One matrix-free
    product with three columns, skipping the far field as a solve to ``rtol`` does (its
    pairs charged to the bound; with 0, only entries that underflow).
    """
    S = op.scaled(t, far_field_budget=_FAR_FIELD_BUDGET * rtol)
    return _derivative(S, np.asarray(w)[op.perm], weight_error)


def _solve_scales(scales, prep, state, rtol, maxiter, preconditioner, max_rank, rng,
                  warm_start, weights, strict, derivative=False) -> IterativeResult:
    op = prep["op"]
    n = op.n
    k = scales.shape[0]
    order = np.argsort(scales, kind="stable")
    if _CHAIN_DESCENDING:
        order = order[::-1]
    out = {name: np.empty(k) for name in ("mag", "lo", "up", "lam", "werr", "skip", "rcond",
                                          "der", "derr")}
    its = np.zeros(k, dtype=int)
    mvs = np.zeros(k, dtype=int)
    ok = np.zeros(k, dtype=bool)
    sources = [""] * k
    precs = [""] * k
    W = np.empty((k, n)) if weights else None
    history = []  # the last scales' weights (sorted order), for the warm start
    M_last = None  # the last scale's sparse-inverse preconditioner, which may serve the next
    for done, i in enumerate(order):
        t = float(scales[i])
        if n == 1:  # Z = [1]
            out["mag"][i] = out["lo"][i] = out["up"][i] = out["lam"][i] = 1.0
            out["werr"][i] = out["skip"][i] = 0.0
            out["rcond"][i] = 1.0
            out["der"][i] = out["derr"][i] = 0.0
            ok[i] = True
            sources[i], precs[i] = "gershgorin", "none"
            if W is not None:
                W[i] = 1.0
            continue
        started = time.perf_counter()  # the preconditioner's factor included
        S = op.scaled(t, far_field_budget=_FAR_FIELD_BUDGET * rtol)
        # float32 products by the grid split: cheap, so a factor may serve more scales
        cheap = state["single"] and S.grid_serves()
        if M_last is not None and M_last.serves(S, preconditioner, cheap):
            M, label = M_last, f"{M_last.description[:-1]}, factor of t={M_last.t:.4g})"
        else:
            M_last = None  # the next scale's preconditioner is built without this one alive
            M = _Preconditioner(S, preconditioner, max_rank, rng, cheap)
            label = M.description
        if state["min_distance"] is not None:
            state["geo_lam"], state["geo_source"] = _geometric_bound(prep, t, state)
        else:
            state["geo_lam"], state["geo_source"] = 0.0, "none"
        x0 = np.column_stack(history[::-1]) if (warm_start and history) else None
        # the derivative from the solve's own Z~, its skipped pairs charged to its bound;
        # the certificate expected to be the last computes it in its pass
        state["fuse_derivative"] = derivative and _FUSE_DERIVATIVE
        res = _pcg(S, M, x0, rtol, maxiter, state)
        _log.info("cg, scale %d of %d: t = %.6g, %s after %d iterations (%d products, %s), "
                  "%.1f s", done + 1, k, t, _bounds_text(res.lower, res.upper, res.certified),
                  res.iterations, res.matvecs, label, time.perf_counter() - started)
        history = [*history, res.x][-_WARM_HISTORY:]
        out["mag"][i], out["lo"][i], out["up"][i] = res.estimate, res.lower, res.upper
        out["lam"][i], out["werr"][i] = res.lam, res.weight_error
        out["skip"][i] = S.skipped_fraction
        out["rcond"][i] = res.rcond
        its[i], mvs[i], ok[i] = res.iterations, res.matvecs, res.certified
        sources[i], precs[i] = res.source, label
        M_last = M if M.kind == "sparse_inverse" else None
        del M
        if W is not None:
            W[i] = res.x[op.iperm]
        if derivative:
            out["der"][i], out["derr"][i] = (res.derivative if res.derivative is not None
                                             else _derivative(S, res.x, res.weight_error))
        if not res.certified:
            msg = _failure_message(res, t, rtol)
            if strict:
                raise CertificationError(msg, scale=t, lower=res.lower, upper=res.upper,
                                         estimate=res.estimate, iterations=res.iterations,
                                         reason=res.reason)
            warnings.warn(msg, CertificationWarning, stacklevel=3)
    space_w = None
    W_in = None
    if W is not None:
        # solver points -> distinct rows of the space -> input points (equal shares)
        group = prep["group"]  # solver index of each distinct row of the space
        mult = prep["multiplicity"]  # input copies of each distinct row
        group_count = np.bincount(group, weights=mult, minlength=n)
        share = W[:, group] / group_count[group]  # per input copy
        space_w = share * mult
        W_in = share[:, prep["inverse"]]
    return IterativeResult(
        scales=scales,
        magnitude=out["mag"],
        lower=out["lo"],
        upper=out["up"],
        weights=W_in,
        weight_error=out["werr"],
        lambda_min_bound=out["lam"],
        lambda_bound_source=tuple(sources),
        iterations=its,
        matvecs=mvs,
        preconditioners=tuple(precs),
        certified=ok,
        rtol=rtol,
        n_distinct=n,
        skipped_fraction=out["skip"],
        rcond_bound=out["rcond"],
        derivative=out["der"] if derivative else None,
        derivative_error=out["derr"] if derivative else None,
        _space_weights=space_w,
    )


def _failure_message(res: _ScaleOutcome, t: float, rtol: float) -> str:
    why = {
        "maxiter": f"CG reached maxiter ({res.iterations} iterations)",
        "breakdown": "CG broke down (p^T Z p <= 0): Z(t) is not positive definite or is "
                     "singular to working precision",
        "not_positive_definite": "Z(t) could not be proven positive definite at this scale "
                                 "(the metric is not of negative type and Gershgorin fails), "
                                 "so no bound is certified; use a dense method (method='ldl')",
        "no_eigenvalue_bound": "no lower bound on lambda_min(Z(t)) strong enough for this "
                               f"tolerance is known for this metric at this scale (best "
                               f"{res.lam:.3g}; the bounds of l1 points weaken exponentially "
                               "with the dimension, Gershgorin needs a large scale)",
        "rounding_floor": "the tolerance is below what rounding errors (and the far-field "
                          "truncation) allow to certify for this n; ask for a larger rtol",
    }.get(res.reason, res.reason)
    return (
        f"magnitude at t = {t!r} not certified to rtol = {rtol:g}: {why}. Best certified "
        f"bounds: {float(res.lower)!r} <= |tX| <= {float(res.upper)!r} (estimate "
        f"{float(res.estimate)!r})"
    )


def _geometric_bound(prep: dict, t: float, state: dict) -> tuple[float, str]:
    """The best certified lambda_min bound from the geometry of the points alone."""
    q = state["min_distance"]
    metric = prep["metric"]
    best, source = 0.0, "none"
    if q is None or not q > 0:
        return best, source
    d = prep["op"].dim
    if metric == "euclidean":
        # (the separation bound is 3 to 6 times weaker than the subordination bound in R^3
        # and R^10, and vanishes with the dimension: its table alone took 6 s in R^768)
        if d <= _SUBORDINATION_DIMS[1]:
            best, source = separation_bound(t, q, d), "separation"
        if _subordination_pays(prep["op"], best):
            from ._subordination import bound_from_profile

            c = bound_from_profile(t, *_subordination_profile(prep["op"]))
            if c > best:
                best, source = c, "subordination"
    elif metric == "cityblock":
        c = coordinate_bound(t, prep["points"]) if d <= 64 else 0.0
        if c > best:
            best, source = c, "coordinates"
        c = product_bound(t, q / d, d)
        if c > best:
            best, source = c, "product"
    return best, source


def _shared_prepare(space, threads, client=None, kernel="auto") -> dict:
    """`_prepare`, kept on the space for its later solves (not with a Dask client): the
    operator's caches (the k-d partition, the sparse inverse's levels and patterns, the
    subordination profile) then serve every solve of the same points, as the convergence
    scale's search and a magnitude function's chain make (at 50,000 points in R^3 the
    search's 8 solves each computed the profile again, 1.5 s a time)."""
    if client is not None:
        return _prepare(space, threads, client, kernel)
    key = (threads, kernel, space._distances is None)
    cache = space.__dict__.setdefault("_iterative_preps", {})
    if key not in cache:
        cache[key] = _prepare(space, threads, client, kernel)
    return cache[key]


def _prepare(space, threads, client=None, kernel="auto") -> dict:
    """The operator, and the maps between input points, the space's rows and solver points."""
    known_pd = bool(space.known_positive_definite)
    if space._points is None:  # a distance matrix or a graph
        metric = "precomputed"
    else:
        metric = _canonical_metric(space.metric)
    inverse = space._inverse
    # points take the points path even where the space computed its distances already
    # (under a named metric): the fused kernels, the far field and the box geometry; the
    # 20-scale function of 10,000 points in R^3 took 305 s with products from the stored
    # matrix and 80 s from the points (bench_large_function.py, with method="cg")
    if space._points is not None and (space._distances is None or isinstance(metric, str)):
        P = space._points
        first, group = _merge_close_points(P, metric)
        if client is None:
            op = SimilarityOperator(P[first], metric=metric, threads=threads, kernel=kernel)
        else:
            from ._dask_operator import DaskSimilarityOperator

            op = DaskSimilarityOperator(P[first], metric=metric, client=client, kernel=kernel)
        points = op._P
        min_distance = max_distance = None
    else:
        if client is not None:
            raise InvalidInputError(
                "client= spreads products computed from the points over a cluster; this space "
                "is a distance matrix or a graph (or points under a callable metric whose "
                "distances were computed already): solve it without client="
            )
        D = space._distances
        group = np.arange(D.shape[0])
        op = SimilarityOperator(distances=D, threads=threads, kernel=kernel)
        n = D.shape[0]
        min_distance = float(np.min(D + np.diag(np.full(n, np.inf)))) if n > 1 else np.inf
        max_distance = float(D.max())
        points = space._points  # rows of D, where D was computed from points
        if points is not None:
            # D holds cdist's rounding: certify for the exact distances of the points
            op.dim = points.shape[1]
            op.distance_rel_error = (op.dim + 5) * _U
            min_distance *= 1.0 - op.distance_rel_error
            max_distance *= 1.0 + op.distance_rel_error
    multiplicity = np.bincount(inverse, minlength=group.shape[0])
    negative_type = known_pd and isinstance(metric, str) and metric in _NEGATIVE_TYPE
    return {
        "op": op,
        "metric": metric,
        "points": points,
        "known_pd": known_pd,
        "negative_type": negative_type,
        "inverse": inverse,
        "group": group,
        "multiplicity": multiplicity,
        "min_distance": min_distance,
        "max_distance": max_distance,
    }
