"""metric_magnitude.asymmetric: weightings, coweightings and magnitude of quasi-metrics,
digraphs and general matrices, against closed forms checked in mpmath at 40 digits."""

from __future__ import annotations

import warnings
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import asymmetric as asym
from metric_magnitude.asymmetric import MagnitudeMismatchError, MagnitudeUndefinedError

nx = pytest.importorskip("networkx")

DPS = 40
# tolerance contract: magnitude to 1e-12 relative where Z is well conditioned; weights a
# little looser (they carry cond(Z) * eps)
MAG_RTOL = 1e-12
W_RTOL = 1e-10


def rel(got, ref) -> float:
    """max |got - ref| / max |ref| for float vectors (or scalars) against mpf references."""
    got = np.atleast_1d(np.asarray(got, dtype=float))
    ref = [mp.mpf(r) for r in np.atleast_1d(np.asarray(ref, dtype=object))]
    with mp.workdps(DPS):
        num = max(abs(mp.mpf(float(g)) - r) for g, r in zip(got, ref, strict=True))
        return float(num / max(abs(r) for r in ref))


def mp_solve(D, t):
    """(magnitude, weighting, coweighting) of Z = exp(-t D) at DPS digits (D floats/inf)."""
    D = np.asarray(D, dtype=float)
    n = D.shape[0]
    with mp.workdps(DPS):
        Z = mp.matrix(n, n)
        for i in range(n):
            for j in range(n):
                d = D[i, j]
                Z[i, j] = 0 if np.isinf(d) else mp.exp(-mp.mpf(float(t)) * mp.mpf(float(d)))
        Zi = Z**-1
        w = [mp.fsum(Zi[i, j] for j in range(n)) for i in range(n)]
        v = [mp.fsum(Zi[i, j] for i in range(n)) for j in range(n)]
        return mp.fsum(w), w, v


# ---------------------------------------------------------------- symmetric input


@pytest.mark.parametrize("t", [1e-6, 1e-3, 0.1, 1.0, 10.0])
def test_symmetric_points_match_core(t):
    X = np.random.default_rng(0).normal(size=(12, 3))
    D = mm.distance_matrix(X)
    m = asym.magnitude(D, t)
    w = asym.weighting(D, t)
    v = asym.coweighting(D, t)
    ref_m, ref_w = mm.magnitude(X, t), mm.weights(X, t)
    assert abs(m - ref_m) <= MAG_RTOL * ref_m
    assert np.abs(w - ref_w).max() <= W_RTOL * np.abs(ref_w).max()
    assert np.abs(v - w).max() <= W_RTOL * np.abs(ref_w).max()  # weighting == coweighting


def test_undirected_graph_matches_core():
    G = nx.petersen_graph()
    ts = [0.2, 1.0, 3.0]
    np.testing.assert_allclose(asym.magnitude(G, ts), mm.magnitude(G, ts), rtol=MAG_RTOL)
    np.testing.assert_allclose(asym.weighting(G, ts), mm.weights(G, ts), rtol=W_RTOL)
    np.testing.assert_allclose(asym.coweighting(G, ts), mm.weights(G, ts), rtol=W_RTOL)


def test_repeated_points_share_weight_as_in_core():
    # d(1, 2) = d(2, 1) = 0: Z is singular, but the minimum-norm weighting splits equally
    D = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    res = asym.solve(D, 1.0)
    assert res.methods == ("svd",) and res.rank.tolist() == [2] and not res.unique[0]
    ref = mm.weights(D, 1.0, metric="precomputed")
    np.testing.assert_allclose(res.weighting[0], ref, rtol=1e-13)
    np.testing.assert_allclose(res.coweighting[0], ref, rtol=1e-13)
    assert asym.magnitude(D, 1.0) == pytest.approx(2 / (1 + np.exp(-1.0)), rel=1e-14)


# ---------------------------------------------------------------- two-point quasi-metric


