"""Structured closed forms (lines, l1 lattices) and the truncated sparse solver.

Oracles: the dense solvers (called directly: mm.magnitude itself now picks these solvers for
lines, lattices and large scales; the dense ones are checked against mpmath in
test_accuracy.py), 50-digit mpmath closed forms (oracles.py) and dense eigenvalues.
"""

from __future__ import annotations

import itertools
import time

import mpmath as mp
import numpy as np
import pytest
from oracles import grid_magnitude as mp_grid_magnitude
from oracles import line_magnitude as mp_line
from oracles import max_norm_rel_err, rel_err

import metric_magnitude as mm
from metric_magnitude.exceptions import InsufficientMemoryError, InvalidInputError
from metric_magnitude.solvers import solve_dense
from metric_magnitude.solvers.sparse import (
    BoundNotCertifiedWarning,
    SparseTooDenseError,
    estimate_nnz,
    lambda_min_lower_bound,
    sparse_solve,
    truncation_threshold,
)
from metric_magnitude.solvers.structured import (
    grid_axes,
    grid_magnitude,
    grid_weights,
    is_collinear,
    line_magnitude,
    line_magnitude_derivative,
    line_weights,
    structured_solve,
)

SCALES = [1e-8, 1e-4, 0.03, 0.5, 2.0, 30.0, 1e3]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _dense(X, t, metric="euclidean", order=1):
    """The dense solvers (Cholesky, the small-t form, LDL^T), never the structured or sparse
    ones that mm.solve picks by itself for lines, lattices and large scales."""
    space = mm.MetricSpace(X, metric=metric)
    scales = np.atleast_1d(np.asarray(t, dtype=float))
    return solve_dense(space.distances, scales, derivative=order,
                       known_positive_definite=space.known_positive_definite)


def _dense_magnitude(X, t, metric="euclidean"):
    m = _dense(X, t, metric, order=0).magnitude
    return float(m[0]) if np.ndim(t) == 0 else m


def _dense_weights(X, t, metric="euclidean"):
    """Dense weights of the input points (copies sharing), as mm.weights returns them."""
    space = mm.MetricSpace(X, metric=metric)
    res = solve_dense(space.distances, np.atleast_1d(np.asarray(t, dtype=float)),
                      known_positive_definite=space.known_positive_definite)
    W = space.expand_weights(res.weights)
    return W[0] if np.ndim(t) == 0 else W


def _line_points(n=40, seed=0):
    return np.sort(_rng(seed).random(n)) * 3.0


# ---------------------------------------------------------------- lines


@pytest.mark.parametrize("t", SCALES)
def test_line_matches_mpmath_closed_form(t):
    x = _rng(1).permutation(_line_points(15))
    m, m1, w, deriv = mp_line(x, t)
    order = np.argsort(x)
    assert rel_err(line_magnitude(x, t), m) <= 1e-14
    res = structured_solve(x[:, None], t, derivative=True)
    assert rel_err(res.magnitude_minus_one[0], m1) <= 1e-13  # no cancellation, any t
    assert max_norm_rel_err(line_weights(x, t)[order], w) <= 1e-14
    assert rel_err(line_magnitude_derivative(x, t), deriv) <= 1e-13
    assert rel_err(res.derivative[0], deriv) <= 1e-13


@pytest.mark.parametrize("t", [1e-8, 1e-3, 0.3, 3.0, 100.0])
def test_line_matches_dense_solver(t):
    x = _rng(2).random(60)
    X = x[:, None]
    res = structured_solve(X, t, derivative=3)
    ref = _dense(X, t, order=3)
    assert res.methods == ("line",)
    assert abs(res.magnitude[0] - ref.magnitude[0]) <= 1e-12 * ref.magnitude[0]
    assert abs(res.magnitude_minus_one[0] - ref.magnitude_minus_one[0]) <= 1e-10 * abs(
        ref.magnitude_minus_one[0]
    )
    # the dense weights carry cond(Z) * eps; the closed form is the better of the two
    werr = np.abs(res.weights[0] - ref.weights[0]).max() / np.abs(ref.weights[0]).max()
    assert werr <= 1e-12
    np.testing.assert_allclose(res.derivative[0][0], ref.derivative[0][0], rtol=1e-10)
    if t >= 1e-3:  # the dense higher derivatives cancel at tiny t: checked on mpmath below
        np.testing.assert_allclose(res.derivative[0], ref.derivative[0], rtol=1e-9)
    assert res.positive_definite.all()


