"""MetricSpace: a finite (pseudo)metric space with lazily computed distances.

Every input the library accepts (points with a metric, a precomputed distance matrix, a
networkx graph) becomes a `MetricSpace`. Points at distance zero from each other are
merged: the solvers work on the distinct points and each copy receives an equal share of its
point's weight, which is the weighting of the input read as a pseudometric space.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Real

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, shortest_path
from scipy.spatial.distance import cdist

from ._validation import (
    check_dense_memory,
    check_distance_matrix,
    check_points,
)
from .exceptions import InvalidInputError

__all__ = ["MetricSpace", "distance_matrix"]

Metric = str | Callable[[np.ndarray, np.ndarray], float]

# Metrics of negative type: every finite subset is positive definite at every scale
# (Meckes 2013), so a failing Cholesky factorisation can only mean ill-conditioning.
_NEGATIVE_TYPE_METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "cityblock": "cityblock",
    "manhattan": "cityblock",
    "l1": "cityblock",
    "hamming": "hamming",
}

# Dense (n, n) float64 arrays the dense path holds at once: D, Z (or its factor, or 1 - Z)
# and D o Z for the derivative, plus headroom for temporaries.
DENSE_MATRICES = 3.5


def _is_graph(X) -> bool:
    # look through the MRO so that user subclasses of nx.Graph count as graphs too
    return hasattr(X, "edges") and any(
        (getattr(c, "__module__", None) or "").startswith("networkx") for c in type(X).__mro__
    )


def _merge_zero_distances(D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group points at distance 0 (an equivalence relation in a pseudometric).

    Returns (index of each group's first member, group label of every point).
    """
    zero = D == 0.0
    np.fill_diagonal(zero, False)
    if not zero.any():
        idx = np.arange(D.shape[0])
        return idx, idx
    _, labels = connected_components(coo_matrix(zero), directed=False)
    return _groups_in_order(labels)