def test_two_point_closed_form_derivation_in_mpmath():
    """Z = [[1, a], [b, 1]], a = e^{-tx}, b = e^{-ty}: Z^{-1} = [[1, -a], [-b, 1]] / (1 - ab),
    so w = (1 - a, 1 - b) / (1 - ab), v = (1 - b, 1 - a) / (1 - ab) and
    |Z| = (2 - a - b) / (1 - ab)."""
    with mp.workdps(DPS):
        for x, y, t in [(1.0, 3.0, 0.7), (0.25, 5.0, 2.0), (2.0, 0.0, 1.0)]:
            m, w, v = mp_solve([[0.0, x], [y, 0.0]], t)
            a, b = mp.exp(-t * mp.mpf(x)), mp.exp(-t * mp.mpf(y))
            assert abs(m - (2 - a - b) / (1 - a * b)) < mp.mpf(10) ** (-35)
            assert abs(w[0] - (1 - a) / (1 - a * b)) < mp.mpf(10) ** (-35)
            assert abs(w[1] - (1 - b) / (1 - a * b)) < mp.mpf(10) ** (-35)
            assert abs(v[0] - w[1]) < mp.mpf(10) ** (-35)
            assert abs(v[1] - w[0]) < mp.mpf(10) ** (-35)


def _two_point_reference(x, y, t):
    with mp.workdps(DPS):
        t = mp.mpf(t)
        # 1 - e^{-s} by expm1, so the reference keeps its digits at tiny t
        oa, ob = -mp.expm1(-t * mp.mpf(x)), -mp.expm1(-t * mp.mpf(y))
        den = -mp.expm1(-t * (mp.mpf(x) + mp.mpf(y)))
        return (oa + ob) / den, [oa / den, ob / den], [ob / den, oa / den]


@pytest.mark.parametrize("t", [1e-8, 1e-4, 0.1, 1.0, 7.0, 50.0])
@pytest.mark.parametrize(("x", "y"), [(1.0, 3.0), (0.3, 0.3), (2.0, 0.01), (0.0, 1.5)])
def test_two_point_quasi_metric(x, y, t):
    D = [[0.0, x], [y, 0.0]]
    m, w, v = _two_point_reference(x, y, t)
    assert rel(asym.magnitude(D, t), m) <= MAG_RTOL
    assert rel(asym.weighting(D, t), w) <= W_RTOL
    assert rel(asym.coweighting(D, t), v) <= W_RTOL


def test_two_point_multi_scale_shapes():
    D = [[0.0, 1.0], [3.0, 0.0]]
    ts = np.array([0.5, 1.0, 2.0])
    m, W = asym.magnitude(D, ts), asym.weighting(D, ts)
    assert m.shape == (3,) and W.shape == (3, 2) and asym.coweighting(D, ts).shape == (3, 2)
    a, b = np.exp(-ts), np.exp(-3 * ts)
    np.testing.assert_allclose(m, (2 - a - b) / (1 - a * b), rtol=MAG_RTOL)
    np.testing.assert_allclose(W.sum(axis=1), m, rtol=MAG_RTOL)
    assert asym.similarity_matrix(D, ts).shape == (3, 2, 2)
    assert isinstance(asym.magnitude(D, 1.0), float)


# ---------------------------------------------------------------- directed cycles and paths


def test_directed_cycle_closed_form_derivation_in_mpmath():
    # circulant Z, row sums all S = sum_j q^j: Z 1 = S 1, so w = 1 / S and |Z| = n / S
    n, t = 5, mp.mpf("0.8")
    D = [[(j - i) % n for j in range(n)] for i in range(n)]
    m, w, v = mp_solve(D, t)
    with mp.workdps(DPS):
        S = mp.fsum(mp.exp(-t * j) for j in range(n))
        assert abs(m - n / S) < mp.mpf(10) ** (-35)
        assert max(abs(x - 1 / S) for x in w + v) < mp.mpf(10) ** (-35)