def test_line_higher_derivatives_match_mpmath_at_tiny_scale():
    x = _rng(2).random(20)
    with mp.workdps(50):
        xs = sorted(mp.mpf(float(v)) for v in x)
        gaps = [b - a for a, b in itertools.pairwise(xs)]
        for t in [1e-8, 0.4, 30.0]:
            res = structured_solve(x[:, None], t, derivative=3)
            for k in (1, 2, 3):
                ref = mp.diff(lambda s: mp.fsum(mp.tanh(s * g / 2) for g in gaps), mp.mpf(t), k)
                assert rel_err(res.derivative[0][k - 1], ref) <= 1e-12


def test_line_rcond_is_exact_one_norm_condition():
    x = _rng(3).random(30)
    for t in [0.5, 5.0, 50.0]:
        res = structured_solve(x[:, None], t)
        Z = np.exp(-t * np.abs(x[:, None] - x[None, :]))
        exact = 1.0 / (np.linalg.norm(Z, 1) * np.linalg.norm(np.linalg.inv(Z), 1))
        assert res.rcond[0] == pytest.approx(exact, rel=1e-6)


def test_line_tiny_and_huge_scales():
    x = np.array([0.0, 0.5, 2.0, 2.25])
    g = np.diff(x)
    res = structured_solve(x[:, None], [1e-12, 1e-8, 1e6], derivative=True)
    np.testing.assert_allclose(res.magnitude_minus_one[:2], [np.tanh(1e-12 * g / 2).sum(),
                                                              np.tanh(1e-8 * g / 2).sum()],
                               rtol=1e-14)  # fmt: skip
    assert res.magnitude[2] == 4.0
    assert np.all(res.weights[2] == 1.0)
    assert res.derivative[2] == 0.0
    assert np.isfinite(res.weights).all() and np.isfinite(res.rcond).all()
    # tiny t: the weights tend to 1/2 at the ends and 0 inside, with full relative accuracy
    w = res.weights[0]
    np.testing.assert_allclose(w[1:3], [0.25e-12 * (g[0] + g[1]), 0.25e-12 * (g[1] + g[2])],
                               rtol=1e-14)  # fmt: skip


def test_line_duplicates_share_weight():
    x = np.array([0.0, 1.0, 1.0, 3.0, 0.0, 1.0])
    t = 0.8
    assert line_magnitude(x, t) == pytest.approx(line_magnitude([0.0, 1.0, 3.0], t), rel=1e-15)
    w = line_weights(x, t)
    np.testing.assert_allclose(w, _dense_weights(x[:, None], t), rtol=1e-13)
    assert w[1] == w[2] == w[5]
    assert w.sum() == pytest.approx(line_magnitude(x, t), rel=1e-14)


def test_line_scale_arrays_and_shapes():
    x = _line_points(10)
    t = np.array([0.1, 1.0, 10.0])
    assert line_magnitude(x, t).shape == (3,)
    assert line_weights(x, t).shape == (3, 10)
    assert isinstance(line_magnitude(x, 1.0), float)
    assert line_weights(x.reshape(-1, 1), 1.0).shape == (10,)
    np.testing.assert_allclose(line_magnitude(x, t), _dense_magnitude(x[:, None], t), rtol=1e-12)


def test_line_small_cases():
    assert line_magnitude([5.0], 2.0) == 1.0
    assert line_weights([5.0, 5.0], 2.0).tolist() == [0.5, 0.5]
    assert line_magnitude([0.0, 2.0], 0.7) == pytest.approx(2 / (1 + np.exp(-1.4)), rel=1e-15)


def test_line_input_errors():
    with pytest.raises(InvalidInputError, match="1-D coordinates"):
        line_magnitude(np.zeros((3, 2)), 1.0)
    with pytest.raises(InvalidInputError):
        line_magnitude([0.0, np.nan], 1.0)
    with pytest.raises(InvalidInputError):
        line_magnitude([0.0, 1.0], -1.0)


