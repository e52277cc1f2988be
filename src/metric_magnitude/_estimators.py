r"""What the scikit-learn-style estimators share (private).

- The base classes: scikit-learn's ``BaseEstimator``, ``ClassifierMixin`` and ``OutlierMixin``
  when it is importable, else small local stand-ins with the same ``get_params`` /
  ``set_params`` contract (scikit-learn is optional), and `NotFittedError`.
- The input checks of fit and predict, with messages in scikit-learn's wording where its
  estimator checks look for it.
- `_Adjoiner`: the weight a new point gets when it is adjoined alone to a fixed
  training space, O(k^2) per point from a factor kept by ``fit``, and `_Pool`, the
  same for a set of candidates while some of them join the space one at a time (a rank-one
  bordering of the factor, for active learning).

Adjoining a point x to a space with similarity matrix Z (k distinct points), weighting
`w = Z^{-1} \mathbf 1` and similarities `z = (e^{-t\, d(x, x_i)})_i` is a
rank-one bordering; block elimination of `[[Z, z], [z^T, 1]]` gives x the weight

.. math::

    w_x = \frac{1 - z^T w}{s},\qquad s = 1 - z^T Z^{-1} z

(s is the Schur complement of Z: positive for positive definite Z, zero exactly when x
repeats a point of the space).
"""

from __future__ import annotations

import functools
import inspect
import types
import warnings
from numbers import Real

import numpy as np
from scipy.linalg import lapack, solve_triangular
from scipy.sparse import issparse
from scipy.spatial.distance import cdist

from ._validation import check_points
from .exceptions import (
    IllConditionedWarning,
    InvalidInputError,
    NotPositiveDefiniteWarning,
    SingularSimilarityError,
)
from .solvers.dense import _similarity
from .spaces import MetricSpace

_EPS = np.finfo(np.float64).eps
# (new points x training points) entries handled at once: 32 MiB of float64 per temporary.
_CHUNK_ENTRIES = 1 << 22
_LN2 = float(np.log(2.0))

# ------------------------------------------------------------ scikit-learn, or stand-ins

try:  # scikit-learn is optional: without it the small local classes below stand in
    from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin
    from sklearn.exceptions import NotFittedError as _NotFittedBase

    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised in subprocesses by the tests
    _HAVE_SKLEARN = False
    _NotFittedBase = AttributeError

    class BaseEstimator:
        """``get_params``/``set_params``/``repr`` as in scikit-learn, for use without it.

        Parameters are the keyword arguments of ``__init__``, stored under their own names.
        """

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            return sorted(
                p.name
                for p in sig.parameters.values()
                if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
            )

        def get_params(self, deep: bool = True) -> dict:
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise InvalidInputError(
                        f"invalid parameter {key!r} for {type(self).__name__}; "
                        f"valid parameters are {', '.join(valid)}"
                    )
                setattr(self, key, value)
            return self

        def __repr__(self) -> str:
            params = inspect.signature(type(self).__init__).parameters.values()
            defaults = {p.name: p.default for p in params}
            changed = [
                f"{k}={v!r}"
                for k, v in self.get_params().items()
                if not (isinstance(v, str | Real | None) and v == defaults.get(k))
            ]
            return f"{type(self).__name__}({', '.join(changed)})"

    class ClassifierMixin:
        """Stand-in for scikit-learn's ``ClassifierMixin``: ``score`` is the accuracy."""

        _estimator_type = "classifier"

        def score(self, X, y) -> float:
            return float(np.mean(self.predict(X) == np.asarray(y)))

    class OutlierMixin:
        """Marks an outlier detector (scikit-learn's ``OutlierMixin`` when installed)."""

        _estimator_type = "outlier_detector"


class NotFittedError(InvalidInputError, _NotFittedBase):
    """A method that needs a fitted estimator was called before ``fit``.

    A subclass of scikit-learn's ``NotFittedError`` when scikit-learn is installed, and in
    any case of `InvalidInputError` (so of ``ValueError``) and ``AttributeError``.
    """