@pytest.mark.parametrize("n", [2, 3, 7])
@pytest.mark.parametrize("t", [1e-6, 0.3, 1.0, 5.0])
def test_directed_cycle(n, t):
    C = nx.cycle_graph(n, create_using=nx.DiGraph)
    D = asym.distance_matrix(C)
    assert not np.array_equal(D, D.T) or n == 2
    with mp.workdps(DPS):
        S = mp.fsum(mp.exp(-mp.mpf(t) * k) for k in range(n))  # sum_j e^{-t d(0, j)}
        ref = n / S
    assert rel(asym.magnitude(C, t), ref) <= MAG_RTOL
    for w in (asym.weighting(C, t), asym.coweighting(C, t)):  # homogeneous: all equal
        assert rel(w, [ref / n] * n) <= W_RTOL


def test_weighted_directed_cycle():
    G = nx.DiGraph()
    nx.add_cycle(G, ["a", "b", "c", "d"], weight=0.5)
    t = 1.3
    q = np.exp(-t * 0.5)
    assert asym.magnitude(G, t) == pytest.approx(4 / sum(q**j for j in range(4)), rel=1e-13)


def test_directed_path_closed_form_derivation_in_mpmath():
    # Z[i, j] = q_i ... q_{j-1} above the diagonal, 0 below: Z = (I - diag(q) S)^{-1} with S
    # the upper shift, so w = (1 - q_0, ..., 1 - q_{n-2}, 1), v = (1, 1 - q_0, ...) and
    # |Z| = 1 + sum_i (1 - q_i)
    x = [0.5, 2.0, 1.0, 0.25]
    n, t = len(x) + 1, mp.mpf("0.9")
    cum = np.concatenate([[0.0], np.cumsum(x)])
    D = [[cum[j] - cum[i] if j >= i else np.inf for j in range(n)] for i in range(n)]
    m, w, v = mp_solve(D, t)
    with mp.workdps(DPS):
        q = [mp.exp(-t * mp.mpf(xi)) for xi in x]
        assert abs(m - (1 + mp.fsum(1 - qi for qi in q))) < mp.mpf(10) ** (-35)
        assert max(abs(a - b) for a, b in zip(w, [1 - qi for qi in q] + [1], strict=True)) < (
            mp.mpf(10) ** (-35)
        )
        assert max(abs(a - b) for a, b in zip(v, [1] + [1 - qi for qi in q], strict=True)) < (
            mp.mpf(10) ** (-35)
        )


@pytest.mark.parametrize("t", [1e-8, 1e-3, 0.5, 2.0, 40.0])
def test_directed_path(t):
    x = np.random.default_rng(3).uniform(0.1, 3.0, size=9)
    G = nx.DiGraph()
    for i, xi in enumerate(x):
        G.add_edge(i, i + 1, weight=float(xi))
    D = asym.distance_matrix(G)
    assert np.isinf(D[np.tril_indices(10, -1)]).all()  # backwards: unreachable
    np.testing.assert_array_equal(
        np.triu(asym.similarity_matrix(G, t)), asym.similarity_matrix(G, t)
    )
    with mp.workdps(DPS):
        one_minus_q = [-mp.expm1(-mp.mpf(t) * mp.mpf(float(xi))) for xi in x]
        ref_m = 1 + mp.fsum(one_minus_q)
    assert rel(asym.magnitude(G, t), ref_m) <= MAG_RTOL
    assert rel(asym.weighting(G, t), [*one_minus_q, 1]) <= W_RTOL
    assert rel(asym.coweighting(G, t), [1, *one_minus_q]) <= W_RTOL


def test_one_edge_and_no_edges():
    G = nx.DiGraph([("a", "b")])
    assert asym.magnitude(G, 1.0) == pytest.approx(2 - np.exp(-1.0), rel=1e-15)
    H = nx.DiGraph()
    H.add_nodes_from(range(3))  # no edges: Z = I
    assert asym.magnitude(H, 0.5) == 3.0
    np.testing.assert_array_equal(asym.weighting(H, 0.5), np.ones(3))


# ---------------------------------------------------------------- general properties


