"""The fused numba kernels of the matrix-free products (metric_magnitude.solvers._kernels).

The contract: the numba products equal the numpy path's (cdist, np.exp, BLAS) to 1e-13
relative to the sum of absolute terms of each entry, on exactly the tiles the operator
computes (far-field skipping included); the kernels' exp is within 0.52 ulp of the exact
value (120-bit mpmath); and the cg solver gives the same certified answer with either kernel,
containing the dense Cholesky value. The single-precision variant (precision="mixed") keeps
its float32 exp within 1 float32 ulp and its products within u32 (4 + t d diam) of |Z| |V|,
and mixed cg certifies what double cg does, falling back to float64 where float32 cannot
help.

Needs numba: skipped where it is not installed, except under CI=true, where that fails.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import mpmath as mp
import numpy as np
import pytest
from scipy.spatial.distance import cdist

import metric_magnitude as mm
from metric_magnitude.solvers.iterative import SimilarityOperator, solve_iterative

try:
    import numba  # noqa: F401

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_NUMBA = False


def _require_numba():
    if HAVE_NUMBA:
        return
    if os.environ.get("CI"):
        pytest.fail("numba is not installed, but CI is set: install the 'numba' extra")
    pytest.skip("numba is not installed (pip install 'metric-magnitude[numba]')")


@pytest.fixture
def kernels():
    _require_numba()
    from metric_magnitude.solvers import _kernels

    return _kernels


METRICS = ["euclidean", "cityblock", "chebyshev"]
U = np.finfo(np.float64).eps / 2


def _two_clusters(n, d, seed=0):
    X = np.random.default_rng(seed).standard_normal((n, d))
    X[n // 2:] += 40.0  # at large t whole leaf pairs underflow, or fall under a budget
    return X


def _check_against_numpy(op_np, op_nb, V, t, budget):
    """numba product == numpy product on the same tiles, entry by entry (1e-13 of the sum of
    absolute terms, which bounds what rounding can do to either)."""
    S_np = op_np.scaled(t, far_field_budget=budget)
    S_nb = op_nb.scaled(t, far_field_budget=budget)
    assert S_np.skipped_fraction == S_nb.skipped_fraction
    ref = S_np.apply(V, track_min=True)
    got = S_nb.apply(V, track_min=True)
    assert got.shape == ref.shape
    scale = S_np.apply(np.abs(V))  # the sums of absolute terms (Z >= 0)
    assert np.all(np.abs(got - ref) <= 1e-13 * scale + 1e-300)
    # extreme distances over the computed pairs: the same distances, to an ulp or two
    assert S_nb.min_distance == pytest.approx(S_np.min_distance, rel=4 * U, abs=0)
    assert S_nb.max_distance == pytest.approx(S_np.max_distance, rel=4 * U, abs=0)
    return S_np


# ----------------------------------------------------------------------------- exp


def _ulp_errors(x, y):
    mp.mp.prec = 120
    out = np.empty(x.size)
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        e = mp.exp(mp.mpf(float(xi)))
        out[i] = float(abs(mp.mpf(float(yi)) - e) / mp.mpf(np.spacing(float(e))))
    return out


def test_exp_within_052_ulp_of_exact(kernels):
    rng = np.random.default_rng(11)
    ln2 = np.log(2.0)
    x = np.concatenate([
        -rng.uniform(0.0, 1.0, 1000),
        -rng.uniform(0.0, 708.0, 1500),
        # the reduction's worst cases: near multiples of ln2/128 and halfway between them
        -np.arange(1, 700) * ln2 / 128 * rng.choice([1, 57, 130], 699),
        -(np.arange(1, 800) + 0.5) * ln2 / 128 * 7,
    ])
    y = kernels.exp_nonpositive(x)
    assert np.all(y > 0)
    err = _ulp_errors(x, y)
    assert err.max() <= 0.52  # the proven bound; measured 0.504


def test_exp_subnormal_and_underflow(kernels):
    x = np.array([0.0, -0.0, -1e-300, -1e-17, -708.5, -720.0, -740.0, -745.13, -745.2,
                  -746.0, -800.0, -1e300, -np.inf])
    y = kernels.exp_nonpositive(x)
    ref = np.array([float(mp.exp(mp.mpf(v))) if np.isfinite(v) else 0.0 for v in x])
    assert y[0] == y[1] == 1.0
    # subnormal results: rounded twice at most, absolute error below 2^-1074
    assert np.all(np.abs(y - ref) <= 2.0**-1074)
    assert np.all(y[8:] == 0.0)


def test_single_exp_within_one_float32_ulp(kernels):
    rng = np.random.default_rng(12)
    x = np.concatenate([-rng.uniform(0.0, 1.0, 2000), -rng.uniform(0.0, 87.0, 3000),
                        -np.arange(1, 126) * np.log(2.0), [0.0, -1e-30]]).astype(np.float32)
    y = kernels.exp_nonpositive(x, single=True)
    assert y.dtype == np.float32 and np.all(y > 0)
    mp.mp.prec = 80
    ref = np.array([float(mp.exp(mp.mpf(float(v)))) for v in x])
    ulp = np.spacing(ref.astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(y - ref) / ulp) <= 1.0  # measured 0.96
    # below -87 (entries under 2e-38): a tiny positive number, never inf, nan or garbage
    low = kernels.exp_nonpositive(np.array([-87.5, -200.0, -1e30, -np.inf]),
                                  single=True)
    assert np.all((low >= 0) & (low <= 2e-38))


@pytest.mark.parametrize(("kernel", "metric", "d"), [
    *(("numba", m, 4) for m in METRICS),
    # Gram tiles (BLAS): the numpy kernel's float32 products of euclidean points, and the
    # numba kernel's from 48 dimensions (measured at most 0.15 of the same bound)
    ("numpy", "euclidean", 3), ("numpy", "euclidean", 64), ("numba", "euclidean", 64),
])
@pytest.mark.parametrize("weighted", [False, True, "both"])
def test_single_products_close_to_double(kernel, metric, d, weighted):
    if kernel == "numba":
        _require_numba()
    # far from the origin: the float32 copy of the points (or of each leaf) is centred first
    X = _two_clusters(900, d, seed=3) + 1e4
    op = SimilarityOperator(X, metric=metric, threads=2, kernel=kernel)
    assert op._gram_single == (metric == "euclidean" and (kernel == "numpy" or d >= 48))
    V = np.random.default_rng(4).standard_normal((900, 2)) * 1e3
    # the same regimes in every dimension (distances grow like sqrt(d)): at t = 8 in R^64
    # every off-diagonal entry would be below float32's smallest normal number, where no
    # relative bound holds for D o Z (zero diagonal); the solver's float32 products are
    # never distance-weighted
    for t in np.array([0.05, 1.0, 8.0]) * math.sqrt(4 / d):
        S = op.scaled(t, far_field_budget=1e-9)
        ref = S.apply(V, distance_weighted=weighted)
        got = S.apply(V, distance_weighted=weighted, single=True)
        scale = S.apply(np.abs(V), distance_weighted=weighted)
        err = np.abs(got - ref)
        # the float32 coordinates move distances by about u32 d diam: measured at most a
        # tenth of this bound
        u32 = np.finfo(np.float32).eps / 2
        assert np.all(err <= u32 * (4 + t * op.dim * op.diameter_bound) * scale)
        assert err.max() > 1e-12 * scale.max()  # float32 was used
        # distances tracked in float32 are bounds on the float64 ones, off by about
        # u32 (diam + (d + 5) distance) at most
        S.apply(V, track_min=True, distance_weighted=weighted)
        lo, hi = S.min_distance, S.max_distance
        S32 = op.scaled(t, far_field_budget=1e-9)
        tracked = S32.apply(V, track_min=True, distance_weighted=weighted, single=True)
        assert np.all(np.abs(tracked - ref) <= u32 * (4 + t * op.dim * op.diameter_bound)
                      * scale)
        if op._gram_single and op.dim >= 48:
            # from Gram tiles (many dimensions): looser, by about sqrt(c1) (2 rho + r)
            # (`SimilarityOperator._gram_distance_bounds`)
            assert 0.98 * lo <= S32.min_distance <= lo
            assert hi <= S32.max_distance <= 1.02 * hi
        else:
            slack = 2 * u32 * op.diameter_bound + (op.dim + 12) * u32 * hi
            assert lo - slack <= S32.min_distance <= lo
            assert hi <= S32.max_distance <= hi + slack


@pytest.mark.parametrize(("kernel", "d"), [("numba", 3), ("numpy", 3), ("numba", 24)])
def test_single_products_shift_the_rank_one_part(kernel, d):
    # at small scales Z is close to c 1 1^T: float32 products compute (Z - c 1 1^T) V and
    # add c 1 (1^T V) in float64, so the rounding of V is not magnified by Z's large
    # eigenvalue (about c n) along the constant vector
    if kernel == "numba":
        _require_numba()
    X = np.random.default_rng(8).standard_normal((2500, d))
    op = SimilarityOperator(X, threads=2, kernel=kernel)
    assert op._gram_single == (kernel == "numpy" or d >= 16)  # fused kernel, Gram tiles
    t = 0.09 / math.sqrt(d)
    S = op.scaled(t)
    P = op._P
    D = cdist(P, P)
    Z = np.exp(-t * D)
    # the weighting: large entries of both signs, whose float32 rounding Z magnifies
    w = np.linalg.solve(Z, np.ones(op.n))
    exact = Z @ w
    c = S.single_shift
    assert c == np.float32(c)  # the kernels' shift and the one added back agree
    assert c == pytest.approx(np.exp(-t * np.median(D[np.triu_indices(op.n, 1)])), rel=0.05)
    shifted = S.apply(w, single=True)
    S.single_shift = 0.0
    plain = S.apply(w, single=True)
    err, err0 = np.abs(shifted - exact).max(), np.abs(plain - exact).max()
    u32 = np.finfo(np.float32).eps / 2
    bound = u32 * (4 + t * d * op.diameter_bound) * ((Z + c) @ np.abs(w))
    assert np.all(np.abs(shifted - exact) <= bound)
    assert err <= err0 / 3, (err, err0)  # measured 6 to 7 times smaller
    # never shifted: float64 products, distance-weighted ones, and any Z~ that skips pairs
    S.single_shift = c
    assert np.array_equal(S.apply(w), op.scaled(t).apply(w))
    assert np.allclose(S.apply(w, distance_weighted=True, single=True),
                       (D * Z) @ w, rtol=0, atol=1e-5 * ((D * Z) @ np.abs(w)).max())
    far = SimilarityOperator(X[:, :3], kernel=kernel).scaled(20.0, far_field_budget=1e-3)
    assert far.skipped_fraction > 0 and far.single_shift == 0.0
    # at large scales the rank-one part is negligible: no shift (the products keep their bits)
    assert op.scaled(2 * t).single_shift == np.float32(np.exp(-2 * t * op._shift_sample))
    assert np.exp(-20.0 * op._shift_sample) < 0.01 and op.scaled(20.0).single_shift == 0.0


def test_mixed_precision_takes_the_iterations_of_double_at_small_scales():
    # without the shift, float32 search directions cost 30 to 50% more iterations at
    # t = 0.03 to 0.1 (6,000 Gaussian points in R^3: 23 and 21 against 16 and 14)
    _require_numba()
    X = np.random.default_rng(9).standard_normal((3000, 3))
    for t in (0.03, 0.1):
        mixed = solve_iterative(X, t, rtol=1e-6, precision="mixed", weights=False)
        double = solve_iterative(X, t, rtol=1e-6, precision="double", weights=False)
        assert mixed.certified[0] and double.certified[0]
        assert mixed.iterations[0] <= double.iterations[0] + 1, (mixed.iterations,
                                                                 double.iterations)


@pytest.mark.parametrize("d", [24, 96])
def test_gram_tiles_compiled_pass_equals_numpy(kernels, d):
    # the numba kernel's Gram tiles (BLAS, then one compiled pass) against the numpy
    # kernel's (BLAS, then numpy): same tiles, so the same products to rounding, and the
    # same tracked distance bounds
    X = _two_clusters(1200, d, seed=6) * 2.0 + 30.0
    t = 1.0 / math.sqrt(d)
    V = np.random.default_rng(7).standard_normal((1200, 2))
    op_np = SimilarityOperator(X, threads=2, kernel="numpy")
    op_nb = SimilarityOperator(X, threads=2, kernel="numba")
    assert op_nb._gram_single and op_nb._gram_double
    for single, weighted in ((True, False), (False, False), (False, True), (False, "both")):
        S_np, S_nb = op_np.scaled(t), op_nb.scaled(t)
        S_np.gram_double = S_nb.gram_double = True
        got = S_nb.apply(V, single=single, distance_weighted=weighted, track_min=True)
        ref = S_np.apply(V, single=single, distance_weighted=weighted, track_min=True)
        scale = S_np.apply(np.abs(V), distance_weighted=weighted)
        tol = 1e-6 if single else 1e-14  # two float32 products: each within ~5e-8
        assert np.max(np.abs(got - ref) / scale) <= tol
        assert np.max(np.abs(got - ref) / scale) > 0 or not single
        if d >= 48:  # tracked from Gram tiles: the same bounds
            assert S_nb.min_distance == pytest.approx(S_np.min_distance, rel=1e-6)
            assert S_nb.max_distance == pytest.approx(S_np.max_distance, rel=1e-6)
    # a zero block in float32 (nothing to scale by): zeros, by either kernel
    for op in (op_np, op_nb):
        assert np.array_equal(op.scaled(t).apply(np.zeros((1200, 2)), single=True),
                              np.zeros((1200, 2)))


def _spy_products(kernels, monkeypatch):
    calls = []
    original = kernels.apply_product

    def spy(S, V, *args, **kwargs):
        calls.append(bool(kwargs.get("single", False)))
        return original(S, V, *args, **kwargs)

    monkeypatch.setattr(kernels, "apply_product", spy)
    return calls


def _near_duplicates(gap, seed=3):
    rng = np.random.default_rng(seed)
    Y = rng.standard_normal((800, 3))
    return np.vstack([Y, Y[:400] + gap * rng.standard_normal((400, 3))])


@pytest.mark.parametrize(("name", "scales"), [
    ("gaussian", [0.05, 1.0, 10.0]),
    ("near-duplicates 1e-5", [0.5, 5.0]),
])
def test_mixed_precision_certifies_the_dense_value(kernels, monkeypatch, name, scales):
    X = (np.random.default_rng(3).standard_normal((1500, 3)) if name == "gaussian"
         else _near_duplicates(1e-5))
    _, dense = mm.solve(X, np.array(scales), method="cholesky")
    calls = _spy_products(kernels, monkeypatch)
    res = {}
    for precision in ("double", "mixed"):
        calls.clear()
        res[precision] = solve_iterative(X, scales, rtol=1e-8, precision=precision,
                                         kernel="numba")
        r = res[precision]
        assert r.certified.all() and np.all(r.gap <= 1e-8)
        assert np.all(r.lower <= dense.magnitude * (1 + 1e-11))
        assert np.all(r.upper >= dense.magnitude * (1 - 1e-11))
        n_single = sum(calls)
        if precision == "double":
            assert n_single == 0
        elif name != "gaussian":
            # near duplicates (1e-5 apart) are another matrix in float32: only the first
            # product is, which finds that out (and is computed again in float64)
            assert calls[:2] == [True, False] and n_single == 1
        else:
            assert n_single > 0.7 * len(calls)
    a, b = res["double"], res["mixed"]
    assert np.all(np.abs(a.magnitude - b.magnitude) <= 1e-8 * a.magnitude)


def test_mixed_precision_falls_back_to_double_when_it_stalls(kernels, monkeypatch):
    # pairs 1e-6 apart (float32 cannot tell them apart well), with the separation test
    # overridden: single-precision CG stops making progress, and float64 takes over
    from metric_magnitude.solvers import iterative

    X = _near_duplicates(1e-6)
    _, dense = mm.solve(X, 1.0, method="cholesky")
    monkeypatch.setattr(iterative, "_single_is_accurate", lambda S, state: True)
    calls = _spy_products(kernels, monkeypatch)
    r = solve_iterative(X, 1.0, rtol=1e-8, kernel="numba", maxiter=1000)
    assert r.certified[0] and r.gap[0] <= 1e-8
    assert r.lower[0] <= dense.magnitude[0] * (1 + 1e-11) <= r.upper[0] * (1 + 2e-11)
    # float32 for a while, then float64 to the end (iterations, not only certificates)
    assert sum(calls) >= iterative._SINGLE_PATIENCE
    last_single = max(i for i, single in enumerate(calls) if single)
    assert len(calls) - last_single > 5


# ----------------------------------------------------------------------------- products


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("m", [1, 3])
def test_products_equal_numpy(kernels, metric, m):
    X = _two_clusters(700, 3, seed=1)
    op_np = SimilarityOperator(X, metric=metric, threads=2, kernel="numpy")
    op_nb = SimilarityOperator(X, metric=metric, threads=2, kernel="numba")
    assert (op_np.kernel, op_nb.kernel) == ("numpy", "numba")
    V = np.random.default_rng(2).standard_normal((700, m))
    skipped = []
    for t in (0.05, 1.0, 8.0, 30.0):
        for budget in (0.0, 1e-9):
            skipped.append(_check_against_numpy(op_np, op_nb, V, t, budget).skipped_fraction)
    assert max(skipped) > 0.3  # far-field skipping was exercised
    # and in the input order, against the dense product
    D = cdist(X, X, metric)
    ref = np.exp(-3.0 * D) @ V
    got = op_nb.matmat(V, 3.0)
    scale = np.exp(-3.0 * D) @ np.abs(V)
    assert np.all(np.abs(got - ref) <= 1e-13 * scale)
    assert np.all(np.abs(op_nb.matvec(V[:, 0], 3.0) - ref[:, 0]) <= 1e-13 * scale[:, 0])


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize(("n", "d", "leaf"), [
    (997, 10, None),  # n not a multiple of anything, R^10
    (1100, 40, 16),  # small leaves, column blocks narrower than the ranges: ragged blocks
    (333, 1, 23),  # one coordinate, ragged leaves
    (5, 2, 2),
    (2, 3, None),
    (1, 4, None),
])
def test_ragged_tiles(kernels, metric, n, d, leaf):
    X = np.random.default_rng(n).standard_normal((n, d))
    op_np = SimilarityOperator(X, metric=metric, leaf=leaf, threads=1, kernel="numpy")
    op_nb = SimilarityOperator(X, metric=metric, leaf=leaf, threads=3, kernel="numba")
    sizes = np.diff(op_nb.starts)
    if n > 100:
        assert sizes.min() != sizes.max()  # ragged leaves
    V = np.random.default_rng(3).standard_normal((n, 2))
    for t in (0.3, 5.0):
        _check_against_numpy(op_np, op_nb, V, t, 0.0)
        _check_against_numpy(op_np, op_nb, V[:, :1], t, 1e-6)


def test_block_size_keeps_rounding_count(kernels):
    # the rounding bound (sum_terms) assumes column blocks of at least a leaf
    for d in (1, 3, 10, 100, 1000):
        for m in (1, 2, 8):
            for leaf in (16, 100, 256):
                b = kernels._block_size(d, m, leaf)
                assert b >= leaf and b % 8 == 0 and b <= 1024 + 8


def test_threads_do_not_change_the_product(kernels):
    X = np.random.default_rng(5).standard_normal((1500, 3))
    V = np.random.default_rng(6).standard_normal((1500, 2))
    Y1 = SimilarityOperator(X, threads=1, kernel="numba").matmat(V, 2.0)
    Y4 = SimilarityOperator(X, threads=4, kernel="numba").matmat(V, 2.0)
    Zabs = np.exp(-2.0 * cdist(X, X)) @ np.abs(V)
    assert np.all(np.abs(Y1 - Y4) <= 1e-13 * Zabs)


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_products_and_solves_are_reproducible_bit_for_bit(kernels, kernel):
    # the leaves are dealt to the threads before they run: no race decides the sum order
    X = np.random.default_rng(8).standard_normal((2200, 3))
    op = SimilarityOperator(X, threads=3, kernel=kernel)
    V = np.random.default_rng(6).standard_normal((2200, 2))
    S = op.scaled(2.0)
    first = S.apply(V)
    assert all(np.array_equal(S.apply(V), first) for _ in range(4))
    if kernel == "numba":
        first = S.apply(V, single=True)
        assert all(np.array_equal(S.apply(V, single=True), first) for _ in range(4))
    a, b = (solve_iterative(X, 2.0, threads=3, kernel=kernel) for _ in range(2))
    assert np.array_equal(a.weights, b.weights) and np.array_equal(a.upper, b.upper)


def test_partial_leaves(kernels):
    # apply_product(leaves=...) is one worker's share: the shares add up to the product
    X = np.random.default_rng(7).standard_normal((900, 3))
    op = SimilarityOperator(X, leaf=64, threads=1, kernel="numba")
    S = op.scaled(1.5)
    V = np.random.default_rng(8).standard_normal((900, 1))
    L = op.n_leaves
    parts = [kernels.apply_product(S, V, leaves=range(a, min(L, a + 4))) for a in range(0, L, 4)]
    whole = S.apply(V)
    assert np.allclose(sum(parts), whole, rtol=1e-14, atol=1e-14 * np.abs(whole).max())


# ----------------------------------------------------------------------------- solver


@pytest.mark.parametrize(("metric", "scales"), [
    ("euclidean", [0.5, 20.0]),
    ("cityblock", [2.0]),
])
def test_cg_same_certified_answer_with_either_kernel(kernels, metric, scales):
    X = np.random.default_rng(9).standard_normal((900, 3))
    _, dense = mm.solve(X, np.array(scales), metric=metric, method="cholesky")
    exact, w_exact = dense.magnitude, dense.weights
    rtol = 1e-8
    res = {k: solve_iterative(X, scales, metric=metric, rtol=rtol, kernel=k)
           for k in ("numpy", "numba")}
    for r in res.values():
        assert r.certified.all()
        # the certified intervals contain the dense value (dense is accurate to ~1e-12)
        assert np.all(r.lower <= exact * (1 + 1e-11))
        assert np.all(r.upper >= exact * (1 - 1e-11))
        assert np.all(r.gap <= rtol)
        werr = np.linalg.norm(r.weights - w_exact, axis=1)
        assert np.all(werr <= r.weight_error * (1 + 1e-6) + 1e-10)
    # same answer, within the certified tolerance of each other
    a, b = res["numpy"], res["numba"]
    assert np.all(np.abs(a.magnitude - b.magnitude) <= rtol * a.magnitude)


def test_auto_picks_numba_for_large_point_sets(kernels):
    X = np.random.default_rng(0).standard_normal((2048, 3))
    assert SimilarityOperator(X).kernel == "numba"
    assert SimilarityOperator(X[:2047]).kernel == "numpy"  # below: import cost dominates
    assert SimilarityOperator(X, metric="minkowski").kernel == "numpy"
    D = cdist(X[:100], X[:100])
    assert SimilarityOperator(distances=D).kernel == "numpy"


# ----------------------------------------------------------------------------- errors


def test_unknown_kernel():
    with pytest.raises(mm.InvalidInputError, match=r"unknown kernel 'fast'.*'auto', 'numpy'"):
        SimilarityOperator(np.zeros((3, 2)), kernel="fast")
    with pytest.raises(mm.InvalidInputError, match="unknown kernel"):
        solve_iterative(np.eye(3), 1.0, kernel="numbaa")


def test_numba_kernel_needs_points_and_a_supported_metric():
    D = cdist(np.eye(3), np.eye(3))
    with pytest.raises(mm.InvalidInputError, match="not from a distance matrix"):
        SimilarityOperator(distances=D, kernel="numba")
    with pytest.raises(mm.InvalidInputError, match="not from metric 'minkowski'"):
        SimilarityOperator(np.eye(3), metric="minkowski", kernel="numba")
    with pytest.raises(mm.InvalidInputError, match="not from a distance matrix"):
        solve_iterative(D, 1.0, metric="precomputed", kernel="numba")


def test_missing_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba -> ImportError
    with pytest.raises(mm.MissingDependencyError, match=r"metric-magnitude\[numba\]"):
        SimilarityOperator(np.eye(3), kernel="numba")


def test_import_does_not_import_numba():
    code = ("import sys, numpy as np, metric_magnitude as mm\n"
            "from metric_magnitude.solvers.iterative import solve_iterative\n"
            "solve_iterative(np.random.default_rng(0).standard_normal((50, 2)), 1.0)\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
