"""Matrix-free CG with certified bounds (metric_magnitude.solvers.iterative, issue 7).

The contract: every certified interval lower <= |tX| <= upper contains the exact magnitude
(checked against the dense solver and, for small spaces, 50-digit mpmath), its relative width
is at most rtol on exit, and whatever cannot be certified ends in an error (or, with
strict=False, a warning) that carries the best bounds found.
"""

from __future__ import annotations

import warnings

import mpmath as mp
import numpy as np
import pytest
from oracles import mp_distances_from_points, mp_magnitude
from scipy.spatial.distance import cdist

import metric_magnitude as mm
from metric_magnitude import core
from metric_magnitude.solvers.iterative import (
    CertificationError,
    CertificationWarning,
    SimilarityOperator,
    coordinate_bound,
    product_bound,
    separation_bound,
    solve_iterative,
    subordination_bound,
)

# dense |tX| is accurate to about 1e-12 relative (docs/accuracy.md): the slack for containment
DENSE_SLACK = 1e-11


def _contains(res, exact, slack=DENSE_SLACK):
    exact = np.atleast_1d(exact)
    lo_ok = res.lower <= exact * (1 + slack)
    up_ok = res.upper >= exact * (1 - slack)
    return bool(np.all(lo_ok & up_ok))


def _cloud(n, d, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


# ----------------------------------------------------------------------------- products


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "precomputed"])
def test_matvec_equals_dense_product(metric):
    X = _cloud(700, 3, seed=1)
    X[350:] += 40.0  # two far clusters: at t = 30 whole tiles underflow and are skipped
    for t in (0.2, 3.0, 30.0):
        D = cdist(X, X, "euclidean" if metric == "precomputed" else metric)
        op = (SimilarityOperator(distances=D) if metric == "precomputed"
              else SimilarityOperator(X, metric=metric, threads=2))
        V = np.random.default_rng(2).standard_normal((700, 3))
        ref = np.exp(-t * D) @ V
        got = op.matmat(V, t)
        assert np.max(np.abs(got - ref)) <= 1e-13 * np.max(np.abs(ref))
        assert np.allclose(op.matvec(V[:, 0], t), ref[:, 0], rtol=0, atol=1e-13 * np.abs(ref).max())


def test_far_field_truncation_is_bounded():
    X = _cloud(2000, 2, seed=3)
    op = SimilarityOperator(X)
    S = op.scaled(40.0, far_field_budget=1e-6)
    assert S.skipped_fraction > 0.3
    v = np.abs(np.random.default_rng(4).standard_normal(2000))
    exact = np.exp(-40.0 * cdist(op._P, op._P)) @ v
    got = S.apply(v)
    # skipped entries are >= 0, so Z~ v <= Z v, short by at most eps_row * max(v)
    assert np.all(got <= exact * (1 + 1e-13))
    assert np.all(exact - got <= S.eps_row * v.max() * (1 + 1e-9) + 1e-13 * exact)
    assert S.eps_max <= 1e-6


def test_gram_single_products_have_an_exact_diagonal():
    # |x|^2 + |y|^2 - 2 x.y at x = y is a rounding error, about u32 |x|^2: its square root
    # would put exp(-t sqrt(u32) |x|) on Z's diagonal; the tiles set it to exactly 0
    X = _cloud(300, 64, seed=5) * 100.0
    S = SimilarityOperator(X, kernel="numpy").scaled(1.0)
    assert np.array_equal(np.diag(S.apply(np.eye(300), single=True)), np.ones(300))


def test_single_precision_accuracy_test_of_gram_tiles():
    gaussian = SimilarityOperator(_cloud(2000, 64, seed=6), kernel="numpy")
    assert gaussian.single_is_accurate(1.0)  # Gaussian points in R^64 lie ~8 apart
    # a pair 0.01 apart among points of leaf radius ~10: float32 Gram distances are off by
    # more than 1% of it
    assert not gaussian.single_is_accurate(0.01)
    assert not gaussian.single_is_accurate(0.0)


def _spy_gram_tiles(monkeypatch) -> list:
    """Record the precision of every Gram tile function made from now on."""
    calls = []
    original = SimilarityOperator._gram_tiles

    def spy(self, i, dtype=np.float32):
        calls.append(np.dtype(dtype).name)
        return original(self, i, dtype)

    monkeypatch.setattr(SimilarityOperator, "_gram_tiles", spy)
    return calls


def test_mixed_precision_with_gram_tiles_certifies_the_dense_value(monkeypatch):
    calls = _spy_gram_tiles(monkeypatch)
    X = _cloud(1200, 64, seed=7)
    X[:200] = X[200:400] + 1e-4 * _cloud(200, 64, seed=8)  # near duplicates, second case
    for name, pts in (("gaussian", X[200:]), ("near duplicates", X)):
        scales = [0.05, 0.3, 2.0]
        _, dense = mm.solve(pts, np.array(scales), method="cholesky")
        res = {}
        for p in ("double", "mixed"):
            calls.clear()
            res[p] = solve_iterative(pts, scales, rtol=1e-8, precision=p, kernel="numpy")
            # float32 Gram tiles for mixed precision, float64 ones for the certificates
            # (the numpy kernel from 32 dimensions); neither 1e-4 apart among points ~10
            # apart, where the Gram distances' error bound is too large: there only the
            # first product is float32 (it finds the separation), then done again in float64
            leaves = SimilarityOperator(pts, kernel="numpy").n_leaves
            n32 = calls.count("float32")
            if p == "double":
                assert n32 == 0
            else:
                assert n32 > leaves if name == "gaussian" else n32 == leaves
            assert ("float64" in calls) == (name == "gaussian")
        for r in res.values():
            assert r.certified.all() and np.all(r.gap <= 1e-8)
            assert _contains(r, dense.magnitude, 1e-11)
        a, b = res["double"], res["mixed"]
        assert np.all(np.abs(a.magnitude - b.magnitude) <= 1e-8 * a.magnitude)


def test_gram_double_distances_are_within_their_bound():
    # pairs 1e-6 to 1 apart among points ~300 from their leaf's centre and 1e3 from the
    # origin: the cancellation in |x'|^2 + |y'|^2 - 2 x'.y' is as bad as it gets; every
    # float64 Gram distance against 40-digit mpmath, within _gram_distance_error
    rng = np.random.default_rng(11)
    X = rng.standard_normal((240, 96)) * 30.0 + 1e3
    X[1::2] = X[0::2] + 10.0 ** rng.uniform(-6, 0, (120, 1)) * rng.standard_normal((120, 96))
    op = SimilarityOperator(X, kernel="numpy", leaf=40)
    P = op._P
    worst, checked = 0.0, 0
    with mp.workdps(40):
        exact_points = [[mp.mpf(float(v)) for v in row] for row in P]
        for i in range(op.n_leaves):
            r0, r1 = int(op.starts[i]), int(op.starts[i + 1])
            dist = op._gram_tiles(i, np.float64)
            for c0, c1 in ((r0, r1), (0, op.n)):
                T = dist(c0, c1)
                assert T.dtype == np.float64
                for a in range(r1 - r0):
                    for b in range(c1 - c0):
                        if r0 + a == c0 + b:
                            assert T[a, b] == 0.0
                            continue
                        # the 8 closest pairs of each row, and every 13th
                        if b % 13 and T[a, b] > np.sort(T[a])[8]:
                            continue
                        x, y = exact_points[r0 + a], exact_points[c0 + b]
                        r = mp.sqrt(mp.fsum((u - v) ** 2 for u, v in zip(x, y, strict=True)))
                        bound = op._gram_distance_error(float(r))
                        err = float(abs(mp.mpf(float(T[a, b])) - r))
                        assert err <= bound, (float(r), err, bound)
                        worst = max(worst, err / bound)
                        checked += 1
    assert checked > 2000
    assert worst > 1e-4  # the bound is not vacuous: measured errors reach a part of it


