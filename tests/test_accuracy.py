"""Accuracy contract of the exact solvers, checked against closed forms and mpmath.

Required (issue 3), for method="auto": relative error of |tX| <= 1e-12; of |tX| - 1 <= 1e-10
for every t >= 1e-8; of the weights (max norm) <= 1e-8 wherever cond(Z) <= 1e12; of the
derivative <= 1e-10. Every explicit method must still give |tX| to 1e-12 on these spaces.
"""

from __future__ import annotations

import itertools
import warnings

import mpmath as mp
import networkx as nx
import numpy as np
import pytest
from cases import ALL_CASES, SCALES, case
from oracles import k32_magnitude, max_norm_rel_err, rel_err

import metric_magnitude as mm

TOL_MAG, TOL_M1, TOL_W, TOL_DERIV = 1e-12, 1e-10, 1e-8, 1e-10
TINY = np.finfo(float).tiny  # below this a float64 derivative can only underflow to 0


def _solve(X, metric, t, method="auto"):
    kw = {} if metric is None else {"metric": metric}
    with warnings.catch_warnings():
        if method != "auto":  # explicit methods are not chosen for conditioning
            warnings.simplefilter("ignore", mm.IllConditionedWarning)
        # the weighted graph is not positive definite at some scales: that is reported,
        # and the LDL^T path is held to the same accuracy
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        return mm.solve(X, t, method=method, derivative=True, **kw)


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_auto_meets_accuracy_contract(name, t):
    X, metric, ref = case(name)
    space, res = _solve(X, metric, t)
    m, m1, w, deriv = ref(t)
    assert rel_err(res.magnitude, m) <= TOL_MAG
    assert rel_err(res.magnitude_minus_one, m1) <= TOL_M1
    dref = mp.mpf(deriv)
    derr = abs(float(res.derivative[0]) - dref) / max(abs(dref), TINY)
    assert derr <= TOL_DERIV
    if w is not None:
        Z = np.exp(-t * space.distances)
        if np.linalg.cond(Z) <= 1e12:
            assert max_norm_rel_err(space.expand_weights(res.weights)[0], w) <= TOL_W


@pytest.mark.parametrize("t", SCALES)
@pytest.mark.parametrize("method", ["cholesky", "small_t", "ldl"])
@pytest.mark.parametrize("name", ["line", "simplex", "grid_l1_points", "gauss_R3", "l1_cloud_R5"])
def test_every_method_gives_magnitude(name, method, t):
    X, metric, ref = case(name)
    space = mm.MetricSpace(X, metric=metric)
    try:
        _, res = _solve(X, metric, t, method=method)
    except (mm.NotPositiveDefiniteError, mm.SingularSimilarityError):
        # l1 grids have rank-deficient D, so cond(Z) ~ 1/t^2: only the small-t form copes,
        # and the others must say so rather than return a wrong number
        assert method != "small_t"
        assert np.linalg.cond(np.exp(-t * space.distances)) > 1e13
        return
    assert rel_err(res.magnitude, ref(t)[0]) <= TOL_MAG
    assert res.methods == (method,)


def test_auto_uses_small_t_form_where_it_matters():
    X, metric, _ = case("gauss_R3")
    _, res = _solve(X, metric, [1e-8, 1e-2, 10.0])
    assert res.methods == ("small_t", "small_t", "cholesky")


def test_cholesky_alone_loses_digits_of_m_minus_one_at_tiny_t():
    # the reason the small-t form exists: this test fails if it stops being needed
    X, metric, ref = case("gauss_R3")
    _, res = _solve(X, metric, 1e-8, method="cholesky")
    assert rel_err(res.magnitude_minus_one, ref(1e-8)[1]) > 1e-12


def test_interval_continuum_limit():
    # n equally spaced points on [0, L] -> 1 + tL/2 (Willerton); the finite sample gives
    # 1 + (n-1) tanh(tL / (2(n-1))), which approaches it from below like (tL)^3 / (12 (n-1)^2)
    L, t, n = 2.0, 3.0, 801
    got = mm.magnitude(np.linspace(0, L, n)[:, None], t)
    x = t * L / 2
    assert got < 1 + x
    assert abs(got - (1 + x)) <= x**3 / (3 * (n - 1) ** 2)


# ------------------------------------------------------------ not positive definite


def test_k32_negative_magnitude_with_warning():
    G = nx.complete_bipartite_graph(3, 2)
    with pytest.warns(mm.NotPositiveDefiniteWarning, match="t = 0.34"):
        got = mm.magnitude(G, 0.34)
    assert got < 0
    assert rel_err(got, k32_magnitude(0.34)) <= 1e-12
    assert abs(got - (-0.777)) < 1e-3


