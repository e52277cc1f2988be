"""Magnitude of graphs: the shortest-path metric of an undirected networkx graph.

A thin graph-facing layer over the library's one solver: every function here checks the
graph once, with messages that name the offending edge, then calls
`metric_magnitude.magnitude`, `metric_magnitude.weights` or
`metric_magnitude.magnitude_function`, which read the graph through
`metric_magnitude.MetricSpace`: zero-weight edges contracted, parallel edges of
multigraphs reduced to the lightest, unreachable pairs at infinite distance (so that a
disconnected graph's magnitude is the sum over its components).

Graphs are not of negative type in general: Z(t) can be indefinite (a
`metric_magnitude.NotPositiveDefiniteWarning`, the magnitude may be negative) or
singular (a `metric_magnitude.SingularSimilarityError` naming the scale) at some
scales. K_{3,2} is the standard example: singular at t = log sqrt 2, negative just below.

networkx is the optional ``graphs`` extra: ``pip install 'metric-magnitude[graphs]'``.

References
----------
.. [1] T. Leinster, "The magnitude of a graph", Math. Proc. Cambridge Philos. Soc. 166 (2019).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from ._optional import import_optional
from ._validation import check_scales
from .core import magnitude as _magnitude
from .core import weights as _weights
from .exceptions import InvalidInputError
from .function import MagnitudeFunction
from .function import magnitude_function as _magnitude_function
from .spaces import _edge_length

__all__ = [
    "default_scale",
    "magnitude",
    "magnitude_function",
    "magnitude_series",
    "node_scores",
    "weights",
]

# node_scores' default scale: the largest off-diagonal row sum of Z(t) equals this
_ROW_SUM = 0.5
_MAX_SERIES_TERMS = 200


def _check_graph(G, weight: str | None = "weight"):
    """Validate G and return the graph the solver should read (edge lengths in ``weight``).

    Refuses non-networkx input, directed graphs, empty graphs and edge lengths that are
    not finite non-negative numbers, naming the first offending edge.
    """
    nx = import_optional("networkx")
    if not isinstance(G, nx.Graph):
        raise InvalidInputError(
            f"G must be a networkx graph (nx.Graph or nx.MultiGraph), got {type(G).__name__}; "
            "for points or a distance matrix use metric_magnitude.magnitude instead"
        )
    if G.is_directed():
        raise InvalidInputError(
            "G is directed; metric_magnitude.graphs handles undirected graphs only (magnitude "
            "with asymmetric distances is a separate feature): use G.to_undirected() if the "
            "edge directions do not matter"
        )
    if G.number_of_nodes() == 0:
        raise InvalidInputError("G has no nodes: a metric space needs at least one point")
    if weight is not None and not isinstance(weight, str):
        raise InvalidInputError(
            f"weight must be the name of an edge attribute (a string) or None, got {weight!r}"
        )
    for u, v, data in G.edges(data=True):
        _edge_length(u, v, 1.0 if weight is None else data.get(weight, 1.0), name=repr(weight))
    if weight == "weight":
        return G
    # the solver reads the attribute "weight": relabel into a light copy with the same nodes
    H = nx.MultiGraph() if G.is_multigraph() else nx.Graph()
    H.add_nodes_from(G.nodes)
    H.add_weighted_edges_from(
        (u, v, 1.0 if weight is None else float(d.get(weight, 1.0)))
        for u, v, d in G.edges(data=True)
    )
    return H


def magnitude(G, t, *, weight: str | None = "weight", method: str = "auto"):
    r"""Magnitude of a graph with its shortest-path metric, `|tG| = \sum_v w_v`.

    Parameters
    ----------
    G : networkx.Graph or networkx.MultiGraph
        Undirected; may be disconnected (the magnitude is the sum over components).
    t : float or array_like of shape (k,)
        Scale(s), finite and > 0.
    weight : str or None, default="weight"
        Edge attribute holding the edge length (absent: 1); ``None`` treats every edge as
        length 1. Lengths must be finite and >= 0; zero-length edges merge their ends.
    method : str, default="auto"
        As in `metric_magnitude.magnitude`.

    Returns
    -------
    float or ndarray of shape (k,)

    Raises
    ------
    InvalidInputError
        G is not an undirected networkx graph, has no nodes, or has an edge length that is
        not a finite number >= 0 (the message names the edge).
    SingularSimilarityError
        Z(t) is singular at a requested scale.

    Warns
    -----
    NotPositiveDefiniteWarning
        Z(t) is indefinite: the value is computed (LDL^T) but may be negative.

    Examples
    --------
    >>> import networkx as nx
    >>> from metric_magnitude import graphs
    >>> graphs.magnitude(nx.complete_graph(4), 1.0)   # 4 / (1 + 3 e^-1)
    1.9014675456746...
    >>> graphs.magnitude(nx.path_graph(5), 1.0)       # a tree: 1 + 4 tanh(1/2)
    2.84846862904...
    """
    return _magnitude(_check_graph(G, weight), t, method=method)


def weights(G, t, *, weight: str | None = "weight", method: str = "auto") -> dict:
    """The weighting of a graph: one weight per node, keyed by node, in the order of ``G.nodes``.

    The weights solve Z(t) w = 1 and sum to `magnitude`. Nodes joined by zero-length
    edges share their merged node's weight equally.

    Parameters
    ----------
    G, t, weight, method
        As in `magnitude`.

    Returns
    -------
    dict
        ``{node: float}`` for a scalar ``t``; ``{node: ndarray of shape (k,)}`` (one value per
        scale) for an array of scales.

    Examples
    --------
    >>> import networkx as nx
    >>> from metric_magnitude import graphs

    A star with hub 0 and m leaves has leaf weights 1 / (1 + q) and hub weight
    (1 - (m - 1) q) / (1 + q), q = e^{-t}:

    >>> w = graphs.weights(nx.star_graph(3), 1.0)
    >>> {v: round(x, 4) for v, x in w.items()}
    {0: 0.1932, 1: 0.7311, 2: 0.7311, 3: 0.7311}
    """
    scalar = check_scales(t)[1]
    H = _check_graph(G, weight)
    W = _weights(H, t, method=method)
    nodes = list(G.nodes)
    if scalar:
        return {v: float(x) for v, x in zip(nodes, W, strict=True)}
    return {v: W[:, i].copy() for i, v in enumerate(nodes)}


def magnitude_function(
    G, scales="auto", *, weight: str | None = "weight", **kwargs
) -> MagnitudeFunction:
    """The magnitude function t -> |tG| of a graph over many scales, from few exact solves.

    Parameters
    ----------
    G, weight
        As in `magnitude`.
    scales : "auto" or array_like of shape (k,)
        As in `metric_magnitude.magnitude_function`.
    **kwargs
        ``n_scales``, ``q``, ``rtol``, ``method``: as in
        `metric_magnitude.magnitude_function`.

    Returns
    -------
    MagnitudeFunction

    Notes
    -----
    A graph's magnitude function can have poles (K_{3,2} at t = log sqrt 2): an explicit
    range that contains one gives a `metric_magnitude.SingularSimilarityError` where a
    scale hits it, or an `metric_magnitude.InterpolationWarning` near it.

    Examples
    --------
    >>> import numpy as np
    >>> import networkx as nx
    >>> from metric_magnitude import graphs
    >>> f = graphs.magnitude_function(nx.cycle_graph(6), np.linspace(0.5, 5, 40))
    >>> q = np.exp(-f.scales)                          # homogeneous: 6 / sum_j q^d(0, j)
    >>> bool(np.allclose(f.values, 6 / (1 + 2 * q + 2 * q**2 + q**3), rtol=1e-8))
    True
    """
    return _magnitude_function(_check_graph(G, weight), scales, **kwargs)


def default_scale(G, *, weight: str | None = "weight") -> float:
    """The scale `node_scores` uses when ``t`` is not given.

    The smallest t at which every node's similarities to the other nodes add up to at most
    1/2: ``max_v sum_{u != v} e^{-t d(v, u)} = 1/2``. Z(t) is then strictly diagonally
    dominant, hence positive definite, and the weights w = sum_k (-Q)^k 1 (Z = I + Q) all lie
    in [0, 1]: each node's score is the fraction of a whole node that it contributes to the
    effective number of nodes. The rule scales with the edge lengths (double every length,
    halve t). A graph without two nodes at finite positive distance gets t = 1 (every
    weight is then 1).

    Examples
    --------
    >>> import math
    >>> import networkx as nx
    >>> from metric_magnitude import graphs
    >>> t = graphs.default_scale(nx.complete_graph(5))   # 4 e^{-t} = 1/2: t = ln 8
    >>> bool(math.isclose(t, math.log(8)))
    True
    """
    from scipy.optimize import brentq

    from .spaces import MetricSpace

    D = MetricSpace(_check_graph(G, weight)).distances
    finite = np.isfinite(D) & (D > 0)
    if not finite.any():
        return 1.0
    Df = np.where(finite, D, np.inf)
    d_min = float(Df.min())

    def excess(log_t: float) -> float:
        return float(np.exp(-np.exp(log_t) * Df).sum(axis=1).max()) - _ROW_SUM

    # at t_hi every row sum is at most (n - 1) e^{-t_hi d_min} = 1/4; at t_lo every pair at
    # finite distance d has e^{-t_lo d} >= 1/sqrt(2) > 1/2
    n = D.shape[0]
    t_hi = math.log(4.0 * (n - 1)) / d_min
    t_lo = 0.5 * math.log(1.0 / _ROW_SUM) / float(Df[np.isfinite(Df)].max())
    return math.exp(brentq(excess, math.log(t_lo), math.log(t_hi), xtol=1e-14, rtol=1e-13))


def node_scores(
    G,
    t=None,
    *,
    weight: str | None = "weight",
    normalize: bool = False,
    method: str = "auto",
) -> dict:
    """Magnitude weights as a centrality-like node score.

    A node's weight is its share of the graph's "effective number of nodes": nodes that
    many others resemble (hubs, members of a clique) share their contribution and score low,
    sometimes below zero; nodes unlike the rest (leaves, bridges, the periphery) score high.
    It reads the opposite way to closeness or degree centrality: high means distinctive, not
    central.

    Parameters
    ----------
    G, weight, method
        As in `magnitude`.
    t : float, optional
        The scale. Default: `default_scale`, the smallest t at which every node's
        similarities to the others sum to at most 1/2; Z(t) is then positive definite and
        every score lies in [0, 1]. Smaller t compares nodes across more of the graph, but
        Z(t) may be indefinite there (a warning, scores of any size and sign); as t grows
        every score tends to 1.
    normalize : bool, default=False
        Divide by the magnitude, so that the scores sum to 1.

    Returns
    -------
    dict
        ``{node: float}`` in the order of ``G.nodes``.

    Examples
    --------
    >>> import math
    >>> import networkx as nx
    >>> from metric_magnitude import graphs
    >>> s = graphs.node_scores(nx.star_graph(4), t=math.log(2))   # q = 1/2
    >>> {v: round(x, 6) for v, x in s.items()}            # leaves 1/(1+q), hub (1-3q)/(1+q)
    {0: -0.333333, 1: 0.666667, 2: 0.666667, 3: 0.666667, 4: 0.666667}
    >>> s = graphs.node_scores(nx.star_graph(4))          # default scale: 4 e^{-t} = 1/2
    >>> 0 < s[0] < s[1] <= 1
    True
    >>> round(sum(graphs.node_scores(nx.star_graph(4), normalize=True).values()), 12)
    1.0
    """
    if t is None:
        t = default_scale(G, weight=weight)
    elif not isinstance(t, Real) or isinstance(t, bool):
        raise InvalidInputError(f"t must be a number or None, got {t!r}")
    scores = weights(G, float(t), weight=weight, method=method)
    if normalize:
        total = math.fsum(scores.values())
        if total == 0:
            raise InvalidInputError(
                f"the magnitude is 0 at t = {float(t)!r}, so the scores cannot be normalised; "
                "choose another scale"
            )
        scores = {v: x / total for v, x in scores.items()}
    return scores


def magnitude_series(G, n_terms: int = 10, *, weight: str | None = "weight") -> list[int]:
    r"""Leading coefficients of the magnitude as a power series in q = e^{-t} (Leinster).

    For a graph with integer edge lengths, Z(t) = I + Q(q) with Q's off-diagonal entries
    q^{d(x, y)}, and `|tG| = \sum_{k \ge 0} (-1)^k \mathbf 1^T Q^k \mathbf 1`: a power
    series in q with integer coefficients (the magnitude of a graph is a rational function
    of q, and this is its expansion at q = 0, exact in integer arithmetic). Pairs in different
    components have q^inf = 0. The series converges for small q only (for K_n when
    q < 1/(n - 1)); use `magnitude` for values.

    Parameters
    ----------
    G, weight
        As in `magnitude`; edge lengths must be integers.
    n_terms : int, default=10
        Number of coefficients, those of q^0 .. q^(n_terms - 1); at most 200.

    Returns
    -------
    list of int

    Examples
    --------
    >>> import networkx as nx
    >>> from metric_magnitude import graphs
    >>> graphs.magnitude_series(nx.complete_graph(3), 5)   # 3 / (1 + 2q)
    [3, -6, 12, -24, 48]
    >>> graphs.magnitude_series(nx.path_graph(3), 5)       # (3 - q) / (1 + q)
    [3, -4, 4, -4, 4]
    """
    from .spaces import MetricSpace

    if not (isinstance(n_terms, int | np.integer) and not isinstance(n_terms, bool)) or not (
        1 <= n_terms <= _MAX_SERIES_TERMS
    ):
        raise InvalidInputError(
            f"n_terms must be an integer from 1 to {_MAX_SERIES_TERMS}, got {n_terms!r}"
        )
    H = _check_graph(G, weight)
    for u, v, d in H.edges(data=True):
        w = float(d.get("weight", 1.0))
        if w != round(w):
            raise InvalidInputError(
                f"edge ({u!r}, {v!r}) has length {w!r}; the power series in q = e^-t needs "
                "integer edge lengths (use magnitude() for real lengths)"
            )
    # nodes joined by zero-length edges are one point: the magnitude of a pseudometric space
    # is that of its distinct points
    D = MetricSpace(H).distances
    n_terms = int(n_terms)
    finite = np.isfinite(D) & (D > 0) & (D < n_terms)
    lengths = [int(x) for x in np.unique(D[finite])]
    # A_d: 0/1 matrix of pairs at distance d, as Python-int object arrays for exact sums
    A = {d: (D == d).astype(np.int64).astype(object) for d in lengths}
    # vec[m] holds the coefficient of q^m in Q^k 1 (a vector); start with k = 0: 1
    n = D.shape[0]
    vec = [np.ones(n, dtype=object)] + [np.zeros(n, dtype=object) for _ in range(n_terms - 1)]
    coeffs = [0] * n_terms
    sign = 1
    for _ in range(n_terms):
        for m in range(n_terms):
            coeffs[m] += sign * int(vec[m].sum())
        new = [np.zeros(n, dtype=object) for _ in range(n_terms)]
        nonzero = False
        for m in range(n_terms):
            for d in lengths:
                if m - d >= 0 and vec[m - d].any():
                    new[m] = new[m] + A[d].dot(vec[m - d])
                    nonzero = True
        if not nonzero:
            break
        vec = new
        sign = -sign
    return coeffs