def test_line_million_points_is_fast():
    x = _rng(4).random(10**6)
    line_magnitude(x[:1000], 1.0)  # warm up
    t0 = time.perf_counter()
    m = line_magnitude(x, 2000.0)
    w = line_weights(x, 2000.0)
    elapsed = time.perf_counter() - t0
    assert w.sum() == pytest.approx(m, rel=1e-12)
    assert elapsed < 3.0  # about 0.6 s for both on the 2-core development machine


# ---------------------------------------------------------------- collinear points in R^d


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev"])
def test_collinear_points_in_space_match_dense(metric):
    rng = _rng(5)
    s = rng.permutation(np.r_[rng.random(40) * 2.0, 0.5, 0.5])  # one duplicate
    u = np.array([0.48, -0.6, 0.64])
    X = np.c_[s * u[0], s * u[1], s * u[2]]
    assert is_collinear(X, metric=metric)
    for t in [0.01, 1.0, 40.0]:
        res = structured_solve(X, t, metric=metric)
        assert res is not None and res.methods == ("line",)
        ref_m = _dense_magnitude(X, t, metric=metric)
        assert abs(res.magnitude[0] - ref_m) <= 1e-12 * ref_m
        ref_w = _dense_weights(X, t, metric=metric)
        assert np.abs(res.weights[0] - ref_w).max() <= 1e-11 * np.abs(ref_w).max()


def test_collinear_far_from_origin_and_million_points():
    s = np.linspace(0.0, 1.0, 7)
    X = np.c_[1.0 + s, 2.0 + 2 * s, -3.0 - s]
    assert is_collinear(X)
    res = structured_solve(X, 3.0)
    assert abs(res.magnitude[0] - _dense_magnitude(X, 3.0)) <= 1e-12 * res.magnitude[0]
    x = _rng(6).random(10**6)
    u = np.array([0.6, 0.8, 0.0])
    res = structured_solve(x[:, None] * u, 500.0)  # closest pair ~1e-12 apart
    assert res is not None
    assert res.magnitude[0] == pytest.approx(line_magnitude(x, 500.0), rel=1e-12)


def test_not_collinear():
    rng = _rng(7)
    assert structured_solve(rng.random((50, 2)), 1.0) is None
    s = np.linspace(0, 1, 20)
    bent = np.c_[s, 1e-4 * s**2]  # relative distance errors of the line model ~ 1e-8
    assert not is_collinear(bent)
    assert is_collinear(bent, tol=1e-6)
    same_projection = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1e-9], [2.0, 0.0]])
    assert not is_collinear(same_projection)
    assert structured_solve(rng.random((5, 1)), 1.0, metric="cosine") is None
    with pytest.raises(InvalidInputError, match="supports the metrics"):
        is_collinear(rng.random((5, 2)), metric="cosine")


def test_collinear_tolerance_bounds_distance_error():
    # a slightly bent line accepted at tol: every pairwise distance of the model within tol
    rng = _rng(8)
    s = np.sort(rng.random(30))
    X = np.c_[s, 1e-5 * rng.standard_normal(30)]
    tol = 1e-2
    assert is_collinear(X, tol=tol)
    res = structured_solve(X, 1.0, tol=tol)
    D = mm.distance_matrix(X)
    g = np.sqrt((np.diff(X[np.argsort(X[:, 0])], axis=0) ** 2).sum(axis=1))
    cum = np.r_[0.0, np.cumsum(g)]
    Dmodel = np.abs(cum[:, None] - cum[None, :])
    order = np.argsort(X[:, 0])
    off = ~np.eye(30, dtype=bool)
    assert (
        np.abs(Dmodel - D[np.ix_(order, order)])[off] / D[np.ix_(order, order)][off]
    ).max() <= tol
    assert res is not None


# ---------------------------------------------------------------- l1 lattices


