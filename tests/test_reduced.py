"""The reduced-basis model behind magnitude functions of positive definite spaces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import metric_magnitude as mm
from metric_magnitude._reduced import (
    ReducedModel,
    _coefficient_derivatives,
    chebyshev_degree,
    convergence_search,
)
from metric_magnitude.function import _REDUCED_MIN_POINTS
from metric_magnitude.scales import _evaluator, _newton_search, _start_scale
from metric_magnitude.spaces import as_space


def _cloud(n, d, seed=0, spread=1.0):
    return np.random.default_rng(seed).normal(size=(n, d)) * spread


def test_chebyshev_expansion_reproduces_exp_and_its_t_derivatives():
    h = 3.0
    x = np.linspace(0.0, 2 * h, 301)
    u = x / h - 1.0
    ts = np.array([1e-4, 0.3, 2.0, 7.5])
    Q = chebyshev_degree(ts.max() * h)
    C = _coefficient_derivatives(ts, h, Q, 3)
    T = np.polynomial.chebyshev.chebvander(u, Q)  # T_q(u), shape (len(x), Q+1)
    for k in range(4):
        approx = C[k] @ T.T  # d^k/dt^k exp(-t x) = (-x)^k exp(-t x)
        exact = (-x[None, :]) ** k * np.exp(-ts[:, None] * x[None, :])
        scale = np.max(np.abs(exact)) if k else 1.0
        assert np.max(np.abs(approx - exact)) <= 1e-14 * max(scale, 1.0)


def test_snapshot_taylor_vectors_are_the_t_derivatives_of_the_weights():
    X = _cloud(80, 3, seed=1)
    model = ReducedModel(as_space(X).distances)
    t = 1.3
    model.add(t)
    w = mm.weights(X, t)
    np.testing.assert_allclose(model._vectors[0][0], w, rtol=1e-10, atol=1e-10)
    # c_k = w^(k) / k!, against central differences of exact weights
    e = 1e-4
    wp, wm = mm.weights(X, t + e), mm.weights(X, t - e)
    d1 = (wp - wm) / (2 * e)
    d2 = (wp - 2 * w + wm) / e**2
    scale = np.abs(d1).max()
    assert np.max(np.abs(model._vectors[1][0] - d1)) <= 1e-6 * scale
    assert np.max(np.abs(2 * model._vectors[2][0] - d2)) <= 1e-4 * np.abs(d2).max()
    # exact value and slope at the snapshot
    f, df = model.exact[t][:2]
    assert f == pytest.approx(mm.magnitude(X, t), rel=1e-12)
    assert df == pytest.approx(mm.magnitude_derivative(X, t), rel=1e-10)


def test_model_is_a_lower_bound_exact_at_snapshots_and_direct_matches_chebyshev():
    X = _cloud(150, 4, seed=2)
    D = as_space(X).distances
    model = ReducedModel(D)
    snaps = [0.4, 1.5, 4.0]
    model.add(snaps)
    ts = np.geomspace(0.05, 6.0, 40)
    main, sub = model.evaluate(ts, 6.0, nu=3)
    exact = mm.magnitude(X, ts)
    # Galerkin values never exceed |tX| (up to rounding), and the sub-model is below the model
    assert np.all(main[:, 0] <= exact * (1 + 1e-12))
    assert np.all(sub[:, 0] <= main[:, 0] * (1 + 1e-12))
    at_snaps = model.evaluate(snaps, 6.0, nu=1)[0]
    np.testing.assert_allclose(at_snaps[:, 0], mm.magnitude(X, snaps), rtol=1e-11)
    np.testing.assert_allclose(at_snaps[:, 1], mm.magnitude_derivative(X, snaps), rtol=1e-8)
    for t in (0.7, 3.3):
        v, dv, d2v, vsub = model.direct(t)
        m, s = model.evaluate([t], 6.0, nu=2)
        assert v == pytest.approx(m[0, 0], rel=1e-12)
        assert dv == pytest.approx(m[0, 1], rel=1e-9)
        assert d2v == pytest.approx(m[0, 2], rel=1e-7)
        assert vsub == pytest.approx(s[0, 0], rel=1e-12)


@pytest.mark.parametrize("d, spread", [(1, 1.0), (2, 0.01), (3, 50.0), (10, 1.0)])
def test_convergence_search_matches_the_exact_newton_search(d, spread):
    X = _cloud(200, d, seed=d, spread=spread)
    space = as_space(X)
    for q in (0.3, 0.95):
        target = q * space.n_distinct
        model = ReducedModel(space.distances)
        t_model = convergence_search(model, target, _start_scale(space), 1e-12)
        t_exact = _newton_search(_evaluator(space, "auto"), target, _start_scale(space), 1e-12)
        assert t_model == pytest.approx(t_exact, rel=1e-10)
        assert mm.magnitude(X, t_model) == pytest.approx(target, rel=1e-10)
        assert model.n_snapshots <= 8


def _reduced_cases():
    rng = np.random.default_rng(7)
    out = []
    for i in range(12):  # clouds of varied size, dimension and spread
        n, d = int(rng.integers(_REDUCED_MIN_POINTS, 260)), int(rng.integers(1, 12))
        out.append((f"cloud{i}", rng.normal(size=(n, d)) * rng.uniform(0.05, 20), "euclidean"))
    base = rng.normal(size=(60, 3))
    out += [
        ("near_duplicates", np.vstack([base, base[:20] + 1e-7 * rng.normal(size=(20, 3))]),
         "euclidean"),
        ("clusters", np.vstack([rng.normal(size=(40, 2)) * 0.01 + c
                                for c in ([0, 0], [5, 0], [0, 40])]), "euclidean"),
        ("far_outlier", np.vstack([rng.normal(size=(120, 3)), [[300.0, 0, 0]]]), "euclidean"),
        ("multiscale_line", np.concatenate([np.geomspace(1e-3, 1e2, 80), [0.0]])[:, None],
         "euclidean"),
        ("l1_cloud", rng.uniform(size=(150, 5)), "cityblock"),
        ("l1_grid", np.array([[i, j] for i in range(12) for j in range(9)], float), "cityblock"),
        ("uniform_cube", rng.uniform(size=(250, 3)), "euclidean"),
        ("circle", np.c_[np.cos(np.linspace(0, 2 * np.pi, 200, endpoint=False)),
                         np.sin(np.linspace(0, 2 * np.pi, 200, endpoint=False))], "euclidean"),
        ("high_dim", rng.normal(size=(120, 60)), "euclidean"),
        ("two_scales", np.vstack([rng.normal(size=(100, 2)), 1e-3 * rng.normal(size=(60, 2))]),
         "euclidean"),
    ]
    return out


@pytest.mark.parametrize(
    "name, X, metric", _reduced_cases(), ids=lambda v: v if isinstance(v, str) else ""
)
@pytest.mark.parametrize("grid", ["auto", "linear"])
def test_reduced_function_error_estimate_bounds_the_true_error(name, X, metric, grid):
    f = mm.magnitude_function(X, grid, metric=metric)
    # a few factorisations for the whole range; clusters at several scales need more
    if f.solver == "reduced basis":
        assert f.n_solves <= (12 if name.startswith("cloud") else 60)
    ts = np.concatenate([f.scales[f.scales > 0], np.geomspace(f.t_max / 2000, f.t_max, 150)])
    ts = np.unique(ts[(ts >= f.t_min) & (ts > 0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.IllConditionedWarning)
        exact = mm.magnitude(X, ts, metric=metric)
        exact_d = mm.magnitude_derivative(X, ts, metric=metric)
    err = np.max(np.abs(f(ts) / exact - 1))
    assert err <= f.error_estimate
    assert f.error_estimate <= f.rtol
    derr = np.max(np.abs(f.derivative_at(ts) - exact_d)) / np.max(np.abs(exact_d))
    # the exact-anchor path (used here where the Chebyshev degree is too high, data spread
    # over many scales) under-estimates the slope's error by up to ~15x on the linear grid
    factor = 1.0 if f.solver == "reduced basis" else 20.0
    assert derr <= factor * max(f.derivative_error_estimate, 1e-12)


def test_linear_scales_are_magnipys_grid_and_reuse_the_search():
    X = _cloud(300, 10, seed=3)
    f = mm.magnitude_function(X, "linear", n_scales=50)
    t_conv = mm.convergence_scale(X)
    np.testing.assert_allclose(f.scales, np.linspace(0.0, t_conv, 50), rtol=1e-12)
    assert f.values[0] == 1.0 and f.values[-1] == pytest.approx(0.95 * 300, rel=1e-9)
    # the search's snapshots are part of the model: few factorisations in all
    assert f.n_solves <= 8
    g = mm.magnitude_function(X, np.linspace(0.0, t_conv, 50))
    np.testing.assert_allclose(f.values, g.values, rtol=1e-8)


def test_small_or_indefinite_spaces_keep_exact_anchors():
    small = _cloud(_REDUCED_MIN_POINTS - 1, 3)
    f = mm.magnitude_function(small)
    assert f.n_solves == np.unique(f.anchor_scales).size and f.n_solves > 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        g = mm.magnitude_function(_cloud(100, 2), metric="chebyshev")
    assert g.n_solves > 10  # not known positive definite: exact solves at every anchor


def test_explicit_method_uses_exact_anchors():
    X = _cloud(100, 3)
    f = mm.magnitude_function(X, method="cholesky")
    g = mm.magnitude_function(X)
    assert f.n_solves > g.n_solves
    np.testing.assert_allclose(f.values, g.values, rtol=2e-8)


def test_peak_memory_stays_within_three_matrices():
    import tracemalloc

    n = 1000
    X = _cloud(n, 5, seed=4)
    tracemalloc.start()
    mm.magnitude_function(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak <= 3 * 8 * n * n


def test_model_value_at_a_snapshot_equals_cholesky_on_the_points():
    X = _cloud(100, 2, seed=5)
    D = cdist(X, X)
    model = ReducedModel(D)
    model.add([0.5, 2.0])
    assert model.exact[2.0][0] == pytest.approx(mm.magnitude(X, 2.0, method="cholesky"),
                                                rel=1e-12)