@pytest.mark.parametrize("near", [None, 1e-3, 1e-7, 0.0])
def test_gram_tiles_track_rigorous_extreme_distances(near):
    # the first product finds the separation; from Gram tiles (float32 or float64) the
    # extremes are bounds: below the true smallest, above the true largest distance
    X = _cloud(900, 64, seed=15) * 3.0 + 50.0
    if near is not None:
        X[5] = X[400] + near / 8.0  # |X[5] - X[400]| = near
    D = cdist(X, X)
    true_min, true_max = D[np.triu_indices(900, 1)].min(), D.max()
    op = SimilarityOperator(X, kernel="numpy")
    for single in (True, False):
        S = op.scaled(0.2)
        S.gram_double = not single
        S.apply(np.ones((900, 1)), track_min=True, single=single)
        assert S.min_distance <= true_min and S.max_distance >= true_max
        tol = 1e-2 if single else 1e-6  # sqrt(c1) (2 rho + r): ~2e-3 and ~1e-7 of r here
        assert S.max_distance <= true_max * (1 + tol)
        # a pair 1e-3 apart, coordinates ~25 from the leaf's centre: float64 resolves it,
        # float32 (squares off by ~1e-5) cannot; 1e-7 apart, neither
        if near is None or (near == 1e-3 and not single):
            assert S.min_distance >= true_min * (1 - 10 * tol if near is None else 0.999)


def test_columns_and_blocks_by_gram_products_in_many_dimensions():
    # the preconditioners' columns and diagonal blocks (uncertified) from Gram products
    # where float64 products may use them: the same matrices to rounding
    X = _cloud(700, 96, seed=16) + 20.0
    op = SimilarityOperator(X, kernel="numpy")
    assert op._gram_double
    S = op.scaled(0.2)
    Z = np.exp(-0.2 * cdist(op._P, op._P))
    cols = np.array([3, 250, 699, 3])
    assert np.allclose(S.columns(cols), Z[:, cols], rtol=1e-12, atol=0)
    for i in range(op.n_leaves):
        r0, r1 = op.starts[i], op.starts[i + 1]
        B = S.diagonal_block(i)
        assert np.allclose(B, Z[r0:r1, r0:r1], rtol=1e-12, atol=0)
        assert np.array_equal(np.diag(B), np.ones(r1 - r0))


def test_gram_double_products_only_where_their_bound_is_small():
    X = _cloud(600, 96, seed=12)
    op = SimilarityOperator(X, kernel="numpy")
    q = float(cdist(X, X)[np.triu_indices(600, 1)].min())
    S = op.scaled(0.3)
    assert S.use_gram_double(q) and S.gram_double
    direct = op.scaled(0.3)
    direct.gram_double = False
    # within the factor it is allowed, and above the direct distances' bound
    assert direct.entry_rel_error() <= S.entry_rel_error() <= 16 * direct.entry_rel_error()
    assert S.distance_rel_error() >= direct.distance_rel_error()
    V = np.random.default_rng(13).standard_normal((600, 2))
    ref = np.exp(-0.3 * cdist(op._P, op._P)) @ V
    scale = np.exp(-0.3 * cdist(op._P, op._P)) @ np.abs(V)
    assert np.all(np.abs(S.apply(V) - ref) <= 4 * S.entry_rel_error() * scale)
    # points 1e-9 apart, or a separation of 0: the bound would be 1e5 times larger
    for q_bad in (1e-9, 0.0):
        T = op.scaled(0.3)
        assert not T.use_gram_double(q_bad) and T.gram_double is False
    # below 32 dimensions (numpy kernel) or 80 (numba): never
    assert not SimilarityOperator(_cloud(600, 16), kernel="numpy").scaled(0.3).use_gram_double(q)


# ----------------------------------------------------------------------------- eigenvalues


@pytest.mark.parametrize("d", [1, 2, 3, 5, 10])
def test_separation_bound_is_below_lambda_min(d):
    X = _cloud(150, d, seed=d)
    D = cdist(X, X)
    q = D[D > 0].min()
    for t in (0.1, 1.0, 5.0, 30.0):
        lam = np.linalg.eigvalsh(np.exp(-t * D))[0]
        c = separation_bound(t, q, d)
        assert 0 < c <= lam
        if d <= 3 and t <= 5:
            assert c >= lam / 10  # and it is not far off: measured within a factor 2 to 6


@pytest.mark.parametrize("d", [1, 2, 3, 10, 50, 768])
def test_subordination_bound_is_below_lambda_min_and_close(d):
    X = _cloud(200, d, seed=d)
    D = cdist(X, X)
    ts = [0.01, 0.1, 1.0, 5.0, 30.0]
    bounds = subordination_bound(ts, X)
    for t, c in zip(ts, bounds, strict=True):
        lam = np.linalg.eigvalsh(np.exp(-t * D))[0]
        assert 0 < c <= lam
        # measured within 1.13 to 1.24 of lambda_min in R^1..R^3, 1.7 in R^10, 2.2 in R^50
        # and 2.7 in R^768 (where the separation bound is ~1e-31)
        assert c >= lam / (1.3 if d <= 3 else 3.0)
        if d <= 20:
            assert c >= separation_bound(t, D[D > 0].min(), d)
    assert subordination_bound(1.0, X) == bounds[2]


def test_subordination_bound_against_mpmath_on_an_ill_conditioned_space():
    # a near-duplicate pair (1e-4 apart) and a tiny scale: lambda_min ~ 1e-7, from 40 digits
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0 + 1e-4], [1.0, 1.0],
                  [0.3, 0.7]])
    for t in (0.01, 1.0, 20.0):
        with mp.workdps(40):
            D = mp_distances_from_points(X)
            Z = mp.matrix([[mp.e ** (-t * D[i, j]) for j in range(6)] for i in range(6)])
            lam = min(mp.eigsy(Z)[0])
        c = subordination_bound(t, X)
        assert 0 < c <= lam
        assert c >= lam / 3


def test_subordination_bound_of_coincident_points_is_zero():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0]])
    assert subordination_bound(1.0, X) == 0.0
    assert subordination_bound([0.5, 2.0], _cloud(1, 3)).tolist() == [1.0, 1.0]
    assert subordination_bound(-1.0, _cloud(20, 3)) == 0.0


@pytest.mark.parametrize("bad", [np.array([[np.nan, 1.0], [0.0, 0.0]]), np.zeros(4),
                                 np.array([[np.inf, 0.0]])])
def test_subordination_bound_rejects_bad_points(bad):
    with pytest.raises(mm.InvalidInputError, match="finite 2-D"):
        subordination_bound(1.0, bad)