@pytest.mark.parametrize("t", [0.05, 0.2, 0.3, 0.4, 1.0, 3.0])
def test_k32_closed_form(t):
    G = nx.complete_bipartite_graph(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        got = mm.magnitude(G, t)
    assert rel_err(got, k32_magnitude(t)) <= 1e-11


def test_k32_singular_scale_is_an_error_naming_the_scale():
    G = nx.complete_bipartite_graph(3, 2)
    t0 = float(np.log(np.sqrt(2.0)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        with pytest.raises(mm.SingularSimilarityError, match=r"singular at t = 0\.3465") as exc:
            mm.magnitude(G, t0)
    assert exc.value.scale == t0


def test_cholesky_on_indefinite_space_is_a_clear_error():
    G = nx.complete_bipartite_graph(3, 2)
    with pytest.raises(mm.NotPositiveDefiniteError, match="method='ldl'"):
        mm.magnitude(G, 0.34, method="cholesky")


# ------------------------------------------------------------ properties


def test_negative_type_bounds_on_random_clouds():
    r = np.random.default_rng(20)
    for _ in range(30):
        n, d = r.integers(2, 25), r.integers(1, 6)
        X = r.normal(size=(n, d)) * r.uniform(0.01, 10)
        ts = np.geomspace(1e-6, 1e3, 15)
        m = mm.magnitude(X, ts)
        assert (m >= 1 - 1e-12).all() and (m < n + 1e-9).all()
        assert (np.diff(m) >= -1e-12 * m[1:]).all()  # increasing in practice (PRIMER 3)


def test_scalar_and_array_scales_agree():
    X, _, _ = case("gauss_R3")
    ts = np.array([1e-3, 0.5, 7.0])
    arr = mm.magnitude(X, ts)
    assert isinstance(mm.magnitude(X, 0.5), float)
    assert [mm.magnitude(X, float(t)) for t in ts] == arr.tolist()
    W = mm.weights(X, ts)
    assert W.shape == (3, 20)
    np.testing.assert_array_equal(W[1], mm.weights(X, 0.5))


def test_many_scales_compute_distances_once(monkeypatch):
    from metric_magnitude import spaces

    calls = []
    real = spaces._pairwise
    monkeypatch.setattr(spaces, "_pairwise", lambda *a: calls.append(1) or real(*a))
    mm.magnitude(np.random.default_rng(0).normal(size=(30, 2)), np.geomspace(0.01, 10, 25))
    assert len(calls) == 1


def test_spread_closed_forms():
    for t in [1e-3, 0.5, 4.0]:
        # homogeneous spaces: spread == magnitude
        G = nx.cycle_graph(7)
        assert rel_err(mm.spread(G, t), mm.magnitude(G, t)) <= 1e-13
        assert rel_err(mm.spread([[0.0], [2.0]], t), 2 / (1 + np.exp(-2 * t))) <= 1e-15
    X = np.random.default_rng(4).normal(size=(40, 3))
    ts = np.geomspace(0.01, 100, 9)
    assert (mm.spread(X, ts) <= mm.magnitude(X, ts) * (1 + 1e-12)).all()


# ------------------------------------------------------------ higher derivatives


def _closed_form_functions():
    x = np.sort(np.random.default_rng(1).uniform(0, 3, 12))
    gaps = [mp.mpf(float(b)) - mp.mpf(float(a)) for a, b in itertools.pairwise(x)]
    G = nx.complete_bipartite_graph(3, 2)

    def k32(t):
        q = mp.exp(-t)
        return (5 - 7 * q) / ((1 + q) * (1 - 2 * q**2))

    return [
        ("line", x[:, None], lambda t: 1 + mp.fsum(mp.tanh(t * g / 2) for g in gaps)),
        ("two_points", np.array([[0.0, 0.0], [0.3, 0.4]]), lambda t: 2 / (1 + mp.exp(-t / 2))),
        ("k32", G, k32),
    ]


@pytest.mark.parametrize("t", [1e-2, 0.1, 0.5, 1.0, 2.0, 5.0, 30.0])
@pytest.mark.parametrize("name, X, f", _closed_form_functions())
def test_second_and_third_derivatives(name, X, f, t):
    # used by the magnitude-function interpolation; they lose digits like eps / t as t -> 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        _, res = mm.solve(X, t, derivative=3)
    with mp.workdps(40):
        for k in (1, 2, 3):
            ref = mp.diff(f, mp.mpf(t), k)
            assert abs(res.derivative[0, k - 1] - ref) <= 1e-11 * abs(ref), (k, t)


@pytest.mark.parametrize("t, used", [(0.2, "small_t"), (0.3, "ldl")])
def test_derivatives_where_z_is_indefinite_and_small_t_is_tried(t, used):
    # K_{3,2} below its pole: Z indefinite, |tX| < 2, so both LDL^T solves run and either
    # may win; the derivatives must use the factor of Z even when 1 - Z was factored last
    G = nx.complete_bipartite_graph(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        _, res = mm.solve(G, t, derivative=3)
    assert res.methods == (used,)
    with mp.workdps(40):
        f = _closed_form_functions()[2][2]
        for k in (1, 2, 3):
            ref = mp.diff(f, mp.mpf(t), k)
            assert abs(res.derivative[0, k - 1] - ref) <= 1e-10 * abs(ref), (k, res.methods)