class _AvailableIf:
    """A method that exists only when ``check(obj)`` holds (like sklearn's ``available_if``).

    ``check`` raises AttributeError with a helpful message where the method is unavailable,
    so ``hasattr(obj, name)`` is False there, as scikit-learn's checks expect.
    """

    def __init__(self, fn, check):
        self.fn = fn
        self.check = check
        functools.update_wrapper(self, fn)

    def __get__(self, obj, owner=None):
        if obj is None:
            return self.fn
        self.check(obj)
        return types.MethodType(self.fn, obj)


def _available_if(check):
    return lambda fn: _AvailableIf(fn, check)


# ------------------------------------------------------------------------ input checks


class _NonNumericError(InvalidInputError, TypeError):
    """Input holding things that are not numbers (a TypeError too, as numpy raises)."""


def _check_samples(X, *, name: str = "X", min_samples: int = 1) -> np.ndarray:
    """Samples as a clean (n, d) float64 array; messages in scikit-learn's wording where its
    estimator checks look for it (sparse, complex, 1-D, 0 features, 1 sample)."""
    if issparse(X):
        raise InvalidInputError(
            f"{name} is a sparse matrix, and sparse input is not supported (magnitude needs "
            f"the dense distance matrix anyway); convert it with {name}.toarray()"
        )
    try:
        arr = np.asarray(X)
    except Exception:  # ragged lists and the like: check_points says what is wrong
        arr = None
    if arr is not None:
        if arr.dtype.kind == "c":
            raise InvalidInputError(
                f"Complex data not supported: {name} is complex; pass real numbers (take "
                ".real or abs() first if that is what you mean)"
            )
        if arr.dtype == object:  # numbers stored as objects are still numbers
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise _NonNumericError(
                    f"{name} must hold numbers, but converting it failed: {exc}"
                ) from exc
        if arr.ndim == 1:
            raise InvalidInputError(
                f"{name} must be 2-D with shape (n_samples, n_features), got a 1-D array of "
                f"length {arr.shape[0]}: Reshape your data with {name}.reshape(-1, 1) if it "
                f"has a single feature or {name}.reshape(1, -1) if it is a single sample"
            )
        if arr.ndim == 2 and arr.shape[1] == 0:
            raise InvalidInputError(
                f"{name} has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is "
                "required: every sample needs at least one coordinate"
            )
        X = arr
    arr = check_points(X, name=name)
    if arr.shape[0] < min_samples:
        raise InvalidInputError(
            f"{name} has {arr.shape[0]} sample, but at least {min_samples} samples are "
            "needed: weights rank points against each other"
        )
    return arr


def _check_metric(metric) -> None:
    if not (isinstance(metric, str) or callable(metric)):
        raise InvalidInputError(
            f"metric must be a string or a callable, got {type(metric).__name__}"
        )


def _set_feature_names(est, X, reset: bool) -> None:
    """scikit-learn's feature-name bookkeeping for DataFrame input, when it is installed."""
    if not _HAVE_SKLEARN:
        return
    try:
        from sklearn.utils.validation import validate_data
    except ImportError:  # pragma: no cover - scikit-learn < 1.6
        check = getattr(est, "_check_feature_names", None)
        if check is not None:
            check(X, reset=reset)
        return
    try:
        validate_data(est, X, reset=reset, skip_check_array=True)
    except ValueError as exc:  # feature names other than in fit: one of our input errors
        raise InvalidInputError(str(exc)) from exc


def _check_fitted(est) -> None:
    if not est.__sklearn_is_fitted__():
        raise NotFittedError(
            f"This {type(est).__name__} instance is not fitted yet; call fit with the "
            "training data before using this estimator."
        )


def _check_n_features(est, X: np.ndarray) -> None:
    if X.shape[1] != est.n_features_in_:
        what = (
            "distances to the training samples"
            if isinstance(est.metric, str) and est.metric == "precomputed"
            else "features, as in the data passed to fit"
        )
        raise InvalidInputError(
            f"X has {X.shape[1]} features, but {type(est).__name__} is expecting "
            f"{est.n_features_in_} features as input; pass {est.n_features_in_} {what}"
        )


