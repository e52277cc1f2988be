"""metric_magnitude.hull: convex hull vertices from magnitude, against scipy's ConvexHull."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.spatial import ConvexHull
from scipy.spatial.distance import cdist

import metric_magnitude as mm
from metric_magnitude.hull import (
    _max_diversity_support,
    _moments,
    convex_hull_approximation,
    default_hull_scale,
)

METHODS = ["diversity", "moments"]


def _pr(selected, X) -> tuple[float, float]:
    hull = set(ConvexHull(X).vertices.tolist())
    sel = set(np.asarray(selected).tolist())
    tp = len(sel & hull)
    return tp / len(sel), tp / len(hull)


def _disk(n, rng):
    r, a = np.sqrt(rng.random(n)), 2 * np.pi * rng.random(n)
    return np.c_[r * np.cos(a), r * np.sin(a)]


# ---------------------------------------------------------------- results


@pytest.mark.parametrize("n", [3, 12, 60, 200])
@pytest.mark.parametrize(
    "shape", ["regular polygon", "random circle", "Fibonacci sphere", "parabola"]
)
def test_convex_position_all_found(shape, n):
    rng = np.random.default_rng(n)
    if shape == "regular polygon":
        a = 2 * np.pi * np.arange(n) / n
        X = np.c_[np.cos(a), np.sin(a)]
    elif shape == "random circle":
        a = 2 * np.pi * rng.random(n)
        X = 5.0 * np.c_[np.cos(a), np.sin(a)] + [3.0, -1.0]
    elif shape == "Fibonacci sphere":
        n = max(n, 4)  # a 3-D hull needs 4 points
        z = 1 - (2 * np.arange(n) + 1) / n
        a = np.pi * (3 - np.sqrt(5)) * np.arange(n)
        X = np.c_[np.sqrt(1 - z**2) * np.cos(a), np.sqrt(1 - z**2) * np.sin(a), z]
    else:
        x = rng.random(n)
        X = np.c_[x, x**2]
    np.testing.assert_array_equal(convex_hull_approximation(X), np.arange(n))


@pytest.mark.parametrize("m", [4, 10])
def test_grid_plus_corners(m):
    g = np.linspace(0.1, 0.9, m)
    grid = np.array([[x, y] for x in g for y in g])
    corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    X = np.vstack([grid[: len(grid) // 2], corners, grid[len(grid) // 2 :]])
    idx = len(grid) // 2 + np.arange(4)
    for method in METHODS:
        got = convex_hull_approximation(X, method=method)
        assert set(idx) <= set(got.tolist()), method
    # at small t only extreme points carry the maximum-diversity measure: the corners exactly
    np.testing.assert_array_equal(convex_hull_approximation(X, t=0.05), idx)


def test_unit_grid_corners_at_small_scale():
    g = np.linspace(0.0, 3.0, 7)
    X = np.array([[x, y] for x in g for y in g])
    np.testing.assert_array_equal(convex_hull_approximation(X, t=0.01), [0, 6, 42, 48])


@pytest.mark.parametrize("seed", range(5))
def test_gaussian_2d_recall_and_precision(seed):
    X = np.random.default_rng(seed).standard_normal((500, 2))
    p, r = _pr(convex_hull_approximation(X), X)
    assert r >= 0.9 and p >= 0.6, (p, r)


@pytest.mark.parametrize("seed", range(3))
def test_moments_gaussian_2d_recall(seed):
    X = np.random.default_rng(seed).standard_normal((400, 2))
    p, r = _pr(convex_hull_approximation(X, method="moments"), X)
    assert r >= 0.7 and p >= 0.15, (p, r)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("d", [2, 3, 4])
def test_small_scale_returns_only_hull_vertices(d, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((300, d)) if seed % 2 else rng.random((300, d))
    got = convex_hull_approximation(X, t=1e-6 / default_hull_scale(X))
    p, r = _pr(got, X)
    assert p == 1.0 and r > 0


@pytest.mark.parametrize("d", [2, 3])
def test_precision_falls_recall_rises_with_scale(d):
    X = (
        _disk(800, np.random.default_rng(1))
        if d == 2
        else np.random.default_rng(1).random((800, 3))
    )
    t0 = default_hull_scale(X)
    sizes = [convex_hull_approximation(X, t=c * t0).size for c in (0.1, 0.5, 1.0, 2.0)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


def test_invariant_under_similarity_transforms():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 3))
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    Y = 3.7 * X @ Q + [10.0, -2.0, 5.0]
    for method in METHODS:
        np.testing.assert_array_equal(
            convex_hull_approximation(X, method=method), convex_hull_approximation(Y, method=method)
        )
    np.testing.assert_allclose(default_hull_scale(Y), default_hull_scale(X) / 3.7, rtol=1e-12)


def test_permutation_equivariant():
    rng = np.random.default_rng(2)
    X = _disk(250, rng)
    perm = rng.permutation(250)
    got = convex_hull_approximation(X[perm])
    np.testing.assert_array_equal(np.sort(perm[got]), convex_hull_approximation(X))


def test_repeated_points_reported_once_at_first_occurrence():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.3, 0.3], [1.0, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(convex_hull_approximation(X, t=0.01), [0, 1, 2])
    # at the default scale 4 distinct points all carry weight; copies still count once
    np.testing.assert_array_equal(convex_hull_approximation(X), [0, 1, 2, 3])


def test_points_on_a_line():
    x = np.array([[3.0], [-1.0], [7.5], [2.0], [7.5]])
    np.testing.assert_array_equal(convex_hull_approximation(x), [1, 2])
    np.testing.assert_array_equal(convex_hull_approximation(x, 100.0, method="moments"), [1, 2])


@pytest.mark.parametrize("method", METHODS)
def test_degenerate_input_is_solved_in_its_affine_hull(method):
    x = np.linspace(0, 1, 9)[[4, 0, 8, 2, 6, 1, 3, 5, 7]]
    line = np.c_[x, 2 * x, -x + 1]  # collinear in space: the two end points
    np.testing.assert_array_equal(convex_hull_approximation(line, method=method), [1, 2])
    rng = np.random.default_rng(3)
    flat = _disk(300, rng)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    lifted = np.c_[flat, np.zeros(300)] @ Q + [1.0, 2.0, 3.0]  # a disk in a tilted plane
    np.testing.assert_array_equal(
        convex_hull_approximation(lifted, method=method),
        convex_hull_approximation(flat, method=method),
    )


# ---------------------------------------------------------------- the optimiser itself


def _brute_force_max_diversity(U, t):
    """max |tB| over subsets B whose weighting is positive (Leinster-Meckes), and that B."""
    Z = np.exp(-t * cdist(U, U))
    best, arg = 1.0, None
    for k in range(1, len(U) + 1):
        for B in itertools.combinations(range(len(U)), k):
            w = np.linalg.solve(Z[np.ix_(B, B)], np.ones(k))
            if (w > 0).all() and w.sum() > best - 1e-12:
                best, arg = w.sum(), set(B)
    return best, arg


@pytest.mark.parametrize("t", [0.3, 1.0, 3.0])
@pytest.mark.parametrize("seed", range(4))
def test_maximum_diversity_against_brute_force(seed, t):
    U = np.random.default_rng(seed).standard_normal((8, 2))
    support, v = _max_diversity_support(U, t)
    best, arg = _brute_force_max_diversity(U, t)
    assert set(support.tolist()) == arg
    Z = np.exp(-t * cdist(U[support], U[support]))
    np.testing.assert_allclose(1.0 / (v @ Z @ v), best, rtol=1e-10)
    np.testing.assert_allclose(v, mm.weights(U[support], t) / best, rtol=1e-8)


@pytest.mark.parametrize("t", [1e-8, 0.05, 1.0, 4.0])
def test_maximum_diversity_kkt(t):
    U = np.random.default_rng(5).random((400, 3))
    support, v = _max_diversity_support(U, t)
    assert (v > 0).all() and abs(v.sum() - 1) < 1e-12
    E = -np.expm1(-t * cdist(U, U[support]))
    g = E @ v
    lam = g[support] @ v
    np.testing.assert_allclose(g[support], lam, rtol=1e-8)
    assert g.max() <= lam * (1 + 1e-9)


def test_moments_are_magnitude_drops():
    U = np.random.default_rng(0).standard_normal((30, 2))
    t = 0.8
    mag, m = _moments(np.exp(-t * cdist(U, U)))
    assert mag == pytest.approx(mm.magnitude(U, t), rel=1e-12)
    for i in (0, 7, 29):
        drop = mag - mm.magnitude(np.delete(U, i, axis=0), t)
        assert m[i] == pytest.approx(drop, rel=1e-8, abs=1e-13)


@pytest.mark.parametrize("rtol", [0.003, 0.03])
def test_moments_stay_within_the_magnitude_budget(rtol):
    X = _disk(300, np.random.default_rng(4))
    t = default_hull_scale(X)
    kept = convex_hull_approximation(X, method="moments", magnitude_rtol=rtol)
    full = mm.magnitude(X, t)
    assert full - mm.magnitude(X[kept], t) <= rtol * (full - 1) * (1 + 1e-9)
    assert kept.size < 300


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([[0.0, 0.0], [1.0, np.nan], [0.0, 1.0]], "NaN"),
        ([[0.0, 0.0], [1.0, np.inf], [0.0, 1.0]], "infinite"),
        (np.arange(5.0), "1-D"),
        (np.zeros((2, 3, 2)), "must be 2-D"),
        (np.zeros((0, 2)), "empty"),
        ([[0.0, 0.0], [1.0, 1.0]], r"2 points in 2 dimensions.*at least d \+ 1 = 3"),
        (np.eye(3)[:3], r"3 points in 3 dimensions.*at least d \+ 1 = 4"),
        ([[1.0, 2.0]] * 5, "coincide"),
        ([["a", "b"], ["c", "d"], ["e", "f"]], "must hold numbers"),
    ],
)
@pytest.mark.parametrize("method", METHODS)
def test_bad_points(X, match, method):
    with pytest.raises(mm.InvalidInputError, match=match):
        convex_hull_approximation(X, method=method)


@pytest.mark.parametrize("t", [0.0, -1.0, np.nan, np.inf, "auto", True, [1.0]])
def test_bad_scale(t):
    X = np.random.default_rng(0).random((10, 2))
    with pytest.raises(mm.InvalidInputError, match="t must be"):
        convex_hull_approximation(X, t)


def test_bad_options():
    X = np.random.default_rng(0).random((10, 2))
    with pytest.raises(mm.InvalidInputError, match="unknown method 'qhull'"):
        convex_hull_approximation(X, method="qhull")
    for bad in [0.0, 1.0, -0.1, "0.1", True]:
        with pytest.raises(mm.InvalidInputError, match="magnitude_rtol"):
            convex_hull_approximation(X, method="moments", magnitude_rtol=bad)
    with pytest.raises(mm.InvalidInputError, match="coincide"):
        default_hull_scale([[1.0, 1.0], [1.0, 1.0]])
