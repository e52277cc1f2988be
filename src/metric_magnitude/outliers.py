"""Outlier, novelty and boundary detection from magnitude weights.

In a Euclidean point cloud at a suitable scale t, the weighting w (Z(t) w = 1) is small on
points in crowded regions, about 1 on isolated points, and concentrated on the boundary of
dense regions (Bunch et al. 2020, 2021). Two estimators in scikit-learn's style read it off:

- `MagnitudeOutlierDetector`: outlier (``novelty=False``) and novelty
  (``novelty=True``) detection; a large weight means an outlying point.
- `MagnitudeBoundaryDetector` and `boundary_scores`: the points whose weight is
  well above the average weight lie on the boundary of the sample.

scikit-learn is optional. When it is importable the estimators derive from its
``BaseEstimator`` (and ``OutlierMixin``), so ``clone``, pipelines, grid search and
``check_estimator`` work; without it they derive from a small local base with the same
``get_params``/``set_params`` contract and this module still imports and runs.

References
----------
.. [1] E. Bunch, D. Dickinson, J. Kline, G. Fung, "Practical applications of metric space
   magnitude and weighting vectors", arXiv:2006.14063 (2020).
.. [2] E. Bunch, J. Kline, D. Dickinson, S. Bhat, G. Fung, "Weighting vectors for machine
   learning: numerical harmonic analysis applied to boundary detection", arXiv:2106.00827
   (2021).
"""

from __future__ import annotations

from numbers import Real

import numpy as np

from ._estimators import (
    _HAVE_SKLEARN,
    BaseEstimator,
    OutlierMixin,
    _Adjoiner,
    _available_if,
    _check_metric,
    _check_samples,
    _new_samples,
    _set_feature_names,
)
from ._estimators import NotFittedError as NotFittedError  # re-exported: what predict raises
from ._validation import _SYMMETRY_RTOL, check_scales
from .core import solve
from .exceptions import InvalidInputError
from .scales import convergence_scale
from .spaces import Metric, MetricSpace

__all__ = ["MagnitudeBoundaryDetector", "MagnitudeOutlierDetector", "boundary_scores"]


def _sklearn_constraints() -> dict:
    """The estimators' ``_parameter_constraints`` in scikit-learn's (semi-private) language."""
    if not _HAVE_SKLEARN:
        return {}
    try:
        from sklearn.utils._param_validation import Interval, StrOptions
    except ImportError:  # pragma: no cover - moved in some scikit-learn version
        return {}
    scale = [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})]
    return {
        "outliers": {
            "t": scale,
            "metric": [str, callable],
            "contamination": [Interval(Real, 0, 0.5, closed="right")],
            "novelty": ["boolean"],
        },
        "boundary": {
            "t": scale,
            "metric": [str, callable],
            "threshold": [Interval(Real, 0, None, closed="neither")],
        },
    }


_CONSTRAINTS = _sklearn_constraints()


# |tX| at the automatic scales, as a function of the number k >= 2 of distinct points.
# Outliers: halfway between the limits 1 (t -> 0) and k (t -> infinity), the arithmetic mean.
# Boundary: the geometric mean sqrt(k). Both are explained in the estimators' docstrings.
def _outlier_target(k: int) -> float:
    return 0.5 * (k + 1)


def _boundary_target(k: int) -> float:
    return float(np.sqrt(k))


_SCALE_RTOL = 1e-8  # the automatic scale is a heuristic: 8 digits are plenty


# ------------------------------------------------------------------------ validation


def _check_scale_param(t) -> float | None:
    """None for t="auto", else t as a float > 0."""
    if isinstance(t, str):
        if t != "auto":
            raise InvalidInputError(f"t must be 'auto' or a number > 0, got {t!r}")
        return None
    if isinstance(t, bool | np.bool_):
        raise InvalidInputError(f"t must be 'auto' or a number > 0, got {t!r}")
    scales, scalar = check_scales(t)
    if not scalar:
        raise InvalidInputError(
            f"t must be a single scale (or 'auto'), got an array of shape {np.shape(t)}; "
            "fit one estimator per scale"
        )
    return float(scales[0])