def _random_quasi_metric(n, seed):
    """Random directed shortest-path distances: asymmetric, triangle inequality holds."""
    rng = np.random.default_rng(seed)
    G = nx.gnp_random_graph(n, 0.5, seed=seed, directed=True)
    for u, v in G.edges:
        G.edges[u, v]["weight"] = float(rng.uniform(0.2, 2.0))
    nx.add_cycle(G, range(n), weight=2.5)  # strongly connected: all distances finite
    return asym.distance_matrix(G)


@pytest.mark.parametrize("t", [1e-8, 1e-2, 0.5, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_random_quasi_metric_against_mpmath(seed, t):
    D = _random_quasi_metric(6, seed)
    assert not np.allclose(D, D.T)
    m, w, v = mp_solve(D, t)
    res = asym.solve(D, t)
    assert rel(res.magnitude, [m]) <= MAG_RTOL
    assert rel(res.coweighting_sum, [m]) <= MAG_RTOL
    assert rel(res.weighting[0], w) <= W_RTOL
    assert rel(res.coweighting[0], v) <= W_RTOL
    assert res.unique[0] and res.has_weighting[0] and res.has_coweighting[0]


def test_coweighting_is_weighting_of_transpose():
    D = _random_quasi_metric(8, 5)
    ts = [0.3, 1.0]
    np.testing.assert_allclose(asym.coweighting(D, ts), asym.weighting(D.T, ts), rtol=1e-12)
    np.testing.assert_allclose(asym.magnitude(D, ts), asym.magnitude(D.T, ts), rtol=1e-13)


def test_reversed_digraph_swaps_weighting_and_coweighting():
    G = nx.gnp_random_graph(7, 0.4, seed=2, directed=True)
    nx.add_path(G, range(7))
    t = 0.8
    np.testing.assert_allclose(
        asym.coweighting(G, t), asym.weighting(G.reverse(), t), rtol=1e-12, atol=1e-14
    )


def test_large_scale_limit_is_n():
    D = _random_quasi_metric(5, 4)
    assert asym.magnitude(D, 1e3) == pytest.approx(5.0, rel=1e-15)


def test_small_t_form_is_used_and_accurate():
    D = [[0.0, 1.0], [3.0, 0.0]]
    res = asym.solve(D, 1e-9)
    assert res.methods == ("small_t",)
    _, w, _ = _two_point_reference(1.0, 3.0, 1e-9)
    assert rel(res.weighting[0], w) <= 1e-13  # LU of Z would give ~1e-8 here


def test_input_is_not_modified():
    D = np.array([[0.0, 1.0], [2.0, 0.0]])
    D.flags.writeable = False
    asym.magnitude(D, 1.0)
    Z = np.array([[1.0, 2.0], [0.25, 1.0]])
    asym.magnitude(Z, kind="similarity")
    np.testing.assert_array_equal(Z, [[1.0, 2.0], [0.25, 1.0]])


def test_one_point():
    assert asym.magnitude([[0.0]], 1.0) == 1.0
    assert asym.magnitude([[2.0]], kind="similarity") == 0.5
    assert asym.magnitude(nx.DiGraph([(0, 0)]), 1.0) == 1.0  # a self-loop is ignored


# ---------------------------------------------------------------- digraph details


def test_digraph_edge_rules():
    G = nx.MultiDiGraph()
    G.add_edge("a", "b", weight=3.0)
    G.add_edge("a", "b", weight=1.0)  # the lighter parallel edge counts
    G.add_edge("b", "c", weight=0.0)  # zero length: d(b, c) = 0, d(c, b) = inf
    G.add_edge("c", "c", weight=9.0)  # self-loops are ignored
    G.add_edge("c", "a")  # default weight 1
    D = asym.distance_matrix(G)
    np.testing.assert_array_equal(D, [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0]])
    m, _, _ = mp_solve(D, 0.7)
    assert rel(asym.magnitude(G, 0.7), [m]) <= MAG_RTOL


def test_undirected_graph_edges_go_both_ways():
    G = nx.Graph()
    G.add_edge("x", "y", weight=2.0)
    G.add_edge("y", "z", weight=0.5)
    D = asym.distance_matrix(G)
    np.testing.assert_array_equal(D, mm.distance_matrix(G))


# ---------------------------------------------------------------- singular Z, similarity input


def test_magnitude_of_a_matrix_is_sum_of_inverse_entries():
    Z = np.array([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0], [4.0, 1.0, -2.0]])
    ref = sum(sum(row) for row in (mp.matrix(Z.tolist()) ** -1).tolist())
    assert rel(asym.magnitude(Z, kind="similarity"), [ref]) <= MAG_RTOL
    np.testing.assert_allclose(asym.weighting(Z, kind="similarity"), np.linalg.solve(Z, np.ones(3)))
    np.testing.assert_allclose(
        asym.coweighting(Z, kind="similarity"), np.linalg.solve(Z.T, np.ones(3))
    )