@pytest.mark.parametrize("d", [3, 20])
def test_gram_and_tree_neighbours_are_lower_bounds_and_agree(d):
    from metric_magnitude.solvers import _subordination as sub

    X = _cloud(1500, d, seed=9) * 50.0 + 1e3  # far from the origin: the Gram path centres
    X[700] = X[10] + 1e-6  # a near-duplicate pair
    exact = np.sort(cdist(X, X) ** 2, axis=1)[:, 1:18]
    tree = sub.nearest_squared_distances(X, 16) if d <= sub._TREE_MAX_DIM else None
    gram = sub._gram_nearest(X, 17)
    for A in (tree, gram):
        if A is None:
            continue
        assert A.shape == (1500, 17)
        assert np.all(A <= exact * (1 + 1e-15))
        assert np.all(A[:, -1] <= exact[:, -1])  # bounds every point beyond the listed ones
        far = exact > 1e-6
        assert np.allclose(A[far], exact[far], rtol=1e-9)


def test_gram_neighbours_where_float32_cannot_rank_the_candidates():
    # each centre has 40 points on a sphere of radius about 1 around it, their squared
    # radii 2e-7 apart: float32 (errors about 0.1 here, the points ~80 from the mean) ties
    # them all, float64 (about 2e-10) tells them apart, so the float64 pass picks the order
    from metric_magnitude.solvers import _subordination as sub

    rng = np.random.default_rng(14)
    centres = rng.standard_normal((30, 64)) * 10.0
    dirs = rng.standard_normal((30, 40, 64))
    dirs /= np.linalg.norm(dirs, axis=2, keepdims=True)
    radii = 1.0 + 1e-7 * rng.permutation(40)
    X = np.concatenate([centres, (centres[:, None] + radii[:, None] * dirs).reshape(-1, 64)])
    exact = np.sort(cdist(X, X) ** 2, axis=1)[:, 1:18]
    got = sub._gram_nearest(X, 17)
    assert np.all(got <= exact * (1 + 1e-15)) and np.all(got[:, -1] <= exact[:, -1])
    # the centres' 17 nearest are the 17 smallest radii, each within 1e-9
    assert np.all(np.diff(exact[:30], axis=1) > 1.5e-7)
    assert np.max(np.abs(got[:30] - exact[:30])) <= 1e-9


@pytest.mark.parametrize("p", ["euclidean", "cityblock", "chebyshev"])
def test_close_pairs_by_projection_equal_the_tree_search(p):
    from scipy.spatial import cKDTree

    from metric_magnitude.solvers.iterative import _HOMOGENEOUS, _close_pairs_by_projection

    X = _cloud(3000, 20, seed=4)
    X[100:140] = X[:40] + 1e-16 * _cloud(40, 20, seed=5)  # within 4 eps diam: merged
    X[200] = X[300]  # an exact copy
    tol = 4.0 * np.finfo(float).eps * 20.0
    got = _close_pairs_by_projection(X, _HOMOGENEOUS[p], tol)
    want = cKDTree(X).query_pairs(tol, p=_HOMOGENEOUS[p], output_type="ndarray")
    assert len(want) >= 30
    assert {tuple(r) for r in got.tolist()} == {tuple(sorted(r)) for r in want.tolist()}


def test_subordination_bound_where_cheap_or_needed(monkeypatch):
    from metric_magnitude.solvers import iterative

    monkeypatch.setattr(iterative, "_SUBORDINATION_PAIRS", 1e4)  # so 400 points are "many"
    ops = {d: SimilarityOperator(_cloud(400, d, seed=d)) for d in (3, 10, 30)}
    assert iterative._subordination_pays(ops[3], 0.1)  # a k-d tree: cheap
    assert not iterative._subordination_pays(ops[10], 0.1)  # separation is enough
    assert iterative._subordination_pays(ops[10], 1e-9)  # ... unless it is useless
    assert iterative._subordination_pays(ops[30], 0.1)  # nothing else above 20 dimensions
    res = solve_iterative(_cloud(400, 10, seed=1), 0.5, rtol=1e-8)
    assert res.lambda_bound_source == ("separation",) and res.certified.all()
    monkeypatch.setattr(iterative, "_SUBORDINATION_PAIRS", 1e8)
    res = solve_iterative(_cloud(400, 10, seed=1), 0.5, rtol=1e-8)
    assert res.lambda_bound_source == ("subordination",) and res.certified.all()


def test_certified_in_768_dimensions_at_small_scales():
    # clustered "embeddings": the separation bound is ~1e-31 there, so before the
    # subordination bound no scale below Gershgorin's could be certified
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 768))[rng.integers(8, size=600)] + 0.3 * _cloud(600, 768)
    ts = [0.05, 0.5]
    _, dense = mm.solve(X, np.array(ts), method="cholesky")
    res = solve_iterative(X, ts, rtol=1e-8)
    assert res.certified.all() and _contains(res, dense.magnitude)
    assert res.lambda_bound_source == ("subordination", "subordination")


def test_l1_bounds_are_below_lambda_min():
    X = _cloud(120, 3, seed=5)
    D = cdist(X, X, "cityblock")
    qinf = cdist(X, X, "chebyshev")[~np.eye(120, dtype=bool)].min()
    for t in (0.3, 3.0, 30.0):
        lam = np.linalg.eigvalsh(np.exp(-t * D))[0]
        assert 0 < coordinate_bound(t, X) <= lam
        assert 0 < product_bound(t, qinf, 3) <= lam
    # a repeated coordinate makes that coordinate's matrix singular: no bound from it
    Y = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.5]])
    assert coordinate_bound(1.0, Y[:, :1]) == 0.0


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
@pytest.mark.parametrize("d,scales", [(3, [0.05, 1.0, 8.0, 60.0]), (10, [0.05, 0.5, 2.0, 6.0])])
def test_bounds_contain_dense_magnitude(metric, d, scales):
    if metric == "cityblock" and d == 10:
        scales = [0.02, 0.3, 0.8, 2.5]
    X = _cloud(400, d, seed=d)
    exact = mm.magnitude(X, scales, metric=metric)
    # small, medium and large scales: |tX| / n from near 0 to near 1
    assert exact[0] / 400 < 0.05 and exact[-1] / 400 > 0.9
    res = solve_iterative(X, scales, metric=metric, rtol=1e-9)
    assert res.certified.all()
    assert _contains(res, exact)
    assert np.all(res.gap <= 1e-9)
    assert np.all(np.abs(res.magnitude - exact) <= 1e-9 * exact * (1 + 1e-3))
    assert np.all(res.lambda_min_bound > 0)


@pytest.mark.parametrize("metric,t", [("euclidean", 0.7), ("euclidean", 4.0), ("cityblock", 2.0)])
def test_bounds_contain_mpmath_magnitude(metric, t):
    X = _cloud(24, 2, seed=7)
    ref, *_ = mp_magnitude(mp_distances_from_points(X, metric), t)
    res = solve_iterative(X, t, metric=metric, rtol=1e-12)
    assert mp.mpf(res.lower[0]) <= ref <= mp.mpf(res.upper[0])
    assert res.gap[0] <= 1e-12


