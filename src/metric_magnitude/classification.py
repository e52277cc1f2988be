r"""Classification by the weight a point receives when it is adjoined to each class.

Bunch, Dickinson, Kline and Fung [1]_ observed that the weighting of a Euclidean point cloud is
large on its boundary and small inside it. Adjoin a new point x to the training points
`X_c` of class c: its weight in `X_c \cup \{x\}` is small when x lies well inside
the class and grows towards 1 as x moves away from it. `MagnitudeClassifier` predicts
the class in which x receives the smallest weight.

Adjoining a point is a rank-one bordering of the class's similarity matrix. With
`Z = L L^T` (Cholesky, kept from ``fit``), `w = Z^{-1} \mathbf 1` the class's
weighting and `z = (e^{-t\, d(x, x_i)})_i`, block elimination of

.. math::

    \begin{pmatrix} Z & z \\ z^T & 1 \end{pmatrix}
    \begin{pmatrix} v \\ w_x \end{pmatrix} = \mathbf 1
    \quad\text{gives}\quad
    w_x = \frac{1 - z^T w}{1 - z^T Z^{-1} z}
        = \frac{1 - v^T u}{1 - v^T v},\quad v = L^{-1} z,\ u = L^{-1} \mathbf 1,

one triangular solve, `O(n_c^2)` per point and class, and no refactorisation. The
denominator is the Schur complement of Z in the bordered matrix: positive for positive
definite spaces, and zero exactly when x repeats a training point. Numerator and denominator
both vanish as x nears a training point, so there they are evaluated around that point, and
keep their digits however close x comes.

References
----------
.. [1] E. Bunch, D. Dickinson, J. Kline, G. Fung, "Practical applications of metric space
   magnitude and weighting vectors", arXiv:2006.14063 (2020).
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np

from ._estimators import (
    _HAVE_SKLEARN,
    BaseEstimator,
    ClassifierMixin,
    NotFittedError,
    _Adjoiner,
    _check_metric,
    _check_samples,
    _new_samples,
    _set_feature_names,
)
from ._validation import check_scales
from .exceptions import InvalidInputError
from .scales import convergence_scale
from .spaces import Metric, MetricSpace

__all__ = ["MagnitudeClassifier", "NotFittedError"]

# q of the automatic scale rule: |t X_c| = q n_c.
_AUTO_Q = 0.5


# ------------------------------------------------------------------ the estimator


def _auto_scales(spaces: list[MetricSpace]) -> np.ndarray:
    """Each class's half-magnitude scale (|t X_c| = n_c / 2), NaN where undefined."""
    out = np.full(len(spaces), np.nan)
    for k, space in enumerate(spaces):
        if space.n_distinct > 2:  # at most two distinct points: |tX| = n/2 at t = 0 only
            out[k] = convergence_scale(space, q=_AUTO_Q, rtol=1e-6)
    return out


def _fallback_scale(X: np.ndarray, metric: Metric) -> float:
    """1 / median nonzero distance: only for classes of at most two distinct points each."""
    D = MetricSpace(X, metric=metric).distances
    d = D[np.triu_indices(D.shape[0], 1)]
    return 1.0 / float(np.median(d)) if d.size else 1.0


