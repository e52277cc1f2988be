"""metric_magnitude.graphs: closed forms (PRIMER section 2) against 50-digit mpmath, validation."""

from __future__ import annotations

import math
import warnings

import mpmath as mp
import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import graphs

nx = pytest.importorskip("networkx")

DPS = 50
RTOL = 1e-12  # the library's contract for |tX|
SCALES = [1e-6, 0.1, 1.0, 5.0]


def _rel(got, ref) -> float:
    with mp.workdps(DPS):
        ref = mp.mpf(ref)
        return float(abs(mp.mpf(float(got)) - ref) / abs(ref))


def _wtol(t) -> float:
    """Weights lose digits as t -> 0, where Z(t) tends to the all-ones matrix (PRIMER 4)."""
    return 1e-6 if t < 1e-3 else 1e-10


def _q(t):
    return mp.exp(-mp.mpf(t))


def _mp_graph_magnitude(G, t):
    """1^T Z^{-1} 1 at DPS digits from networkx's own shortest paths (unreachable: q^inf = 0)."""
    nodes = list(G.nodes)
    sp = dict(nx.shortest_path_length(G, weight="weight"))
    with mp.workdps(DPS):
        t = mp.mpf(t)
        Z = mp.matrix(len(nodes), len(nodes))
        for i, u in enumerate(nodes):
            for j, v in enumerate(nodes):
                d = sp[u].get(v)
                Z[i, j] = 0 if d is None else mp.exp(-t * mp.mpf(d))
        w = mp.lu_solve(Z, mp.matrix([1] * len(nodes)))
        return mp.fsum(w), [w[i] for i in range(len(nodes))]


# ---------------------------------------------------------------- closed forms


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [1, 2, 3, 7, 20])
def test_complete_graph(n, t):
    with mp.workdps(DPS):
        ref = n / (1 + (n - 1) * _q(t))
    assert _rel(graphs.magnitude(nx.complete_graph(n), t), ref) <= RTOL
    w = graphs.weights(nx.complete_graph(n), t)
    assert list(w) == list(range(n))
    np.testing.assert_allclose(list(w.values()), float(ref) / n, rtol=_wtol(t))


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [3, 4, 5, 6, 9, 12])
def test_cycle_graph_is_homogeneous(n, t):
    with mp.workdps(DPS):
        row = mp.fsum(mp.exp(-mp.mpf(t) * min(j, n - j)) for j in range(n))
        ref = n / row
    assert _rel(graphs.magnitude(nx.cycle_graph(n), t), ref) <= RTOL
    w = np.array(list(graphs.weights(nx.cycle_graph(n), t).values()))
    np.testing.assert_allclose(w, float(1 / row), rtol=_wtol(t))


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("n", [2, 3, 10, 40])
def test_path_graph_is_a_line(n, t):
    with mp.workdps(DPS):
        ref = 1 + (n - 1) * mp.tanh(mp.mpf(t) / 2)
        q = _q(t)
        end, inner = 1 / (1 + q), (1 - q) / (1 + q)
    assert _rel(graphs.magnitude(nx.path_graph(n), t), ref) <= RTOL
    w = graphs.weights(nx.path_graph(n), t)
    rtol = _wtol(t)
    np.testing.assert_allclose([w[0], w[n - 1]], float(end), rtol=rtol)
    np.testing.assert_allclose([w[i] for i in range(1, n - 1)], float(inner), rtol=rtol)


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize(("a", "b"), [(2, 2), (3, 4), (5, 7)])
def test_grid_graph_is_a_product(a, b, t):
    with mp.workdps(DPS):
        th = mp.tanh(mp.mpf(t) / 2)
        ref = (1 + (a - 1) * th) * (1 + (b - 1) * th)
    assert _rel(graphs.magnitude(nx.grid_2d_graph(a, b), t), ref) <= RTOL


def _k32(t):
    with mp.workdps(DPS):
        q = _q(t)
        return (5 - 7 * q) / ((1 + q) * (1 - 2 * q**2))


