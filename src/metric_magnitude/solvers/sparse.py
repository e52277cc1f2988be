r"""Magnitude at large scales from a truncated, sparse similarity matrix, with certified bounds.

At a large scale t most entries `e^{-t d_{ij}}` of Z are negligible. Entries below
`\varepsilon` (pairs farther apart than `r = -\log(\varepsilon)/t`) are dropped;
the kept pairs come from a KD-tree (`scipy.spatial.cKDTree`, Euclidean or cityblock
via ``p=1``) and form a sparse `B = Z_{trunc}`, solved by conjugate gradients.

Error bound (proof sketch; A = Z the exact matrix, positive definite for Euclidean and l1
point sets)
    1. *Truncation.* `\Delta = A - B` is symmetric with entries in
       `[0, \varepsilon)`, so
       :math:`\|\Delta\|_2 \le \|\Delta\|_\infty \le \delta := \varepsilon \max_i
       (\text{pairs of row } i \text{ dropped}) \le (n-1)\varepsilon`; nothing dropped gives
       `\delta = 0`.
    2. *Smallest eigenvalue.* A certified `\sigma_A \le \lambda_{\min}(A)` comes from
       `lambda_min_lower_bound` (a Gaussian mixture of Gershgorin bounds, below); then
       `\lambda_{\min}(B) \ge \sigma_B := \sigma_A - \delta` (Weyl).
    3. *Solve.* For the computed v with residual `\rho = 1 - Bv`, exactly
       `1^T B^{-1} 1 = 1^T v + v^T\rho + \rho^T B^{-1} \rho`, and
       `0 \le \rho^T B^{-1}\rho \le \|\rho\|^2/\sigma_B`.
    4. *Propagation.* `|A| - |B| = 1^T(A^{-1} - B^{-1})1 = -w_A^T \Delta w_B`, so
       `\bigl||A| - |B|\bigr| \le \delta \|w_A\| \|w_B\|` with
       `\|w_B\| \le \beta := \|v\| + \|\rho\|/\sigma_B` and
       `\|w_A\| \le \|w_B\| + \|A^{-1}\Delta w_B\| \le \beta (1 + \delta/\sigma_A)`.
       Hence, with `\hat m = 1^T v + v^T \rho`,

       .. math::

           \hat m - \delta\beta^2(1 + \delta/\sigma_A) \;\le\; |tX| \;\le\;
           \hat m + \frac{\|\rho\|^2}{\sigma_B} + \delta\beta^2(1 + \delta/\sigma_A)

       (plus a floating-point allowance for the residual and the sums), and the weights obey
       `\|w_A - v\|_2 \le \delta\beta/\sigma_A + \|\rho\|/\sigma_B`. Independently of
       `\sigma`, the variational principle gives
       `|tX| \ge (1^T v)^2 / (v^T B v + \delta\|v\|^2)`.
    At large t the weights are O(1), `\beta^2 \approx |tX|`, so the relative
    truncation error is about `\delta`: `\varepsilon` is chosen as
    `\mathrm{rtol} / (8 (n - 1))` and lowered once, a posteriori, if the computed bound
    asks for it. When `\sigma_B \le 0` no upper bound can be established; the result
    then says so (``certified=False``, ``upper = inf``) and a warning is given.

Lower bound on the smallest eigenvalue
    `e^{-t r} = \int_0^\infty e^{-s r^2}\,\mu(ds)` with `\mu` the Lévy distribution
    of scale `t^2/2` (Laplace transform `e^{-t\sqrt u}`), and
    `\mu([s, \infty)) = \mathrm{erf}(t / (2\sqrt s))`. So
    `Z = \int G_s\,\mu(ds)` with Gaussian kernel matrices `G_s`, each positive
    semidefinite, and by Gershgorin `\lambda_{\min}(G_s) \ge 1 - R(s)`,
    `R(s) = \max_i \sum_{j \ne i} e^{-s d_{ij}^2}`. By concavity of
    `\lambda_{\min}`, `\lambda_{\min}(Z) \ge \int (1 - R(s))_+ \mu(ds)`; R
    decreases in s, so a step function on a geometric grid of s bounds the integral from
    below. Pairs not enumerated are bounded by `e^{-s r^2}` each. For the cityblock
    metric, `e^{-t\|x\|_1} = E[e^{-\sum_k S_k x_k^2}]` with independent `S_k`
    and `e^{-\sum_k S_k x_k^2} \le e^{-\min_k S_k \|x\|_2^2}`, so the same bound
    holds with the tail `\mathrm{erf}(t/(2\sqrt s))^d`. Measured on 300 to 2000
    Gaussian points: within 10-30% of the true `\lambda_{\min}` in R^3 and R^10
    (Euclidean) from |tX| = 0.01 n to n, and weaker (a factor ~3 to 100) for cityblock; the
    plain Gershgorin bound is used as well.

When it pays
    The kept pairs grow like `n (r/h)^d` for a typical spacing h, and
    `r = -\log\varepsilon / t \approx 30/t`. So the method is for scales where
    `|tX|` is close to n (t h well above 1); near `|tX| \approx n/2` in R^3 the
    truncated matrix is already dense for n = 20,000 (25% of the entries kept). Measured,
    Gaussian points in R^3, one thread: n = 20,000 at |tX| = 0.9 n in 1.9 s (543 entries a
    row) and at |tX| = 0.52 n (24% of the entries kept) 20 s against 80 s for the dense
    Cholesky solve;
    n = 100,000 at |tX| = 0.9 n in 13 s and 2.3 GB. `estimate_nnz` predicts the size
    from a sample before anything is allocated; `sparse_solve` refuses (with
    `SparseTooDenseError` or
    `metric_magnitude.exceptions.InsufficientMemoryError`) when the matrix would be
    too dense or too large.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree
from scipy.special import erf

from .._validation import available_memory, check_points, check_scales
from ..exceptions import (
    BoundNotCertifiedWarning,
    InsufficientMemoryError,
    InvalidInputError,
    SparseTooDenseError,
)
from ..spaces import _unique_rows

__all__ = [
    "BoundNotCertifiedWarning",
    "SparseResult",
    "SparseTooDenseError",
    "estimate_nnz",
    "lambda_min_lower_bound",
    "sparse_solve",
    "truncation_threshold",
]

_EPS = np.finfo(np.float64).eps
_METRICS = {"euclidean": 2.0, "l2": 2.0, "cityblock": 1.0, "manhattan": 1.0, "l1": 1.0}
# Peak bytes per kept pair (i < j): the KD-tree's pair list (16, briefly twice), index copies
# (8), squared distances, distances and values (24), the symmetric COO and CSR arrays
# (2 x (4 + 4 + 8) + 2 x (4 + 8)). Measured peak RSS: 68-69 bytes a pair (n = 20,000 in R^3,
# 4.7e7 and 6.8e7 pairs); 96 leaves a 40% margin.
_BYTES_PER_PAIR = 96
_BYTES_PER_POINT = 400
# Peak bytes per enumerated pair in lambda_min_lower_bound: the KD-tree's pair vector (16,
# 48 while it grows and is copied out), squared distances (8), the sorted prefix (index,
# argsort, sorted values and indices: 40) and the exponentials (8).
_LAMBDA_BYTES_PER_PAIR = 112
# Fraction of the available memory lambda_min_lower_bound may use for its pairs.
_LAMBDA_MEMORY_FRACTION = 0.5
_DEFAULT_MAX_DENSITY = 0.3
_PAIR_CHUNK = 1 << 20


@dataclass(frozen=True)
class SparseResult:
    """Magnitude and weights from the truncated sparse Z(t), with certified bounds.

    Attributes
    ----------
    magnitude : float
        The estimate `1^T v + v^T(1 - Bv)` (B the truncated matrix).
    lower, upper : float
        Certified bounds ``lower <= |tX| <= upper`` on the exact magnitude (``upper`` is
        ``inf`` when no lower bound on the smallest eigenvalue could be established).
    bound : float
        Certified relative error ``max(magnitude - lower, upper - magnitude) / lower``.
    certified : bool
        ``bound <= rtol``.
    rtol : float
        The tolerance asked for.
    weights : ndarray of shape (n,) or None
        One weight per input point; copies share their point's weight.
    weights_error : float
        Bound on the 2-norm error of the weights of the distinct points (``inf`` if not
        established); every single weight is within it.
    nnz : int
        Stored entries of the truncated matrix (both triangles and the diagonal).
    radius : float
        Pairs farther apart than this were dropped.
    eps_trunc : float
        The truncation threshold: dropped entries are below it.
    truncation : float
        `\\delta \\ge \\|Z - Z_{trunc}\\|_2`.
    lambda_min_lower : float
        Certified lower bound on the smallest eigenvalue of the exact Z(t).
    rcond_bound : float
        Lower bound on the reciprocal 2-norm condition number of Z(t):
        ``lambda_min_lower / (max row sum of Z_trunc + truncation)`` (Gershgorin for the
        largest eigenvalue).
    iterations : int
        Conjugate-gradient iterations (0 for the direct solver).
    solver : str
        ``"cg"`` or ``"splu"``.
    scale : float
    n_distinct : int
    timings : dict
        Seconds spent in each stage.
    """

    magnitude: float
    lower: float
    upper: float
    bound: float
    certified: bool
    rtol: float
    weights: np.ndarray | None
    weights_error: float
    nnz: int
    radius: float
    eps_trunc: float
    truncation: float
    lambda_min_lower: float
    rcond_bound: float
    iterations: int
    solver: str
    scale: float
    n_distinct: int
    timings: dict = field(default_factory=dict)


# ---------------------------------------------------------------- sizes and thresholds


def truncation_threshold(n: int, rtol: float) -> float:
    r"""The truncation threshold `\varepsilon = \mathrm{rtol} / (8 (n - 1))`.

    It makes `\delta \le (n-1)\varepsilon = \mathrm{rtol}/8`, so the truncation uses
    at most an eighth of the tolerance when the weights are O(1) (their usual size at the large
    scales this method is for; `sparse_solve` checks a posteriori and lowers it).

    Examples
    --------
    >>> from metric_magnitude.solvers.sparse import truncation_threshold
    >>> truncation_threshold(1001, 1e-8)
    1.25e-12
    """
    return float(rtol) / (8.0 * max(n - 1, 1))


def _metric_p(metric) -> float:
    name = metric.lower() if isinstance(metric, str) else None
    if name not in _METRICS:
        raise InvalidInputError(
            f"the sparse method supports the metrics {sorted(_METRICS)}, got {metric!r}"
        )
    return _METRICS[name]


def _scale(t) -> float:
    scales, _ = check_scales(t)
    if scales.shape[0] != 1:
        raise InvalidInputError(
            "the sparse method solves one scale at a time; call it once per scale (the "
            "truncation radius depends on t)"
        )
    return float(scales[0])


def _sample_counts(tree: cKDTree, P: np.ndarray, r: float, p: float, sample: int, seed: int):
    n = P.shape[0]
    if n <= sample:
        idx = np.arange(n)
    else:
        idx = np.random.default_rng(seed).choice(n, size=sample, replace=False)
    return np.asarray(tree.query_ball_point(P[idx], r, p=p, return_length=True), dtype=float)


def _nnz_from_counts(counts: np.ndarray, n: int) -> float:
    """Estimated stored entries (diagonal included) from neighbour counts of a sample.

    The mean count plus three standard errors, so that clustered data is not underestimated
    by a lucky sample; exact when the sample is every point.
    """
    k = counts.shape[0]
    mean = float(counts.mean())
    if k < n:
        mean += 3.0 * float(counts.std()) / math.sqrt(k)
    return min(float(n) * n, n * mean)


def estimate_nnz(
    X,
    t,
    *,
    metric: str = "euclidean",
    rtol: float = 1e-8,
    eps_trunc: float | None = None,
    sample: int = 200,
    seed: int = 0,
) -> int:
    """Estimated number of stored entries of the truncated Z(t), before building it.

    Counts the neighbours within the truncation radius of ``sample`` random points with a
    KD-tree and extrapolates (mean plus three standard errors). Costs a KD-tree build,
    O(n log n), and ``sample`` ball queries.

    Parameters
    ----------
    X : array_like of shape (n, d)
    t : float
    metric : {"euclidean", "cityblock"}, default="euclidean"
    rtol : float, default=1e-8
        Sets the threshold (`truncation_threshold`) unless ``eps_trunc`` is given.
    eps_trunc : float, optional
    sample : int, default=200
    seed : int, default=0

    Returns
    -------
    int
        Estimated stored entries, both triangles and the diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.sparse import estimate_nnz
    >>> X = np.random.default_rng(0).random((1000, 2))
    >>> estimate_nnz(X, 5000.0) < 5 * 1000   # about 1.5 entries per row at this scale
    True
    """
    p = _metric_p(metric)
    s = _scale(t)
    P = check_points(X)
    P = P[_unique_rows(P)[0]]
    n = P.shape[0]
    eps = truncation_threshold(n, rtol) if eps_trunc is None else float(eps_trunc)
    r = -math.log(eps) / s
    tree = cKDTree(P)
    return math.ceil(_nnz_from_counts(_sample_counts(tree, P, r, p, sample, seed), n))


def _sparse_bytes(nnz_est: float, n: int, d: int) -> float:
    """Peak bytes of `sparse_solve` for about ``nnz_est`` stored entries (module constants)."""
    pairs = max(0.0, (nnz_est - n) / 2.0)
    return pairs * _BYTES_PER_PAIR + n * (_BYTES_PER_POINT + 24.0 * d)


class _Planner:
    """Density and memory of the truncated Z(t) at any scale, from one KD-tree (for auto).

    ``P`` holds distinct points. Costs one tree build, then 200 ball counts per scale.
    """

    def __init__(self, P: np.ndarray, metric: str):
        self.p = _metric_p(metric)
        self.P = P
        self.tree = cKDTree(P)

    def estimate(self, t: float, rtol: float) -> tuple[float, float]:
        """(estimated fraction of the entries kept, estimated peak bytes) at scale t."""
        n, d = self.P.shape
        r = -math.log(truncation_threshold(n, rtol)) / t
        nnz = _nnz_from_counts(_sample_counts(self.tree, self.P, r, self.p, 200, 0), n)
        return nnz / (float(n) * n), _sparse_bytes(nnz, n, d)


def _check_size(nnz_est: float, n: int, d: int, max_density: float, memory_limit, r, t):
    density = nnz_est / (float(n) * n)
    if n > 1 and density > max_density:
        raise SparseTooDenseError(
            f"at t = {t!r} the truncated similarity matrix would keep about {density:.0%} of "
            f"its entries (truncation radius {r:.3g}, about {nnz_est / n:.0f} per row): too "
            "dense for the sparse method to pay off; use the dense solver "
            "(mm.magnitude(X, t)) for n up to a few 10^4, or the iterative (matrix-free) "
            "method, or a larger scale"
        )
    need = _sparse_bytes(nnz_est, n, d)
    limit = 0.8 * available_memory() if memory_limit is None else float(memory_limit)
    if need > limit:
        raise InsufficientMemoryError(
            f"the sparse method at t = {t!r} needs about {need / 2**30:.2f} GiB (about "
            f"{nnz_est:.3g} stored entries, {nnz_est / n:.0f} per row) but only "
            f"{limit / 2**30:.2f} GiB may be used; use the iterative (matrix-free) method, "
            "a larger scale, or a machine with more memory"
        )


# ---------------------------------------------------------------- eigenvalue lower bound


class _SortedPrefix:
    """Pairs sorted by squared distance, sorted lazily: only up to the cut asked for.

    The eigenvalue bound scans s downwards and needs the pairs with s d^2 <= L, a prefix
    that grows by a constant factor per step and usually stops far short of all pairs.
    """

    def __init__(self, d2, ii, jj):
        self.d2, self.ii, self.jj = d2, ii, jj
        self.cut = -1.0
        self.sd2 = self.si = self.sj = None

    def upto(self, c: float):
        if c > self.cut:
            cut = max(c, 4.0 * self.cut)
            sel = np.flatnonzero(self.d2 <= cut)
            o = sel[np.argsort(self.d2[sel])]
            self.sd2, self.si, self.sj = self.d2[o], self.ii[o], self.jj[o]
            self.cut = cut
        k = int(np.searchsorted(self.sd2, c, side="right"))
        return self.sd2[:k], self.si[:k], self.sj[:k]


def _lambda_lower_from_pairs(
    d2: np.ndarray,
    ii: np.ndarray,
    jj: np.ndarray,
    n: int,
    t: float,
    unseen_d2: float,
    tail_power: int,
    info: dict | None = None,
) -> float:
    """The Gaussian-mixture Gershgorin bound (module docstring) from enumerated pairs.

    ``d2`` holds squared Euclidean distances of pairs (ii, jj), in any order; every pair not
    listed has squared Euclidean distance above ``unseen_d2``. ``tail_power`` is 1 for the
    Euclidean metric and d for cityblock. ``info["s_stop"]`` receives the s where the scan
    stopped (R(s) >= 1): pairs beyond the radius weigh at most (n - 1) exp(-s_stop unseen_d2)
    in any row sum of the scan.
    """
    if info is not None:
        info["s_stop"] = math.inf
    if n <= 1:
        return 1.0
    L = 40.0 + math.log(n)  # pairs with s d^2 > L add at most n e^-L to a row sum
    pairs = _SortedPrefix(d2, ii, jj)

    def tail(s: float) -> float:  # mu([s, inf))
        return float(erf(t / (2.0 * math.sqrt(s)))) ** tail_power

    def row_sum_max(s: float) -> float:
        sd2, si, sj = pairs.upto(L / s)
        extra = (n - 1) * (math.exp(-L) + math.exp(-s * unseen_d2))
        if sd2.shape[0] == 0:
            return extra
        e = np.exp(-s * sd2)
        rs = np.bincount(si, e, minlength=n)
        rs += np.bincount(sj, e, minlength=n)
        return float(rs.max()) + extra

    closest = float(d2.min()) if d2.shape[0] else unseen_d2
    if not closest > 0.0:
        return 0.0
    s_prev = 100.0 * L / closest
    total = tail(s_prev) * max(0.0, 1.0 - row_sum_max(s_prev))
    ratio = 1.25
    for _ in range(400):
        s = s_prev / ratio
        R = row_sum_max(s)
        if R >= 1.0:
            break
        total += (1.0 - R) * (tail(s) - tail(s_prev))
        s_prev = s
    if info is not None:
        info["s_stop"] = s
    return total * (1.0 - 1e-12)


def lambda_min_lower_bound(X, t, *, metric: str = "euclidean", radius: float | None = None):
    r"""A certified lower bound on the smallest eigenvalue of Z(t) = exp(-t D).

    Writes `e^{-t r}` as a mixture of Gaussians `e^{-s r^2}` (the Lévy
    distribution in s) and applies Gershgorin to each Gaussian kernel matrix, which is
    positive semidefinite: `\lambda_{\min}(Z) \ge \int (1 - R(s))_+ \mu(ds)` with
    `R(s) = \max_i \sum_{j \ne i} e^{-s d_{ij}^2}` (see the module docstring). Only pairs
    within ``radius`` are enumerated (KD-tree); the others are bounded, so any radius gives a
    valid bound and a larger one a sharper bound. The plain Gershgorin bound is not used here.

    Euclidean: within 10-30% of the true value on Gaussian clouds in R^3 and R^10 across
    scales (|tX| from 0.01 n to n; measured with 300 to 2000 points). Cityblock: valid but
    weaker. Useful to certify iterative solves (Gauss-Radau bounds need it) as well as the
    truncation here.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points; copies are merged (Z of the distinct points).
    t : float
    metric : {"euclidean", "cityblock"}, default="euclidean"
    radius : float, optional
        Enumeration radius (Euclidean). Default: grown from twice the median
        nearest-neighbour distance, doubling until the pairs beyond it could not change the
        bound, up to 8 times the 99th percentile of the nearest-neighbour distances, and
        never beyond the radius whose pairs take half the available memory (estimated from
        a sample before anything is enumerated; a smaller radius still gives a valid, if
        weaker, bound).

    Returns
    -------
    float
        ``0 < value <= lambda_min(Z(t))``, or 0.0 when nothing could be certified.

    Raises
    ------
    InsufficientMemoryError
        The pairs within the given ``radius`` would not fit in memory (the message names a
        radius that fits), or, with the default radius, not even the pairs within the median
        nearest-neighbour distance would.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.sparse import lambda_min_lower_bound
    >>> X = np.random.default_rng(0).standard_normal((300, 3))
    >>> lam = np.linalg.eigvalsh(np.exp(-2.0 * np.linalg.norm(X[:, None] - X, axis=2)))[0]
    >>> low = lambda_min_lower_bound(X, 2.0)
    >>> bool(0.5 * lam < low <= lam)
    True
    """
    p = _metric_p(metric)
    s = _scale(t)
    P = check_points(X)
    P = P[_unique_rows(P)[0]]
    n, d = P.shape
    if n == 1:
        return 1.0
    tree = cKDTree(P)
    max_pairs = _LAMBDA_MEMORY_FRACTION * available_memory() / _LAMBDA_BYTES_PER_PAIR
    tail_power = 1 if p == 2.0 else d
    if radius is not None:
        radius = float(radius)
        if _estimated_pairs(tree, P, radius) > max_pairs:
            _pairs_memory_error(tree, P, radius, max_pairs, f"radius = {radius:.3g}")
        return _bound_within(tree, P, s, radius, tail_power)[0]
    nn = tree.query(P, k=2)[0][:, 1]
    r_max = _radius_within(tree, P, 8.0 * float(np.quantile(nn, 0.99)), max_pairs)
    q50 = float(np.median(nn))
    if r_max < q50:  # most points would have no pair enumerated: a useless bound
        _pairs_memory_error(tree, P, q50, max_pairs, "the median nearest-neighbour distance")
    # Grow the radius from twice the median nearest-neighbour distance until the pairs beyond
    # it could not have changed the scan (they weigh < 1e-3 in a row sum where it stopped):
    # at large t a small radius gives the same bound for a fraction of the pairs (100,000
    # points in R^3 at t = 34: 0.6 s instead of 30 s and 2.4 GB at 8 times the 99th
    # percentile, the same value).
    r = min(r_max, 2.0 * q50)
    while True:
        low, s_stop = _bound_within(tree, P, s, r, tail_power)
        if r >= r_max or (n - 1) * math.exp(-s_stop * r * r) <= 1e-3:
            return low
        r = min(r_max, 2.0 * r)


def _bound_within(tree: cKDTree, P: np.ndarray, t: float, r: float, tail_power: int):
    """(the lambda_min bound from the pairs within r, the s where its scan stopped)."""
    n = P.shape[0]
    try:
        pairs = tree.query_pairs(r, output_type="ndarray")
    except MemoryError as exc:  # the estimate is from a sample: a last line of defence
        raise InsufficientMemoryError(
            f"lambda_min_lower_bound ran out of memory enumerating the pairs within radius "
            f"{r:.3g} of {n} points; pass a smaller radius"
        ) from exc
    ii, jj = pairs[:, 0], pairs[:, 1]
    d2 = _squared_distances(P, ii, jj)
    info: dict = {}
    low = _lambda_lower_from_pairs(d2, ii, jj, n, t, r * r, tail_power, info)
    return low, info["s_stop"]


def _estimated_pairs(tree: cKDTree, P: np.ndarray, r: float) -> float:
    """Estimated pairs i < j within Euclidean distance r (a sample's ball counts)."""
    n = P.shape[0]
    return max(0.0, (_nnz_from_counts(_sample_counts(tree, P, r, 2.0, 200, 0), n) - n) / 2.0)


def _radius_within(tree: cKDTree, P: np.ndarray, r: float, max_pairs: float) -> float:
    """r, or the largest radius below it (to 1%) whose estimated pairs fit ``max_pairs``."""
    if _estimated_pairs(tree, P, r) <= max_pairs:
        return r
    lo, hi = 0.0, r
    while hi - lo > 0.01 * hi:  # the pair count grows like r^d: bisection on r
        mid = 0.5 * (lo + hi)
        if _estimated_pairs(tree, P, mid) <= max_pairs:
            lo = mid
        else:
            hi = mid
    return lo


def _pairs_memory_error(tree, P, r, max_pairs, what):
    pairs = _estimated_pairs(tree, P, r)
    need = pairs * _LAMBDA_BYTES_PER_PAIR
    limit = max_pairs * _LAMBDA_BYTES_PER_PAIR
    fits = _radius_within(tree, P, r, max_pairs)
    raise InsufficientMemoryError(
        f"lambda_min_lower_bound would enumerate about {pairs:.3g} pairs of points for "
        f"{what} ({need / 2**30:.2f} GiB) but only {limit / 2**30:.2f} GiB (half the "
        f"available memory) may be used; pass radius={fits:.3g} or less (a smaller radius "
        "gives a valid, weaker bound), subsample the points, or use a machine with more memory"
    )


def _squared_distances(P, ii, jj):
    out = np.empty(ii.shape[0])
    for a in range(0, ii.shape[0], _PAIR_CHUNK):
        b = a + _PAIR_CHUNK
        diff = P[ii[a:b]] - P[jj[a:b]]
        out[a:b] = np.einsum("ij,ij->i", diff, diff)
    return out


def _l1_distances(P, ii, jj):
    out = np.empty(ii.shape[0])
    for a in range(0, ii.shape[0], _PAIR_CHUNK):
        b = a + _PAIR_CHUNK
        out[a:b] = np.abs(P[ii[a:b]] - P[jj[a:b]]).sum(axis=1)
    return out


# ---------------------------------------------------------------- solvers


def _cg(B, x0: np.ndarray, target: float, maxiter: int):
    """Conjugate gradients for B x = 1, stopped on the *true* residual norm <= target.

    The recursive residual drifts from the true one in floating point; when it says
    converged, the true residual is recomputed and CG restarted from there if needed (at most
    a few times: the attainable accuracy is reached when a restart no longer helps).
    """
    b = np.ones(x0.shape[0])
    x = x0.copy()
    r = b - B @ x
    rr = float(r @ r)
    p = r.copy()
    it = 0
    restarts = 0
    best = math.sqrt(rr)
    while it < maxiter:
        if math.sqrt(rr) <= target:
            r = b - B @ x
            rr = float(r @ r)
            nr = math.sqrt(rr)
            if nr <= target or restarts >= 4 or nr >= 0.5 * best:
                break
            best = nr
            restarts += 1
            p = r.copy()
        Ap = B @ p
        pAp = float(p @ Ap)
        if not pAp > 0.0:
            break
        alpha = rr / pAp
        x += alpha * p
        r -= alpha * Ap
        rr_new = float(r @ r)
        p *= rr_new / rr
        p += r
        rr = rr_new
        it += 1
    return x, it


def _splu_solve(B):
    from scipy.sparse.linalg import splu

    lu = splu(
        B.tocsc(),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    b = np.ones(B.shape[0])
    x = lu.solve(b)
    x += lu.solve(b - B @ x)  # one step of iterative refinement
    return x


def _build(P, t, r, p, eps):
    """Kept pairs within r, the CSR matrix B, and what the bounds need."""
    n, d = P.shape
    tree = cKDTree(P)
    pairs = tree.query_pairs(r, p=p, output_type="ndarray")
    idx_t = np.int32 if n < 2**31 - 1 else np.int64
    ii = pairs[:, 0].astype(idx_t)
    jj = pairs[:, 1].astype(idx_t)
    del pairs
    d2 = _squared_distances(P, ii, jj)
    dist = np.sqrt(d2) if p == 2.0 else _l1_distances(P, ii, jj)
    v = np.exp(-t * dist)
    del dist
    kept = np.bincount(ii, minlength=n) + np.bincount(jj, minlength=n)
    # dropped entries are < eps (the tree's radius test is exact up to rounding: margin)
    delta = float((n - 1) - kept.min()) * eps * (1.0 + 1e-12)
    ar = np.arange(n, dtype=idx_t)
    coo = sp.coo_array(
        (
            np.concatenate([v, v, np.ones(n)]),
            (np.concatenate([ii, jj, ar]), np.concatenate([jj, ii, ar])),
        ),
        shape=(n, n),
    )
    del v
    # no duplicates by construction: skip the sort that sum_duplicates would do (CSR
    # products do not need sorted column indices; measured 3x faster to build)
    coo.has_canonical_format = True
    B = coo.tocsr()
    del coo
    unseen = r * r if p == 2.0 else r * r / d
    lam = _lambda_lower_from_pairs(d2, ii, jj, n, t, unseen, 1 if p == 2.0 else d)
    del d2, ii, jj
    # plain Gershgorin on Z: off-diagonal row sums of Z are those of B plus < delta
    rowsum = B @ np.ones(n)
    lam = max(lam, 1.0 - (float(rowsum.max()) - 1.0) - delta)
    return B, rowsum, delta, lam, int(kept.max())


def _bounds(B, x, delta, lam, kmax):
    """Certified bounds from the computed solution x (module docstring, steps 3-4)."""
    n = x.shape[0]
    Bx = B @ x
    res = 1.0 - Bx
    nr = float(np.linalg.norm(res))
    nx = float(np.linalg.norm(x))
    s1 = float(np.sum(x))
    xr = float(x @ res)
    m_hat = s1 + xr
    # floating point: the residual (k_max + 2 terms a row) and the two sums
    gamma = (kmax + 2) * _EPS / (1.0 - (kmax + 2) * _EPS)
    absBx = B @ np.abs(x)  # B is entrywise positive: |B| = B
    fl_res = gamma * float(np.linalg.norm(1.0 + absBx))  # >= ||computed res - exact res||_2
    fl_sum = (math.log2(n) + 2.0) * _EPS * (float(np.abs(x).sum()) + abs(xr))
    fl = nx * fl_res + fl_sum  # >= |computed m_hat - exact m_hat|
    # variational lower bound, needs no eigenvalue: x^T A x <= x^T B x + delta |x|^2
    den = (s1 - xr) + delta * nx * nx + fl
    lower_var = (s1 - fl_sum) ** 2 / den if den > 0 and s1 > fl_sum else -math.inf
    sig_b = lam - delta
    if not sig_b > 0.0:
        return m_hat, max(lower_var, 1.0), math.inf, math.inf, nr
    nr_cert = nr + fl_res  # >= the exact residual's norm
    beta = nx + nr_cert / sig_b
    trunc = delta * beta * beta * (1.0 + delta / lam)
    upper = m_hat + fl + nr_cert * nr_cert / sig_b + trunc
    lower = max(m_hat - fl - trunc, lower_var, 1.0)
    w_err = delta * beta / lam + nr_cert / sig_b
    return m_hat, lower, upper, w_err, nr


def sparse_solve(
    X,
    t,
    *,
    metric: str = "euclidean",
    rtol: float = 1e-8,
    weights: bool = True,
    solver: str = "cg",
    eps_trunc: float | None = None,
    max_density: float = _DEFAULT_MAX_DENSITY,
    memory_limit: float | None = None,
    maxiter: int | None = None,
) -> SparseResult:
    r"""Magnitude and weights at a large scale from the truncated sparse Z(t), certified.

    Drops the entries `e^{-t d} < \varepsilon` (pairs farther apart than
    `r = -\log(\varepsilon)/t`), solves `Z_{trunc} v = 1` by conjugate gradients
    and returns certified bounds on the exact `|tX|` (proof in the module docstring).
    Memory and density are estimated from a sample before any allocation.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points. Copies are merged and share their point's weight.
    t : float
        One scale > 0.
    metric : {"euclidean", "cityblock"}, default="euclidean"
        Also the aliases ``l2``, ``l1``, ``manhattan``.
    rtol : float, default=1e-8
        Relative tolerance to certify for |tX|.
    weights : bool, default=True
        Return the weights (one per input point).
    solver : {"cg", "splu"}, default="cg"
        Conjugate gradients (Z's diagonal is 1, so Jacobi preconditioning is the identity),
        or SuperLU with a symmetric fill-reducing order (fine in 1-2 dimensions or at very
        large t; the fill makes it slow in R^3 and up: measured 47 s against 0.14 s for CG
        on 20,000 points in R^3 with 150 entries a row). An incomplete LU preconditioner
        (``spilu``, drop_tol 1e-3) cut CG from 39 to 4 iterations at |tX| = 0.9 n on 20,000
        points in R^3 but took 17 s to build, against 0.6 s for the whole plain CG solve.
    eps_trunc : float, optional
        Truncation threshold; default `truncation_threshold` (n, rtol).
    max_density : float, default=0.3
        Refuse when the truncated matrix would keep more than this fraction of the entries.
    memory_limit : float, optional
        Bytes that may be used; default 80% of the available memory.
    maxiter : int, optional
        CG iteration limit; default 5000.

    Returns
    -------
    SparseResult

    Raises
    ------
    SparseTooDenseError
        The truncated matrix would be too dense (use the dense or iterative method).
    InsufficientMemoryError
        It would not fit in memory.

    Warns
    -----
    BoundNotCertifiedWarning
        (a `metric_magnitude.CertificationWarning`) The relative error ``rtol`` could not be
        certified (no positive lower bound on the smallest eigenvalue, or CG stopped early);
        the bounds found are in the result.

    Examples
    --------
    >>> import numpy as np
    >>> from metric_magnitude.solvers.sparse import sparse_solve
    >>> X = np.random.default_rng(0).random((2000, 2))
    >>> res = sparse_solve(X, 300.0)
    >>> res.certified, res.lower <= res.magnitude <= res.upper, res.bound < 1e-8
    (True, True, True)
    >>> res.nnz / 2000**2 < 0.05   # about 55 entries a row
    True
    """
    clock = time.perf_counter
    t0 = clock()
    p = _metric_p(metric)
    s = _scale(t)
    rtol = float(rtol)
    if not rtol > 0.0:
        raise InvalidInputError(f"rtol must be > 0, got {rtol!r}")
    if solver not in ("cg", "splu"):
        raise InvalidInputError(f"solver must be 'cg' or 'splu', got {solver!r}")
    P0 = check_points(X)
    first, inverse = _unique_rows(P0)
    P = P0[first]
    n, d = P.shape
    mult = np.bincount(inverse, minlength=n)
    if n == 1:
        w = np.ones(1)
        return SparseResult(
            1.0, 1.0, 1.0, 0.0, True, rtol, (w / mult)[inverse] if weights else None, 0.0, 1,
            0.0, 0.0, 0.0, 1.0, 1.0, 0, solver, s, 1,
        )  # fmt: skip
    eps = truncation_threshold(n, rtol) if eps_trunc is None else float(eps_trunc)
    if not 0.0 < eps < 1.0:
        raise InvalidInputError(f"eps_trunc must be in (0, 1), got {eps!r}")
    maxiter = 5000 if maxiter is None else int(maxiter)
    timings = {}
    for attempt in range(2):
        r = -math.log(eps) / s
        t1 = clock()
        tree = cKDTree(P)
        counts = _sample_counts(tree, P, r, p, 200, 0)
        _check_size(_nnz_from_counts(counts, n), n, d, max_density, memory_limit, r, s)
        timings["estimate"] = clock() - t1
        t1 = clock()
        try:
            B, rowsum, delta, lam, kmax = _build(P, s, r, p, eps)
        except MemoryError as exc:
            raise InsufficientMemoryError(
                f"building the truncated similarity matrix at t = {s!r} ran out of memory; "
                "use the iterative (matrix-free) method or a larger scale"
            ) from exc
        timings["build"] = clock() - t1
        t1 = clock()
        if solver == "splu":
            try:
                x = _splu_solve(B)
            except MemoryError as exc:  # the fill of the factor is not known in advance
                raise InsufficientMemoryError(
                    f"the sparse LU factor at t = {s!r} ran out of memory (fill-in); use "
                    "solver='cg'"
                ) from exc
            iters = 0
        else:
            sig_b = lam - delta
            m_guess = float(np.sum(1.0 / rowsum))  # the spread: <= |tX|
            if sig_b > 0.0:
                target = min(
                    math.sqrt(0.05 * rtol * sig_b * m_guess), 0.1 * rtol * sig_b * math.sqrt(n)
                )
            else:
                target = 1e-13 * math.sqrt(n)
            target = max(target, 10.0 * _EPS * math.sqrt(n) * float(rowsum.max()))
            x, iters = _cg(B, 1.0 / rowsum, target, maxiter)
        timings["solve"] = clock() - t1
        m_hat, lower, upper, w_err, _ = _bounds(B, x, delta, lam, kmax)
        trunc_part = delta * float(x @ x) / max(lower, 1.0)
        if attempt == 0 and eps_trunc is None and trunc_part > 0.25 * rtol:
            eps *= 0.125 * rtol / trunc_part  # a posteriori: the weights are larger than O(1)
            continue
        break
    bound = max(m_hat - lower, upper - m_hat) / lower
    certified = bool(bound <= rtol)
    if not certified:
        why = (
            "no positive lower bound on the smallest eigenvalue of Z(t) could be established"
            if not math.isfinite(upper)
            else f"the certified relative error is {bound:.1e}"
        )
        warnings.warn(
            f"sparse_solve at t = {s!r}: rtol = {rtol:g} not certified ({why}); certified "
            f"bounds {lower!r} <= |tX| <= {upper!r}",
            BoundNotCertifiedWarning,
            stacklevel=2,
        )
    W = (x / mult)[inverse] if weights else None
    timings["total"] = clock() - t0
    return SparseResult(
        magnitude=float(m_hat),
        lower=float(lower),
        upper=float(upper),
        bound=float(bound),
        certified=certified,
        rtol=rtol,
        weights=W,
        weights_error=float(w_err),
        nnz=int(B.nnz),
        radius=r,
        eps_trunc=eps,
        truncation=float(delta),
        lambda_min_lower=float(lam),
        rcond_bound=float(max(lam, 0.0) / (float(rowsum.max()) + delta)),
        iterations=iters,
        solver=solver,
        scale=s,
        n_distinct=n,
        timings=timings,
    )