@pytest.mark.parametrize("t", [1e-8, 0.05, 0.7, 4.0, 200.0])
def test_grid_matches_mpmath_and_dense(t):
    a, b = 5, 4
    X = np.array(list(itertools.product(range(a), range(b))), dtype=float)
    m, m1, _, deriv = mp_grid_magnitude(a, b, t)
    res = structured_solve(X, t, metric="cityblock", derivative=True)
    assert res.methods == ("grid",)
    assert rel_err(res.magnitude[0], m) <= 1e-14
    assert rel_err(res.magnitude_minus_one[0], m1) <= 1e-13
    assert rel_err(res.derivative[0], deriv) <= 1e-13
    ref = _dense(X, t, "cityblock", order=3)
    assert abs(res.magnitude[0] - ref.magnitude[0]) <= 1e-12 * ref.magnitude[0]
    # weights: outer products of the exact (mpmath) line weightings
    wa, wb = mp_line(np.arange(a, dtype=float), t)[2], mp_line(np.arange(b, dtype=float), t)[2]
    exact = [wa[i] * wb[j] for i, j in itertools.product(range(a), range(b))]
    assert max_norm_rel_err(res.weights[0], exact) <= 1e-14
    if t >= 0.7:  # the dense weights lose digits to cond(Z) at small t
        werr = np.abs(res.weights[0] - ref.weights[0]).max() / np.abs(ref.weights[0]).max()
        assert werr <= 1e-12


def test_grid_general_spacing_3d_shuffled_with_copies():
    ax = [np.array([0.0, 0.3, 1.0]), np.array([-1.0, 2.0]), np.array([0.0, 0.1, 0.15, 1.0])]
    X = np.array(list(itertools.product(*ax)))
    X = np.vstack([X, X[[3, 3, 7]]])
    X = X[_rng(9).permutation(X.shape[0])]
    assert [a.tolist() for a in grid_axes(X)] == [a.tolist() for a in ax]
    for t in [0.2, 3.0]:
        res = structured_solve(X, [t], metric="cityblock", derivative=3)
        ref = _dense(X, t, "cityblock", order=3)
        assert res.magnitude[0] == pytest.approx(ref.magnitude[0], rel=1e-12)
        np.testing.assert_allclose(res.derivative[0], ref.derivative[0], rtol=1e-10)
        wd = _dense_weights(X, t, metric="cityblock")
        assert np.abs(grid_weights(X, t) - wd).max() <= 1e-10 * np.abs(wd).max()
        assert grid_magnitude(X, t) == pytest.approx(ref.magnitude[0], rel=1e-12)
        # weights are outer products of the per-axis line weights
        w = grid_weights(X, t)
        idx = [np.searchsorted(a, X[:, k]) for k, a in enumerate(ax)]
        outer = np.ones(X.shape[0])
        for k, a in enumerate(ax):
            outer *= line_weights(a, t)[idx[k]]
        counts = np.unique(X, axis=0, return_inverse=True, return_counts=True)
        mult = counts[2][counts[1].ravel()]
        np.testing.assert_allclose(w, outer / mult, rtol=1e-14)


def test_grid_rcond_matches_kronecker_product():
    X = np.array(list(itertools.product(range(4), range(3))), dtype=float)
    res = structured_solve(X, 2.0, metric="cityblock")
    Z = np.exp(-2.0 * mm.distance_matrix(X, metric="cityblock"))
    exact = 1.0 / (np.linalg.norm(Z, 1) * np.linalg.norm(np.linalg.inv(Z), 1))
    assert res.rcond[0] == pytest.approx(exact, rel=1e-6)


def test_incomplete_grid_and_euclidean_grid_are_not_structured():
    X = np.array(list(itertools.product(range(4), range(3))), dtype=float)
    assert structured_solve(X[:-1], 1.0, metric="cityblock") is None
    assert structured_solve(X, 1.0, metric="euclidean") is None
    assert grid_axes(X[:-1]) is None
    with pytest.raises(InvalidInputError, match="full rectangular lattice"):
        grid_magnitude(X[:-1], 1.0)


def test_image_sized_grid_is_fast():
    X = np.array(list(itertools.product(range(300), range(300))), dtype=float)
    t0 = time.perf_counter()
    res = structured_solve(X, 0.5, metric="cityblock")
    assert time.perf_counter() - t0 < 2.0
    expected = (1 + 299 * np.tanh(0.25)) ** 2
    assert res.magnitude[0] == pytest.approx(expected, rel=1e-13)


# ---------------------------------------------------------------- sparse truncation