def _new_samples(est, X) -> np.ndarray:
    """Validated new data for a fitted estimator (same features as in fit)."""
    _check_fitted(est)
    Xc = _check_samples(X)
    _check_n_features(est, Xc)
    _set_feature_names(est, X, reset=False)
    return Xc


# ------------------------------------------------------------------ adjoined weights

_REPEATS = ("own", "share", "exclude")


class _Adjoiner:
    """Weight of a point adjoined alone to a fixed training space, O(k^2) per point.

    Z(t) of the k distinct training points is factored once, here: Cholesky, or, where Z
    is not positive definite (a metric not of negative type), LDL^T. With w the weighting and
    z the similarities of a new point x, x gets ``(1 - z^T w) / (1 - z^T Z^{-1} z)`` (module
    docstring). Both numerator and Schur complement vanish as x approaches a training
    point, so they are evaluated around the nearest training point p (row zp of Z,
    zp_p = 1) with dz = z - zp: z^T w = 1 + dz^T w and z^T Z^{-1} z = 1 + 2 dz_p +
    dz^T Z^{-1} dz, hence

        1 - z^T w = -dz^T w,    s = -2 dz_p - dz^T Z^{-1} dz,

    with dz_j = zp_j expm1(-t (d(x, j) - d(p, j))): no cancellation of O(1) terms, so a new
    point close to a training point keeps accurate digits. For the Euclidean metric the
    differences of distances come from |x - j|^2 - |p - j|^2 = u.(u + 2 (p - j)), u = x - p,
    not from subtracting two rounded distances, so their relative accuracy does not degrade
    as x nears p (the subtraction would lose about eps * diameter / |u|; it is what other
    metrics get). That is where p dominates, e^{-t d(x, p)} >= 1/2; farther out the plain
    formula has no cancellation and is used instead (it gives exactly 1 far from the space).

    A new point *at* a training point p (distance 0 up to rounding, or a Schur complement
    that is zero up to rounding) cannot be adjoined as a new point; ``repeats`` says what it
    gets, with W_p the weight of p and m_p its copies among the training samples:

    - ``"own"``: X u {x} = X as a set, so the weight p already has, W_p / m_p per sample
      (the weight of that training sample; MagnitudeOutlierDetector);
    - ``"share"``: the multiset reading, W_p / (m_p + 1): x shares the weight of p with its
      m_p copies, as `metric_magnitude.weights` gives for the training samples with x
      appended (MagnitudeClassifier);
    - ``"exclude"``: -inf, so that an argmax never picks it (active learning).

    Parameters
    ----------
    X : ndarray
        The validated training samples (with ``metric="precomputed"`` the distance matrix).
    space : MetricSpace
        ``MetricSpace(X, metric=...)``.
    t : float
    weights : ndarray of shape (k,), optional
        The weighting of the distinct points, where the caller has solved for it (and
        reported on that solve: no NotPositiveDefiniteWarning then); else it is solved here
        from the kept factor.
    repeats : {"own", "share", "exclude"}
    label : str
        What the space is, for messages ("class 'a'").
    stacklevel : int
        For the warnings, as ``warnings.warn`` would take it in the caller.

    Raises
    ------
    SingularSimilarityError
        Z(t) singular or too ill-conditioned to factor (condition number > 1 / (10 k eps)).

    Warns
    -----
    IllConditionedWarning
        Condition number of Z(t) above 1e12: adjoined weights may carry few correct digits.
    NotPositiveDefiniteWarning
        Z(t) is not positive definite and ``weights`` were not given.
    """

    def __init__(
        self,
        X: np.ndarray,
        space: MetricSpace,
        t: float,
        *,
        weights: np.ndarray | None = None,
        repeats: str = "own",
        label: str = "the training data",
        stacklevel: int = 2,
    ):
        if repeats not in _REPEATS:
            raise ValueError(f"repeats must be one of {_REPEATS}, got {repeats!r}")
        self.t = float(t)
        self.metric = space.metric
        self.repeats = repeats
        self.label = label
        self.first = np.unique(space.inverse, return_index=True)[1]
        self.precomputed = isinstance(self.metric, str) and self.metric == "precomputed"
        self.euclidean = isinstance(self.metric, str) and self.metric == "euclidean"
        D = space.distances
        # training points as given (distances, and x - p exactly) and, for the Euclidean
        # inner products below, centred (they would lose digits far from the origin)
        self.points = None if self.precomputed else X[self.first]
        self.centred = self.points - self.points.mean(axis=0) if self.euclidean else None
        self.D = D if self.precomputed else None  # rows of Z for the pivots
        self.multiplicity = space.multiplicity
        self.known_positive_definite = space.known_positive_definite
        self.dup_tol = 4.0 * _EPS * float(D.max())
        self.chol: np.ndarray | None = None
        self.ldl: tuple[np.ndarray, np.ndarray] | None = None
        self.w = self._factor(D, weights, stacklevel)
        self.magnitude = float(self.w.sum())

    # ------------------------------------------------------------------ factorisation

    def _factor(self, D, weights, stacklevel) -> np.ndarray:
        """Keep a factor of Z(t) (Cholesky, else LDL^T) and return the weighting."""
        k = D.shape[0]
        t = self.t
        Z = _similarity(D, t, np.empty_like(D))
        anorm = float(Z.sum(axis=0).max())  # ||Z||_1: Z is positive entrywise
        # Z is symmetric: its transpose is the Fortran-ordered view LAPACK wants (no copy)
        c, info = lapack.dpotrf(Z.T, lower=1, clean=1, overwrite_a=1)
        if info == 0:
            rcond = float(lapack.dpocon(c, anorm, uplo="L")[0])
            if rcond < 10.0 * k * _EPS:
                raise self._singular(rcond)
            self.chol = c
            if weights is None:
                u = solve_triangular(c, np.ones(k), lower=True, check_finite=False)
                weights = solve_triangular(c.T, u, lower=False, check_finite=False)
        else:
            if self.known_positive_definite:  # positive definite in exact arithmetic
                raise self._singular(0.0)
            Z = _similarity(D, t, np.empty_like(D))
            ldu, ipiv, info = lapack.dsytrf(Z.T, lower=1, overwrite_a=1)
            rcond = float(lapack.dsycon(ldu, ipiv, anorm, lower=1)[0]) if info == 0 else 0.0
            if rcond < 10.0 * k * _EPS:
                raise self._singular(rcond)
            self.ldl = (ldu, ipiv)
            if weights is None:
                weights = lapack.dsytrs(ldu, ipiv, np.ones(k), lower=1)[0]
                warnings.warn(
                    f"Z(t) of {self.label} is not positive definite at t = {t!r} (metric "
                    f"{self.metric!r} is not of negative type); solved with LDL^T: its "
                    "weights may be negative and adjoined weights need not lie in (0, 1]",
                    NotPositiveDefiniteWarning,
                    stacklevel=stacklevel + 2,
                )
        if rcond < 1e-12:
            warnings.warn(
                f"Z(t) of {self.label} is ill-conditioned at t = {t!r} (estimated condition "
                f"number {1 / rcond:.1e}): adjoined weights may carry few correct digits; "
                "a larger t separates near-duplicate points",
                IllConditionedWarning,
                stacklevel=stacklevel + 2,
            )
        return np.asarray(weights, dtype=np.float64)

    def _singular(self, rcond: float) -> SingularSimilarityError:
        cond = f"{1 / rcond:.1e}" if rcond > 0 else "infinite"
        return SingularSimilarityError(
            f"Z(t) of {self.label} is singular or too ill-conditioned at t = {self.t!r} "
            f"(estimated condition number {cond}), so new points cannot be adjoined; "
            "choose a larger t",
            scale=self.t,
        )

    # ------------------------------------------------------------------ distances

    def _cdist(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        try:
            return cdist(A, B, metric=self.metric)
        except ValueError as exc:
            raise InvalidInputError(f"computing {self.metric!r} distances failed: {exc}") from exc

    def _distances(self, Y: np.ndarray) -> np.ndarray:
        """Distances from the new points to the distinct training points, checked."""
        Dn = Y[:, self.first] if self.precomputed else self._cdist(Y, self.points)
        if not np.isfinite(Dn).all() or (Dn < 0).any():
            raise InvalidInputError(
                "the distances from the new points to the training points must be finite "
                "and non-negative; check the metric (or the precomputed distances)"
            )
        return Dn

    def _pivot_rows(self, p: np.ndarray) -> np.ndarray:
        if self.precomputed:
            return self.D[p]
        R = self._cdist(self.points[p], self.points)
        R[np.arange(p.size), p] = 0.0  # exact zeros where some metrics leave round-off
        return R

    def _differences(self, Y, Dn, p, Dp):
        """(d(x, j) - d(p, j) for all j, d(x, p)) for the new points x (rows of Y), pivots p."""
        rows = np.arange(p.size)
        if not self.euclidean:
            out = Dn - Dp
            dmin = Dn[rows, p]
        else:
            U = Y - self.points[p]  # exact where x is close to p (Sterbenz)
            uu = np.einsum("ij,ij->i", U, U)
            dmin = np.sqrt(uu)
            # |x - j|^2 - |p - j|^2 = |u|^2 + 2 u.p - 2 u.j, centred coordinates, over
            # |x - j| + |p - j| (in place: these are the large temporaries)
            a = uu + 2.0 * np.einsum("ij,ij->i", U, self.centred[p])
            out = U @ self.centred.T
            out *= -2.0
            out += a[:, None]
            den = np.add(Dn, Dp)
            with np.errstate(divide="ignore", invalid="ignore"):
                np.divide(out, den, out=out)
            out[den == 0] = 0.0
        out[rows, p] = dmin  # d(p, p) = 0 exactly
        return out, dmin

    # ------------------------------------------------------------------ adjoining

    def _block(self, Y: np.ndarray):
        """For a block of new points: numerators, Schur complements, the repeats, and for
        the pool the pivots, the rows evaluated around them, and (Cholesky) L^{-1} r for
        the vectors r solved with (dz around the pivot, else z), one column per point."""
        t, w = self.t, self.w
        Dn = self._distances(Y)
        p = np.argmin(Dn, axis=1)
        dmin = Dn[np.arange(p.size), p]
        # around the pivot where it dominates (zp_p = e^{-t d} >= 1/2: |dz| < |z| there);
        # farther out z itself, whose 1 - z^T w has no cancellation (1 exactly far away)
        near = t * dmin < _LN2
        base = np.where(near, 0.0, 1.0)  # 1 - z^T w = base - R w;  s = lead - R^T Z^{-1} R
        lead = np.ones(p.size)
        if near.any():
            i = slice(None) if near.all() else np.flatnonzero(near)  # a view where it can
            R_near = self._pivot_rows(p[i])  # zp, computed in place into dz = zp (z/zp - 1)
            diff, dmin[i] = self._differences(Y[i], Dn[i], p[i], R_near)
            R_near *= -t
            np.exp(R_near, out=R_near)
            diff *= -t
            R_near *= np.expm1(diff, out=diff)
            lead[i] = -2.0 * np.expm1(-t * dmin[i])  # -2 dz_p, >= 0
        if near.all():
            R = R_near
        else:
            R = np.multiply(Dn, -t, out=Dn)  # Dn is not needed any more
            np.exp(R, out=R)
            if near.any():
                R[i] = R_near
        num = base - R @ w
        if self.chol is not None:
            V = solve_triangular(self.chol, R.T, lower=True, check_finite=False)
            quad = np.einsum("ij,ij->j", V, V)
        else:
            V = None
            ldu, ipiv = self.ldl
            S = lapack.dsytrs(ldu, ipiv, np.asfortranarray(R.T), lower=1)[0]
            quad = np.einsum("ij,ij->j", R.T, S)
        s = lead - quad
        # zero up to rounding: a repeat. For a metric of negative type s > 0 unless x
        # repeats; for others s < 0 is possible (the bordered matrix need not be positive
        # definite, even where Z is)
        repeat = (dmin <= self.dup_tol) | ~(
            np.abs(s) > 8.0 * w.shape[0] * _EPS * (lead + np.abs(quad))
        )
        if self.known_positive_definite:
            repeat |= ~(s > 0)
        return num, s, repeat, p, near, V

    def _repeat_weights(self, p: np.ndarray) -> np.ndarray:
        if self.repeats == "own":
            return self.w[p] / self.multiplicity[p]
        if self.repeats == "share":
            return self.w[p] / (self.multiplicity[p] + 1)
        return np.full(p.shape, -np.inf)

    def adjoined_weights(self, Y: np.ndarray) -> np.ndarray:
        """Weight of each row of Y adjoined (alone) to the training space, shape (len(Y),).

        Y holds points (with ``metric="precomputed"``, distances to the training samples);
        a row that repeats a training point gets what ``repeats`` says. Computed in blocks
        of about ``_CHUNK_ENTRIES`` entries.
        """
        out = np.empty(Y.shape[0])
        step = max(1, _CHUNK_ENTRIES // self.w.shape[0])
        for r0 in range(0, Y.shape[0], step):
            num, s, repeat, p, _, _ = self._block(Y[r0 : r0 + step])
            with np.errstate(divide="ignore", invalid="ignore"):
                wx = num / s
            wx[repeat] = self._repeat_weights(p[repeat])
            out[r0 : r0 + wx.shape[0]] = wx
        return out

    def pool(self, Y: np.ndarray) -> _Pool:
        """The candidate points Y, to join the space one at a time (Cholesky only)."""
        return _Pool(self, Y)


class _Pool:
    """Adjoined weights of candidate points while some of them join the space.

    Each candidate x keeps v_x = L^{-1} z_x, its numerator and its Schur complement.
    ``join(j)`` borders the Cholesky factor with candidate j,

        L' = [[L, 0], [l^T, d]],    l = v_j,  d = sqrt(s_j),

    so every v_x gains the entry (z_jx - l^T v_x) / d, and numerator and Schur complement
    lose that entry times the new entry of L'^{-1} 1, and its square: O(r m) for r points
    and m candidates, no refactorisation. The starting numerators and Schur complements are
    the adjoiner's (accurate near training points); v_x = L^{-1} dz_x + L^T e_p (the row p
    of L, since L^{-1} Z e_p = L^T e_p).
    """

    def __init__(self, adj: _Adjoiner, Y: np.ndarray):
        if adj.chol is None or adj.precomputed:
            raise ValueError("a pool needs a Cholesky factor and points, not distances")
        self.adj = adj
        self.Y = Y
        k, m = adj.w.shape[0], Y.shape[0]
        self.num, self.schur, self.repeat, p, near, Vr = adj._block(Y)
        self.V = np.empty((k + m, m))  # rows: L^{-1} z_x for the training + joined points
        self.V[:k] = Vr
        self.V[:k, near] += adj.chol[p[near]].T  # those solved with dz = z - zp
        self.u = solve_triangular(adj.chol, np.ones(k), lower=True, check_finite=False)
        self.r = k
        self.tol = adj.dup_tol

    def weights(self) -> np.ndarray:
        """Current adjoined weights, -inf for repeats of the space (or of joined points)."""
        safe = np.where(self.repeat, 1.0, self.schur)
        return np.where(self.repeat, -np.inf, self.num / safe)

    def join(self, j: int) -> bool:
        """Candidate j (not a repeat) joins the space; False, and nothing changes, where
        Z(t) with it is not positive definite (s_j <= 0; metrics not of negative type)."""
        if self.repeat[j]:
            raise ValueError(f"candidate {j} repeats a point of the space")
        if not self.schur[j] > 0:
            return False
        adj, V, r = self.adj, self.V, self.r
        d_j = adj._cdist(self.Y[j : j + 1], self.Y)[0]
        lvec = V[:r, j].copy()
        d = np.sqrt(self.schur[j])
        new_row = (np.exp(-adj.t * d_j) - lvec @ V[:r]) / d
        u_new = (1.0 - lvec @ self.u) / d
        V[r] = new_row
        self.r = r = r + 1
        self.u = np.append(self.u, u_new)
        self.num -= u_new * new_row
        self.schur -= new_row**2
        self.tol = max(self.tol, 4.0 * _EPS * float(d_j.max()))
        self.repeat |= (d_j <= self.tol) | ~(np.abs(self.schur) > 8.0 * r * _EPS)
        if adj.known_positive_definite:
            self.repeat |= ~(self.schur > 0)
        return True
