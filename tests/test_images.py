"""metric_magnitude.images: the Kronecker grid, the dense, cg and patch solvers, edges, input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import images
from metric_magnitude.images import (
    edges,
    grid_weights,
    image_points,
    magnitude_vector,
    solve_image,
)
from metric_magnitude.scales import ConvergenceWarning


def _rel2(w, ref):
    return float(np.linalg.norm(w - ref) / np.linalg.norm(ref))


def _relmax(w, ref):
    return float(np.abs(w - ref).max() / np.abs(ref).max())


def _test_image(rows=24, cols=19, seed=0):
    """A smooth field, a step and noise: no symmetry to hide a transposition."""
    rng = np.random.default_rng(seed)
    ii, jj = np.mgrid[:rows, :cols]
    img = np.sin(ii / 5.0) + 0.5 * np.cos(jj / 3.0) + (jj > cols // 2)
    return img + 0.1 * rng.standard_normal((rows, cols))


@pytest.fixture(scope="module")
def image48():
    img = _test_image(48, 48, seed=1)
    refs = {t: solve_image(img, t, method="dense").weights for t in (1.0, 2.0)}
    return img, refs


# ------------------------------------------------------------------ the bare grid


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (4, 7), (30, 20)])
@pytest.mark.parametrize("t", [0.1, 1.0, 3.0])
def test_grid_magnitude_closed_form(shape, t):
    a, b = shape
    expected = (1 + (a - 1) * math.tanh(t / 2)) * (1 + (b - 1) * math.tanh(t / 2))
    w = grid_weights(shape, t)
    assert w.shape == shape
    assert w.sum() == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("shape", [(1, 1), (1, 6), (5, 1), (7, 9), (12, 10)])
@pytest.mark.parametrize("t", [0.2, 1.0, 3.0])
def test_grid_kronecker_matches_dense_solve(shape, t):
    points = image_points(np.zeros(shape))
    dense = mm.weights(points, t, metric="cityblock").reshape(shape)
    assert np.abs(grid_weights(shape, t) - dense).max() <= 1e-10 * np.abs(dense).max()


def test_grid_weights_are_the_outer_product_of_path_weightings():
    t = 0.7
    for n in (1, 2, 5):
        line = mm.weights(np.arange(n, dtype=float).reshape(-1, 1), t)
        np.testing.assert_allclose(grid_weights((n, 1), t)[:, 0], line, rtol=1e-12)
    w = grid_weights((4, 6), t)
    np.testing.assert_allclose(w, np.outer(w[:, 0], w[0, :]) / w[0, 0], rtol=1e-14)


@pytest.mark.parametrize("method", ["auto", "exact", "dense", "cg", "patches"])
@pytest.mark.parametrize("intensity_scale", ["auto", 5.0])
def test_constant_image_equals_bare_grid(method, intensity_scale):
    image = np.full((9, 13), 3.7)
    res = solve_image(image, 1.0, intensity_scale=intensity_scale, method=method, halo=1)
    np.testing.assert_allclose(res.weights, grid_weights((9, 13), 1.0), rtol=1e-11)
    if method == "auto":
        assert res.method == "grid"


def test_zero_intensity_scale_is_the_bare_grid_whatever_the_image():
    res = solve_image(_test_image(), 1.5, intensity_scale=0)
    assert res.method == "grid"
    np.testing.assert_array_equal(res.weights, grid_weights((24, 19), 1.5))


def test_euclidean_bare_grid_cg_matches_dense():
    ref = solve_image(np.zeros((10, 14)), 1.0, metric="euclidean", method="dense").weights
    got = solve_image(np.zeros((10, 14)), 1.0, metric="euclidean", method="cg", rtol=1e-10)
    assert _rel2(got.weights, ref) <= 1e-10


# ------------------------------------------------------------------ intensities enter


def _line_weights(gaps, t):
    """Weighting of points on a line with the given gaps (tridiagonal Z^-1, closed form)."""
    h = np.tanh(t * np.asarray(gaps, dtype=float) / 2)
    w = np.zeros(len(gaps) + 1)
    w[:-1] += h
    w[1:] += h
    w[0] += 1
    w[-1] += 1
    return w / 2


@pytest.mark.parametrize("method", ["dense", "cg", "patches"])
def test_step_image_has_large_weights_along_the_step(method):
    # I depends on the column only and is monotone, so the l1 metric is the product of a path
    # (rows) and a line whose gap at the step is 1 + lambda: Z is a Kronecker product and
    # the weights are an outer product of closed forms
    t, lam = 1.0, 3.0
    image = np.zeros((20, 30))
    image[:, 15:] = 1.0
    res = solve_image(image, t, intensity_scale=lam, method=method, rtol=1e-10)
    gaps = np.ones(29)
    gaps[14] = 1.0 + lam
    expected = np.outer(grid_weights((20, 1), t)[:, 0], _line_weights(gaps, t))
    tol = 1e-10 if method != "patches" else 1e-4
    assert _relmax(res.weights, expected) <= tol
    w = res.weights
    rows = slice(3, 17)  # away from the top and bottom border
    flat = np.concatenate([w[rows, 4:11], w[rows, 19:26]], axis=1)
    assert w[rows, 14:16].min() > 1.5 * flat.max()


def test_monotone_ramp_is_a_kronecker_product_too():
    t, lam = 0.8, 2.0
    f = np.cumsum(np.random.default_rng(6).random(11))  # increasing along the rows
    image = np.repeat(f[:, None], 7, axis=1)
    expected = np.outer(_line_weights(1 + lam * np.diff(f), t), grid_weights((1, 7), t)[0])
    got = magnitude_vector(image, t, intensity_scale=lam, method="cg", rtol=1e-11)
    assert _relmax(got, expected) <= 1e-10


def test_image_points_and_the_generic_solver_agree():
    img = _test_image(6, 5)
    P = image_points(img, intensity_scale=2.0)
    assert P.shape == (30, 3)
    np.testing.assert_array_equal(P[7], [1.0, 2.0, 2.0 * img[1, 2]])
    w = mm.weights(P, 1.3, metric="cityblock").reshape(6, 5)
    got = magnitude_vector(img, 1.3, intensity_scale=2.0, method="dense")
    np.testing.assert_allclose(got, w, rtol=1e-13)


def test_auto_intensity_scale_ignores_intensity_units():
    img = _test_image(12, 11)
    a = solve_image(img, 1.0, method="dense")
    b = solve_image(3.0 * img + 7.0, 1.0, method="dense")
    assert a.intensity_scale == pytest.approx(1.0 / np.ptp(img))
    np.testing.assert_allclose(b.weights, a.weights, rtol=1e-10)


@pytest.mark.parametrize("metric, factor", [("l1", 2.0), ("euclidean", math.sqrt(2.0))])
def test_vector_channels_add_up_in_the_metric(metric, factor):
    img = _test_image(8, 7)
    two = np.stack([img, img], axis=2)
    got = magnitude_vector(
        two, 1.0, intensity_scale=0.8, metric=metric, channels="vector", method="dense"
    )
    ref = magnitude_vector(img, 1.0, intensity_scale=0.8 * factor, metric=metric, method="dense")
    np.testing.assert_allclose(got, ref, rtol=1e-10)


def test_luminance_channels_match_bt601_grey():
    rgb = np.random.default_rng(3).random((7, 9, 4))
    grey = rgb[:, :, :3] @ np.array([0.299, 0.587, 0.114])
    got = magnitude_vector(rgb, 1.0, channels="luminance", method="dense")
    np.testing.assert_allclose(got, magnitude_vector(grey, 1.0, method="dense"), rtol=1e-12)


# ------------------------------------------------------------------------- solvers


@pytest.mark.parametrize("metric", ["l1", "euclidean"])
@pytest.mark.parametrize("t", [0.5, 1.0, 2.0])
@pytest.mark.parametrize("rtol", [1e-4, 1e-8])
def test_cg_matches_dense_within_rtol_and_its_bound(metric, t, rtol):
    img = _test_image()
    ref = solve_image(img, t, metric=metric, method="dense").weights
    res = solve_image(img, t, metric=metric, method="cg", rtol=rtol)
    assert res.method == "cg" and res.iterations > 0
    err = _rel2(res.weights, ref)
    assert err <= rtol
    if metric == "l1":
        assert err <= res.error_bound <= rtol  # the bound is proven: it must hold
    else:
        assert res.error_bound is None


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (13, 1), (2, 3)])
def test_cg_on_thin_images(shape):
    img = np.random.default_rng(4).random(shape)
    ref = solve_image(img, 1.0, method="dense").weights
    got = solve_image(img, 1.0, method="cg", rtol=1e-10).weights
    assert _rel2(got, ref) <= 1e-10
    if shape == (1, 1):
        assert got[0, 0] == 1.0


@pytest.mark.parametrize("metric", ["l1", "euclidean"])
@pytest.mark.parametrize("t, shape", [(1.0, (40, 300)), (0.3, (25, 31)), (3.0, (200, 7))])
def test_truncation_bound_covers_every_dropped_row_sum(metric, t, shape):
    rows, cols = shape
    budget = 1e-7
    di, dj, radius, dropped = images._choose_offsets(rows, cols, t, metric, budget)
    assert dropped <= budget
    # brute force: the largest row sum of e^(-t rho) over the pairs that were not kept
    kept = set(zip(di.tolist(), dj.tolist(), strict=True))
    kept |= {(-a, -b) for a, b in kept} | {(0, 0)}
    a, b = np.meshgrid(np.arange(-rows + 1, rows), np.arange(-cols + 1, cols), indexing="ij")
    rho = np.abs(a) + np.abs(b) if metric == "l1" else np.hypot(a, b)
    mask = np.array([(x, y) not in kept for x, y in zip(a.ravel(), b.ravel(), strict=True)])
    assert np.exp(-t * rho.ravel()[mask]).sum() <= dropped * (1 + 1e-12)
    assert (rho.ravel()[~mask] <= radius).all()


def test_cg_operator_rebuilt_in_chunks_gives_the_same_weights(monkeypatch):
    img = _test_image()
    cached = solve_image(img, 1.0, method="cg", rtol=1e-10).weights
    monkeypatch.setattr(images, "_OPERATOR_BYTES", 20 * 16 * img.size)  # 20 offsets per chunk
    chunked = solve_image(img, 1.0, method="cg", rtol=1e-10).weights
    np.testing.assert_allclose(chunked, cached, rtol=1e-12)


def test_cg_warns_when_it_stops_at_maxiter():
    with pytest.warns(ConvergenceWarning, match="maxiter=1"):
        solve_image(_test_image(), 0.5, method="cg", rtol=1e-12, maxiter=1)


def test_exact_is_dense_for_small_images_and_tight_cg_beyond(monkeypatch):
    img = _test_image()
    ref = solve_image(img, 1.0, method="dense").weights
    assert solve_image(img, 1.0, method="exact").method == "dense"
    monkeypatch.setattr(images, "_EXACT_DENSE_MAX", 100)
    res = solve_image(img, 1.0, method="exact")
    assert res.method == "cg" and res.error_bound <= 1e-10
    assert _rel2(res.weights, ref) <= 1e-10


@pytest.mark.parametrize("t", [1.0, 2.0])
def test_patches_error_against_exact_48x48(image48, t):
    img, refs = image48
    default = solve_image(img, t, method="patches").weights  # halo ceil(8 / t)
    assert _relmax(default, refs[t]) <= 5e-4  # measured 2e-5 to 5e-5
    no_halo = solve_image(img, t, method="patches", halo=0).weights
    assert _relmax(no_halo, refs[t]) > 1e-3  # the margin is what makes patches accurate


def test_auto_picks_cg_for_images_and_default_accuracy_holds(image48):
    img, refs = image48
    res = solve_image(img)  # t = 2, rtol = 1e-6
    assert res.method == "cg" and res.t == 2.0
    assert _rel2(res.weights, refs[2.0]) <= res.error_bound <= 1e-6
    assert res.magnitude == pytest.approx(refs[2.0].sum(), rel=1e-6)


# --------------------------------------------------------------------------- edges


def test_edges_of_a_square():
    image = np.zeros((16, 16))
    image[4:12, 4:12] = 1.0
    score = edges(image, sigma=0)
    assert score.shape == image.shape
    E = edges(image, sigma=0, threshold="otsu")
    assert E.dtype == bool
    ring = np.zeros_like(E)
    ring[3:13, 3:13] = True
    ring[5:11, 5:11] = False  # the square's boundary, one pixel either side
    assert E[4, 4:12].all() and E[4:12, 11].all()
    assert not (E & ~ring).any()  # nothing in the flat parts, nothing on the image border
    np.testing.assert_array_equal(edges(image, sigma=0, threshold=0.5), score > 0.5)


def test_edges_of_a_constant_image_are_zero():
    np.testing.assert_allclose(edges(np.full((6, 9), 2.0)), 0.0, atol=1e-14)
    np.testing.assert_allclose(edges(np.zeros((6, 9)), metric="euclidean"), 0.0, atol=1e-9)


def test_edges_blur_and_colour():
    rng = np.random.default_rng(5)
    image = np.zeros((20, 20))
    image[:, 10:] = 1.0
    noisy = image + 0.3 * rng.standard_normal(image.shape)
    sharp, blurred = edges(noisy, sigma=0), edges(noisy, sigma=1.5)
    step = slice(9, 11)
    # the blur lifts the step above the noise
    contrast = [
        s[:, step].mean() / np.delete(s, np.s_[8:12], axis=1).mean() for s in (sharp, blurred)
    ]
    assert contrast[1] > contrast[0]
    rgb = np.stack([image, 0.5 * image, image], axis=2)
    assert edges(rgb, channels="luminance").shape == (20, 20)
    assert edges(rgb, channels="vector", metric="euclidean").shape == (20, 20)


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "image, match",
    [
        (np.array([[0.0, np.nan], [1.0, 2.0]]), r"NaN at \(0, 1\)"),
        (np.array([[0.0, np.inf]]), "infinite"),
        (np.zeros(5), "1-D"),
        (np.zeros((4, 5, 3)), "channels='luminance'"),
        (np.zeros((2, 3, 4, 1)), "got shape"),
        (np.zeros((0, 5)), "empty"),
        (np.array([["a", "b"]]), "must hold numbers"),
        (np.array([[1 + 2j]]), "complex"),
        ([[1.0, 2.0], [3.0]], "could not be read"),
    ],
)
def test_bad_images(image, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        magnitude_vector(image)
    with pytest.raises(ValueError):
        edges(image)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"t": 0.0}, "must be > 0"),
        ({"t": -1.0}, "must be > 0"),
        ({"t": [1.0, 2.0]}, "single scale"),
        ({"t": np.nan}, "non-finite"),
        ({"intensity_scale": -0.5}, "negative"),
        ({"intensity_scale": "max"}, "'auto' or a number"),
        ({"intensity_scale": np.inf}, "finite number"),
        ({"metric": "chebyshev"}, "unknown image metric"),
        ({"method": "fast"}, "unknown method"),
        ({"method": "grid"}, "bare pixel grid"),
        ({"method": "grid", "metric": "euclidean", "intensity_scale": 0}, "l1 metric"),
        ({"channels": "rgb"}, "unknown channels"),
        ({"channels": "vector"}, "needs a 3-D image"),
        ({"rtol": 0}, "rtol must be"),
        ({"rtol": 1.5}, "rtol must be < 1"),
        ({"maxiter": 0}, "maxiter must be an integer"),
        ({"maxiter": 2.5}, "maxiter must be an integer"),
        ({"patch_size": 0}, "patch_size"),
        ({"halo": -1}, "halo must be an integer >= 0"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        solve_image(_test_image(6, 5), **kwargs)


def test_bad_channel_count_and_edge_options():
    with pytest.raises(mm.InvalidInputError, match="3 \\(RGB\\) or 4"):
        magnitude_vector(np.zeros((4, 4, 2)), channels="luminance")
    with pytest.raises(mm.InvalidInputError, match="sigma"):
        edges(np.zeros((4, 4)), sigma=-1)
    with pytest.raises(mm.InvalidInputError, match="threshold"):
        edges(np.zeros((4, 4)), threshold="mean")
    for shape in [(3,), (0, 4), (2.0, 3), (2, 3, 4)]:
        with pytest.raises(mm.InvalidInputError, match="shape must be"):
            grid_weights(shape, 1.0)


def test_integer_and_bool_images_are_read_as_numbers():
    u8 = (np.arange(30).reshape(5, 6) * 8).astype(np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w8 = magnitude_vector(u8, method="dense")
    np.testing.assert_allclose(w8, magnitude_vector(u8 / 255.0, method="dense"), rtol=1e-10)
    assert magnitude_vector(np.eye(4, dtype=bool), method="dense").shape == (4, 4)