def test_near_duplicates_and_copies():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((300, 3))
    X[1] = X[0] + 1e-7  # near-duplicate: Z nearly singular
    X[2] = X[0]  # exact copy: merged
    X[3] = X[4] * (1 + 1e-17) + 1e-16  # within 4 eps * diameter: merged, as the dense path does
    for t in (0.5, 5.0):
        exact = mm.magnitude(X, t)
        res = solve_iterative(X, t, rtol=1e-8)
        assert _contains(res, exact)
        assert res.n_distinct == mm.MetricSpace(X).n_distinct
        w = mm.weights(X, t)
        assert res.weights.shape == (1, 300)
        assert res.weights[0, 0] == res.weights[0, 2]  # copies share
        assert np.abs(res.weights[0] - w).max() <= res.weight_error[0] + 1e-6


def test_clustered_data():
    rng = np.random.default_rng(9)
    centers = rng.uniform(-50, 50, size=(6, 3))
    X = np.concatenate([c + 0.3 * rng.standard_normal((100, 3)) for c in centers])
    scales = [0.2, 3.0, 25.0]
    exact = mm.magnitude(X, scales)
    res = solve_iterative(X, scales, rtol=1e-10)
    assert _contains(res, exact)
    assert np.all(res.gap <= 1e-10)
    assert res.skipped_fraction[-1] >= 0.4  # far clusters are skipped, and charged to the bounds


def test_precomputed_distances_certified_by_gershgorin_at_large_t():
    X = _cloud(200, 3, seed=10)
    D = cdist(X, X)
    exact = mm.magnitude(X, 40.0)
    res = solve_iterative(D, 40.0, metric="precomputed", rtol=1e-10)
    assert res.lambda_bound_source == ("gershgorin",)
    assert _contains(res, exact) and res.gap[0] <= 1e-10


# ----------------------------------------------------------------------------- stopping


@pytest.mark.parametrize("rtol", [1e-3, 1e-6, 1e-11])
def test_gap_at_exit_is_at_most_rtol(rtol):
    X = _cloud(300, 3, seed=11)
    exact = mm.magnitude(X, [0.5, 5.0])
    res = solve_iterative(X, [0.5, 5.0], rtol=rtol)
    assert np.all((res.upper - res.lower) <= rtol * res.lower)
    assert _contains(res, exact)


def test_warm_start_reduces_products():
    X = _cloud(600, 3, seed=12)
    scales = np.linspace(2.0, 2.5, 6)
    cold = solve_iterative(X, scales, rtol=1e-10, warm_start=False)
    warm = solve_iterative(X, scales, rtol=1e-10, warm_start=True)
    # the chain runs from the largest scale down: the others are warm-started
    assert warm.matvecs[:-1].sum() < cold.matvecs[:-1].sum()
    assert warm.iterations[:-1].sum() < cold.iterations[:-1].sum()
    assert np.allclose(warm.magnitude, cold.magnitude, rtol=2e-10)


def test_warm_start_from_several_scales_beats_the_last_one_alone(monkeypatch):
    # a geometric chain of scales as a magnitude function solves them: the Galerkin start
    # over the last 4 scales' weights must save iterations over the best multiple of the
    # last weights (history 1), with the same certified values
    from metric_magnitude.solvers import iterative

    X = _cloud(1500, 3, seed=21)
    scales = np.geomspace(0.05, 20.0, 12)
    many = solve_iterative(X, scales, rtol=1e-8, weights=False, kernel="numpy")
    monkeypatch.setattr(iterative, "_WARM_HISTORY", 1)
    one = solve_iterative(X, scales, rtol=1e-8, weights=False, kernel="numpy")
    assert many.iterations[:-2].sum() < 0.85 * one.iterations[:-2].sum()
    assert np.all(many.certified) and np.all(one.certified)
    exact = mm.magnitude(X, scales)
    assert _contains(many, exact) and _contains(one, exact)


def test_a_chain_from_the_largest_scale_down_saves_the_small_scales_iterations(monkeypatch):
    # the small scales are the hard ones (Z near 1 1^T): solved last, they start from the
    # Galerkin point of four neighbours' weights instead of from zero (20,000 points in R^3:
    # 7, 6, 6 iterations at the three smallest of 20 scales against 22, 16, 11 upwards)
    from metric_magnitude.solvers import iterative

    X = _cloud(1500, 3, seed=21)
    scales = np.geomspace(0.05, 20.0, 12)
    down = solve_iterative(X, scales, rtol=1e-8, weights=False, kernel="numpy")
    monkeypatch.setattr(iterative, "_CHAIN_DESCENDING", False)
    up = solve_iterative(X, scales, rtol=1e-8, weights=False, kernel="numpy")
    assert down.iterations[:3].sum() < 0.7 * up.iterations[:3].sum()
    assert down.iterations.sum() < up.iterations.sum()
    assert np.all(down.certified) and np.all(up.certified)
    exact = mm.magnitude(X, scales)
    assert _contains(down, exact) and _contains(up, exact)


def test_after_a_failed_certificate_only_the_rigorous_estimate_triggers_the_next(monkeypatch):
    # a weak (still valid) eigenvalue bound: r^T M^-1 r, which assumes the true lambda,
    # says "converged" long before the bound can certify. It may trigger the first
    # certificate of a scale (which also tries Gershgorin); after that only the residual
    # against the best bound found triggers one. The old rule spent 3 at t = 0.3.
    from metric_magnitude.solvers import iterative

    geometric, certify = iterative._geometric_bound, iterative._certify
    monkeypatch.setattr(iterative, "_geometric_bound", lambda prep, t, state: (
        geometric(prep, t, state)[0] * 1e-3, "separation"))
    made = []

    def counted(S, x, state, **kwargs):
        made.append(S.t)
        return certify(S, x, state, **kwargs)

    monkeypatch.setattr(iterative, "_certify", counted)
    X = np.random.default_rng(3).standard_normal((1500, 3))
    scales = [0.3, 1.0, 3.0]
    res = solve_iterative(X, scales, rtol=1e-8, weights=False, kernel="numpy",
                          warm_start=False)
    assert max(made.count(t) for t in scales) <= 2
    assert np.all(res.certified) and _contains(res, mm.magnitude(X, scales))


def test_with_the_subordination_bound_one_certificate_a_scale(monkeypatch):
    # lambda within ~1.2x of lambda_min in R^3: CG's own residual bound predicts the
    # certificate well, so only it triggers one (the r^T M^-1 r test fired certificates that
    # failed: 8 along a 20-scale function of 20,000 points)
    from metric_magnitude.solvers import iterative

    certify = iterative._certify
    made = []

    def counted(S, x, state, **kwargs):
        cert = certify(S, x, state, **kwargs)
        made.append((S.t, state["geo_source"], cert.upper - cert.lower <= 1e-6 * cert.lower))
        return cert

    monkeypatch.setattr(iterative, "_certify", counted)
    X = np.random.default_rng(3).standard_normal((6000, 3))
    scales = np.geomspace(0.03, 30.0, 12)
    res = solve_iterative(X, scales, rtol=1e-6, weights=False)
    assert np.all(res.certified)
    assert {src for _, src, _ in made} == {"subordination"}
    # measured: 13 certificates, 1 failed (with the r^T M^-1 r test as well: 16, 4 failed)
    assert sum(not ok for *_, ok in made) <= 2
    assert len(made) <= len(scales) + 2