def _space(X, metric: Metric) -> tuple[np.ndarray, MetricSpace]:
    """Validated training input and its MetricSpace; at least 2 samples, 2 distinct points."""
    if isinstance(metric, str) and metric == "precomputed":
        X = _check_samples(X, min_samples=2)
        if X.shape[0] != X.shape[1]:
            raise InvalidInputError(
                f"with metric='precomputed', X must be a square (n, n) distance matrix, got "
                f"shape {X.shape}; for coordinates of points, choose another metric"
            )
        if X.min() < -_SYMMETRY_RTOL * np.abs(X).max():  # round-off ones are cleaned later
            i, j = np.unravel_index(int(np.argmin(X)), X.shape)
            raise InvalidInputError(
                f"Negative values in data passed to X (a precomputed distance matrix): "
                f"X[{i}, {j}] = {float(X[i, j])!r}; distances must be non-negative"
            )
    else:
        X = _check_samples(X, min_samples=2)
    space = MetricSpace(X, metric=metric)
    if space.n_distinct < 2:
        raise InvalidInputError(
            f"X has {space.n_points} samples but they are all the same point (1 distinct "
            "point): weights need at least 2 distinct points to rank"
        )
    return X, space


def _scale(space: MetricSpace, t: float | None, target) -> float:
    if t is not None:
        return t
    k = space.n_distinct
    return convergence_scale(space, q=target(k) / k, rtol=_SCALE_RTOL)


# ------------------------------------------------------------------ outlier detector