def test_singular_consistent_similarity():
    """Z = 1 1^T + b c^T, b = (1, 2, 3), c = (0, 1, -1): rank 2, 1 in both ranges.

    Weightings: 1^T w = 1 and c^T w = 0 (min norm: w = 1/3); coweightings: 1^T v = 1 and
    b^T v = 0 (min norm: v = (4/3, 1/3, -2/3)); every pair gives |Z| = 1.
    """
    b, c = np.array([1, 2, 3]), np.array([0, 1, -1])
    Zi = np.ones((3, 3), dtype=int) + np.outer(b, c)
    F = [[Fraction(int(x)) for x in row] for row in Zi]
    w_ref = [Fraction(1, 3)] * 3
    v_ref = [Fraction(4, 3), Fraction(1, 3), Fraction(-2, 3)]
    assert all(sum(F[i][j] * w_ref[j] for j in range(3)) == 1 for i in range(3))
    assert all(sum(v_ref[i] * F[i][j] for i in range(3)) == 1 for j in range(3))
    Z = Zi.astype(float)
    res = asym.solve(Z, kind="similarity")
    assert res.methods == ("svd",) and res.rank.tolist() == [2] and not res.unique[0]
    np.testing.assert_allclose(res.weighting[0], [float(x) for x in w_ref], rtol=1e-14)
    np.testing.assert_allclose(res.coweighting[0], [float(x) for x in v_ref], rtol=1e-14)
    assert asym.magnitude(Z, kind="similarity") == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_allclose(asym.weighting(Z, kind="similarity"), [1 / 3] * 3, rtol=1e-14)


@pytest.mark.parametrize(
    ("Z", "has_w", "has_v"),
    [
        pytest.param([[1.0, 0.0], [1.0, 0.0]], True, False, id="weighting-only"),
        pytest.param([[1.0, 1.0], [2.0, 2.0]], False, True, id="coweighting-only"),
        pytest.param([[1.0, 2.0], [2.0, 4.0]], False, False, id="neither"),
        pytest.param([[0.0, 0.0], [0.0, 0.0]], False, False, id="zero"),
    ],
)
def test_singular_inconsistent_similarity(Z, has_w, has_v):
    res = asym.solve(Z, kind="similarity")
    assert res.has_weighting[0] == has_w and res.has_coweighting[0] == has_v
    assert np.isnan(res.magnitude[0])
    with pytest.raises(MagnitudeUndefinedError, match="magnitude is undefined") as info:
        asym.magnitude(Z, kind="similarity")
    err = info.value
    assert isinstance(err, mm.SingularSimilarityError) and isinstance(err, np.linalg.LinAlgError)
    assert err.scale is None and (err.has_weighting, err.has_coweighting) == (has_w, has_v)
    if has_w:
        w = asym.weighting(Z, kind="similarity")
        np.testing.assert_allclose(np.asarray(Z) @ w, 1.0, rtol=1e-14)
    else:
        with pytest.raises(MagnitudeUndefinedError, match=r"no weighting \(Z w = 1\)"):
            asym.weighting(Z, kind="similarity")
    if has_v:
        v = asym.coweighting(Z, kind="similarity")
        np.testing.assert_allclose(v @ np.asarray(Z), 1.0, rtol=1e-14)
    else:
        with pytest.raises(MagnitudeUndefinedError, match="no coweighting"):
            asym.coweighting(Z, kind="similarity")