def _plain_state():
    # what _galerkin_start reads: float64 products, the separation already known
    return {"single": False, "min_distance": 1e-3, "matvecs": 0}


def test_galerkin_start_is_the_best_point_of_the_span():
    from metric_magnitude.solvers.iterative import _galerkin_start

    X = _cloud(300, 3, seed=22)
    t = 2.0
    op = SimilarityOperator(X, kernel="numpy")
    S = op.scaled(t)
    Z = np.exp(-t * cdist(op._P, op._P))
    w = np.linalg.solve(Z, np.ones(len(X)))
    rng = np.random.default_rng(0)
    # the exact weights inside the span (scaled, among other columns): found again
    V = np.column_stack([rng.standard_normal(len(X)), 3.0 * w, rng.standard_normal(len(X))])
    x, r = _galerkin_start(S, V, _plain_state())
    assert np.allclose(x, w, rtol=1e-8, atol=1e-10 * np.abs(w).max())
    assert np.allclose(r, 1.0 - Z @ x, atol=1e-9)
    # in general: no worse in the Z-norm than the best multiple of any one column
    V = np.column_stack([w + 0.3 * rng.standard_normal(len(X)),
                         w + 0.3 * rng.standard_normal(len(X))])
    x, _ = _galerkin_start(S, V, _plain_state())

    def znorm_error(y):
        return float((y - w) @ Z @ (y - w))

    for v in V.T:
        best = v * (v.sum() / (v @ Z @ v))
        assert znorm_error(x) <= znorm_error(best) * (1 + 1e-12)


def test_galerkin_start_survives_degenerate_histories():
    from metric_magnitude.solvers.iterative import _galerkin_start

    X = _cloud(200, 2, seed=23)
    S = SimilarityOperator(X, kernel="numpy").scaled(1.0)
    n = len(X)
    v = np.random.default_rng(1).standard_normal(n)
    for V in (np.zeros((n, 2)), np.column_stack([v, v, 2 * v]), np.zeros(n)):
        x, r = _galerkin_start(S, V, _plain_state())
        assert np.all(np.isfinite(x)) and np.all(np.isfinite(r))
        assert np.allclose(r, 1.0 - S.apply(x), atol=1e-9)


@pytest.mark.parametrize("preconditioner", [
    "sparse_inverse", "nystrom+block_jacobi", "nystrom", "block_jacobi", "none"])
def test_every_preconditioner_certifies(preconditioner):
    X = _cloud(300, 3, seed=13)
    exact = mm.magnitude(X, [1.0, 10.0])
    res = solve_iterative(X, [1.0, 10.0], rtol=1e-9, preconditioner=preconditioner)
    assert _contains(res, exact) and np.all(res.gap <= 1e-9)
    auto = solve_iterative(X, [1.0, 10.0], rtol=1e-9)
    if preconditioner == "none":
        assert auto.iterations.sum() < res.iterations.sum()


# ----------------------------------------------------------------------------- failures


def test_unreachable_tolerance_carries_bounds():
    X = _cloud(300, 3, seed=14)
    exact = mm.magnitude(X, 1.0)
    with pytest.raises(CertificationError) as info:
        solve_iterative(X, 1.0, rtol=1e-8, maxiter=2)
    err = info.value
    assert err.reason == "maxiter" and err.scale == 1.0
    assert err.lower <= exact <= err.upper < np.inf
    assert isinstance(err, mm.MagnitudeError) and isinstance(err, np.linalg.LinAlgError)
    with pytest.raises(CertificationError) as info:
        solve_iterative(X, 1.0, rtol=1e-16)
    assert info.value.reason == "rounding_floor"
    assert info.value.lower <= exact * (1 + DENSE_SLACK) and info.value.upper >= exact


def test_not_positive_definite_metric_is_refused_with_bounds():
    # K_{3,2} (not positive definite; |tX| < 0 near t = 0.34), as a distance matrix
    D = np.array([[0, 2, 2, 1, 1], [2, 0, 2, 1, 1], [2, 2, 0, 1, 1],
                  [1, 1, 1, 0, 2], [1, 1, 1, 2, 0]], dtype=float)
    with pytest.raises(CertificationError) as info:
        solve_iterative(D, 0.34, metric="precomputed")
    err = info.value
    assert err.reason in ("not_positive_definite", "breakdown")
    assert err.lower == -np.inf and err.upper == np.inf
    # a non-negative-type metric at small t: nothing proves Z(t) positive definite
    X = _cloud(100, 3, seed=15)
    with pytest.raises(CertificationError) as info:
        solve_iterative(X, 0.5, metric="chebyshev")
    assert info.value.reason == "not_positive_definite"
    # but where Gershgorin proves it (large t), the same metric is certified
    res = solve_iterative(X, 30.0, metric="chebyshev", rtol=1e-10)
    assert _contains(res, mm.magnitude(X, 30.0, metric="chebyshev"))


def test_strict_false_warns_and_reports():
    X = _cloud(200, 3, seed=16)
    with pytest.warns(CertificationWarning, match="not certified"):
        res = solve_iterative(X, [0.5, 5.0], rtol=1e-8, maxiter=2, strict=False)
    assert not res.certified.any()
    assert _contains(res, mm.magnitude(X, [0.5, 5.0]))


def test_invalid_arguments():
    X = _cloud(20, 2)
    for bad in (0.0, -1.0, 1.5, "x"):
        with pytest.raises(mm.InvalidInputError, match="rtol"):
            solve_iterative(X, 1.0, rtol=bad)
    with pytest.raises(mm.InvalidInputError, match="preconditioner"):
        solve_iterative(X, 1.0, preconditioner="ilu")
    with pytest.raises(mm.InvalidInputError, match=r"unknown precision 'half'.*'mixed'"):
        solve_iterative(X, 1.0, precision="half")
    with pytest.raises(mm.InvalidInputError, match="rtol"):
        mm.magnitude(X, 1.0, method="cg", rtol=2.0)
    with pytest.raises(mm.InvalidInputError, match="first derivative only"):
        mm.solve(X, 1.0, method="cg", derivative=3)
    with pytest.raises(mm.InvalidInputError, match="'cg'"):
        mm.magnitude(X, 1.0, method="cgg")


# ----------------------------------------------------------------------------- public API


def test_method_cg_in_the_core_api():
    X = _cloud(250, 3, seed=17)
    X = np.concatenate([X, X[:5]])  # copies
    ts = [0.3, 3.0]
    dense = mm.magnitude(X, ts)
    cg = mm.magnitude(X, ts, method="cg", rtol=1e-10)
    assert np.allclose(cg, dense, rtol=1e-10, atol=0)
    assert isinstance(mm.magnitude(X, 1.0, method="cg"), float)
    W = mm.weights(X, 3.0, method="cg", rtol=1e-12)
    assert W.shape == (255,)
    # weights are not certified, only their 2-norm error (weight_error: 1.9e-5 here, with
    # float32 search directions; 2.5e-6 measured)
    assert np.allclose(W, mm.weights(X, 3.0), atol=1e-5)
    space, res = mm.solve(X, ts, method="cg")
    assert res.methods == ("cg", "cg")
    assert np.all(res.rcond > 0) and res.positive_definite.all()
    assert np.allclose(space.expand_weights(res.weights), mm.weights(X, ts, method="cg"))
    assert np.allclose(mm.magnitude(X, 1.0, rtol=1e-4), mm.magnitude(X, 1.0))  # dense: rtol met