def _groups_in_order(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group labels -> (first member of each group, labels renumbered by first appearance).

    Renumbering keeps the output order that of the input, whatever order the grouping
    algorithm (np.unique, connected components) gave the groups.
    """
    n = labels.shape[0]
    first = np.full(labels.max() + 1, n)
    np.minimum.at(first, labels, np.arange(n))
    order = np.argsort(first)
    relabel = np.empty_like(order)
    relabel[order] = np.arange(order.size)
    return first[order], relabel[labels]


def _unique_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows in order of first appearance, and the index of each row's group."""
    _, inverse = np.unique(X, axis=0, return_inverse=True)
    return _groups_in_order(inverse.reshape(-1))


def _edge_length(u, v, w, *, name: str = "weight", allow_inf: bool = False) -> float:
    """An edge's length as a float, or an error naming the edge.

    Lengths must be numbers >= 0 (with negative lengths shortest paths are not distances: e^(-t
    d) could exceed 1, and a negative cycle has no shortest path at all), and finite unless
    ``allow_inf`` (an infinitely long edge is no edge).
    """
    if isinstance(w, bool | str | bytes) or not isinstance(w, Real | np.integer | np.floating):
        raise InvalidInputError(
            f"edge ({u!r}, {v!r}) has a non-numeric {name} {w!r}; edge lengths must be numbers"
        )
    w = float(w)
    if np.isnan(w) or (np.isinf(w) and not allow_inf):
        raise InvalidInputError(
            f"edge ({u!r}, {v!r}) has {name} {w!r}; edge lengths must be finite numbers"
        )
    if w < 0:
        raise InvalidInputError(
            f"edge ({u!r}, {v!r}) has negative {name} {w!r}; edge lengths must be >= 0 "
            "(shortest-path distances are undefined otherwise)"
        )
    return w


def _graph_distances(G) -> tuple[list, np.ndarray, np.ndarray]:
    """Shortest-path distances of a networkx graph, zero-weight edges contracted.

    Returns (nodes, distances between the contracted nodes, contracted label of each node).
    """
    if G.is_directed():
        raise InvalidInputError(
            "directed graphs give asymmetric distances, which magnitude() does not accept; "
            "convert with G.to_undirected(), or use mm.asymmetric.magnitude(G, t)"
        )
    nodes = list(G.nodes)
    n = len(nodes)
    if n == 0:
        raise InvalidInputError("the graph has no nodes: a metric space needs at least one point")
    index = {v: i for i, v in enumerate(nodes)}
    rows, cols, vals = [], [], []
    for u, v, data in G.edges(data=True):
        w = _edge_length(u, v, data.get("weight", 1.0))
        if u != v:
            rows.append(index[u])
            cols.append(index[v])
            vals.append(w)
    rows, cols, vals = np.array(rows, int), np.array(cols, int), np.array(vals, float)
    # contract zero-weight edges first: scipy's csgraph reads explicit zeros as missing edges
    zero = vals == 0.0
    _, labels = connected_components(
        coo_matrix((np.ones(zero.sum()), (rows[zero], cols[zero])), shape=(n, n)),
        directed=False,
    )
    k = labels.max() + 1
    r, c, w = labels[rows[~zero]], labels[cols[~zero]], vals[~zero]
    keep = r != c
    r, c, w = r[keep], c[keep], w[keep]
    # the lightest of parallel edges (multigraphs) is the one that counts
    best: dict[tuple[int, int], float] = {}
    for a, b, x in zip(np.minimum(r, c), np.maximum(r, c), w, strict=True):
        key = (int(a), int(b))
        if x < best.get(key, np.inf):
            best[key] = x
    if best:
        ij = np.array(list(best.keys()))
        adj = coo_matrix((list(best.values()), (ij[:, 0], ij[:, 1])), shape=(k, k)).tocsr()
    else:
        adj = coo_matrix((k, k)).tocsr()
    check_dense_memory(k, DENSE_MATRICES)
    D = shortest_path(adj, method="D", directed=False)
    first, relabelled = _groups_in_order(labels)
    order = labels[first]  # each contracted node's index in D, in order of first appearance
    return nodes, D[np.ix_(order, order)], relabelled


class MetricSpace:
    """A finite metric space, read as a pseudometric space (duplicates merged).

    Parameters
    ----------
    X : array_like of shape (n, d), array_like of shape (n, n), or networkx.Graph
        Points, a distance matrix (with ``metric="precomputed"``) or an undirected graph
        (shortest-path metric; the edge attribute ``weight`` where present, else 1).
    metric : str or callable, default="euclidean"
        Any metric name that `scipy.spatial.distance.cdist` accepts, a callable
        ``f(u, v) -> float``, or ``"precomputed"``. Ignored for graphs.

    Attributes
    ----------
    n_points : int
        Number of input points (copies included).
    n_distinct : int
        Number of distinct points (points at distance 0 merged).
    inverse : ndarray of shape (n_points,)
        Index of each input point's distinct representative.
    multiplicity : ndarray of shape (n_distinct,)
        How many input points each distinct point stands for.
    known_positive_definite : bool
        True when the metric is of negative type (Euclidean, l1, Hamming), so Z(t) is
        positive definite at every t > 0.

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> space = mm.MetricSpace([[0.0], [1.0], [1.0]])
    >>> space.n_points, space.n_distinct, space.multiplicity.tolist()
    (3, 2, [1, 2])
    >>> round(mm.magnitude(space, 1.0), 6)   # two distinct points: 2 / (1 + e^-1)
    1.462117
    """

    def __init__(self, X, *, metric: Metric = "euclidean"):
        self.metric = metric
        self._points: np.ndarray | None = None
        self._distances: np.ndarray | None = None
        self.nodes: list | None = None
        self.has_infinite_distances = False
        if isinstance(X, MetricSpace):
            raise InvalidInputError("X is already a MetricSpace; pass it on as it is")
        if _is_graph(X):
            self.nodes, D, self._inverse = _graph_distances(X)
            self._distances = D
            self.has_infinite_distances = bool(np.isinf(D).any())
            self.known_positive_definite = False
        elif isinstance(metric, str) and metric == "precomputed":
            shape = getattr(X, "shape", ())  # arrays only: lists may be ragged
            if len(shape) == 2 and shape[0] == shape[1]:
                # before validation, whose temporaries peak like the solver's matrices
                check_dense_memory(shape[0], DENSE_MATRICES)
            D = check_distance_matrix(X, name="X (a precomputed distance matrix)")
            self._set_distances(D)
            self.known_positive_definite = False
        else:
            if not (callable(metric) or isinstance(metric, str)):
                raise InvalidInputError(
                    f"metric must be a string or a callable, got {type(metric).__name__}"
                )
            P = check_points(X)
            first, self._inverse = _unique_rows(P)
            self._points = P[first]
            self.known_positive_definite = (
                isinstance(metric, str) and metric.lower() in _NEGATIVE_TYPE_METRICS
            )
        self.n_points = int(self._inverse.shape[0])

    def _set_distances(self, D: np.ndarray, inverse: np.ndarray | None = None) -> None:
        first, labels = _merge_zero_distances(D)
        self._distances = D[np.ix_(first, first)] if first.size < D.shape[0] else D
        self._inverse = labels if inverse is None else labels[inverse]

    def _settle_rows(self) -> None:
        """Compute the distances, which may merge rows at distance 0 under the metric;
        except for points whose dense matrices would not fit in memory, which the large-n
        solvers take as they are (exact copies merged, never an n x n matrix)."""
        from .core import _dense_does_not_fit  # the planner's own test, one definition

        if self._distances is None and not _dense_does_not_fit(self):
            _ = self.distances

    @property
    def inverse(self) -> np.ndarray:
        """Index of each input point's distinct representative, shape (n_points,)."""
        self._settle_rows()
        return self._inverse

    @property
    def n_distinct(self) -> int:
        self._settle_rows()
        return int((self._points if self._distances is None else self._distances).shape[0])

    @property
    def multiplicity(self) -> np.ndarray:
        self._settle_rows()
        return np.bincount(self._inverse, minlength=self.n_distinct)

    @property
    def distances(self) -> np.ndarray:
        """Distances between the distinct points, shape (n_distinct, n_distinct)."""
        if self._distances is None:
            P = self._points
            check_dense_memory(P.shape[0], DENSE_MATRICES)
            D = _pairwise(P, self.metric)
            # distinct rows may still be at distance 0 under the metric (cosine, callables)
            first, labels = _merge_zero_distances(D)
            if first.size < D.shape[0]:
                D = D[np.ix_(first, first)]
                self._points = P[first]
                self._inverse = labels[self._inverse]
            self._distances = D
        return self._distances

    def expand_weights(self, w: np.ndarray) -> np.ndarray:
        """Weights of the distinct points -> weights of the input points (equal shares)."""
        share = w / self.multiplicity
        return share[..., self.inverse]

    def full_distance_matrix(self) -> np.ndarray:
        """Distances between all input points, copies included, shape (n_points, n_points)."""
        D = self.distances
        return D[np.ix_(self.inverse, self.inverse)]

    def __repr__(self) -> str:
        m = self.metric
        if not isinstance(m, str):
            m = getattr(m, "__name__", "callable")
        kind = "graph" if self.nodes is not None else f"metric={m!r}"
        return f"MetricSpace(n_points={self.n_points}, n_distinct={self.n_distinct}, {kind})"


def _pairwise(P: np.ndarray, metric: Metric) -> np.ndarray:
    """Distances between the rows of P; values at the metric's round-off level become 0.

    Distinct rows can be at distance 0 under the metric (parallel rows under cosine), but
    the computed value is then round-off (1 - cos = 2.2e-16), not 0. The round-off level is
    read off the computed self-distances d(x, x), which should be 0, and eps * diameter:
    distances within a few times that level are set to 0, so the points are merged.
    """
    try:
        D = cdist(P, P, metric=metric)
    except ValueError as exc:
        if "Unknown" in str(exc) or "metric" in str(exc).lower():
            raise InvalidInputError(
                f"unknown metric {metric!r}: use a name that scipy.spatial.distance.cdist "
                "accepts (e.g. 'euclidean', 'cityblock', 'cosine'), a callable, or "
                "'precomputed' for a distance matrix"
            ) from exc
        raise InvalidInputError(f"computing {metric!r} distances failed: {exc}") from exc
    if np.isnan(D).any():
        i = int(np.argmax(np.isnan(D).sum(axis=1)))  # the point whose row is most NaN
        label = metric if isinstance(metric, str) else getattr(metric, "__name__", "callable")
        raise InvalidInputError(
            f"metric {label!r} is undefined for point {i} (it gave NaN distances; the cosine "
            "and correlation distances of a zero or constant vector, for example): remove "
            "such points or choose another metric"
        )
    self_dist = np.abs(np.diagonal(D))
    noise = float(self_dist.max()) if np.isfinite(self_dist).all() else 0.0
    if callable(metric) or not np.isfinite(D).all() or (D < 0).any():
        label = metric if isinstance(metric, str) else getattr(metric, "__name__", "callable")
        D = check_distance_matrix(D, name=f"the distances from metric {label!r}")
    else:
        np.fill_diagonal(D, 0.0)
    tol = 4.0 * max(noise, np.finfo(np.float64).eps * float(D.max()))
    D[D <= tol] = 0.0
    return D


def as_space(X, metric: Metric = "euclidean") -> MetricSpace:
    """X as a MetricSpace (returned unchanged if it already is one)."""
    if isinstance(X, MetricSpace):
        if metric != "euclidean" and metric != X.metric:
            raise InvalidInputError(
                f"X is a MetricSpace built with metric={X.metric!r}, so metric={metric!r} "
                "cannot apply; build MetricSpace(points, metric=...) with the metric you want"
            )
        return X
    return MetricSpace(X, metric=metric)


def distance_matrix(X, *, metric: Metric = "euclidean") -> np.ndarray:
    """Distance matrix of the input points, copies included.

    Parameters
    ----------
    X : array_like of shape (n, d), networkx.Graph or MetricSpace
        Points, or a distance matrix of shape (n, n) with ``metric="precomputed"``.
    metric : str or callable, default="euclidean"

    Returns
    -------
    D : ndarray of shape (n, n)
        For a graph, rows follow ``list(G.nodes)``; unreachable pairs are ``inf``.

    Examples
    --------
    >>> import metric_magnitude as mm
    >>> mm.distance_matrix([[0, 0], [3, 4]])
    array([[0., 5.],
           [5., 0.]])
    >>> mm.distance_matrix([[0, 0], [3, 4]], metric="cityblock")[0, 1]
    np.float64(7.0)
    """
    return as_space(X, metric).full_distance_matrix()
