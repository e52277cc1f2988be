r"""Pool-based active learning with weighting vectors (Bunch et al. [1]_).

Which unlabelled points should be labelled next? The weight a pool point receives when it
is adjoined to the labelled points is small where the labelled points already speak for it
and close to 1 where they do not (the boundary-detection property of weightings). Adjoined
to all labelled points, the largest weight marks the pool point the labelled set represents
worst (``strategy="weight"``). Adjoined to each class, the weights give the magnitude
classifier's margin: the pool point whose two best classes are closest is the one it is least
sure about (``strategy="margin"``, the default, which measured best).

References
----------
.. [1] E. Bunch, D. Dickinson, J. Kline, G. Fung, "Practical applications of metric space
   magnitude and weighting vectors", arXiv:2006.14063 (2020).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from ._estimators import _Adjoiner
from ._validation import check_points, check_scales
from .classification import MagnitudeClassifier
from .exceptions import InvalidInputError
from .scales import convergence_scale
from .spaces import Metric, MetricSpace

__all__ = ["STRATEGIES", "query"]

STRATEGIES = ("margin", "weight", "class_weight")


def query(
    X_labeled,
    y_labeled,
    X_pool,
    n: int = 1,
    *,
    strategy: str = "margin",
    t="auto",
    metric: Metric = "euclidean",
) -> np.ndarray:
    r"""Indices of the ``n`` pool points to label next.

    Parameters
    ----------
    X_labeled : array_like of shape (n_labeled, n_features)
        The points labelled so far (at least one).
    y_labeled : array_like of shape (n_labeled,)
        Their labels. Only the per-class strategies use them.
    X_pool : array_like of shape (n_pool, n_features)
        The unlabelled candidates.
    n : int, default=1
        How many points to query, at most ``n_pool``.
    strategy : {"margin", "weight", "class_weight"}, default="margin"
        - ``"margin"``: per class, as `MagnitudeClassifier` does: the pool point
          whose two smallest class weights are closest, i.e. the magnitude classifier's own
          uncertainty (margin) sampling. A batch is the top ``n``. The default: best or
          tied for best in every measured setting (``docs/guide-classification.md``).
        - ``"weight"``: the pool point of largest weight when adjoined to all labelled
          points, regardless of their labels: the point the labelled set represents worst
          (the label-free rule of Bunch et al.). Batches are greedy: each chosen point joins
          the labelled set (a rank-one update of its Cholesky factor,
          `O(n_{labeled} n_{pool})`) before the next is chosen, so a batch spreads out
          instead of piling up in one unexplored region. A pool point that repeats a
          labelled (or already chosen) point is chosen only when nothing else is left.
          Good in low dimension; in high dimension it favours isolated points (outliers)
          and was worse than random sampling on the digits.
        - ``"class_weight"``: per class: the pool point whose smallest adjoined weight over
          the classes is largest, i.e. the point that no class claims. A batch is the top
          ``n``.
    t : "auto" or float, default="auto"
        The scale. ``"auto"``: the half-magnitude scale of all points, labelled and pool
        together (`|tX| = n/2`, `metric_magnitude.convergence_scale` with
        q = 0.5). The union does not change as points move from the pool to the labelled
        set, so in a loop compute it once and pass the number: it costs a few
        factorisations of the whole set.
    metric : str or callable, default="euclidean"
        As in `MagnitudeClassifier`.

    Returns
    -------
    ndarray of int, shape (n,)
        Row indices into ``X_pool``, in the order chosen.

    Raises
    ------
    InvalidInputError
        Malformed input, an unknown strategy, ``n`` out of range, or fewer than two
        classes for a per-class strategy.

    Examples
    --------
    Points on a line, 0 and 1 labelled. Adjoined alone, the pool points get weights
    0.24, 0.95, 0.92 and 0.94: the point at 4 is queried first. A batch of two then takes
    -2.5, not 3.8, which the chosen point at 4 already represents.

    >>> import numpy as np
    >>> from metric_magnitude.active_learning import query
    >>> X_lab, y_lab = np.array([[0.0], [1.0]]), np.array([0, 1])
    >>> pool = np.array([[0.5], [4.0], [-2.5], [3.8]])
    >>> query(X_lab, y_lab, pool, strategy="weight", t=1.0).tolist()
    [1]
    >>> query(X_lab, y_lab, pool, n=2, strategy="weight", t=1.0).tolist()
    [1, 2]

    The margin strategy asks about the point between the two labelled ones:

    >>> query(X_lab, y_lab, pool, t=1.0).tolist()
    [0]
    """
    if strategy not in STRATEGIES:
        raise InvalidInputError(
            f"unknown strategy {strategy!r}; choose one of {', '.join(map(repr, STRATEGIES))}"
        )
    XL = check_points(X_labeled, name="X_labeled")
    XP = check_points(X_pool, name="X_pool")
    if XL.shape[1] != XP.shape[1]:
        raise InvalidInputError(
            f"X_pool has {XP.shape[1]} features but X_labeled has {XL.shape[1]}; "
            "both must have the same columns"
        )
    yL = np.asarray(y_labeled)
    if yL.ndim != 1 or yL.shape[0] != XL.shape[0]:
        raise InvalidInputError(
            f"y_labeled must hold one label per row of X_labeled ({XL.shape[0]}), got shape "
            f"{yL.shape}"
        )
    if isinstance(n, bool) or not isinstance(n, Integral) or not 1 <= n <= XP.shape[0]:
        raise InvalidInputError(
            f"n must be an integer from 1 to the pool size {XP.shape[0]}, got {n!r}"
        )
    n = int(n)
    if isinstance(t, str):
        if t != "auto":
            raise InvalidInputError(f"t must be 'auto' or a number > 0, got {t!r}")
        t = convergence_scale(np.vstack([XL, XP]), q=0.5, metric=metric, rtol=1e-6)
        if t == 0.0:  # at most two distinct points in all
            t = 1.0
    else:
        scales, scalar = check_scales(t)
        if not scalar:
            raise InvalidInputError(f"t must be 'auto' or one number > 0, got {t!r}")
        t = float(scales[0])

    if strategy == "weight":
        return _greedy_weight(XL, XP, n, t, metric)
    clf = MagnitudeClassifier(t=t, metric=metric).fit(XL, yL)
    W = clf.adjoined_weights(XP)
    if strategy == "class_weight":
        score = W.min(axis=1)
    else:  # margin: small gap between the best two classes = uncertain
        two = np.partition(W, 1, axis=1)[:, :2]
        score = -(two[:, 1] - two[:, 0])
    # stable: ties go to the lower index
    return np.argsort(-score, kind="stable")[:n]


def _labelled(X: np.ndarray, t: float, metric, stacklevel: int) -> _Adjoiner:
    space = MetricSpace(X, metric=metric)
    return _Adjoiner(
        X, space, t, repeats="exclude", label="the labelled points", stacklevel=stacklevel + 1
    )


def _greedy_weight(XL: np.ndarray, XP: np.ndarray, n: int, t: float, metric) -> np.ndarray:
    """Largest adjoined weight, n times, each choice joining the labelled set."""
    adj = _labelled(XL, t, metric, stacklevel=3)
    if adj.chol is None:  # not positive definite: refactor per choice (rare, small)
        return _greedy_weight_refactor(XL, XP, n, t, metric)
    pool = adj.pool(XP)  # a rank-one bordering of the Cholesky factor per choice
    chosen: list[int] = []
    for k in range(n):
        score = pool.weights()  # -inf for repeats of labelled or chosen points
        j = int(np.argmax(score))
        if score[j] == -np.inf:  # only repeats are left
            j = _first_free(chosen, XP.shape[0])
        elif k < n - 1 and not pool.join(j):  # Z(t) would not be positive definite
            return _greedy_weight_refactor(XL, XP, n, t, metric)
        chosen.append(j)
    return np.array(chosen, dtype=np.intp)


def _first_free(chosen: list[int], m: int) -> int:
    taken = set(chosen)
    return next(i for i in range(m) if i not in taken)


def _greedy_weight_refactor(XL, XP, n, t, metric) -> np.ndarray:
    chosen: list[int] = []
    for _ in range(n):
        adj = _labelled(np.vstack([XL, XP[chosen]]), t, metric, stacklevel=4)
        score = adj.adjoined_weights(XP)  # -inf for repeats of labelled or chosen points
        score[chosen] = -np.inf
        j = int(np.argmax(score)) if np.isfinite(score).any() else _first_free(chosen, len(XP))
        chosen.append(j)
    return np.array(chosen, dtype=np.intp)