def test_auto_uses_cg_when_dense_does_not_fit(monkeypatch):
    X = _cloud(300, 3, seed=18)
    exact = mm.magnitude(X, 2.0)
    monkeypatch.setattr(core, "available_memory", lambda: 1_000_000)  # 1 MB: D alone is 0.7 MB
    space, res = mm.solve(X, 2.0, weights=False)
    assert res.methods == ("cg",)
    assert abs(res.magnitude[0] - exact) <= 1e-8 * exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = mm.weights(X, 2.0)  # no dense distances were needed for the expansion
    assert space._distances is None and w.shape == (300,)


def test_single_point_and_two_points():
    res = solve_iterative([[1.0, 2.0]], [0.5, 2.0])
    assert np.all(res.magnitude == 1.0) and np.all(res.lower == 1.0)
    res = solve_iterative([[0.0], [3.0]], 0.4, rtol=1e-12)
    exact = 2 / (1 + np.exp(-1.2))
    assert res.lower[0] <= exact * (1 + 1e-15) and res.upper[0] >= exact * (1 - 1e-15)


# ----------------------------------------------------------------------------- sparse inverse


def test_sparse_inverse_with_a_full_pattern_is_the_exact_inverse_factor():
    # with every later point in every column, KL minimisation gives the exact Cholesky
    # factor of Z^-1: L L^T = Z^-1 (both the compiled and the LAPACK loop)
    from metric_magnitude.solvers import _sparse_inverse as si

    for metric, p in (("euclidean", 2.0), ("cityblock", 1.0)):
        X = _cloud(80, 3, seed=21)
        colptr, rows = si.pattern(X, p, rho=1e9)
        assert rows.shape[0] == 80 * 81 // 2
        Zinv = np.linalg.inv(np.exp(-1.3 * cdist(X, X, metric)))
        for compiled in (False, True):
            L = si.factor(X, metric, 1.3, colptr, rows, threads=2, compiled=compiled)
            assert np.allclose((L @ L.T).toarray(), Zinv, rtol=0, atol=1e-9 * abs(Zinv).max())


def test_sparse_inverse_blocked_cholesky_matches_lapack_and_reports_failure():
    pytest.importorskip("numba")
    from metric_magnitude.solvers._sparse_inverse_kernels import _cholesky_rows

    rng = np.random.default_rng(5)
    for m in (1, 2, 3, 4, 5, 7, 8, 9, 31):  # full blocks of four and every remainder
        X = rng.standard_normal((m, 3))
        G = np.exp(-0.7 * cdist(X, X))
        C = np.full((m + 3, m + 3), np.nan)  # a larger buffer, as the factor's own
        C[:m, :m] = G
        assert _cholesky_rows(C, m)
        R = np.triu(C[:m, :m])
        assert np.allclose(R, np.linalg.cholesky(G).T, rtol=0, atol=1e-12)
    # indefinite: a pivot <= 0 is reported (the caller shifts and retries), not rooted
    C = np.array([[1.0, 2.0], [2.0, 1.0]])
    assert not _cholesky_rows(C, 2)


def test_sparse_inverse_levels_are_nested_grids():
    from metric_magnitude.solvers._sparse_inverse import grid_levels

    X = _cloud(2000, 3, seed=22)
    X[:10] = X[10:20] + 1e-9  # near duplicates get fine levels, not collisions
    level, scale = grid_levels(X)
    lo, H = X.min(axis=0), (X.max(axis=0) - X.min(axis=0)).max() * (1 + 1e-9)
    assert np.all(scale == H / 2.0**level)
    for k in range(int(level.max()) + 1):
        # at most one point of level <= k in each cell of side H / 2^k
        cells = np.floor((X[level <= k] - lo) * (2.0**k / H)).astype(np.int64)
        assert np.unique(cells, axis=0).shape[0] == cells.shape[0]
    assert (level == 0).sum() == 1


def test_sparse_inverse_certifies_with_fewer_iterations():
    X = _cloud(2500, 3, seed=23)
    ts = [0.05, 0.5, 5.0]
    exact = mm.magnitude(X, ts)
    res = solve_iterative(X, ts, rtol=1e-9, warm_start=False)
    assert all(p.startswith("sparse_inverse") for p in res.preconditioners)
    assert _contains(res, exact) and np.all(res.gap <= 1e-9)
    # what "auto" chose before: Nystrom plus block Jacobi
    old = solve_iterative(X, ts, rtol=1e-9, warm_start=False,
                          preconditioner="nystrom+block_jacobi")
    assert all(p.startswith("nystrom") for p in old.preconditioners)
    assert np.all(res.iterations < old.iterations), (res.iterations, old.iterations)
    # at large scales (Z near the identity) "auto" keeps the cheaper Nystrom + block Jacobi
    large = solve_iterative(X, 60.0, rtol=1e-9)
    assert large.preconditioners[0].startswith("nystrom")


def test_sparse_inverse_under_cityblock_on_request():
    # defined and certified under cityblock, but "auto" keeps Nystrom + block Jacobi there
    X = _cloud(1500, 3, seed=26)
    exact = mm.magnitude(X, [1.0, 5.0], metric="cityblock")
    res = solve_iterative(X, [1.0, 5.0], metric="cityblock", rtol=1e-9,
                          preconditioner="sparse_inverse")
    assert all(p.startswith("sparse_inverse") for p in res.preconditioners)
    assert _contains(res, exact) and np.all(res.gap <= 1e-9)
    auto = solve_iterative(X, 1.0, metric="cityblock", rtol=1e-9)
    assert auto.preconditioners[0].startswith("nystrom")


def test_sparse_inverse_handles_near_duplicates():
    X = _cloud(1200, 3, seed=24)
    X = np.vstack([X, X[:300] + 1e-7])
    exact = mm.magnitude(X, 2.0)
    res = solve_iterative(X, 2.0, rtol=1e-8, preconditioner="sparse_inverse")
    assert _contains(res, exact) and res.gap[0] <= 1e-8


@pytest.mark.parametrize("space", ["distances", "chebyshev"])
def test_sparse_inverse_needs_points_under_euclidean_or_cityblock(space):
    X = _cloud(100, 3, seed=25)
    if space == "distances":
        args, kwargs = (cdist(X, X),), {"metric": "precomputed"}
    else:
        args, kwargs = (X,), {"metric": "chebyshev"}
    with pytest.raises(mm.InvalidInputError, match=r"sparse_inverse.*needs points"):
        solve_iterative(*args, 1.0, preconditioner="sparse_inverse", **kwargs)


