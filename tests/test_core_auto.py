"""method="auto" across the solvers (issue 7): which solver it picks, and that each agrees
with the exact dense Cholesky solve within its documented tolerance.

Oracles: `method="cholesky"` on the same points (exact to rounding, checked against mpmath in
test_accuracy.py), the closed forms of lines and l1 lattices, and the certified bounds.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import core, exceptions
from metric_magnitude.solvers import iterative, solve_dense, sparse
from metric_magnitude.spaces import MetricSpace


def _rng(seed=0):
    return np.random.default_rng(seed)


def _exact(X, t, metric="euclidean"):
    return mm.magnitude(X, t, metric=metric, method="cholesky")


def _dense(X, t, metric="euclidean"):
    """The dense solvers as method="auto" used them before it knew other solvers: Cholesky,
    the small-t form (accurate at tiny t) or LDL^T, with derivatives."""
    space = X if isinstance(X, MetricSpace) else mm.MetricSpace(X, metric=metric)
    return solve_dense(space.distances, np.atleast_1d(np.asarray(t, dtype=float)),
                       derivative=True, known_positive_definite=space.known_positive_definite)


@pytest.fixture
def no_dense_distances(monkeypatch):
    """Make any computation of the n x n distance matrix fail loudly."""

    def forbidden(self):
        raise AssertionError("the n x n distance matrix was computed")

    monkeypatch.setattr(MetricSpace, "distances", property(forbidden))


def _no_dense_memory(monkeypatch, nbytes=50_000_000):
    # the dense solvers' n x n matrices do not fit; every other estimate still sees real memory
    monkeypatch.setattr(core, "available_memory", lambda: nbytes)


# ---------------------------------------------------------------- exception classes


def test_certification_classes_live_in_exceptions_and_are_exported():
    assert mm.CertificationError is exceptions.CertificationError
    assert iterative.CertificationError is exceptions.CertificationError
    assert mm.CertificationWarning is iterative.CertificationWarning
    assert {"CertificationError", "CertificationWarning"} <= set(mm.__all__)
    assert issubclass(mm.CertificationError, mm.MagnitudeError)
    assert issubclass(mm.CertificationError, np.linalg.LinAlgError)
    assert issubclass(mm.CertificationWarning, mm.MagnitudeWarning)
    # the sparse solver's warning is one of them, so one filter covers both solvers
    assert issubclass(sparse.BoundNotCertifiedWarning, mm.CertificationWarning)
    err = mm.CertificationError("m", scale=2, lower=1, upper=3, reason="maxiter")
    assert (err.scale, err.lower, err.upper, err.reason) == (2.0, 1.0, 3.0, "maxiter")


# ---------------------------------------------------------------- structured paths


def _collinear(n, seed=0, spread=10.0):
    s = _rng(seed).random(n) * spread
    return np.c_[0.6 * s, 0.8 * s, -0.5 * s], s * np.sqrt(0.36 + 0.64 + 0.25)


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev"])
@pytest.mark.parametrize("t", [1e-6, 0.3, 5.0])
def test_auto_uses_the_line_solver_and_agrees_with_cholesky(metric, t):
    X, _ = _collinear(120, seed=1)
    X = np.vstack([X, X[:4]])  # copies share their point's weight
    _, res = mm.solve(X, [t, 2 * t], metric=metric, derivative=True)
    assert res.methods == ("line", "line")
    ref = _dense(X, [t, 2 * t], metric)
    assert np.allclose(res.magnitude, ref.magnitude, rtol=1e-12, atol=0)
    assert np.allclose(res.derivative, ref.derivative, rtol=1e-9, atol=0)
    W = mm.weights(X, t, metric=metric)
    space = mm.MetricSpace(X, metric=metric)
    Wref = space.expand_weights(_dense(space, t, metric).weights)[0]
    assert np.max(np.abs(W - Wref)) <= 1e-11 * np.max(np.abs(Wref))
    assert W[0] == W[-4]


def test_auto_uses_the_grid_solver_for_l1_lattices_only():
    X = np.array([[i, 0.5 * j] for i in range(9) for j in range(7)], dtype=float)
    for t in [1e-4, 0.7, 6.0]:
        _, res = mm.solve(X, t, metric="cityblock", derivative=True)
        assert res.methods == ("grid",)
        expected = (1 + 8 * np.tanh(t / 2)) * (1 + 6 * np.tanh(t / 4))
        assert res.magnitude[0] == pytest.approx(expected, rel=1e-13)
        ref = _dense(X, t, "cityblock")
        # D of an l1 grid is singular: the dense solve loses digits at small t (test_accuracy)
        assert res.magnitude[0] == pytest.approx(ref.magnitude[0], rel=1e-9)
        assert res.derivative[0] == pytest.approx(ref.derivative[0], rel=1e-6)
    # under the euclidean metric a lattice is no Kronecker product: a dense solve
    assert mm.solve(X, 0.7, weights=False)[1].methods == ("cholesky",)
    assert mm.solve(X[:-1], 0.7, metric="cityblock")[1].methods != ("grid",)


def test_large_line_and_grid_are_fast_and_exact(no_dense_distances):
    # n = 200,000: the n x n matrix alone would take 320 GB
    X, s = _collinear(200_000, seed=2, spread=1000.0)
    t = 0.7
    start = time.perf_counter()
    m = mm.magnitude(X, t)
    W = mm.weights(X, t)
    assert time.perf_counter() - start < 10.0
    gaps = np.diff(np.sort(s))
    assert m == pytest.approx(1.0 + np.sum(np.tanh(t * gaps / 2)), rel=1e-12)
    assert W.shape == (200_000,) and W.sum() == pytest.approx(m, rel=1e-12)
    # a 500 x 400 pixel grid under the l1 metric
    a, b = np.arange(500.0), 0.25 * np.arange(400.0)
    G = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
    start = time.perf_counter()
    space, res = mm.solve(G, [0.1, 2.0], metric="cityblock", derivative=True)
    Wg = mm.weights(G, 2.0, metric="cityblock")
    assert time.perf_counter() - start < 10.0
    assert res.methods == ("grid", "grid")
    for i, t in enumerate([0.1, 2.0]):
        line = [1 + 499 * np.tanh(t / 2), 1 + 399 * np.tanh(t / 8)]
        assert res.magnitude[i] == pytest.approx(line[0] * line[1], rel=1e-12)
    assert Wg.shape == (200_000,) and Wg.sum() == pytest.approx(res.magnitude[1], rel=1e-12)
    assert space._distances is None


def test_explicit_structured_methods():
    X, _ = _collinear(50, seed=3)
    for method in ("line", "structured"):
        assert mm.solve(X, 1.0, method=method)[1].methods == ("line",)
    G = np.array([[i, j] for i in range(4) for j in range(5)], dtype=float)
    assert mm.solve(G, 1.0, metric="cityblock", method="grid")[1].methods == ("grid",)
    with pytest.raises(mm.InvalidInputError, match="method='grid' needs a full rectangular"):
        mm.magnitude(X, 1.0, method="grid")
    with pytest.raises(mm.InvalidInputError, match="method='line' needs collinear"):
        mm.magnitude(G, 1.0, method="line", metric="cityblock")
    with pytest.raises(mm.InvalidInputError, match=r"X is points \(metric 'euclidean'\) that"):
        mm.magnitude(_rng(4).random((20, 2)), 1.0, method="structured")
    with pytest.raises(mm.InvalidInputError, match="X is a distance matrix or a graph"):
        mm.magnitude(mm.distance_matrix(X), 1.0, metric="precomputed", method="line")
    with pytest.raises(mm.InvalidInputError, match=r"unknown method 'lines'.*'sparse'"):
        mm.magnitude(X, 1.0, method="lines")


# ---------------------------------------------------------------- sparse and cg


def _cloud(n, d, seed):
    return _rng(seed).standard_normal((n, d))


def test_auto_sparse_path_makes_no_dense_matrix(no_dense_distances):
    X = _cloud(3000, 3, seed=5)
    X = np.vstack([X, X[:3]])
    space, res = mm.solve(X, [100.0, 40.0])
    assert res.methods == ("sparse", "sparse")
    assert space._distances is None
    W = mm.weights(X, [100.0, 40.0])
    assert W.shape == (2, 3003) and W[0, 0] == W[0, 3000]


def test_sparse_results_within_rtol_of_cholesky():
    X = _cloud(2100, 3, seed=5)
    X = np.vstack([X, X[:3]])
    ts = [100.0, 40.0]
    _, res = mm.solve(X, ts)
    assert res.methods == ("sparse", "sparse")
    exact = _exact(X, ts)
    assert np.all(np.abs(res.magnitude - exact) <= 1e-8 * exact)
    W = mm.weights(X, ts)
    assert np.max(np.abs(W - mm.weights(X, ts, method="cholesky"))) <= 1e-6
    for rtol in (1e-4, 1e-11):
        m = mm.magnitude(X, 40.0, rtol=rtol)
        assert abs(m - exact[1]) <= rtol * exact[1]


def test_auto_mixes_dense_and_sparse_per_scale_in_order():
    X = _cloud(2050, 2, seed=6)
    ts = [300.0, 0.5, 120.0]
    _, res = mm.solve(X, ts, derivative=False)
    assert res.methods == ("sparse", "cholesky", "sparse")
    _, ref = mm.solve(X, ts, method="cholesky")
    assert np.allclose(res.magnitude, ref.magnitude, rtol=1e-8, atol=0)
    assert np.allclose(res.weights, ref.weights, rtol=0, atol=1e-6)
    assert np.all(res.rcond > 0) and res.positive_definite.all()


def test_auto_keeps_dense_below_2000_points_and_for_derivatives():
    X = _cloud(1500, 3, seed=7)
    assert mm.solve(X, 100.0, weights=False)[1].methods == ("cholesky",)
    X = _cloud(2100, 3, seed=7)
    _, res = mm.solve(X, [100.0], derivative=True)
    assert res.methods == ("cholesky",)
    # a scale where the truncated matrix keeps most of its entries stays dense
    assert mm.solve(X, 3.0, weights=False)[1].methods == ("cholesky",)


def test_auto_uses_cg_and_sparse_when_dense_does_not_fit(monkeypatch, no_dense_distances):
    X = _cloud(2200, 3, seed=8)
    _no_dense_memory(monkeypatch)  # dense needs 135 MB here
    ts = [2.0, 200.0]
    space, res = mm.solve(X, ts)
    assert res.methods == ("cg", "sparse")
    assert space._distances is None
    W = mm.weights(X, ts)
    monkeypatch.undo()
    exact = _exact(X, ts)
    assert np.all(np.abs(res.magnitude - exact) <= 1e-8 * exact)
    Wexact = mm.weights(X, ts, method="cholesky")
    assert np.max(np.abs(W[1] - Wexact[1])) <= 1e-6  # sparse: |tX| close to n
    # cg certifies |tX|; its weights come with their own certified 2-norm bound
    it = iterative.solve_iterative(X, ts[0])
    assert np.allclose(it.weights[0], W[0], rtol=1e-10, atol=0)  # the same solve
    assert np.linalg.norm(it.weights[0] - Wexact[0]) <= it.weight_error[0]


def test_threshold_against_cg_is_the_same_without_numba(monkeypatch):
    # without numba (cg on the numpy tiles) the sparse solver used to be taken up to 10%
    # of the entries kept; it measured slower than cg at every fraction from 0.001 to 0.26,
    # so the 3% (and 200 a row) now hold for both kernels
    from metric_magnitude.solvers.sparse import _Planner

    X = _cloud(2100, 3, seed=16)
    t = 35.0
    density = _Planner(X, "euclidean").estimate(t, 1e-8)[0]
    assert core._SPARSE_MAX_DENSITY_VS_CG < density < 0.1
    space = mm.MetricSpace(X)
    assert core._auto_plan(space, np.array([t]), False, 1e-8) == ["sparse"]  # dense fits
    _no_dense_memory(monkeypatch)
    assert core._auto_plan(space, np.array([t]), False, 1e-8) == ["cg"]


def test_against_cg_the_sparse_solver_keeps_few_entries_a_row(monkeypatch):
    # against cg the limit is also a number of kept entries a row (200, measured at 20,000
    # and 100,000 points); lowered here so that 2,100 points show it
    from metric_magnitude.solvers.sparse import _Planner

    X = _cloud(2100, 3, seed=16)
    planner = _Planner(X, "euclidean")
    t_mid, t_far = 50.0, 150.0
    mid, far = planner.estimate(t_mid, 1e-8)[0], planner.estimate(t_far, 1e-8)[0]
    assert far < 0.005 < mid < core._SPARSE_MAX_DENSITY_VS_CG
    space = mm.MetricSpace(X)
    _no_dense_memory(monkeypatch)
    ts = np.array([t_mid, t_far])
    assert core._auto_plan(space, ts, False, 1e-8) == ["sparse", "sparse"]
    monkeypatch.setattr(core, "_SPARSE_MAX_ROW_ENTRIES_VS_CG", 0.005 * 2100)
    assert core._auto_plan(space, ts, False, 1e-8) == ["cg", "sparse"]


def test_sparse_that_cannot_certify_falls_back_under_auto_and_raises_when_asked():
    X = _cloud(2050, 2, seed=9)
    t = 300.0
    exact = _exact(X, t)
    # 1e-15 is below the sparse solver's rounding floor here (it certifies about 2e-14)
    _, res = mm.solve(X, t, rtol=1e-15, weights=False)
    assert res.methods == ("cholesky",)
    with pytest.raises(mm.CertificationError, match="not certified to rtol = 1e-15") as info:
        mm.magnitude(X, t, method="sparse", rtol=1e-15)
    err = info.value
    assert err.reason == "sparse_bound" and err.scale == t
    slack = 1e-13 * exact
    assert err.lower - slack <= exact <= err.upper + slack
    assert err.upper - err.lower <= 1e-12 * exact


def test_sparse_falls_back_to_cg_when_dense_does_not_fit(monkeypatch):
    X = _cloud(2050, 2, seed=9)
    _no_dense_memory(monkeypatch)
    _, res = mm.solve(X, 300.0, rtol=1e-13, weights=False)
    assert res.methods in (("sparse",), ("cg",))  # whichever certifies 1e-13

    def uncertified(space, t, rtol, weights):
        raise mm.CertificationError("no", scale=t, lower=1.0, upper=np.inf)

    monkeypatch.setattr(core, "_solve_sparse_scale", uncertified)
    _, res = mm.solve(X, 300.0, weights=False)
    assert res.methods == ("cg",)
    monkeypatch.undo()
    assert res.magnitude[0] == pytest.approx(_exact(X, 300.0), rel=1e-8)


def test_explicit_sparse_and_cg_methods_and_their_errors():
    X = _cloud(400, 2, seed=10)
    exact = _exact(X, 60.0)
    for method in ("sparse", "cg"):
        _, res = mm.solve(X, 60.0, method=method, rtol=1e-10)
        assert res.methods == (method,)
        assert abs(res.magnitude[0] - exact) <= 1e-10 * exact
        # derivatives from the certified weights (tests/test_large_derivative.py)
        d = mm.magnitude_derivative(X, 60.0, method=method, rtol=1e-10)
        assert d == pytest.approx(mm.magnitude_derivative(X, 60.0), rel=1e-4)
    D = mm.distance_matrix(X)
    with pytest.raises(mm.InvalidInputError, match="method='sparse' needs points"):
        mm.magnitude(D, 1.0, metric="precomputed", method="sparse")
    with pytest.raises(mm.InvalidInputError, match=r"method='sparse' needs points.*'chebyshev'"):
        mm.magnitude(X, 1.0, metric="chebyshev", method="sparse")


def test_not_positive_definite_space_gives_certification_error_with_bounds():
    # K_{3,2} with unit edges: Z(t) is indefinite below t = log(sqrt 2) (a pole), and no
    # bound can be certified there; auto solves it densely instead
    D = np.array([[0, 2, 2, 1, 1], [2, 0, 2, 1, 1], [2, 2, 0, 1, 1],
                  [1, 1, 1, 0, 2], [1, 1, 1, 2, 0]], dtype=float)  # fmt: skip
    with pytest.raises(mm.CertificationError, match="Best certified bounds") as info:
        mm.magnitude(D, 0.2, metric="precomputed", method="cg")
    assert info.value.reason in ("not_positive_definite", "breakdown")
    assert info.value.lower == -np.inf and info.value.upper == np.inf
    with pytest.warns(mm.NotPositiveDefiniteWarning):
        assert np.isfinite(mm.magnitude(D, 0.2, metric="precomputed"))


@pytest.mark.parametrize("method", ["auto", "cholesky", "line", "sparse", "cg"])
@pytest.mark.parametrize("rtol", [0.0, 1.0, -1e-8, float("nan"), "tight"])
def test_invalid_rtol_is_refused_on_every_path(method, rtol):
    X, _ = _collinear(30, seed=11)
    with pytest.raises(mm.InvalidInputError, match="rtol must be"):
        mm.magnitude(X, 1.0, method=method, rtol=rtol)


# ---------------------------------------------------------------- memory


def test_derivatives_without_dense_memory(monkeypatch):
    from metric_magnitude import _validation

    X = _cloud(300, 3, seed=12)
    exact = mm.magnitude_derivative(X, 1.0)
    monkeypatch.setattr(core, "available_memory", lambda: 1_000_000)
    monkeypatch.setattr(_validation, "available_memory", lambda: 1_000_000)
    # a negative-type metric: cg, with the derivative from its certified weights
    _, res = mm.solve(X, 1.0, derivative=True, weights=False)
    assert res.methods == ("cg",) and abs(res.derivative[0] - exact) <= res.derivative_error[0]
    # not of negative type: only the dense solver applies, and it does not fit
    with pytest.raises(mm.InsufficientMemoryError, match=r"negative type.*n may be at most"):
        mm.magnitude_derivative(X, 1.0, metric="chebyshev")
    line, _ = _collinear(300, seed=12)
    assert mm.magnitude_derivative(line, 1.0) > 0  # the closed form needs no n x n memory


def test_weights_that_do_not_fit_are_refused_before_solving(monkeypatch):
    X, _ = _collinear(10_000, seed=13)
    monkeypatch.setattr(core, "available_memory", lambda: 1_000_000)  # 100 scales: 16 MB
    with pytest.raises(mm.InsufficientMemoryError, match="100 scales of 10000 points"):
        mm.weights(X, np.linspace(0.1, 10, 100))
    assert mm.magnitude(X, np.linspace(0.1, 10, 100)).shape == (100,)


def test_memory_error_never_reaches_the_user(monkeypatch):
    X = _cloud(50, 2, seed=14)

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(core, "solve_dense", out_of_memory)
    with pytest.raises(mm.InsufficientMemoryError, match="ran out of memory solving for 50"):
        mm.magnitude(X, 1.0)
    assert isinstance(mm.InsufficientMemoryError("x"), ValueError)


def test_sparse_paths_estimate_memory_first(monkeypatch):
    from metric_magnitude import _validation

    X = _cloud(2500, 3, seed=15)
    # sparse_solve refuses before building anything when its estimate does not fit
    monkeypatch.setattr(sparse, "available_memory", lambda: 2_000_000)
    with pytest.raises(mm.InsufficientMemoryError, match=r"sparse method at t = 40\.0 needs"):
        mm.magnitude(X, 40.0, method="sparse")
    # auto planned the sparse solver from its own estimate: the refusal sends it on to dense
    _, res = mm.solve(X, 40.0, weights=False)
    assert res.methods == ("cholesky",)
    # nothing fits: the matrix-free solver says so before allocating
    for module in (core, iterative, _validation):
        monkeypatch.setattr(module, "available_memory", lambda: 2_000_000)
    with pytest.raises(mm.InsufficientMemoryError, match="iterative solver needs about"):
        mm.solve(X, 40.0, weights=False)


def test_remap_rows_sums_merged_weights():
    old_inverse = np.array([0, 1, 2, 1, 3])  # 4 old rows, input 3 copies row 1
    new_inverse = np.array([0, 1, 1, 1, 2])  # rows 1 and 2 merged by the dense path
    W = np.array([[1.0, 2.0, 3.0, 4.0]])
    out = core._remap_rows(W, old_inverse, new_inverse, 3)
    assert out.tolist() == [[1.0, 5.0, 4.0]]