class _MagnitudeEstimator:
    """What both detectors share: the pairwise tags of ``metric="precomputed"``, ``t_``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        precomputed = isinstance(self.metric, str) and self.metric == "precomputed"
        tags.input_tags.pairwise = precomputed
        tags.input_tags.positive_only = precomputed  # distances are >= 0
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "t_")


def _novelty_only(est) -> bool:
    if not est.novelty:
        raise AttributeError(
            "this method is available only with novelty=True (scoring new data); with "
            "novelty=False use fit_predict(X), and weights_ for the training scores"
        )
    return True


def _outlier_detection_only(est) -> bool:
    if est.novelty:
        raise AttributeError(
            "fit_predict is available only with novelty=False: with novelty=True, call fit on "
            "the training data and predict on new data"
        )
    return True


class MagnitudeOutlierDetector(_MagnitudeEstimator, OutlierMixin, BaseEstimator):
    """Outlier and novelty detection by magnitude weights, in scikit-learn's style.

    The weight of a point in the weighting of the data at scale t measures how much of the
    magnitude (the effective number of points) it accounts for: close to 1 for a point far
    from all others, small where points crowd. The score of a point is minus its weight
    (higher is more normal, as in scikit-learn), and the fraction ``contamination`` of
    training points with the largest weights are the outliers (Bunch et al. [1]_ [2]_).

    - ``novelty=False`` (outlier detection): `fit_predict` labels the training
      samples by their own weights ``weights_``; nothing is scored on new data.
    - ``novelty=True``: `score_samples`, `decision_function` and
      `predict` score each new point by the weight it gets when adjoined *alone* to
      the training data: ``(1 - z^T w) / (1 - z^T Z^{-1} z)`` with z its similarities to
      the training points (a Schur complement), O(n^2) per point from the Cholesky factor
      kept by `fit`, with no refactorisation. The weight of a training point is the
      same quantity for that point adjoined to the other training points, so the threshold
      ``offset_`` learned on the training weights applies to new points.

    Parameters
    ----------
    t : "auto" or float, default="auto"
        The scale. ``"auto"`` takes the scale where the magnitude is halfway between its
        limits 1 (t -> 0) and k (t -> infinity), ``|tX| = (k + 1) / 2`` for k distinct
        training points (found by `convergence_scale`). There the average weight is
        about 1/2: a point that shares its neighbourhood with about one other point at
        resolution 1/t, which puts 1/t near the typical nearest-neighbour spacing. An isolated
        point keeps a weight near 1 and a point in a crowd a small one. Bunch et al. give no
        rule; this one was picked on development draws of the data sets in
        ``benchmarks/bench_outliers.py`` (|tX| = q k, q from 0.02 to 0.9: q = 1/2 had the best
        mean ROC-AUC, 0.3 to 0.7 within 0.01), see ``docs/guide-outliers.md``.
    metric : str or callable, default="euclidean"
        As in `magnitude`; with ``"precomputed"``, `fit` takes an (n, n)
        distance matrix and the scoring methods (m, n) distances to the n training samples.
        Scale the features first (e.g. ``StandardScaler``): distances mix them.
    contamination : float in (0, 0.5], default=0.1
        Expected proportion of outliers: sets ``offset_`` to that quantile of the training
        scores, as in `sklearn.neighbors.LocalOutlierFactor`.
    novelty : bool, default=False
        Whether new data will be scored (see above).

    Attributes
    ----------
    weights_ : ndarray of shape (n_samples,)
        Weights of the training samples at ``t_`` (copies of a point share its weight).
    t_ : float
        The scale used.
    magnitude_ : float
        |tX| of the training data at ``t_``.
    offset_ : float
        Threshold on `score_samples`: ``decision_function = score_samples - offset_``.
    n_features_in_ : int
        Number of features (for ``metric="precomputed"``, of training samples).

    See Also
    --------
    MagnitudeBoundaryDetector, weights, convergence_scale

    Notes
    -----
    Costs: ``t="auto"`` solves about 5-15 dense systems (the scale search), then one more
    for the weights and, with ``novelty=True``, one Cholesky factorisation that is kept,
    so memory is O(n^2). Scoring m new points costs O(m n^2) (triangular solves).

    Every new point at a positive distance from the training points scores exactly
    ``-weights(np.vstack([X_train, x]), t_)[-1]``. A new point *equal* to a training sample
    cannot be adjoined as a new point (the Schur complement is 0): as a set, X u {x} = X, so
    it gets the weight that sample already has, ``weights_`` of it (with m copies of a point
    among the training samples, each has a 1/m share). Hence ``predict(X_train)`` with
    ``novelty=True`` equals ``fit_predict(X_train)`` with ``novelty=False``, and a copy of a
    training outlier is an outlier. (The multiset reading, ``weights`` of the stacked
    samples, would halve the weight of a single copy instead: the weight of a location is
    then shared by its copies.) The weight of a point approaching a training point has no
    single limit, so no convention is continuous there.

    Where magnitude loses (benchmarks in ``docs/guide-outliers.md``): in outlier detection
    (fit and score the same data) it is level with LocalOutlierFactor except on wine, where
    LocalOutlierFactor is far ahead, and IsolationForest beats it on every data set there:
    one global scale makes a loose cluster look as outlying as true outliers. In novelty
    detection it is on par with LocalOutlierFactor and OneClassSVM.

    References
    ----------
    .. [1] E. Bunch, D. Dickinson, J. Kline, G. Fung, "Practical applications of metric
       space magnitude and weighting vectors", arXiv:2006.14063 (2020).
    .. [2] E. Bunch, J. Kline, D. Dickinson, S. Bhat, G. Fung, "Weighting vectors for
       machine learning: numerical harmonic analysis applied to boundary detection",
       arXiv:2106.00827 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(60, 2)), [[5.0, 5.0]]])   # one planted outlier
    >>> det = mm.MagnitudeOutlierDetector(contamination=0.01)
    >>> labels = det.fit_predict(X)
    >>> np.flatnonzero(labels == -1).tolist()
    [60]
    >>> round(float(det.weights_[60]), 6)    # an isolated point: weight close to 1
    1.0

    Novelty detection scores new points against the training data:

    >>> nov = mm.MagnitudeOutlierDetector(novelty=True).fit(X[:60])
    >>> nov.predict([[0.0, 0.0], [6.0, -6.0]]).tolist()
    [1, -1]
    """

    def __init__(
        self,
        t: float | str = "auto",
        *,
        metric: Metric = "euclidean",
        contamination: float = 0.1,
        novelty: bool = False,
    ):
        self.t = t
        self.metric = metric
        self.contamination = contamination
        self.novelty = novelty

    if _CONSTRAINTS:  # declarative, for scikit-learn's checks; fit validates with our messages
        _parameter_constraints = _CONSTRAINTS["outliers"]

    def _check_params(self) -> float | None:
        t = _check_scale_param(self.t)
        _check_metric(self.metric)
        c = self.contamination
        if isinstance(c, bool | np.bool_) or not isinstance(c, Real) or not 0 < c <= 0.5:
            raise InvalidInputError(
                f"contamination must be a number in (0, 0.5], got {c!r}: it is the expected "
                "proportion of outliers, which are a minority"
            )
        if not isinstance(self.novelty, bool | np.bool_):
            raise InvalidInputError(f"novelty must be True or False, got {self.novelty!r}")
        return t

    def fit(self, X, y=None):
        """Compute the training weights, the threshold, and (novelty) the kept factor.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), or (n_samples, n_samples)
            Training samples (at least 2 distinct), or distances with
            ``metric="precomputed"``.
        y : ignored

        Returns
        -------
        self
        """
        t = self._check_params()
        Xc, space = _space(X, self.metric)
        _set_feature_names(self, X, reset=True)
        t = _scale(space, t, _outlier_target)
        _, res = solve(space, t)
        w = res.weights[0]
        self.t_ = float(t)
        self.magnitude_ = float(res.magnitude[0])
        self.weights_ = space.expand_weights(w)
        self.offset_ = float(np.percentile(-self.weights_, 100.0 * self.contamination))
        self.n_features_in_ = int(Xc.shape[1])
        self._adjoiner = (
            _Adjoiner(Xc, space, self.t_, weights=w, repeats="own") if self.novelty else None
        )
        return self

    @_available_if(_novelty_only)
    def score_samples(self, X) -> np.ndarray:
        """Minus the weight each new point gets when adjoined alone to the training data.

        Higher is more normal (scikit-learn's convention).

        Parameters
        ----------
        X : array_like of shape (m, n_features), or (m, n_samples_fit) distances to the
            training samples with ``metric="precomputed"``

        Returns
        -------
        ndarray of shape (m,)
        """
        Xc = _new_samples(self, X)  # first: raises NotFittedError before fit
        return -self._adjoiner.adjoined_weights(Xc)

    @_available_if(_novelty_only)
    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : array_like, as in `score_samples`

        Returns
        -------
        ndarray of shape (m,)
        """
        return self.score_samples(X) - self.offset_

    @_available_if(_novelty_only)
    def predict(self, X) -> np.ndarray:
        """+1 for inliers, -1 for outliers (``decision_function(X) < 0``).

        Parameters
        ----------
        X : array_like, as in `score_samples`

        Returns
        -------
        ndarray of int, shape (m,)
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    @_available_if(_outlier_detection_only)
    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit, then label the training samples: +1 inlier, -1 outlier.

        The outliers are the samples whose score ``-weights_`` is below ``offset_``: the
        ``contamination`` fraction with the largest weights.

        Parameters
        ----------
        X : array_like, as in `fit`
        y : ignored

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        self.fit(X)
        return np.where(-self.weights_ < self.offset_, -1, 1)


# ------------------------------------------------------------------ boundary detection


def _boundary(X, t, metric):
    t = _check_scale_param(t)
    _check_metric(metric)
    Xc, space = _space(X, metric)
    t = _scale(space, t, _boundary_target)
    _, res = solve(space, t)
    w = res.weights[0]
    mag = float(res.magnitude[0])
    scores = (space.n_distinct / mag) * w[space.inverse]
    return Xc, t, mag, space.expand_weights(w), scores


def boundary_scores(X, t: float | str = "auto", *, metric: Metric = "euclidean") -> np.ndarray:
    """Boundary scores: each point's weight relative to the average weight.

    The score of a sample is ``k w / |tX|`` for the weight w of its point, k the number of
    distinct points: 1 is the average weight. Inside a uniformly sampled region the weights
    are roughly constant and below average; the boundary of the region carries a share of
    the magnitude of its own, which falls on the outermost samples, so their scores are
    several times the average (Bunch et al. 2021). Copies of a point share its score (not
    its weight: a repeated boundary point is still on the boundary).

    Parameters
    ----------
    X : array_like of shape (n, d), or (n, n) with ``metric="precomputed"``
    t : "auto" or float, default="auto"
        ``"auto"`` takes the scale where |tX| = sqrt(k), the geometric mean of its limits 1
        and k. For a region of diameter R sampled with spacing h in any dimension, that
        makes 1/t about sqrt(h R): coarse enough that the interior looks continuous (t h
        small, interior weights flat) and fine enough that the boundary layer, of width
        about 1/t, is thin against R.
    metric : str or callable, default="euclidean"

    Returns
    -------
    ndarray of shape (n,)

    See Also
    --------
    MagnitudeBoundaryDetector : the same scores, thresholded.

    References
    ----------
    .. [1] E. Bunch, J. Kline, D. Dickinson, S. Bhat, G. Fung, "Weighting vectors for
       machine learning: numerical harmonic analysis applied to boundary detection",
       arXiv:2106.00827 (2021).

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> g = np.linspace(0.0, 1.0, 11)
    >>> X = np.array([(x, y) for x in g for y in g])    # an 11 x 11 grid of the unit square
    >>> s = mm.boundary_scores(X)
    >>> edge = (X == 0).any(axis=1) | (X == 1).any(axis=1)
    >>> bool(s[edge].min() > s[~edge].max())             # every edge point above the inside
    True
    """
    return _boundary(X, t, metric)[4]


class MagnitudeBoundaryDetector(_MagnitudeEstimator, BaseEstimator):
    """Mark the samples on the boundary of a point cloud by their weights.

    A sample is on the boundary when its `boundary_scores` score, its weight
    relative to the average weight, exceeds ``threshold``.

    Parameters
    ----------
    t : "auto" or float, default="auto"
        As in `boundary_scores`: ``"auto"`` is the scale with |tX| = sqrt(k).
    metric : str or callable, default="euclidean"
    threshold : float > 0, default=2.0
        In units of the average weight. On uniform samples of a disk, square, annulus and
        ball (``benchmarks/bench_outliers.py``), 2 marks mostly points within one sample
        spacing of the boundary and most points within half a spacing of it; raise it for
        precision, lower it for recall. The average includes the boundary's own weight, so
        where the outermost samples are a large share of all (small samples, higher
        dimensions) their scores come closer to 1: on a 9 x 9 grid the edge points score
        1.6 to 2.6 and the interior at most 0.5, so 2 misses some edges and 1 finds them all.

    Attributes
    ----------
    scores_ : ndarray of shape (n_samples,)
        Boundary scores of the training samples.
    boundary_ : ndarray of bool, shape (n_samples,)
        ``scores_ > threshold``.
    weights_ : ndarray of shape (n_samples,)
        Weights at ``t_`` (copies of a point share its weight).
    t_ : float
    magnitude_ : float
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> r, a = np.sqrt(rng.uniform(size=400)), rng.uniform(0, 2 * np.pi, 400)
    >>> X = np.c_[r * np.cos(a), r * np.sin(a)]          # uniform on the unit disk
    >>> on_boundary = mm.MagnitudeBoundaryDetector().fit_predict(X)
    >>> bool(np.median(r[on_boundary]) > 0.95 > np.median(r[~on_boundary]))
    True
    """

    def __init__(
        self, t: float | str = "auto", *, metric: Metric = "euclidean", threshold: float = 2.0
    ):
        self.t = t
        self.metric = metric
        self.threshold = threshold

    if _CONSTRAINTS:
        _parameter_constraints = _CONSTRAINTS["boundary"]

    def fit(self, X, y=None):
        """Compute the weights and mark the boundary samples.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features), or (n_samples, n_samples)
            with ``metric="precomputed"``
        y : ignored

        Returns
        -------
        self
        """
        th = self.threshold
        if isinstance(th, bool | np.bool_) or not isinstance(th, Real) or not 0 < th < np.inf:
            raise InvalidInputError(
                f"threshold must be a finite number > 0 (in units of the average weight), "
                f"got {th!r}"
            )
        Xc, t, mag, w, scores = _boundary(X, self.t, self.metric)
        _set_feature_names(self, X, reset=True)
        self.t_ = float(t)
        self.magnitude_ = mag
        self.weights_ = w
        self.scores_ = scores
        self.boundary_ = scores > th
        self.n_features_in_ = int(Xc.shape[1])
        return self

    def fit_predict(self, X, y=None) -> np.ndarray:
        """Fit and return ``boundary_``, True for the boundary samples.

        Parameters
        ----------
        X : array_like, as in `fit`
        y : ignored

        Returns
        -------
        ndarray of bool, shape (n_samples,)
        """
        return self.fit(X).boundary_