def test_sparse_inverse_richer_pattern_for_many_points_at_small_scales(monkeypatch):
    from metric_magnitude.solvers import _sparse_inverse as si
    from metric_magnitude.solvers import iterative

    X = _cloud(2500, 3, seed=30)
    ts = [0.05, 5.0]
    exact = mm.magnitude(X, ts)
    base = solve_iterative(X, ts, rtol=1e-9, warm_start=False)
    assert [p.split(",")[0] for p in base.preconditioners] == ["sparse_inverse(rho=4"] * 2
    # (as from 50,000 points): rho = 5 where t * median length scale <= 0.2
    monkeypatch.setattr(iterative, "_SPARSE_INVERSE_RICH", (5.0, 2000, 0.2))
    rich = solve_iterative(X, ts, rtol=1e-9, warm_start=False)
    assert [p.split(",")[0] for p in rich.preconditioners] == [
        "sparse_inverse(rho=5", "sparse_inverse(rho=4"]
    assert _contains(rich, exact) and np.all(rich.gap <= 1e-9)
    assert rich.iterations[0] < base.iterations[0], (rich.iterations, base.iterations)
    # where the richer pattern would not fit: the usual one
    estimate = si.estimated_entries
    monkeypatch.setattr(si, "estimated_entries",
                        lambda P, p, rho, levels: 1e15 if rho > 4 else estimate(P, p, rho, levels))
    fallback = solve_iterative(X, 0.05, rtol=1e-9)
    assert fallback.preconditioners[0].startswith("sparse_inverse(rho=4")
    assert _contains(fallback, exact[:1])


def test_a_rich_factor_serves_the_next_smaller_scale_of_a_chain(monkeypatch):
    # (as from 50,000 points, where a factor costs about 8 products): a scale within 1.5x
    # below the last factor's reuses it; every other one gets its own, and so does every
    # scale where the rich pattern does not apply or the ratio is larger
    from metric_magnitude.solvers import _sparse_inverse as si
    from metric_magnitude.solvers import iterative

    monkeypatch.setattr(iterative, "_SPARSE_INVERSE_RICH", (5.0, 2000, 0.2))
    factored = []
    factor = si.factor

    def counted(P, metric, t, *args, **kwargs):
        factored.append(t)
        return factor(P, metric, t, *args, **kwargs)

    monkeypatch.setattr(si, "factor", counted)
    X = _cloud(3000, 3, seed=31)
    ts = np.geomspace(0.03, 0.6, 9)  # ratio 1.45; rho = 5 up to t = 0.72 for this cloud
    res = solve_iterative(X, ts, rtol=1e-8, weights=False)
    assert np.all(res.certified) and _contains(res, mm.magnitude(X, ts))
    # from the largest down: own factors at ts[8], ts[6], ..., reused at ts[7], ts[5], ...
    assert np.allclose(factored, ts[::-2])
    for i, label in enumerate(res.preconditioners):
        assert label.startswith("sparse_inverse(rho=5")
        if i % 2:
            assert label.endswith(f", factor of t={ts[i + 1]:.4g})")
        else:
            assert "factor of" not in label
    # a wider chain (ratio 2.1): every scale factors its own
    factored.clear()
    wide = solve_iterative(X, ts[::2], rtol=1e-8, weights=False)
    assert np.allclose(factored, ts[::-2]) and np.all(wide.certified)
    assert not any("factor of" in p for p in wide.preconditioners)


def test_sparse_inverse_pattern_is_estimated_before_it_is_built(monkeypatch):
    from metric_magnitude.solvers import _sparse_inverse as si

    for d in (2, 3, 6):
        X = _cloud(1500, d, seed=27)
        levels = si.grid_levels(X)
        for rho in (4.0, 5.0):
            _, rows = si.pattern(X, 2.0, rho, levels=levels)
            estimate = si.estimated_entries(X, 2.0, rho, levels)
            # an over-estimate, but not by the 15x that kept rho = 5 from 100,000 points
            assert rows.shape[0] <= estimate <= 2.5 * rows.shape[0]
    # a pattern that would not fit is not built: "auto" falls back to Nystrom + block Jacobi
    monkeypatch.setattr(si, "estimated_entries", lambda *args: 1e15)
    res = solve_iterative(_cloud(800, 3, seed=28), 1.0, rtol=1e-8)
    assert res.certified[0] and res.preconditioners[0].startswith("nystrom")


# ------------------------------------------------ sparse inverse in many dimensions


def test_neighbour_pattern_holds_the_nearest_later_points():
    from metric_magnitude.solvers import _sparse_inverse as si

    X = _cloud(600, 6, seed=40)
    k = 8
    colptr, rows = si.neighbour_pattern(X, 2.0, k, eps=0.0)
    pos = np.random.default_rng(0).permutation(600)  # the order it draws (seed 0)
    D = cdist(X, X)
    exact = 0
    for i in range(600):
        col = rows[colptr[i]:colptr[i + 1]]
        assert col[0] == i and 1 <= col.shape[0] <= k + 1
        assert np.all(pos[col[1:]] > pos[i])  # later points only: L is triangular
        later = np.flatnonzero(pos > pos[i])
        nearest = later[np.argsort(D[i, later], kind="stable")[:k]]
        exact += set(col[1:]) == set(nearest)
    # the search asks 2k + 1 neighbours of each point: a point whose nearest ones are
    # mostly earlier may get fewer than k, but its columns are never wrong
    assert exact >= 0.9 * 600
    # every later point in every column: the exact inverse factor, L L^T = Z^-1
    colptr, rows = si.neighbour_pattern(X[:70], 2.0, 10**6)
    assert rows.shape[0] == 70 * 71 // 2
    L = si.factor(X[:70], "euclidean", 0.8, colptr, rows)
    Zinv = np.linalg.inv(np.exp(-0.8 * D[:70, :70]))
    assert np.allclose((L @ L.T).toarray(), Zinv, rtol=0, atol=1e-9 * abs(Zinv).max())


def test_sampled_spread_fraction_is_the_spread_over_n_on_small_spaces():
    from metric_magnitude.solvers.iterative import SimilarityOperator, _sampled_spread_fraction

    X = _cloud(100, 7, seed=41)
    for t in (0.1, 1.0, 10.0):
        spread = np.sum(1.0 / np.exp(-t * cdist(X, X)).sum(axis=1))
        assert _sampled_spread_fraction(SimilarityOperator(X), t) == pytest.approx(
            spread / 100, rel=1e-12)
    # a sample of the rows: close to the spread where the rows are alike
    X = _cloud(2000, 7, seed=41)
    spread = np.sum(1.0 / np.exp(-1.0 * cdist(X, X)).sum(axis=1)) / 2000
    assert _sampled_spread_fraction(SimilarityOperator(X), 1.0) == pytest.approx(spread,
                                                                                  rel=0.2)