def test_k32_negative_below_its_pole_with_a_warning():
    G = nx.complete_bipartite_graph(3, 2)
    with pytest.warns(mm.NotPositiveDefiniteWarning, match="t = 0.34"):
        got = graphs.magnitude(G, 0.34)
    assert got < 0 and abs(got - (-0.777)) < 1e-3
    assert _rel(got, _k32(0.34)) <= 1e-11
    with pytest.warns(mm.NotPositiveDefiniteWarning):
        w = graphs.weights(G, 0.34)
    assert math.isclose(sum(w.values()), got, rel_tol=1e-10)
    ref = _mp_graph_magnitude(G, 0.34)[1]
    np.testing.assert_allclose(list(w.values()), [float(x) for x in ref], rtol=1e-10)


@pytest.mark.parametrize("t", [0.05, 0.3, 0.4, 1.0, 3.0])
def test_k32_closed_form(t):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        got = graphs.magnitude(nx.complete_bipartite_graph(3, 2), t)
    assert _rel(got, _k32(t)) <= 1e-11


def test_k32_singular_scale_raises():
    t0 = math.log(math.sqrt(2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        with pytest.raises(mm.SingularSimilarityError, match=r"singular at t = 0\.3465") as exc:
            graphs.magnitude(nx.complete_bipartite_graph(3, 2), t0)
    assert exc.value.scale == t0


@pytest.mark.parametrize("t", SCALES)
def test_disconnected_graph_adds_over_components(t):
    G = nx.disjoint_union_all([nx.complete_graph(3), nx.path_graph(4), nx.cycle_graph(5)])
    G.add_node("isolated")
    with mp.workdps(DPS):
        q, th = _q(t), mp.tanh(mp.mpf(t) / 2)
        ref = 3 / (1 + 2 * q) + (1 + 3 * th) + 5 / (1 + 2 * q + 2 * q**2) + 1
    assert _rel(graphs.magnitude(G, t), ref) <= RTOL
    w = graphs.weights(G, t)
    assert w["isolated"] == pytest.approx(1.0, rel=1e-12)
    assert math.isclose(math.fsum(w.values()), float(ref), rel_tol=1e-10)


@pytest.mark.parametrize("t", [0.1, 1.0, 5.0])
def test_weighted_tree_is_a_line_with_gaps(t):
    gaps = [0.5, 2.0, 1.25, 3.0]
    G = nx.Graph()
    for i, g in enumerate(gaps):
        G.add_edge(i, i + 1, weight=g)
    with mp.workdps(DPS):
        ref = 1 + mp.fsum(mp.tanh(mp.mpf(t) * mp.mpf(g) / 2) for g in gaps)
    assert _rel(graphs.magnitude(G, t), ref) <= RTOL


@pytest.mark.parametrize("t", [0.3, 1.0, 4.0])
def test_weighted_graph_against_mpmath(t):
    rng = np.random.default_rng(3)
    G = nx.gnm_random_graph(12, 25, seed=4)
    for u, v in G.edges:
        G.edges[u, v]["weight"] = float(rng.uniform(0.2, 3.0))
    ref, wref = _mp_graph_magnitude(G, t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        got = graphs.magnitude(G, t)
        w = graphs.weights(G, t)
    assert _rel(got, ref) <= 1e-11
    np.testing.assert_allclose(list(w.values()), [float(x) for x in wref], rtol=1e-9)


def test_weight_attribute_name_and_unweighted():
    G = nx.path_graph(4)
    for u, v in G.edges:
        G.edges[u, v]["length"] = 2.0
        G.edges[u, v]["weight"] = 7.0
    t = 0.8
    assert graphs.magnitude(G, t, weight="length") == pytest.approx(1 + 3 * np.tanh(t), rel=1e-13)
    assert graphs.magnitude(G, t, weight=None) == pytest.approx(1 + 3 * np.tanh(t / 2), rel=1e-13)
    assert graphs.magnitude(G, t) == pytest.approx(1 + 3 * np.tanh(3.5 * t), rel=1e-13)
    M = nx.MultiGraph([(0, 1), (0, 1)])
    M.edges[0, 1, 0]["length"] = 3.0
    M.edges[0, 1, 1]["length"] = 1.0
    assert graphs.magnitude(M, t, weight="length") == pytest.approx(2 / (1 + np.exp(-t)))


def test_zero_length_edge_merges_and_shares_weight():
    G = nx.Graph()
    G.add_edge("a", "b", weight=0.0)
    G.add_edge("b", "c", weight=1.0)
    t = 1.5
    assert graphs.magnitude(G, t) == pytest.approx(2 / (1 + np.exp(-t)), rel=1e-13)
    w = graphs.weights(G, t)
    assert w["a"] == w["b"] == pytest.approx(0.5 / (1 + np.exp(-t)))
    assert w["c"] == pytest.approx(1 / (1 + np.exp(-t)))


def test_multigraph_uses_lightest_parallel_edge():
    M = nx.MultiGraph()
    M.add_edge(0, 1, weight=5.0)
    M.add_edge(0, 1, weight=2.0)
    assert graphs.magnitude(M, 1.0) == pytest.approx(2 / (1 + np.exp(-2.0)), rel=1e-13)


def test_weights_follow_node_order_and_array_scales():
    G = nx.Graph()
    G.add_nodes_from(["z", 3, ("tuple", 1), "a"])
    G.add_edges_from([("z", 3), (3, ("tuple", 1)), (("tuple", 1), "a"), ("a", "z")])
    ts = np.array([0.5, 1.0, 2.0])
    W = graphs.weights(G, ts)
    assert list(W) == list(G.nodes)
    for k, t in enumerate(ts):
        w = graphs.weights(G, float(t))
        assert list(w) == list(G.nodes)
        for v in G:
            assert isinstance(w[v], float)
            assert W[v].shape == (3,)
            assert W[v][k] == pytest.approx(w[v], rel=1e-14)
    np.testing.assert_allclose(graphs.magnitude(G, ts), [graphs.magnitude(G, t) for t in ts])
    np.testing.assert_allclose(graphs.magnitude(G, ts), mm.magnitude(G, ts), rtol=0)


def test_magnitude_function_of_a_cycle():
    ts = np.linspace(0.2, 6.0, 60)
    f = graphs.magnitude_function(nx.cycle_graph(7), ts, rtol=1e-10)
    q = np.exp(-ts)
    np.testing.assert_allclose(f.values, 7 / (1 + 2 * q + 2 * q**2 + 2 * q**3), rtol=1e-9)
    assert f.n_solves < 60


def test_magnitude_function_of_a_disconnected_weighted_graph():
    G = nx.Graph()
    G.add_edge(0, 1, weight=2.0)
    G.add_edge(2, 3, length=1.0)
    ts = np.geomspace(0.1, 10, 30)
    f = graphs.magnitude_function(G, ts, weight="length")
    # weight="length": edge (0, 1) has no "length", so it counts 1
    np.testing.assert_allclose(f.values, 2 * (1 + np.tanh(ts / 2)), rtol=1e-8)
    auto = graphs.magnitude_function(nx.path_graph(5), n_scales=20)
    assert auto.scales.size == 20 and auto.values[-1] == pytest.approx(0.95 * 5, rel=1e-6)


# ---------------------------------------------------------------- node scores


def test_star_scores_leaves_above_hub():
    m = 6
    for t in [None, 0.5, 1.0, 3.0]:
        s = graphs.node_scores(nx.star_graph(m), t)
        tt = graphs.default_scale(nx.star_graph(m)) if t is None else t
        q = math.exp(-tt)
        assert s[0] == pytest.approx((1 - (m - 1) * q) / (1 + q), rel=1e-10)
        for leaf in range(1, m + 1):
            assert s[leaf] == pytest.approx(1 / (1 + q), rel=1e-10)
            assert s[leaf] > s[0]


def test_barbell_scores_bridge_above_cliques():
    G = nx.barbell_graph(6, 3)  # cliques 0..5 and 9..14, path 6, 7, 8
    s = graphs.node_scores(G)
    bridge = [6, 7, 8]
    clique = [v for v in G if v not in bridge]
    assert min(s[v] for v in bridge) > max(s[v] for v in clique)
    # the clique nodes that hold the bridge resemble the most others: lowest
    assert min(s, key=s.get) in (5, 9)


def test_default_scale_rule_and_bounds():
    G = nx.karate_club_graph()
    t = graphs.default_scale(G, weight=None)
    D = mm.distance_matrix(nx.Graph(G.edges()))
    rows = np.exp(-t * D).sum(axis=1) - 1.0
    assert rows.max() == pytest.approx(0.5, rel=1e-10)
    s = graphs.node_scores(G, weight=None)  # no warning: positive definite by construction
    vals = np.array(list(s.values()))
    assert (vals >= 0).all() and (vals <= 1).all()
    # hubs (0 and 33) resemble the most others: the two lowest scores
    assert set(sorted(s, key=s.get)[:2]) == {0, 33}


def test_default_scale_follows_edge_lengths():
    G = nx.petersen_graph()
    H = nx.petersen_graph()
    nx.set_edge_attributes(H, 2.5, "weight")
    assert graphs.default_scale(H) == pytest.approx(graphs.default_scale(G) / 2.5, rel=1e-10)
    sG, sH = graphs.node_scores(G), graphs.node_scores(H)
    for v in G:
        assert sH[v] == pytest.approx(sG[v], rel=1e-10)
    assert graphs.default_scale(nx.empty_graph(3)) == 1.0
    assert graphs.node_scores(nx.empty_graph(3)) == {0: 1.0, 1: 1.0, 2: 1.0}


def test_node_scores_normalize():
    G = nx.lollipop_graph(5, 4)
    s = graphs.node_scores(G, 1.0, normalize=True)
    assert math.fsum(s.values()) == pytest.approx(1.0, abs=1e-13)
    raw = graphs.node_scores(G, 1.0)
    total = graphs.magnitude(G, 1.0)
    for v in G:
        assert s[v] == pytest.approx(raw[v] / total, rel=1e-12)


@pytest.mark.parametrize("bad", ["auto", True, [1.0]])
def test_node_scores_bad_scale(bad):
    with pytest.raises(mm.InvalidInputError, match="t must be a number"):
        graphs.node_scores(nx.path_graph(3), bad)


def test_node_scores_nonpositive_scale():
    with pytest.raises(mm.InvalidInputError, match="must be > 0"):
        graphs.node_scores(nx.path_graph(3), 0.0)


# ---------------------------------------------------------------- power series in q


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_series_complete_graph(n):
    assert graphs.magnitude_series(nx.complete_graph(n), 8) == [
        n * (-(n - 1)) ** k for k in range(8)
    ]


@pytest.mark.parametrize("n", [2, 3, 7])
def test_series_of_a_tree(n):
    # (n - (n - 2) q) / (1 + q) = n + sum_{k >= 1} (-1)^k (2n - 2) q^k, for every tree
    ref = [n] + [(-1) ** k * (2 * n - 2) for k in range(1, 9)]
    assert graphs.magnitude_series(nx.path_graph(n), 9) == ref
    assert graphs.magnitude_series(nx.star_graph(n - 1), 9) == ref


def test_series_sums_to_the_magnitude_at_small_q():
    G = nx.petersen_graph()
    c = graphs.magnitude_series(G, 40)
    q = 0.02
    with mp.workdps(DPS):
        series = mp.fsum(mp.mpf(ck) * mp.mpf(q) ** k for k, ck in enumerate(c))
    assert _rel(graphs.magnitude(G, -math.log(q)), series) <= 1e-12
    # disconnected: the series adds over components
    U = nx.disjoint_union(nx.complete_graph(3), nx.path_graph(3))
    assert graphs.magnitude_series(U, 6) == [
        a + b
        for a, b in zip(
            graphs.magnitude_series(nx.complete_graph(3), 6),
            graphs.magnitude_series(nx.path_graph(3), 6),
            strict=True,
        )
    ]


def test_series_integer_lengths_only():
    G = nx.Graph()
    G.add_edge(0, 1, weight=2)
    G.add_edge(1, 2, weight=1)
    # distances 1, 2, 3: (3 + ...) as the product of q^d terms, checked at small q
    c = graphs.magnitude_series(G, 30)
    with mp.workdps(DPS):
        s = mp.fsum(mp.mpf(ck) * mp.mpf(0.05) ** k for k, ck in enumerate(c))
        ref = 1 + mp.tanh(-mp.log(mp.mpf(0.05))) + mp.tanh(-mp.log(mp.mpf(0.05)) / 2)
    assert _rel(s, ref) <= 1e-12
    G.edges[0, 1]["weight"] = 1.5
    with pytest.raises(mm.InvalidInputError, match=r"edge \(0, 1\) has length 1\.5"):
        graphs.magnitude_series(G)


@pytest.mark.parametrize("bad", [0, -1, 201, 2.0, True])
def test_series_bad_n_terms(bad):
    with pytest.raises(mm.InvalidInputError, match="n_terms"):
        graphs.magnitude_series(nx.path_graph(3), bad)


# ---------------------------------------------------------------- validation


FUNCS = [
    lambda G: graphs.magnitude(G, 1.0),
    lambda G: graphs.weights(G, 1.0),
    lambda G: graphs.magnitude_function(G, [0.5, 1.0]),
    lambda G: graphs.node_scores(G),
    lambda G: graphs.magnitude_series(G),
    lambda G: graphs.default_scale(G),
]


@pytest.mark.parametrize("func", FUNCS)
def test_directed_graph_refused(func):
    with pytest.raises(mm.InvalidInputError, match=r"directed.*asymmetric.*to_undirected"):
        func(nx.DiGraph([(0, 1), (1, 2)]))


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize(
    ("value", "match"),
    [
        (-1.0, r"edge \('b', 'c'\) has negative 'weight' -1\.0"),
        (float("nan"), r"edge \('b', 'c'\) has 'weight' nan; edge lengths must be finite"),
        (float("inf"), r"edge \('b', 'c'\) has 'weight' inf; edge lengths must be finite"),
        ("2", r"edge \('b', 'c'\) has a non-numeric 'weight' '2'"),
        (None, r"edge \('b', 'c'\) has a non-numeric 'weight' None"),
    ],
)
def test_bad_edge_lengths_name_the_edge(func, value, match):
    G = nx.Graph()
    G.add_edge("a", "b", weight=1.0)
    G.add_edge("b", "c", weight=value)
    with pytest.raises(mm.InvalidInputError, match=match) as exc:
        func(G)
    assert "\n" not in str(exc.value)


def test_bad_length_under_another_attribute_name():
    G = nx.path_graph(3)
    G.edges[1, 2]["length"] = -2
    with pytest.raises(mm.InvalidInputError, match=r"edge \(1, 2\) has negative 'length' -2"):
        graphs.magnitude(G, 1.0, weight="length")
    assert graphs.magnitude(G, 1.0, weight=None) == pytest.approx(1 + 2 * np.tanh(0.5))


@pytest.mark.parametrize("func", FUNCS)
def test_empty_graph_refused(func):
    with pytest.raises(mm.InvalidInputError, match="no nodes"):
        func(nx.Graph())


@pytest.mark.parametrize("func", FUNCS)
@pytest.mark.parametrize("bad", [np.eye(3), [[0, 1], [1, 0]], {0: [1]}, "G", None])
def test_non_networkx_input_refused(func, bad):
    with pytest.raises(mm.InvalidInputError, match="must be a networkx graph"):
        func(bad)


def test_bad_weight_argument():
    with pytest.raises(mm.InvalidInputError, match="weight must be the name"):
        graphs.magnitude(nx.path_graph(3), 1.0, weight=3)


@pytest.mark.parametrize("t", [0.0, -1.0, float("nan")])
def test_bad_scale(t):
    with pytest.raises(mm.InvalidInputError):
        graphs.magnitude(nx.path_graph(3), t)
    with pytest.raises(mm.InvalidInputError):
        graphs.weights(nx.path_graph(3), t)


def test_same_numbers_as_the_core():
    G = nx.les_miserables_graph()
    t = 2.0
    assert graphs.magnitude(G, t) == mm.magnitude(G, t)
    np.testing.assert_array_equal(list(graphs.weights(G, t).values()), mm.weights(G, t))