def _check_sparse(X, t, metric="euclidean", rtol=1e-8, **kw):
    res = sparse_solve(X, t, metric=metric, rtol=rtol, **kw)
    ref = _dense(X, t, metric, order=0)
    m = ref.magnitude[0]
    slack = 1e-13 * m  # the dense reference's own rounding
    assert res.lower - slack <= m <= res.upper + slack
    assert abs(res.magnitude - m) <= res.bound * m + slack
    assert res.certified and res.bound <= rtol
    wref = _dense_weights(X, t, metric=metric)
    assert np.linalg.norm(res.weights - wref) <= res.weights_error + 1e-12
    return res, m


@pytest.mark.parametrize(
    ("d", "t"), [(2, 100.0), (2, 400.0), (3, 30.0), (3, 120.0), (10, 9.0), (10, 14.0)]
)
def test_sparse_random_clouds_within_certified_bound(d, t):
    X = _rng(10 + d).standard_normal((1500, d))
    res, m = _check_sparse(X, t)
    assert res.nnz < 0.2 * 1500**2
    assert res.truncation > 0.0
    assert abs(res.magnitude - m) <= 1e-8 * m


def test_sparse_clustered_data_and_cityblock():
    rng = _rng(11)
    centres = rng.standard_normal((8, 3)) * 20.0
    X = (centres[:, None, :] + 0.3 * rng.standard_normal((8, 150, 3))).reshape(-1, 3)
    _check_sparse(X, 25.0)
    _check_sparse(X, 40.0, metric="cityblock")


def test_sparse_drops_nothing_when_radius_covers_everything():
    X = _rng(12).random((80, 2))
    res, m = _check_sparse(X, 5.0, max_density=1.0)
    assert res.truncation == 0.0
    assert res.nnz == 80 * 80
    assert abs(res.magnitude - m) <= 1e-12 * m
    ev = np.linalg.eigvalsh(np.exp(-5.0 * mm.distance_matrix(X)))
    assert 0.0 < res.lambda_min_lower <= ev[0]
    assert 0.0 < res.rcond_bound <= ev[0] / ev[-1]


def test_sparse_duplicates_and_splu_solver():
    X = _rng(13).random((400, 2))
    Xd = np.vstack([X, X[:5]])
    res = sparse_solve(Xd, 300.0)
    ref = sparse_solve(X, 300.0, solver="splu")
    assert res.n_distinct == 400
    assert res.magnitude == pytest.approx(ref.magnitude, rel=1e-12)
    assert res.weights[0] == pytest.approx(res.weights[400], rel=1e-15)
    np.testing.assert_allclose(res.weights, _dense_weights(Xd, 300.0), atol=res.weights_error)


def test_lambda_min_lower_bound_is_valid_and_sharp():
    rng = _rng(14)
    for d, metric, t, sharp in [(3, "euclidean", 3.0, 0.6), (10, "euclidean", 1.0, 0.6),
                                (3, "cityblock", 10.0, 0.0)]:  # fmt: skip
        X = rng.standard_normal((400, d))
        lam = np.linalg.eigvalsh(np.exp(-t * mm.distance_matrix(X, metric=metric)))[0]
        low = lambda_min_lower_bound(X, t, metric=metric)
        assert 0.0 < low <= lam
        assert low >= sharp * lam


def test_sparse_uncertifiable_tolerance_warns_with_valid_bounds():
    X = _rng(15).standard_normal((500, 2))
    with pytest.warns(BoundNotCertifiedWarning, match="not certified"):
        res = sparse_solve(X, 200.0, rtol=1e-17)
    m = _dense_magnitude(X, 200.0)
    assert not res.certified
    assert res.lower - 1e-13 * m <= m <= res.upper + 1e-13 * m


def test_sparse_refuses_dense_and_oversized_problems():
    X = _rng(16).standard_normal((3000, 3))
    with pytest.raises(SparseTooDenseError, match="dense solver"):
        sparse_solve(X, 2.0)
    assert issubclass(SparseTooDenseError, InvalidInputError)
    with pytest.raises(InsufficientMemoryError, match="GiB"):
        sparse_solve(X, 60.0, memory_limit=1e5)