def test_sparse_inverse_in_many_dimensions_where_the_spread_is_large(monkeypatch):
    from metric_magnitude.solvers import iterative

    X = _cloud(3000, 8, seed=31)
    ts = [0.3, 1.5]  # sampled spread fractions 0.001 and 0.06
    exact = mm.magnitude(X, ts)
    res = solve_iterative(X, ts, rtol=1e-9, warm_start=False)
    assert res.preconditioners[0].startswith("nystrom")
    assert res.preconditioners[1].startswith("sparse_inverse(neighbours=20,")
    assert _contains(res, exact) and np.all(res.gap <= 1e-9)
    old = solve_iterative(X, 1.5, rtol=1e-9, preconditioner="nystrom+block_jacobi")
    assert res.iterations[1] < 0.7 * old.iterations[0], (res.iterations, old.iterations)
    # on request at the small scale too (more iterations there, still certified)
    small = solve_iterative(X, 0.3, rtol=1e-9, preconditioner="sparse_inverse")
    assert small.preconditioners[0].startswith("sparse_inverse(neighbours")
    assert _contains(small, exact[:1]) and small.gap[0] <= 1e-9
    # above _NEIGHBOUR_MAX_DIM dimensions "auto" keeps Nystrom plus block Jacobi
    monkeypatch.setattr(iterative, "_NEIGHBOUR_MAX_DIM", 7)
    assert solve_iterative(X, 1.5, rtol=1e-6).preconditioners[0].startswith("nystrom")
    monkeypatch.setattr(iterative, "_NEIGHBOUR_MAX_DIM", 20)
    # where the pattern would not fit: Nystrom plus block Jacobi
    monkeypatch.setattr(iterative, "_SPARSE_INVERSE_NEIGHBOURS", 10**12)
    fallback = solve_iterative(X, 1.5, rtol=1e-9)
    assert fallback.preconditioners[0].startswith("nystrom")
    assert _contains(fallback, exact[1:])


def test_solves_of_one_space_share_the_operator_and_its_caches(monkeypatch):
    # the convergence scale's search and a function's chain solve the same points many
    # times: the space keeps the operator, so its neighbour profile is computed once
    from metric_magnitude.solvers import _subordination

    made = []
    profile = _subordination.profile

    def counted(P, threads):
        made.append(P.shape[0])
        return profile(P, threads)

    monkeypatch.setattr(_subordination, "profile", counted)
    X = _cloud(2500, 3, seed=32)
    space = mm.MetricSpace(X)
    first = solve_iterative(space, 0.4, rtol=1e-8, weights=False)
    again = solve_iterative(space, 0.4, rtol=1e-8, weights=False)
    chain = solve_iterative(space, [0.4, 2.0], rtol=1e-8, weights=False)
    assert made == [2500]
    assert again.magnitude[0] == first.magnitude[0]  # the same solve, bit for bit
    fresh = solve_iterative(X, 0.4, rtol=1e-8, weights=False)  # a new space: its own
    assert made == [2500, 2500] and fresh.magnitude[0] == first.magnitude[0]
    assert _contains(chain, mm.magnitude(X, [0.4, 2.0]))


# ------------------------------------------------------- certificates from the boxes' bounds


@pytest.mark.parametrize("metric", ["euclidean", "cityblock", "chebyshev"])
def test_box_bounds_bracket_the_truncated_products(metric):
    # lo <= Z~ A <= hi for non-negative A, with far leaf pairs skipped (two clusters, and a
    # far-field budget) and without: the bounds hold for Z~, whose skipped entries are 0
    X = _cloud(900, 3, seed=31)
    X[450:] += 25.0
    op = SimilarityOperator(X, metric=metric, leaf=32, kernel="numpy")
    A = np.column_stack([np.abs(_cloud(900, 1, seed=32)[:, 0]), np.ones(900)])
    D = cdist(op._P, op._P, metric)
    for t, budget in ((0.01, 0.0), (0.3, 1e-3), (2.0, 1e-6), (40.0, 0.0)):
        S = op.scaled(t, far_field_budget=budget)
        hi, lo = S.box_bounds(A)
        exact = S.apply(A)  # Z~ A (accurate to ~1e-15 relative: entries >= 0)
        assert np.all(lo <= exact * (1 + 1e-13)) and np.all(exact <= hi * (1 + 1e-13)), t
        assert np.all(lo >= 0) and np.all(hi <= np.exp(-t * D) @ A * 1e30)
    # a distance matrix has no boxes
    S = SimilarityOperator(distances=cdist(X, X)).scaled(1.0)
    assert S.box_bounds(A) is None


def test_box_certificate_bounds_defer_to_gershgorin_where_it_may_win():
    # pairs of points 1 apart, the pairs 30 apart: at t = 3, Z is nearly block diagonal and
    # Gershgorin gives about 1 - exp(-3); leaves of 2 points, so t * leaf diameter = 3
    from metric_magnitude.solvers import iterative

    pairs = np.arange(40)[:, None] * np.array([30.0, 0.0])
    X = np.vstack([pairs, pairs + np.array([0.0, 1.0])])
    op = SimilarityOperator(X, leaf=2, kernel="numpy")
    S = op.scaled(3.0)
    ax = np.ones(80)
    state = {"max_distance": 1200.0, "geo_lam": 0.0}
    assert iterative._box_certificate_bounds(S, ax, state) is None  # Gershgorin may win
    state["geo_lam"] = 1.0  # ... not against a geometric bound this good (hypothetical)
    assert iterative._box_certificate_bounds(S, ax, state) is not None
    # too large a scale for the leaves' size: the products' columns
    assert iterative._box_certificate_bounds(op.scaled(30.0), ax, state) is None


def test_certificates_from_box_bounds_contain_the_exact_values(monkeypatch):
    # small scales of a Gaussian cloud (the geometric bound wins, the leaves are small
    # against 1 / t): the certificates take Z~ x alone, and still contain the dense values
    # of |tX| and of its derivative; against the full certificate on the same x, the same
    # eigenvalue bound and bounds within (looser) rounding terms of each other
    from metric_magnitude.solvers import iterative

    used = []
    box = iterative._box_certificate_bounds

    def spy(S, ax, state):
        out = box(S, ax, state)
        used.append(out is not None)
        return out

    monkeypatch.setattr(iterative, "_box_certificate_bounds", spy)
    X = _cloud(3000, 3, seed=33)
    scales = np.array([0.02, 0.1, 0.5])
    res = solve_iterative(X, scales, rtol=1e-8, derivative=True, weights=True)
    assert all(used) and len(used) >= len(scales)
    assert np.all(res.certified) and _contains(res, mm.magnitude(X, scales))
    exact_der = mm.magnitude_derivative(X, scales, method="cholesky")
    assert np.all(np.abs(res.derivative - exact_der) <= res.derivative_error)

    op = SimilarityOperator(X)
    for i, t in enumerate(scales):
        S = op.scaled(t)
        x = res.weights[i][op.perm]
        state = {"max_distance": op.diameter_bound, "geo_lam": res.lambda_min_bound[i],
                 "geo_source": "test",
                 "known_pd": True, "negative_type": True, "min_distance": 1e-3,
                 "matvecs": 0, "rowsums": None, "single": False}
        lean = iterative._certify(S, x, dict(state), derivative=True)
        monkeypatch.setattr(iterative, "_box_certificate_bounds", lambda *a: None)
        full = iterative._certify(S, x, dict(state), derivative=True)
        monkeypatch.setattr(iterative, "_box_certificate_bounds", spy)
        assert lean.lam == full.lam
        assert full.lower - 1e-10 * full.lower <= lean.lower <= full.lower
        assert full.upper <= lean.upper <= full.upper + 1e-10 * full.upper
        assert lean.derivative[0] == pytest.approx(full.derivative[0], rel=1e-13)
        assert full.derivative[1] <= lean.derivative[1] <= 2.0 * full.derivative[1]
