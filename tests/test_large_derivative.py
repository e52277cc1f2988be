"""Derivatives on the matrix-free paths, and magnitude functions of large spaces (issue 7).

The derivative d|tX|/dt = w^T (D o Z) w comes from the computed weights by one product with
D o Z (never formed); its error bound must hold against the exact dense derivative, and the
per-scale engine of `magnitude_function` must agree with the interpolating engines.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import _validation, core, function
from metric_magnitude.exceptions import InvalidInputError
from metric_magnitude.solvers.iterative import (
    SimilarityOperator,
    derivative_error_bound,
    solve_iterative,
)
from metric_magnitude.spaces import MetricSpace


def _cloud(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _separate_derivatives(monkeypatch) -> list:
    """The scaled operators of the derivative's own products (`iterative._derivative`), as
    they are made: not the ones that come with a certificate."""
    from metric_magnitude.solvers import iterative

    made = []
    derivative = iterative._derivative

    def recorded(S, x, weight_error):
        made.append(S)
        return derivative(S, x, weight_error)

    monkeypatch.setattr(iterative, "_derivative", recorded)
    return made


def _no_dense_memory(monkeypatch, nbytes=50_000_000):
    # the dense n x n matrices do not fit (for the planner, MetricSpace's merging of rows and
    # check_dense_memory); the solvers' own estimates still see real memory
    monkeypatch.setattr(core, "available_memory", lambda: nbytes)
    monkeypatch.setattr(_validation, "available_memory", lambda: nbytes)


@pytest.fixture
def no_dense_distances(monkeypatch):
    def forbidden(self):
        raise AssertionError("the n x n distance matrix was computed")

    monkeypatch.setattr(MetricSpace, "distances", property(forbidden))


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev"])
def test_distance_weighted_product_is_d_times_z(kernel, metric):
    if kernel == "numba":
        pytest.importorskip("numba")
    from scipy.spatial.distance import cdist

    X = _cloud(700, 3, seed=1)
    X[350:] += 30.0  # far clusters: whole tiles underflow and are skipped at t = 40
    op = SimilarityOperator(X, metric=metric, kernel=kernel, leaf=32)
    D = cdist(X, X, metric=metric)
    V = _cloud(700, 2, seed=2)
    for t in (0.05, 2.0, 40.0):
        ref = (D * np.exp(-t * D)) @ V
        got = op.scaled(t).apply(V[op.perm], distance_weighted=True)[op.iperm]
        assert np.max(np.abs(got - ref)) <= 1e-13 * np.max(np.abs(ref))
        # the plain product is unchanged by the new argument
        plain = op.scaled(t).apply(V[op.perm])[op.iperm]
        assert np.max(np.abs(plain - np.exp(-t * D) @ V)) <= 1e-13 * np.abs(plain).max()


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_both_products_in_one_pass_are_the_two_products(kernel):
    # distance_weighted="both": [Z V, (D o Z) V] from one pass over the pairs, each as its
    # own product computes it (same entries, same sums; the block sizes may differ)
    if kernel == "numba":
        pytest.importorskip("numba")
    X = _cloud(700, 3, seed=6)
    X[350:] += 30.0
    op = SimilarityOperator(X, kernel=kernel, leaf=32)
    V = _cloud(700, 3, seed=7)
    for t in (0.05, 2.0, 40.0):
        for S in (op.scaled(t), op.scaled(t, far_field_budget=1e-6)):
            both = S.apply(V, distance_weighted="both")
            assert both.shape == (700, 6)
            plain, weighted = S.apply(V), S.apply(V, distance_weighted=True)
            for got, ref in ((both[:, :3], plain), (both[:, 3:], weighted)):
                assert np.max(np.abs(got - ref)) <= 1e-14 * np.max(np.abs(ref))
            # "first": the weighted product of the first column only (the certificate's)
            first = S.apply(V, distance_weighted="first")
            assert first.shape == (700, 4)
            assert np.max(np.abs(first - both[:, :4])) <= 1e-14 * np.max(np.abs(both))


@pytest.mark.parametrize("t", [0.02, 0.3, 1.0, 5.0, 30.0])
def test_weighted_bounds_bound_the_weighted_products(t):
    # the certificate's bounds on (D o Z~) |x| and (D o Z~) 1 from Z~ |x| and Z~ 1: upper
    # bounds everywhere, and not far above what the derivative's bound takes from them
    from metric_magnitude.solvers import iterative

    X = _cloud(900, 3, seed=11)
    op = SimilarityOperator(X, leaf=64)
    S = op.scaled(t, far_field_budget=1e-6)
    x = _cloud(900, 1, seed=12)[:, 0]
    ax = np.abs(x)
    Z = S.apply(np.column_stack([ax, np.ones(900)]), track_min=True)
    W = S.apply(np.column_stack([ax, np.ones(900)]), distance_weighted=True)
    state = {"max_distance": S.max_distance * (1 + 1e-12)}
    Aax, Arows = iterative._weighted_bounds(S, ax, Z[:, 0], Z[:, 1], state)
    assert np.all(W[:, 0] <= Aax) and np.all(W[:, 1] <= Arows)
    # what the derivative's bound uses: |x|^T (D o Z~) |x| and the largest row sum
    assert ax @ Aax <= 4.0 * (ax @ W[:, 0]) and Arows.max() <= 8.0 * W[:, 1].max()


def test_cg_derivative_comes_with_the_last_certificate(monkeypatch):
    # along a chain, the certificate that succeeds computes the derivative in the same
    # pass: far fewer separate products with D o Z than scales, the same bounds
    X = _cloud(2500, 3, seed=8)
    ts = np.geomspace(0.05, 20.0, 8)
    exact = mm.magnitude_derivative(X, ts, method="cholesky")
    separate = _separate_derivatives(monkeypatch)
    res = solve_iterative(X, ts, rtol=1e-8, derivative=True, weights=False)
    assert len(separate) <= 2, separate
    err = np.abs(res.derivative - exact)
    assert np.all(err <= res.derivative_error) and np.all(res.derivative_error < np.inf)
    assert np.all(err <= 1e-5 * exact)  # first order in the weights' error
    # where the solve truncates the far field too (its skipped pairs charged to the bound)
    X[1250:] += 12.0  # far enough to skip, not to underflow
    separate.clear()
    res = solve_iterative(X, 30.0, rtol=1e-6, derivative=True, weights=False)
    assert separate == [] and res.skipped_fraction[0] > 0.4
    assert abs(res.derivative[0] - mm.magnitude_derivative(X, 30.0, method="cholesky")) \
        <= res.derivative_error[0]


# t b below 1 for many skipped leaves (where the charge is 1 / (e t)), and above
@pytest.mark.parametrize("t, budget", [(0.1, 500.0), (2.0, 0.3)])
def test_derivative_charges_the_pairs_the_far_field_skips(t, budget):
    # with a large budget the truncated (D o Z~) misses much of x^T (D o Z) x: the bound
    # holds only with the skipped pairs' charge (without it, it fails)
    from scipy.spatial.distance import cdist

    from metric_magnitude.solvers import iterative

    X = _cloud(1200, 3, seed=9)
    X[600:] += 6.0
    op = SimilarityOperator(X, leaf=64, kernel="numpy")
    S = op.scaled(t, far_field_budget=budget)
    assert S.skipped_fraction > 0.1 and S.deps_max > 0
    x = np.abs(_cloud(1200, 1, seed=10)[:, 0]) + 0.5
    D = cdist(X[op.perm], X[op.perm])
    exact = float(x @ ((D * np.exp(-t * D)) @ x))
    Y = S.apply(np.column_stack([x, x, np.ones(1200)]), distance_weighted=True)
    value, bound = iterative._derivative_from_products(S, x, *Y.T, 0.0)
    assert abs(value - exact) <= bound
    S.deps_row, S.deps_max = np.zeros(1200), 0.0
    assert abs(value - exact) > iterative._derivative_from_products(S, x, *Y.T, 0.0)[1]


def test_distance_weighted_product_from_a_distance_matrix():
    X = _cloud(300, 2, seed=3)
    D = mm.distance_matrix(X)
    op = SimilarityOperator(distances=D, leaf=64)
    v = _cloud(300, 1, seed=4)
    got = op.scaled(1.5).apply(v[op.perm], distance_weighted=True)[op.iperm]
    assert np.allclose(got, (D * np.exp(-1.5 * D)) @ v, rtol=1e-13, atol=0)


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_cg_derivative_is_within_its_bound(kernel):
    if kernel == "numba":
        pytest.importorskip("numba")
    X = _cloud(2500, 3, seed=5)
    ts = np.array([0.05, 0.5, 4.0, 40.0])
    exact = mm.magnitude_derivative(X, ts, method="cholesky")
    for rtol in (1e-6, 1e-10):
        res = solve_iterative(X, ts, rtol=rtol, derivative=True, kernel=kernel, weights=False)
        err = np.abs(res.derivative - exact)
        assert np.all(err <= res.derivative_error), (err, res.derivative_error)
        assert np.all(res.derivative_error < np.inf)
    # tight weights give a tight derivative (first order in the weights' error)
    assert np.all(err <= 1e-5 * exact)


def test_derivative_error_bound_formula():
    assert derivative_error_bound(3.0, 5.0, 1e-16, 0.0) == 1e-16
    assert derivative_error_bound(3.0, 5.0, 0.0, 0.1) == pytest.approx(2 * 3 * 0.1 + 5 * 0.01)
    assert derivative_error_bound(3.0, 5.0, 0.0, np.inf) == np.inf
    for bad in ((-1.0, 5.0, 0.0, 0.1), (3.0, np.nan, 0.0, 0.1), (3.0, 5.0, 0.0, -0.1)):
        with pytest.raises(InvalidInputError, match="non-negative"):
            derivative_error_bound(*bad)


def test_solve_gives_derivatives_on_cg_and_sparse_paths():
    X = _cloud(2200, 3, seed=6)
    exact = mm.magnitude_derivative(X, [2.0, 150.0], method="cholesky")
    _, res = mm.solve(X, [2.0], method="cg", derivative=True, weights=False, rtol=1e-10)
    assert res.methods == ("cg",) and res.error_bound[0] <= 1e-10
    assert abs(res.derivative[0] - exact[0]) <= res.derivative_error[0]
    _, res = mm.solve(X, [150.0], method="sparse", derivative=True, weights=False, rtol=1e-10)
    assert res.methods == ("sparse",) and res.error_bound[0] <= 1e-10
    assert abs(res.derivative[0] - exact[1]) <= res.derivative_error[0]
    # the dense paths report no iterative error (NaN): exact to rounding
    _, res = mm.solve(X[:50], [2.0], derivative=True)
    assert res.methods == ("cholesky",) and np.isnan(res.error_bound).all()
    got = mm.magnitude_derivative(X, 2.0, method="cg", rtol=1e-10)
    assert got == pytest.approx(exact[0], rel=1e-6)


def test_sparse_path_derivative_skips_the_far_field(monkeypatch):
    # at the large scales of the sparse solver almost no entry underflows, but nearly all
    # fall below the far field's budget: the derivative's product skips them (charged)
    X = _cloud(2200, 3, seed=6)
    separate = _separate_derivatives(monkeypatch)
    _, res = mm.solve(X, [150.0], method="sparse", derivative=True, weights=False, rtol=1e-8)
    # (nothing underflows: t * diameter < 746)
    assert res.methods == ("sparse",) and len(separate) == 1
    assert separate[0].skipped_fraction > 0.3
    exact = mm.magnitude_derivative(X, 150.0, method="cholesky")
    assert abs(res.derivative[0] - exact) <= res.derivative_error[0] < 1e-4 * exact


def test_higher_derivatives_are_refused_on_iterative_paths(monkeypatch):
    with pytest.raises(InvalidInputError, match="first derivative only"):
        mm.solve(_cloud(100, 2), 1.0, method="cg", derivative=2)
    _no_dense_memory(monkeypatch)  # auto would choose cg: it must not drop the order
    with pytest.raises(InvalidInputError, match=r"first derivative only \(derivative=3\)"):
        mm.solve(_cloud(2200, 3), 2.0, derivative=3, weights=False)


def test_auto_derivative_without_dense_memory_uses_cg_and_sparse(monkeypatch,
                                                                  no_dense_distances):
    X = _cloud(2200, 3, seed=8)
    _no_dense_memory(monkeypatch)
    ts = [2.0, 200.0]
    _, res = mm.solve(X, ts, derivative=True, weights=False)
    assert res.methods == ("cg", "sparse")
    monkeypatch.undo()
    exact = mm.magnitude_derivative(X, ts, method="cholesky")
    assert np.all(np.abs(res.derivative - exact) <= res.derivative_error)


def test_auto_derivative_still_needs_dense_for_a_metric_not_of_negative_type(monkeypatch):
    _no_dense_memory(monkeypatch, 1_000)
    with pytest.raises(mm.InsufficientMemoryError, match="not of negative type"):
        mm.solve(_cloud(300, 3), 1.0, metric="chebyshev", derivative=True, weights=False)


def test_per_scale_function_agrees_with_the_interpolating_engines(monkeypatch,
                                                                  no_dense_distances):
    X = _cloud(2200, 3, seed=9)
    _no_dense_memory(monkeypatch)
    f = mm.magnitude_function(X, "auto", n_scales=15)
    assert f.solver == "per scale" and f.n_solves == 15
    assert 0 < f.certified_error <= 1e-8 and f.error_estimate >= f.certified_error
    monkeypatch.undo()
    ref = mm.magnitude_function(X, f.scales)
    assert ref.solver == "reduced basis" and ref.certified_error is None
    assert np.max(np.abs(f.values / ref.values - 1)) <= 2e-8
    derr = np.abs(f.derivative - ref.derivative) / np.abs(ref.derivative).max()
    assert np.all(derr <= f.derivative_error_estimate + 1e-8)
    assert f.t_max == pytest.approx(mm.convergence_scale(X), rel=1e-6)
    assert f(f.scales[3]) == pytest.approx(f.values[3], rel=1e-14)
    # between the scales: the cubic Hermite interpolant, within its estimated error
    ts = f.scales
    probe = np.concatenate([np.linspace(a, b, 7)[1:-1] for a, b in itertools.pairwise(ts)])
    between = mm.magnitude_function(X, probe)
    err = np.abs(f(probe) / between.values - 1)
    assert np.all(err <= f.error_estimate) and err.max() > 1e-3 * f.error_estimate
    derr = np.abs(f.derivative_at(probe) - between.derivative)
    assert np.all(derr <= f.derivative_error_estimate * np.abs(f.derivative).max())
    area = mm.magnitude_function(X, np.linspace(ts[0], ts[-1], 200)).area()
    assert abs(f.area() / area - 1) <= f.error_estimate
    # fewer than 3 positive scales: no interpolant, and the message says what to do
    g = mm.magnitude_function(X, ts[:2], method="cg")
    with pytest.raises(InvalidInputError, match="solved at its scales only; for these 2200 points"):
        g(0.5 * (ts[0] + ts[1]))
    with pytest.raises(InvalidInputError, match=r"area needs an interpolated.*at least 3 positive"):
        g.area()


def test_magnitude_dimension_and_area_without_dense_memory(monkeypatch, no_dense_distances):
    # the per-scale engine's interpolant makes the dimension and MagArea computable at sizes
    # where only iterative solves fit: they agree with the dense engines' values
    X = _cloud(2100, 2, seed=15)
    _no_dense_memory(monkeypatch)
    dim = mm.magnitude_dimension(X, rtol=1e-8)
    rec = mm.compute_many({"cloud": X}, client="sync", n_scales=16, progress=False)["cloud"]
    monkeypatch.undo()
    ref = mm.magnitude_dimension(X, rtol=1e-8)
    assert 1.0 < ref < 2.0
    assert dim == pytest.approx(ref, rel=2e-3)
    # compute_many's record: certified values, MagArea within the function's estimate
    ts = np.array(rec["scales"])
    assert ts[0] == 0.0 and ts.size == 17
    exact = mm.magnitude(X, ts[1:], method="cholesky")
    assert np.all(np.abs(np.array(rec["magnitude"][1:]) / exact - 1) <= 1e-8)
    area = mm.magnitude_function(X, np.linspace(0.0, ts[-1], 300)).area()
    err = abs(rec["area"] / area - 1)
    # the estimate is the largest over the range: here the quadratic bridge from t = 0 to
    # t_conv / 1000 (0.19); the area, dominated by larger t, is much better
    assert err <= rec["error_estimate"] and err <= 2e-3


def test_per_scale_function_with_zero_and_an_explicit_method():
    X = _cloud(400, 2, seed=10)
    ts = np.linspace(0.0, 5.0, 6)
    f = mm.magnitude_function(X, ts, method="cg", rtol=1e-9)
    assert f.solver == "per scale" and f.values[0] == 1.0 and np.isnan(f.derivative[0])
    exact = mm.magnitude(X, ts[1:], method="cholesky")
    assert np.all(np.abs(f.values[1:] - exact) <= 1e-9 * exact)
    zero = mm.magnitude_function(X, [0.0], method="cg")  # |0X| = 1, nothing to solve
    assert zero.values.tolist() == [1.0] and zero.n_solves == 0
    assert function._solves_per_scale(mm.MetricSpace(X), "sparse")
    assert not function._solves_per_scale(mm.MetricSpace(X), "auto")


def test_convergence_scale_without_dense_memory(monkeypatch, no_dense_distances):
    X = _cloud(2100, 2, seed=11)
    _no_dense_memory(monkeypatch)
    t = mm.convergence_scale(X, q=0.9)
    monkeypatch.undo()
    assert t == pytest.approx(mm.convergence_scale(X, q=0.9), rel=1e-6)


def test_per_scale_search_brackets_with_coarse_solves(monkeypatch):
    # the decades before t_conv need only the side of the target: certified to 1e-3, not
    # 1e-8 (unless the bounds straddle the target); Newton then solves to 1e-8
    from metric_magnitude import core

    X = _cloud(1200, 2, seed=14)
    calls = []
    original = core.solve

    def spy(*args, **kwargs):
        calls.append(kwargs.get("rtol"))
        return original(*args, **kwargs)

    monkeypatch.setattr(core, "solve", spy)
    t = mm.convergence_scale(X, method="cg")
    monkeypatch.undo()
    assert t == pytest.approx(mm.convergence_scale(X), rel=1e-6)
    coarse = calls.index(1e-8)  # the first full solve: Newton's, at the bracket's top
    assert coarse >= 2 and set(calls[:coarse]) == {1e-3}
    assert set(calls[coarse:]) == {1e-8}


def test_newton_search_falls_back_where_the_coarse_side_is_unknown():
    from metric_magnitude.scales import _newton_search

    def f(t):  # |tX| of two points 1 apart: 2 / (1 + e^-t), and its derivative
        e = np.exp(-t)
        return 2.0 / (1.0 + e), 2.0 * e / (1.0 + e) ** 2

    exact = np.log(19.0)  # f = 1.9
    for below in (None, lambda t: None, lambda t: f(t)[0] < 1.9):
        assert _newton_search(f, 1.9, 0.01, 1e-12, below=below) == pytest.approx(exact,
                                                                                 rel=1e-11)


def test_space_bookkeeping_never_builds_distances_for_large_points(monkeypatch,
                                                                   no_dense_distances):
    X = np.repeat(_cloud(1500, 3, seed=12), [1, 3] * 750, axis=0)  # copies of every other
    _no_dense_memory(monkeypatch, 1_000_000)
    space = mm.MetricSpace(X)
    assert space.n_points == 3000 and space.n_distinct == 1500
    assert space.multiplicity.tolist() == [1, 3] * 750
    w = space.expand_weights(np.ones(1500))
    assert w.shape == (3000,) and w.sum() == pytest.approx(1500)
    assert space._distances is None


def test_an_explicit_cg_function_never_computes_distances(no_dense_distances):
    # method="cg" at a size where the dense matrices would fit: the convergence search and
    # the solves stay on the points (the distance-matrix operator is slower and uncertified
    # by the geometric bounds)
    X = _cloud(300, 2, seed=13)
    f = mm.magnitude_function(X, "auto", n_scales=5, method="cg", rtol=1e-8)
    assert f.solver == "per scale" and f.values[-1] == pytest.approx(0.95 * 300, rel=1e-6)


def test_scales_do_not_keep_earlier_preconditioners_alive():
    # a reference cycle once kept every scale's preconditioner (n x rank, twice) until the
    # garbage collector ran: 20 scales of 10,000 points peaked at 1.1 GB instead of 0.12
    import gc
    import tracemalloc

    X = _cloud(3000, 3, seed=14)
    ts = np.geomspace(0.3, 30, 8)
    solve_iterative(X, ts[:1], rtol=1e-6, weights=False)  # imports and caches, untraced
    gc.disable()
    try:
        peaks = []
        for scales in ([ts[3]], ts):
            tracemalloc.start()
            solve_iterative(X, scales, rtol=1e-6, weights=False)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    finally:
        gc.enable()
    assert peaks[1] <= 2.0 * peaks[0], peaks


def test_cg_on_a_space_with_computed_distances_uses_the_points():
    X = _cloud(2500, 3, seed=15)
    space = mm.MetricSpace(X)
    exact = mm.magnitude(space, 3.0)  # computes and keeps the distances
    assert space._distances is not None
    res = solve_iterative(space, 3.0, rtol=1e-10, weights=False)
    assert abs(res.magnitude[0] - exact) <= 1e-10 * exact
    assert res.lambda_bound_source[0] == "subordination"  # the points' geometry was used


def test_weighted_bounds_at_tiny_scales_and_one_dominant_weight():
    # z within rounding of 1 everywhere (the Jensen argument's s / A near 1, where the
    # inflated products could push it past 1), and |x| on one point only (A near 0)
    from metric_magnitude.solvers import iterative

    X = _cloud(400, 3, seed=13)
    op = SimilarityOperator(X, leaf=64)
    for t, x in ((1e-9, np.ones(400)), (1e-3, np.eye(400)[7] + 1e-30), (0.5, np.eye(400)[0])):
        S = op.scaled(t)
        Z = S.apply(np.column_stack([x, np.ones(400)]), track_min=True)
        W = S.apply(np.column_stack([x, np.ones(400)]), distance_weighted=True)
        Aax, Arows = iterative._weighted_bounds(S, x, Z[:, 0], Z[:, 1],
                                                {"max_distance": S.max_distance * 1.000001})
        assert np.all(Aax >= 0) and np.all(Arows >= 0)
        assert np.all(W[:, 0] <= Aax) and np.all(W[:, 1] <= Arows), t