class MagnitudeClassifier(ClassifierMixin, BaseEstimator):
    r"""Classifier by the weight of a point adjoined to each class (Bunch et al. [1]_).

    ``fit`` factors the similarity matrix `Z_c = e^{-t_c D_c}` of each class's
    training points once (Cholesky). A query x is adjoined to each class in turn; its weight
    `w_c(x)` in `X_c \cup \{x\}` costs one triangular solve, `O(n_c^2)`
    (module docstring). Small weight means x is well inside class c; far from the class the
    weight tends to 1. The prediction is the class with the smallest score.

    Parameters
    ----------
    t : "auto", "per_class", float, array_like of shape (n_classes,) or dict, default="auto"
        The scale of each class.

        - ``"auto"``: every class's *half-magnitude scale* `t_c`, where
          `|t_c X_c| = n_c / 2` (`metric_magnitude.convergence_scale` with
          q = 0.5; `n_c` distinct points), is found, and all classes use the median
          of these. One shared scale keeps the weights of different classes comparable;
          the median of per-class scales makes the rule invariant to rescaling the data
          and cheap (factorisations of the classes only, never of the whole training set).
        - ``"per_class"``: class c uses its own `t_c` (the per-class scales of the
          paper's reference code). Measured worse than ``"auto"`` when the classes differ in
          spread (``docs/guide-classification.md``).
        - a float: one scale for all classes (the reference code uses t = 1 on
          standardised features).
        - an array of one scale per class, in the order of ``classes_`` (sorted labels), or a
          dict ``{label: scale}`` naming every class.

        A class with at most two distinct points has no half-magnitude scale (|tX| = n/2
        holds only at t = 0): under ``"auto"`` it is left out of the median, under
        ``"per_class"`` it takes the median of the others; if every class is that small,
        t = 1 / (median distance between training points).
    metric : str or callable, default="euclidean"
        A `scipy.spatial.distance.cdist` metric name or a callable. Metrics of negative
        type (Euclidean, cityblock, Hamming) give positive definite Z at every scale; other
        metrics may not (LDL^T solves and a `NotPositiveDefiniteWarning`).
    weight_score : {"absolute", "ecdf"}, default="absolute"
        How the adjoined weight `w_c(x)` becomes a per-class score (smaller is better).

        - ``"absolute"``: the weight itself (signed: a negative weight, which deep interior
          points can receive, is the strongest evidence of membership; the reference code
          takes its absolute value instead).
        - ``"ecdf"``: the fraction of class c's training weights that are smaller than
          `w_c(x)`, as in the paper. The weight of a training point is also its
          leave-one-out weight (adjoining `x_i` to `X_c \setminus \{x_i\}` gives
          back `X_c`), so this compares x with the class's own points seen as
          queries. Ties between classes (a query beyond the range of several classes gets
          the fraction 1 in each) are broken by the weight.
    temperature : float, default=0.1
        Softness of `predict_proba`: probabilities are
        `\operatorname{softmax}(-s_c(x) / \mathrm{temperature})` over the classes'
        scores `s_c(x)`. They order the classes as ``predict`` does but are **not
        calibrated**; wrap the classifier in
        `sklearn.calibration.CalibratedClassifierCV` if probabilities must mean
        frequencies.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    n_features_in_ : int
        Number of features seen in ``fit``.
    scales_ : ndarray of shape (n_classes,)
        The scale `t_c` used for each class.
    magnitudes_ : ndarray of shape (n_classes,)
        `|t_c X_c|`, the effective number of distinct points of each class.
    training_weights_ : list of ndarray
        For each class, the weight of each of its training points in input order (copies of
        a point share its weight); the reference distribution of ``weight_score="ecdf"``.

    Notes
    -----
    Without scikit-learn the class derives from a small local stand-in providing
    ``get_params``, ``set_params``, ``score`` (accuracy) and ``repr``; everything else works
    the same. With scikit-learn it is a ``BaseEstimator`` and ``ClassifierMixin``, passes
    `sklearn.utils.estimator_checks.check_estimator` and fits in pipelines, grid
    searches and ``clone``.

    Cost: ``fit`` is `O(\sum_c n_c^3)` (a few factorisations per class for ``"auto"``),
    memory `O(\sum_c n_c^2)`; prediction `O(\sum_c n_c^2)` per query. Like every
    distance-based method it needs features on comparable scales: standardise first.

    References
    ----------
    .. [1] E. Bunch, D. Dickinson, J. Kline, G. Fung, "Practical applications of metric
       space magnitude and weighting vectors", arXiv:2006.14063 (2020).

    Examples
    --------
    Class "a" is three points near the origin, class "b" three near (5, 5):

    >>> import numpy as np
    >>> from metric_magnitude.classification import MagnitudeClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [5.0, 5.0], [5.0, 6.0], [6.0, 5.0]])
    >>> y = np.array(["a", "a", "a", "b", "b", "b"])
    >>> clf = MagnitudeClassifier(t=1.0).fit(X, y)
    >>> clf.predict([[0.5, 0.5], [5.2, 5.1]]).tolist()
    ['a', 'b']
    >>> clf.adjoined_weights([[0.5, 0.5]]).round(3)   # small in "a", near 1 in "b"
    array([[0.183, 0.998]])
    """

    def __init__(
        self,
        t="auto",
        *,
        metric: Metric = "euclidean",
        weight_score: str = "absolute",
        temperature: float = 0.1,
    ):
        self.t = t
        self.metric = metric
        self.weight_score = weight_score
        self.temperature = temperature

    # -------------------------------------------------------------- validation

    def _check_params(self) -> None:
        if self.weight_score not in ("absolute", "ecdf"):
            raise InvalidInputError(
                f"weight_score must be 'absolute' or 'ecdf', got {self.weight_score!r}"
            )
        _check_metric(self.metric)
        if isinstance(self.metric, str) and self.metric == "precomputed":
            raise InvalidInputError(
                "metric='precomputed' is not supported by MagnitudeClassifier; pass "
                "feature vectors with a metric name or a callable"
            )
        temp = self.temperature
        if isinstance(temp, bool) or not isinstance(temp, Real) or not 0 < temp < np.inf:
            raise InvalidInputError(
                f"temperature must be a finite number > 0, got {temp!r}"
            )

    def _validate_X(self, X) -> np.ndarray:
        """Validated training samples; records ``n_features_in_`` (and feature names)."""
        Xc = _check_samples(X)
        _set_feature_names(self, X, reset=True)
        self.n_features_in_ = int(Xc.shape[1])
        return Xc

    def _validate_y(self, y) -> np.ndarray:
        if _HAVE_SKLEARN:
            from sklearn.utils.multiclass import check_classification_targets
            from sklearn.utils.validation import column_or_1d

            try:
                y = column_or_1d(y, warn=True)
                check_classification_targets(y)
            except ValueError as exc:
                raise InvalidInputError(str(exc)) from exc
            return y
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn(
                "A column-vector y was passed when a 1d array was expected; using y.ravel()",
                UserWarning,
                stacklevel=3,
            )
            y = y.ravel()
        if y.ndim != 1:
            raise InvalidInputError(
                f"y must be 1-D (one label per row of X), got shape {y.shape}"
            )
        if y.dtype.kind == "f" and not (np.isfinite(y).all() and (y == np.round(y)).all()):
            raise InvalidInputError(
                "Unknown label type: y holds non-integer or non-finite floats (continuous "
                "targets); a classifier needs discrete labels"
            )
        return y

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "classes_")

    def _class_scales(self, spaces: list[MetricSpace], X: np.ndarray) -> np.ndarray:
        k = len(self.classes_)
        t = self.t
        if isinstance(t, str):
            if t not in ("auto", "per_class"):
                raise InvalidInputError(
                    f"t must be 'auto', 'per_class', a number > 0, one number per class or "
                    f"a dict {{label: t}}, got {t!r}"
                )
            ts = _auto_scales(spaces)
            ok = np.isfinite(ts)
            fill = float(np.median(ts[ok])) if ok.any() else _fallback_scale(X, self.metric)
            return np.full(k, fill) if t == "auto" else np.where(ok, ts, fill)
        if isinstance(t, dict):
            missing = [c for c in self.classes_.tolist() if c not in t]
            if missing:
                raise InvalidInputError(
                    f"t has no scale for class(es) {missing!r}; give one for every class"
                )
            t = [t[c] for c in self.classes_.tolist()]
        scales, scalar = check_scales(t)
        if scalar:
            return np.full(k, scales[0])
        if scales.shape[0] != k:
            raise InvalidInputError(
                f"t has {scales.shape[0]} scales but there are {k} classes; give one per "
                "class in the order of classes_ (sorted labels), or a dict {label: t}"
            )
        return scales

    # -------------------------------------------------------------- fit / predict

    def fit(self, X, y):
        """Factor each class's similarity matrix at its scale.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Class labels (numbers or strings); at least two classes.

        Returns
        -------
        self
        """
        self._check_params()
        n_x, n_y = _n_rows(X), _n_rows(y)
        if n_x is not None and n_y is not None and n_x != n_y:
            raise InvalidInputError(
                f"y has {n_y} labels but X has {n_x} rows; give one label per row of X"
            )
        X = self._validate_X(X)
        y = self._validate_y(y)
        classes, y_idx = np.unique(y, return_inverse=True)
        if classes.shape[0] < 2:
            raise InvalidInputError(
                f"y has only one class ({classes[0]!r}) in {X.shape[0]} sample(s); a "
                "classifier needs at least two classes: add samples of another class"
            )
        self.classes_ = classes
        spaces = [MetricSpace(X[y_idx == k], metric=self.metric) for k in range(len(classes))]
        self.scales_ = self._class_scales(spaces, X)
        self._adjoiners = [
            _Adjoiner(
                X[y_idx == k], sp, float(s), repeats="share", label=f"class {c!r}", stacklevel=3
            )
            for k, (c, s, sp) in enumerate(
                zip(classes.tolist(), self.scales_, spaces, strict=True)
            )
        ]
        self.magnitudes_ = np.array([a.magnitude for a in self._adjoiners])
        self.training_weights_ = [
            sp.expand_weights(a.w) for sp, a in zip(spaces, self._adjoiners, strict=True)
        ]
        self._sorted_weights = [np.sort(w) for w in self.training_weights_]
        return self

    def adjoined_weights(self, X) -> np.ndarray:
        """The weight of each row of X adjoined alone to each class's training points.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Column c: the weight of x in `X_c \\cup \\{x\\}` at scale ``scales_[c]``.
            A row that repeats a training point of class c (multiplicity m) gets
            `w_i / (m + 1)`: it shares that point's weight with the copies.
        """
        X = _new_samples(self, X)
        return np.column_stack([a.adjoined_weights(X) for a in self._adjoiners])

    def _scores(self, X) -> np.ndarray:
        W = self.adjoined_weights(X)
        if self.weight_score == "absolute":
            return W
        S = np.empty_like(W)
        n_max = max(s.shape[0] for s in self._sorted_weights)
        for c, ref in enumerate(self._sorted_weights):
            S[:, c] = np.searchsorted(ref, W[:, c], side="left") / ref.shape[0]
        # ECDF values of different classes differ by >= 1 / n_max^2 unless equal, so a
        # monotone term below that breaks ties by the weight and changes no strict order
        return S + (0.5 + np.arctan(W) / np.pi) * (0.5 / n_max**2)

    def decision_function(self, X) -> np.ndarray:
        """Confidence of each class: minus its score (larger is more confident).

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            For two classes, as in scikit-learn, one column: ``score_0 - score_1``,
            positive where ``classes_[1]`` is predicted.
        """
        S = self._scores(X)
        if S.shape[1] == 2:
            return S[:, 0] - S[:, 1]
        return -S

    def predict(self, X) -> np.ndarray:
        """The class in which each row of X receives the smallest score."""
        S = self._scores(X)
        return self.classes_[np.argmin(S, axis=1)]

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of `predict_proba`, computed stably."""
        A = -self._scores(X) / self.temperature
        A -= A.max(axis=1, keepdims=True)
        return A - np.log(np.exp(A).sum(axis=1, keepdims=True))

    def predict_proba(self, X) -> np.ndarray:
        r"""Softmax of the negated scores over ``temperature``; **not calibrated**.

        `p_c(x) = e^{-s_c(x)/T} / \sum_k e^{-s_k(x)/T}`: the class order is that of
        `predict`, but the values are not frequencies (see ``temperature``).

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return np.exp(self.predict_log_proba(X))


def _n_rows(a) -> int | None:
    shape = getattr(a, "shape", None)
    if shape is not None:
        return int(shape[0]) if len(shape) else None
    try:
        return len(a)
    except TypeError:
        return None