def test_estimate_nnz_tracks_the_actual_count():
    X = _rng(17).standard_normal((5000, 3))
    for t in [40.0, 100.0]:
        est = estimate_nnz(X, t)
        nnz = sparse_solve(X, t, weights=False).nnz
        assert 0.5 * nnz <= est <= 2.0 * nnz


def test_sparse_input_checks_and_trivial_cases():
    X = _rng(18).random((10, 2))
    with pytest.raises(InvalidInputError, match="one scale"):
        sparse_solve(X, [1.0, 2.0])
    with pytest.raises(InvalidInputError, match="metrics"):
        sparse_solve(X, 1.0, metric="cosine")
    with pytest.raises(InvalidInputError, match="rtol"):
        sparse_solve(X, 1.0, rtol=0.0)
    one = sparse_solve(np.zeros((3, 2)), 5.0)
    assert one.magnitude == 1.0 and one.weights.tolist() == pytest.approx([1 / 3] * 3)
    assert truncation_threshold(101, 8e-6) == pytest.approx(1e-8)


# ---------------------------------------------------------------- memory estimated first


def test_lambda_min_lower_bound_fits_its_pairs_in_memory(monkeypatch):
    from metric_magnitude.solvers import sparse

    # 100,000 points in R^3 at t = 34: the default radius holds about 1.6e9 pairs (175 GB),
    # which used to end in a raw MemoryError (std::bad_alloc inside cKDTree.query_pairs)
    X = _rng(19).standard_normal((100_000, 3))
    monkeypatch.setattr(sparse, "available_memory", lambda: 200 * 2**20)
    start = time.perf_counter()
    low = lambda_min_lower_bound(X, 34.0)  # the radius shrinks to fit 100 MB of pairs
    assert time.perf_counter() - start < 20.0
    assert 0.0 < low < 1.0
    with pytest.raises(InsufficientMemoryError, match=r"radius = 1 .*pass radius=0\.\d+ or less"):
        lambda_min_lower_bound(X, 34.0, radius=1.0)
    monkeypatch.setattr(sparse, "available_memory", lambda: 2**20)
    with pytest.raises(InsufficientMemoryError, match="median nearest-neighbour distance"):
        lambda_min_lower_bound(X, 34.0)


def test_lambda_min_lower_bound_with_a_shrunken_radius_is_still_valid(monkeypatch):
    from scipy.spatial import cKDTree

    from metric_magnitude.solvers import sparse

    X = _rng(20).standard_normal((700, 3))
    t = 1.0
    lam = np.linalg.eigvalsh(np.exp(-t * mm.distance_matrix(X)))[0]
    full = lambda_min_lower_bound(X, t)
    radii = []
    bound_within = sparse._bound_within

    def spy(tree, P, t, r, tail_power):
        radii.append(r)
        return bound_within(tree, P, t, r, tail_power)

    monkeypatch.setattr(sparse, "_bound_within", spy)
    # room for about 2,000 pairs: fewer than the default radius holds
    monkeypatch.setattr(sparse, "available_memory", lambda: 2 * 2_000 * 112)
    small = lambda_min_lower_bound(X, t)
    assert len(cKDTree(X).query_pairs(max(radii))) <= 2_000
    assert 0.9 * full <= small <= full <= lam  # the near pairs matter most


def test_sparse_solve_estimates_memory_before_building(monkeypatch):
    from metric_magnitude.solvers import sparse

    X = _rng(21).standard_normal((3000, 3))
    monkeypatch.setattr(sparse, "available_memory", lambda: 10**6)

    def build(*args):
        raise AssertionError("built although the estimate did not fit")

    monkeypatch.setattr(sparse, "_build", build)
    with pytest.raises(InsufficientMemoryError, match=r"needs about .* GiB .* per row"):
        sparse_solve(X, 60.0)


def test_sparse_lu_out_of_memory_is_reported(monkeypatch):
    from metric_magnitude.solvers import sparse

    def out_of_memory(B):
        raise MemoryError

    monkeypatch.setattr(sparse, "_splu_solve", out_of_memory)
    with pytest.raises(InsufficientMemoryError, match="solver='cg'"):
        sparse_solve(_rng(22).random((300, 2)), 300.0, solver="splu")
