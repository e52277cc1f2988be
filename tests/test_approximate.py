"""Approximate weights (metric_magnitude.approximate): local nearest-neighbour systems and a few
CG steps.

Exact where they must be (k = n - 1, two points, t -> infinity, many CG steps), a measured
loose bound on Gaussian clouds otherwise (the measured values are in the comments and in
docs/guide-approximate.md), and one test per bad input.
"""

from __future__ import annotations

import numpy as np
import pytest

import metric_magnitude as mm


def _cloud(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _exact(X, t, metric="euclidean"):
    _, res = mm.solve(X, t, metric=metric, method="cholesky")
    return res.weights, res.magnitude


def _rel(w, e):
    return float(np.linalg.norm(w - e) / np.linalg.norm(e))


# ----------------------------------------------------------------------------- exact cases


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev"])
@pytest.mark.parametrize("t", [0.3, 4.0])
def test_all_neighbours_give_the_exact_weights(metric, t):
    X = _cloud(120, 2, seed=1)
    w = mm.approximate_weights(X, t, metric=metric, k=119)
    e, _ = _exact(X, t, metric)
    # the local system is the whole (permuted) system: equal up to its conditioning
    assert np.allclose(w, e[0], rtol=1e-8, atol=1e-10 * np.abs(e).max())


@pytest.mark.parametrize("t", [0.1, 1.0, 10.0])
def test_two_points_closed_form(t):
    X = [[0.0, 0.0], [3.0, 4.0]]  # distance 5: w_i = 1 / (1 + e^{-5t})
    expected = 1.0 / (1.0 + np.exp(-5.0 * t))
    assert np.allclose(mm.approximate_weights(X, t, k=1), expected, rtol=1e-14)
    assert np.allclose(mm.approximate_weights(X, t, method="cg", iterations=3), expected,
                       rtol=1e-12)


@pytest.mark.parametrize("method", ["nearest_neighbour", "cg"])
def test_large_scale_weights_tend_to_one(method):
    X = _cloud(300, 3, seed=2)
    w = mm.approximate_weights(X, 1e4, method=method)  # min distance ~ 0.01: t d > 40
    assert np.allclose(w, 1.0, rtol=0, atol=1e-12)


def test_many_cg_steps_converge_to_the_exact_weights():
    X = _cloud(500, 3, seed=3)
    e, _ = _exact(X, 2.0)
    w = mm.approximate_weights(X, 2.0, method="cg", iterations=60)
    assert _rel(w, e[0]) < 1e-8


def test_single_point():
    assert mm.approximate_weights([[1.0, 2.0]], 3.0, k=None).tolist() == [1.0]
    assert mm.approximate_weights([[1.0, 2.0]], 3.0, method="cg").tolist() == [1.0]


# ----------------------------------------------------------------------------- measured error


@pytest.mark.parametrize(("d", "t", "k", "bound"), [
    (2, 12.0, 20, 0.05),  # measured 0.012 (|tX| = 0.43 n)
    (2, 12.0, 50, 0.005),  # measured 0.0007
    (5, 3.0, 50, 0.15),  # measured 0.037 (|tX| = 0.51 n): higher dimension, weaker locality
])
def test_nearest_neighbour_error_on_gaussian_clouds(d, t, k, bound):
    X = _cloud(600, d, seed=4)
    e, mag = _exact(X, t)
    w = mm.approximate_weights(X, t, k=k)
    assert _rel(w, e[0]) < bound
    assert abs(w.sum() - mag[0]) < bound * mag[0]


@pytest.mark.parametrize(("d", "t", "iterations", "bound"), [
    (2, 12.0, 3, 0.03),  # measured 0.0074
    (2, 12.0, 10, 1e-4),  # measured 4.4e-6
    (5, 3.0, 3, 0.02),  # measured 0.0042
    (5, 3.0, 10, 1e-5),  # measured 1.4e-7
])
def test_cg_error_on_gaussian_clouds(d, t, iterations, bound):
    X = _cloud(600, d, seed=4)
    e, mag = _exact(X, t)
    w = mm.approximate_weights(X, t, method="cg", iterations=iterations)
    assert _rel(w, e[0]) < bound
    # CG from zero: sum(w) is a Gauss-quadrature lower bound on |tX| (of the truncated Z,
    # whose far field differs by at most 5e-10 per row)
    assert w.sum() <= mag[0] * (1 + 1e-8)


def test_ranking_of_outlier_scores_is_kept():
    # scoring use: the largest weights (outliers, boundary) are found by either method
    X = _cloud(800, 2, seed=5)
    X[:5] += 6.0  # five outliers far from the cloud
    e, _ = _exact(X, 8.0)
    top_exact = set(np.argsort(-e[0])[:10])
    for kw in ({"k": 30}, {"method": "cg", "iterations": 5}):
        w = mm.approximate_weights(X, 8.0, **kw)
        assert len(set(np.argsort(-w)[:10]) & top_exact) >= 9
        assert set(range(5)) <= set(np.argsort(-w)[:10])


# ----------------------------------------------------------------------------- shapes, copies


def test_several_scales_equal_one_scale_at_a_time():
    X = _cloud(200, 3, seed=6)
    ts = np.array([0.5, 2.0, 7.0])
    for kw in ({"k": 25}, {"method": "cg", "iterations": 4}):
        W = mm.approximate_weights(X, ts, **kw)
        assert W.shape == (3, 200)
        for i, t in enumerate(ts):
            assert np.allclose(W[i], mm.approximate_weights(X, t, **kw), rtol=1e-12, atol=0)


@pytest.mark.parametrize("kw", [{"k": 10}, {"method": "cg", "iterations": 5}])
def test_copies_share_their_weight(kw):
    X = _cloud(100, 2, seed=7)
    Xc = np.vstack([X, X[:3], X[:1]])  # point 0 three times, points 1 and 2 twice
    w = mm.approximate_weights(X, 3.0, **kw)
    wc = mm.approximate_weights(Xc, 3.0, **kw)
    assert np.allclose(wc[[0, 100, 103]], w[0] / 3, rtol=1e-12)
    assert np.allclose(wc[[1, 101]], w[1] / 2, rtol=1e-12)
    assert np.isclose(wc.sum(), w.sum(), rtol=1e-12)


def test_aliases():
    X = _cloud(50, 2, seed=8)
    a = mm.approximate_weights(X, 2.0, method="nearest_neighbor", metric="l1", k=5)
    b = mm.approximate_weights(X, 2.0, method="nearest_neighbour", metric="cityblock", k=5)
    assert np.array_equal(a, b)


def test_default_k_is_capped_for_small_inputs():
    X = _cloud(20, 2, seed=9)
    e, _ = _exact(X, 1.0)
    assert np.allclose(mm.approximate_weights(X, 1.0), e[0], rtol=1e-8)  # k = n - 1 = 19


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(("kw", "match"), [
    ({"k": 0}, "k must be >= 1, got 0"),
    ({"k": -3}, "k must be >= 1"),
    ({"k": 10}, r"k must be at most n - 1 = 9 \(the other points\), got 10"),
    ({"k": 2.5}, "k must be an integer, got 2.5"),
    ({"k": True}, "k must be an integer"),
    ({"method": "cg", "iterations": 0}, "iterations must be >= 1, got 0"),
    ({"method": "cg", "iterations": "5"}, "iterations must be an integer"),
    ({"method": "cg", "k": 5}, "k applies to method='nearest_neighbour' only"),
    ({"iterations": 5}, "iterations applies to method='cg' only"),
    ({"method": "exact"}, "unknown method 'exact'; choose one of 'nearest_neighbour', 'cg'"),
    ({"metric": "minkowski"}, "supports metric 'euclidean', 'cityblock' or 'chebyshev'"),
    ({"metric": "precomputed"}, "got 'precomputed'; for other metrics use mm.weights"),
    ({"method": "cg", "preconditioner": "ilu"}, "unknown preconditioner 'ilu'"),
])
def test_bad_parameters(kw, match):
    X = _cloud(10, 2)
    with pytest.raises(mm.InvalidInputError, match=match):
        mm.approximate_weights(X, 1.0, **kw)


@pytest.mark.parametrize(("t", "match"), [
    (0.0, "must be > 0, got 0.0"),
    (-1.0, "must be > 0"),
    (np.nan, "non-finite scale"),
    ([[1.0]], "must be a number or a 1-D array"),
])
def test_bad_scales(t, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        mm.approximate_weights(_cloud(10, 2), t)


def test_bad_points():
    with pytest.raises(mm.InvalidInputError, match="must be 2-D"):
        mm.approximate_weights(np.zeros(5), 1.0)
    X = _cloud(10, 2)
    X[3, 1] = np.nan
    with pytest.raises(mm.InvalidInputError, match="contains NaN"):
        mm.approximate_weights(X, 1.0)


def test_one_point_has_no_neighbours():
    with pytest.raises(mm.InvalidInputError, match="k must be at most n - 1 = 0"):
        mm.approximate_weights([[0.0, 1.0]], 1.0, k=1)