def test_weighting_only_example_from_docstring():
    # Z = [[1, 0], [1, 0]]: w = (1, c) for any c, sums 1 + c differ: no magnitude
    res = asym.solve([[1.0, 0.0], [1.0, 0.0]], kind="similarity")
    np.testing.assert_allclose(res.weighting[0], [1.0, 0.0], atol=1e-15)


def test_singular_scale_of_a_graph_names_the_scale():
    # K_{3,2}: Z(t) singular at t = log(sqrt 2), where 1 is in neither range
    G = nx.complete_bipartite_graph(3, 2)
    t = float(np.log(np.sqrt(2.0)))
    with pytest.raises(mm.SingularSimilarityError, match=r"singular at t = 0\.34657") as info:
        asym.magnitude(G, t)
    assert info.value.scale == t
    with pytest.raises(MagnitudeUndefinedError) as info:
        asym.weighting(G.to_directed(), [1.0, t])
    assert info.value.scale == t and not info.value.has_weighting


def test_k32_away_from_its_pole_matches_core():
    G = nx.complete_bipartite_graph(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        ref = mm.magnitude(G, [0.34, 1.0])
    q = np.exp(-np.array([0.34, 1.0]))
    np.testing.assert_allclose(ref, (5 - 7 * q) / ((1 + q) * (1 - 2 * q**2)), rtol=1e-12)
    np.testing.assert_allclose(asym.magnitude(G, [0.34, 1.0]), ref, rtol=1e-12)


# ---------------------------------------------------------------- disagreement, conditioning


def test_weighting_coweighting_disagreement_raises():
    # w = (0, 1/0.7) exactly, but v = (-0.7/d, ...) ~ 1e10 cancels to 1/0.7: sum(v) keeps only
    # ~6 digits; the magnitude itself is that ill-conditioned (perturbing Z by eps moves it)
    Z = np.array([[0.3, 0.7], [0.3 + 1e-10, 0.7]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.IllConditionedWarning)
        with pytest.raises(MagnitudeMismatchError, match="beyond rtol = 1e-08") as info:
            asym.magnitude(Z, kind="similarity")
        err = info.value
        assert isinstance(err, mm.MagnitudeError) and err.scale is None
        assert err.weighting_sum != err.coweighting_sum
        assert abs(err.weighting_sum - err.coweighting_sum) < 1e-3
        # a looser tolerance accepts it; solve() never checks
        assert asym.magnitude(Z, kind="similarity", rtol=1e-3) == pytest.approx(1 / 0.7, rel=1e-3)
        res = asym.solve(Z, kind="similarity")
    assert res.magnitude[0] == pytest.approx(res.coweighting_sum[0], rel=1e-3)


def test_ill_conditioned_warning():
    Z = np.array([[1.0, 1.0], [1.0, 1.0 + 1e-13]])
    with pytest.warns(mm.IllConditionedWarning, match="ill-conditioned"):
        w = asym.weighting(Z, kind="similarity")
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-2)


# ---------------------------------------------------------------- bad input


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


GOOD = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0], [0.5, 4.0, 0.0]])
FUNCS = pytest.mark.parametrize(
    "func",
    [asym.magnitude, asym.weighting, asym.coweighting, asym.solve, asym.similarity_matrix],
    ids=["magnitude", "weighting", "coweighting", "solve", "similarity_matrix"],
)


