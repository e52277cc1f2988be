"""MetricSpace: duplicates and pseudometrics, metrics, precomputed input and graphs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import metric_magnitude as mm

nx = pytest.importorskip("networkx")

SCALES = [0.1, 1.0, 5.0]
RTOL = 1e-12


def _close(got, ref, rtol=RTOL):
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=0)


def _random_points(n=6, d=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# ---------------------------------------------------------------- duplicates


def test_duplicate_rows_are_merged_in_order_of_first_appearance():
    X = np.array([[2.0, 0.0], [0.0, 1.0], [2.0, 0.0], [5.0, 5.0], [0.0, 1.0], [2.0, 0.0]])
    space = mm.MetricSpace(X)
    assert space.n_points == 6
    assert space.n_distinct == 3
    np.testing.assert_array_equal(space.inverse, [0, 1, 0, 2, 1, 0])
    np.testing.assert_array_equal(space.multiplicity, [3, 2, 1])
    np.testing.assert_array_equal(space.distances, mm.distance_matrix(X[[0, 1, 3]]))
    # the full matrix has the copies back, in input order
    np.testing.assert_array_equal(space.full_distance_matrix(), mm.distance_matrix(X))
    assert mm.distance_matrix(X).shape == (6, 6)


def test_magnitude_with_duplicates_equals_magnitude_of_distinct_points():
    P = _random_points(5)
    X = P[[0, 1, 1, 2, 3, 0, 4, 4, 4]]
    _close(mm.magnitude(X, SCALES), mm.magnitude(P, SCALES))
    _close(mm.magnitude_derivative(X, SCALES), mm.magnitude_derivative(P, SCALES))
    _close(mm.spread(X, SCALES), mm.spread(P, SCALES))


@pytest.mark.parametrize("t", SCALES)
def test_copies_share_their_points_weight_equally(t):
    P = _random_points(4)
    idx = [0, 1, 1, 2, 3, 0, 3, 3]
    X = P[idx]
    w = mm.weights(X, t)
    w_distinct = mm.weights(P, t)
    assert w.shape == (8,)
    counts = np.bincount(idx)
    _close(w, (w_distinct / counts)[idx])
    for k in range(4):
        copies = w[np.array(idx) == k]
        _close(copies, copies[0])  # equal shares
        _close(copies.sum(), w_distinct[k])
    _close(w.sum(), mm.magnitude(P, t))


def test_weights_with_duplicates_for_several_scales():
    X = np.array([[0.0], [1.0], [1.0]])
    W = mm.weights(X, SCALES)
    assert W.shape == (3, 3)
    for row, t in zip(W, SCALES, strict=True):
        _close(row, np.array([1.0, 0.5, 0.5]) / (1 + np.exp(-t)))


def test_precomputed_pseudometric_is_merged():
    P = _random_points(4)
    idx = [0, 2, 1, 2, 3, 0]
    D = mm.distance_matrix(P)[np.ix_(idx, idx)]  # zeros off the diagonal
    space = mm.MetricSpace(D, metric="precomputed")
    assert space.n_points == 6
    assert space.n_distinct == 4
    np.testing.assert_array_equal(space.inverse, [0, 1, 2, 1, 3, 0])
    np.testing.assert_array_equal(space.multiplicity, [2, 2, 1, 1])
    _close(mm.magnitude(D, SCALES, metric="precomputed"), mm.magnitude(P, SCALES))
    w = mm.weights(D, 1.0, metric="precomputed")
    wp = mm.weights(P, 1.0)
    _close(w, wp[idx] / np.bincount(idx)[idx])
    np.testing.assert_array_equal(mm.distance_matrix(D, metric="precomputed"), D)


def test_cosine_merges_parallel_rows():
    # [1, 3] and [2, 6] are distinct rows but at cosine distance 0 (computed as 2.2e-16)
    X = np.array([[1.0, 3.0], [0.0, 1.0], [2.0, 6.0], [1.0, 0.0], [0.5, 1.5]])
    space = mm.MetricSpace(X, metric="cosine")
    assert space.n_distinct == 3
    np.testing.assert_array_equal(space.inverse, [0, 1, 0, 2, 0])
    np.testing.assert_array_equal(space.multiplicity, [3, 1, 1])
    D = mm.distance_matrix(X, metric="cosine")
    assert D[0, 2] == D[0, 4] == D[2, 4] == 0.0
    distinct = X[[0, 1, 3]]
    _close(
        mm.magnitude(X, SCALES, metric="cosine"), mm.magnitude(distinct, SCALES, metric="cosine")
    )
    w = mm.weights(X, 1.0, metric="cosine")
    wd = mm.weights(distinct, 1.0, metric="cosine")
    _close(w, [wd[0] / 3, wd[1], wd[0] / 3, wd[2], wd[0] / 3])


def test_n_distinct_reflects_metric_merging_before_anything_else():
    # asking for n_distinct first must not give the number of distinct rows
    X = np.array([[1.0, 1.0], [2.0, 2.0], [1.0, -1.0]])
    space = mm.MetricSpace(X, metric="cosine")
    assert space.n_distinct == 2
    assert space.n_points == 3
    assert "n_distinct=2" in repr(space)


def test_callable_metric_agrees_with_named_metric():
    X = _random_points(6)

    def euclid(u, v):
        return float(np.sqrt(np.sum((u - v) ** 2)))

    def l1(u, v):
        return float(np.sum(np.abs(u - v)))

    for f, name in [(euclid, "euclidean"), (l1, "cityblock")]:
        _close(mm.distance_matrix(X, metric=f), mm.distance_matrix(X, metric=name), rtol=1e-14)
        _close(mm.magnitude(X, SCALES, metric=f), mm.magnitude(X, SCALES, metric=name))
        _close(mm.weights(X, SCALES, metric=f), mm.weights(X, SCALES, metric=name))
    # a callable sees duplicates merged too
    Y = X[[0, 1, 0, 2]]
    assert mm.MetricSpace(Y, metric=euclid).n_distinct == 3
    assert "euclid" in repr(mm.MetricSpace(Y, metric=euclid))


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev", "cosine"])
def test_points_and_precomputed_agree(metric):
    X = _random_points(7, 4, seed=3)
    D = mm.distance_matrix(X, metric=metric)
    for func in (mm.magnitude, mm.weights, mm.magnitude_derivative, mm.spread):
        _close(func(D, SCALES, metric="precomputed"), func(X, SCALES, metric=metric))


@pytest.mark.parametrize("t", [1e-8, 1.0, 1e3])
@pytest.mark.parametrize(
    ("X", "metric"),
    [
        ([[3.0, 4.0]], "euclidean"),
        ([[0.0]], "precomputed"),
        ([[7.0]], "cityblock"),
    ],
)
def test_one_point_space(X, metric, t):
    assert mm.magnitude(X, t, metric=metric) == 1.0
    np.testing.assert_array_equal(mm.weights(X, t, metric=metric), [1.0])
    assert mm.magnitude_derivative(X, t, metric=metric) == 0.0
    assert mm.spread(X, t, metric=metric) == 1.0


def test_one_node_graph():
    G = nx.Graph()
    G.add_node("a")
    for t in [1e-8, 1.0, 1e3]:
        assert mm.magnitude(G, t) == 1.0
        np.testing.assert_array_equal(mm.weights(G, t), [1.0])


@pytest.mark.parametrize("t", [1e-8, 1.0, 1e3])
def test_all_points_identical(t):
    X = np.tile([[1.5, -2.0, 0.25]], (5, 1))
    space = mm.MetricSpace(X)
    assert space.n_distinct == 1
    np.testing.assert_array_equal(space.multiplicity, [5])
    assert mm.magnitude(X, t) == 1.0
    _close(mm.weights(X, t), np.full(5, 0.2))
    assert mm.magnitude(np.zeros((4, 4)), t, metric="precomputed") == 1.0
    np.testing.assert_array_equal(mm.distance_matrix(X), np.zeros((5, 5)))


def test_metric_space_passes_through_and_is_not_rewrapped():
    space = mm.MetricSpace(_random_points(3))
    assert mm.magnitude(space, 1.0) == mm.magnitude(_random_points(3), 1.0)
    with pytest.raises(mm.InvalidInputError, match="already a MetricSpace"):
        mm.MetricSpace(space)


def test_known_positive_definite_flag():
    X = _random_points(3)
    assert mm.MetricSpace(X).known_positive_definite
    assert mm.MetricSpace(X, metric="cityblock").known_positive_definite
    assert not mm.MetricSpace(X, metric="chebyshev").known_positive_definite
    assert not mm.MetricSpace(mm.distance_matrix(X), metric="precomputed").known_positive_definite
    assert not mm.MetricSpace(nx.path_graph(3)).known_positive_definite


# ---------------------------------------------------------------- graphs


def _path_magnitude(n, t):
    return 1.0 + (n - 1) * np.tanh(t / 2.0)


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [2, 5, 12])
def test_path_graph_is_points_on_a_line(n, t):
    G = nx.path_graph(n)
    _close(mm.magnitude(G, t), _path_magnitude(n, t))
    line = np.arange(n, dtype=float).reshape(-1, 1)
    _close(mm.weights(G, t), mm.weights(line, t))
    _close(mm.magnitude_derivative(G, t), (n - 1) / (2 * np.cosh(t / 2) ** 2))


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [3, 6, 9])
def test_cycle_graph_is_homogeneous(n, t):
    G = nx.cycle_graph(n)
    row = np.array([min(j, n - j) for j in range(n)], dtype=float)
    s = np.exp(-t * row).sum()
    _close(mm.magnitude(G, t), n / s)
    _close(mm.weights(G, t), np.full(n, 1 / s))
    _close(mm.spread(G, t), n / s)


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [2, 4, 7])
def test_complete_graph(n, t):
    G = nx.complete_graph(n)
    m = n / (1 + (n - 1) * np.exp(-t))
    _close(mm.magnitude(G, t), m)
    _close(mm.weights(G, t), np.full(n, m / n))


@pytest.mark.parametrize("t", SCALES)
def test_weighted_edges_use_weight_attribute(t):
    # a weighted path is points on a line with those gaps
    gaps = [0.5, 2.0, 1.25]
    G = nx.Graph()
    for i, g in enumerate(gaps):
        G.add_edge(i, i + 1, weight=g, length=100.0)  # 'length' must be ignored
    _close(mm.magnitude(G, t), 1 + np.tanh(t * np.array(gaps) / 2).sum())
    line = np.concatenate([[0.0], np.cumsum(gaps)]).reshape(-1, 1)
    _close(mm.weights(G, t), mm.weights(line, t))
    D = mm.distance_matrix(G)
    _close(D, mm.distance_matrix(line), rtol=1e-15)


def test_weighted_shortcut_is_a_shortest_path():
    G = nx.Graph()
    G.add_edge("a", "b", weight=1.0)
    G.add_edge("b", "c", weight=1.0)
    G.add_edge("a", "c", weight=5.0)  # longer than the way round
    D = mm.distance_matrix(G)
    assert D[0, 2] == 2.0
    _close(mm.magnitude(G, SCALES), _path_magnitude(3, np.array(SCALES)))


def test_integer_and_numpy_weights():
    G = nx.Graph()
    G.add_edge(0, 1, weight=2)
    G.add_edge(1, 2, weight=np.float32(2.0))
    _close(mm.magnitude(G, 1.0), 1 + 2 * np.tanh(1.0))


def _disconnected():
    G = nx.Graph()
    nx.add_path(G, ["a", "b", "c", "d"])
    nx.add_cycle(G, [10, 11, 12, 13, 14])
    G.add_node("lonely")
    G.add_edge("x", "y", weight=0.5)
    return G


@pytest.mark.parametrize("t", SCALES)
def test_disconnected_graph_adds_over_components(t):
    G = _disconnected()
    comps = [G.subgraph(c).copy() for c in nx.connected_components(G)]
    assert len(comps) == 4
    _close(mm.magnitude(G, t), sum(mm.magnitude(c, t) for c in comps))
    w = dict(zip(G.nodes, mm.weights(G, t), strict=True))
    for c in comps:
        wc = mm.weights(c, t)
        _close([w[v] for v in c.nodes], wc)
    _close(
        mm.magnitude(G, t),
        1
        + 3 * np.tanh(t / 2)
        + 5 / (1 + 2 * np.exp(-t) + 2 * np.exp(-2 * t))
        + 1
        + 2 / (1 + np.exp(-t / 2)),
    )


# the RuntimeWarning is a known solver bug, see test_disconnected_derivative_is_quiet
def test_disconnected_graph_derivative_and_spread():
    G = _disconnected()
    comps = [G.subgraph(c).copy() for c in nx.connected_components(G)]
    for f in (mm.magnitude_derivative, mm.spread):
        _close(f(G, SCALES), sum(f(c, SCALES) for c in comps))


def test_disconnected_derivative_is_quiet():
    G = nx.Graph([(0, 1), (2, 3)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        d = mm.magnitude_derivative(G, 1.0)
    _close(d, 2 * 2 * np.exp(-1.0) / (1 + np.exp(-1.0)) ** 2)


def test_distance_matrix_of_disconnected_graph_has_inf():
    G = nx.Graph([(0, 1), (2, 3)])
    D = mm.distance_matrix(G)
    expected = np.array(
        [
            [0, 1, np.inf, np.inf],
            [1, 0, np.inf, np.inf],
            [np.inf, np.inf, 0, 1],
            [np.inf, np.inf, 1, 0],
        ]
    )
    np.testing.assert_array_equal(D, expected)
    assert mm.MetricSpace(G).has_infinite_distances
    assert not mm.MetricSpace(nx.path_graph(3)).has_infinite_distances
    G.add_node(4)  # an isolated node
    assert np.isinf(mm.distance_matrix(G)[4, :4]).all()
    _close(mm.magnitude(G, 1.0), 2 * 2 / (1 + np.exp(-1.0)) + 1)


@pytest.mark.parametrize("t", SCALES)
def test_zero_weight_edges_merge_nodes(t):
    # a path 0 - 1 = 2 - 3 - 4 where 1 = 2 by a zero-weight edge is the path 0 - 12 - 3 - 4
    G = nx.Graph()
    G.add_edge(0, 1, weight=1.0)
    G.add_edge(1, 2, weight=0.0)
    G.add_edge(2, 3, weight=1.0)
    G.add_edge(3, 4, weight=1.0)
    H = nx.contracted_nodes(G, 1, 2, self_loops=False)
    space = mm.MetricSpace(G)
    assert space.n_points == 5
    assert space.n_distinct == 4
    np.testing.assert_array_equal(space.inverse, [0, 1, 1, 2, 3])
    _close(mm.magnitude(G, t), mm.magnitude(H, t))
    _close(mm.magnitude(G, t), _path_magnitude(4, t))
    w, wh = mm.weights(G, t), dict(zip(H.nodes, mm.weights(H, t), strict=True))
    _close(w, [wh[0], wh[1] / 2, wh[1] / 2, wh[3], wh[4]])
    D = mm.distance_matrix(G)
    assert D[1, 2] == 0.0
    assert D[0, 2] == 1.0


def test_zero_weight_component_is_one_point():
    G = nx.Graph()
    G.add_edge("a", "b", weight=0)
    G.add_edge("b", "c", weight=0)
    space = mm.MetricSpace(G)
    assert space.n_distinct == 1
    assert mm.magnitude(G, 1.0) == 1.0
    _close(mm.weights(G, 1.0), np.full(3, 1 / 3))


@pytest.mark.parametrize("t", SCALES)
def test_multigraph_uses_lightest_parallel_edge(t):
    M = nx.MultiGraph()
    M.add_edge(0, 1, weight=3.0)
    M.add_edge(0, 1, weight=1.0)
    M.add_edge(1, 0, weight=2.0)
    M.add_edge(1, 2, weight=0.5)
    M.add_edge(1, 2)  # weight 1 by default, heavier
    G = nx.Graph()
    G.add_edge(0, 1, weight=1.0)
    G.add_edge(1, 2, weight=0.5)
    _close(mm.magnitude(M, t), mm.magnitude(G, t))
    _close(mm.weights(M, t), mm.weights(G, t))
    np.testing.assert_array_equal(mm.distance_matrix(M), mm.distance_matrix(G))


def test_multigraph_zero_weight_parallel_edge_merges():
    M = nx.MultiGraph()
    M.add_edge(0, 1, weight=4.0)
    M.add_edge(0, 1, weight=0.0)
    assert mm.MetricSpace(M).n_distinct == 1


@pytest.mark.parametrize("t", SCALES)
def test_self_loops_are_ignored(t):
    G = nx.path_graph(4)
    G.add_edge(2, 2, weight=7.0)
    G.add_edge(0, 0)
    H = nx.path_graph(4)
    _close(mm.magnitude(G, t), mm.magnitude(H, t))
    _close(mm.weights(G, t), mm.weights(H, t))
    np.testing.assert_array_equal(np.diagonal(mm.distance_matrix(G)), 0.0)
    # a zero-weight self-loop merges nothing
    G.add_edge(3, 3, weight=0.0)
    assert mm.MetricSpace(G).n_distinct == 4


def test_weights_follow_graph_node_order():
    # a star with an unusual insertion order: weights must follow list(G.nodes)
    G = nx.Graph()
    G.add_nodes_from(["leaf2", "hub", "leaf1", "leaf3", "far"])
    G.add_edges_from([("hub", "leaf1"), ("hub", "leaf2"), ("hub", "leaf3"), ("leaf3", "far")])
    nodes = list(G.nodes)
    w = mm.weights(G, 1.0)
    D = mm.distance_matrix(G)
    # reference: the same distances handed in by hand, in node order
    sp = dict(nx.shortest_path_length(G))
    Dref = np.array([[sp[u][v] for v in nodes] for u in nodes], dtype=float)
    np.testing.assert_array_equal(D, Dref)
    wref = mm.weights(Dref, 1.0, metric="precomputed")
    _close(w, wref)
    ref = dict(zip(nodes, w, strict=True))
    # leaf1 and leaf2 are symmetric, and the hub differs from them
    _close(ref["leaf1"], ref["leaf2"])
    assert not np.isclose(ref["hub"], ref["leaf1"])
    # relabelling the nodes in another order permutes the weights accordingly
    H = nx.Graph()
    H.add_nodes_from(sorted(nodes))
    H.add_edges_from(G.edges)
    wh = dict(zip(H.nodes, mm.weights(H, 1.0), strict=True))
    _close([wh[v] for v in nodes], w)


def test_graph_subclass_is_a_graph():
    class MyGraph(nx.Graph):
        pass

    G = MyGraph()
    nx.add_path(G, range(4))
    _close(mm.magnitude(G, SCALES), _path_magnitude(4, np.array(SCALES)))


def test_graph_ignores_metric_argument():
    G = nx.path_graph(3)
    _close(mm.magnitude(G, 1.0, metric="cosine"), mm.magnitude(G, 1.0))


def test_graph_with_non_integer_nodes_and_attributes():
    G = nx.Graph()
    G.add_edge(("a", 1), frozenset({2}), weight=1.0, color="red")
    G.add_edge(frozenset({2}), "z", weight=1.0)
    _close(mm.magnitude(G, 1.0), _path_magnitude(3, 1.0))


def test_metric_conflicting_with_a_metric_space_is_an_error():
    space = mm.MetricSpace([[0.0, 0.0], [1.0, 1.0]])
    with pytest.raises(mm.InvalidInputError, match="built with metric='euclidean'"):
        mm.magnitude(space, 1.0, metric="cityblock")
    l1 = mm.MetricSpace([[0.0, 0.0], [1.0, 1.0]], metric="cityblock")
    assert mm.magnitude(l1, 1.0, metric="cityblock") == mm.magnitude(l1, 1.0)


def test_cosine_of_a_zero_vector_is_a_clear_error():
    with pytest.raises(mm.InvalidInputError, match=r"undefined for point 1.*zero"):
        mm.magnitude([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], 1.0, metric="cosine")