@FUNCS
@pytest.mark.parametrize(
    ("D", "match"),
    [
        pytest.param(np.zeros((2, 3)), r"square \(n, n\) distance matrix, got shape \(2, 3\)"),
        pytest.param(np.zeros(3), r"square .* got shape \(3,\)", id="1d"),
        pytest.param(np.zeros((2, 2, 2)), r"square .* got shape \(2, 2, 2\)", id="3d"),
        pytest.param(np.zeros((0, 0)), "is empty", id="empty"),
        pytest.param(_with(GOOD, (0, 1), np.nan), r"NaN at index \(0, 1\)", id="nan"),
        pytest.param(_with(GOOD, (0, 1), -1.0), r"negative distance -1\.0 at \(0, 1\)", id="neg"),
        pytest.param(_with(GOOD, (2, 0), -np.inf), "negative distance -inf", id="-inf"),
        pytest.param(_with(GOOD, (1, 1), 0.5), r"nonzero diagonal entry D\[1, 1\] = 0\.5"),
        pytest.param(_with(GOOD, (1, 1), np.inf), r"nonzero diagonal entry D\[1, 1\] = inf"),
        pytest.param([["0", "1"], ["1", "0"]], "must hold numbers", id="strings"),
        pytest.param(GOOD.astype(complex), "is complex", id="complex"),
        pytest.param([[0.0, 1.0], [1.0]], "could not be read", id="ragged"),
    ],
)
def test_bad_distances(func, D, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(D, 1.0)


@FUNCS
@pytest.mark.parametrize(
    ("Z", "match"),
    [
        pytest.param(np.ones((2, 3)), r"square \(n, n\) similarity matrix", id="2x3"),
        pytest.param(np.ones((0, 0)), "is empty", id="empty"),
        pytest.param(_with(np.eye(2), (0, 1), np.nan), r"NaN at index \(0, 1\)", id="nan"),
        pytest.param(_with(np.eye(2), (1, 0), np.inf), "an infinite value", id="inf"),
    ],
)
def test_bad_similarity(func, Z, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(Z, kind="similarity")


@FUNCS
@pytest.mark.parametrize(
    ("t", "match"),
    [
        (0.0, "must be > 0"),
        (-1.0, "must be > 0"),
        ([1.0, -2.0], "must be > 0"),
        (np.nan, "non-finite"),
        (None, "a scale t is required"),
        ([], "is empty"),
    ],
)
def test_bad_scales(func, t, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(GOOD, t)


@FUNCS
def test_kind_and_t_mismatch(func):
    with pytest.raises(mm.InvalidInputError, match="t does not apply to kind='similarity'"):
        func(np.eye(2), 1.0, kind="similarity")
    with pytest.raises(mm.InvalidInputError, match="unknown kind 'metric'"):
        func(GOOD, 1.0, kind="metric")
    with pytest.raises(mm.InvalidInputError, match="use kind='distances'"):
        func(nx.DiGraph([(0, 1)]), kind="similarity")


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (-1.0, "negative weight -1.0; edge lengths must be >= 0"),
        (float("nan"), "weight nan"),
        ("2", "non-numeric weight '2'"),
        (None, "non-numeric weight None"),
    ],
)
def test_bad_digraph_weights(weight, match):
    G = nx.DiGraph()
    G.add_edge("a", "b", weight=weight)
    with pytest.raises(mm.InvalidInputError, match=match):
        asym.magnitude(G, 1.0)
    with pytest.raises(mm.InvalidInputError, match=match):
        asym.distance_matrix(G)


def test_empty_graph():
    with pytest.raises(mm.InvalidInputError, match="no nodes"):
        asym.magnitude(nx.DiGraph(), 1.0)


@pytest.mark.parametrize("rtol", [-1.0, "tight", float("nan")])
def test_bad_rtol(rtol):
    with pytest.raises(mm.InvalidInputError, match="rtol"):
        asym.magnitude(GOOD, 1.0, rtol=rtol)


# ---------------------------------------------------------------- the default API stays symmetric


def test_core_api_rejects_asymmetric_input_and_names_this_module():
    with pytest.raises(mm.InvalidInputError, match=r"not symmetric.*mm\.asymmetric\.magnitude"):
        mm.magnitude(GOOD, 1.0, metric="precomputed")
    with pytest.raises(mm.InvalidInputError, match="directed"):
        mm.magnitude(nx.DiGraph([(0, 1)]), 1.0)
