"""Magnitude functions: interpolation accuracy, error estimates, scales, dimension."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import scales as scales_module


def _line(n=9, length=4.0):
    x = np.sort(np.random.default_rng(3).uniform(0, length, n))
    g = np.diff(x)

    def value(t):
        t = np.asarray(t, dtype=float)[..., None]
        return 1 + np.tanh(t * g / 2).sum(-1)

    def deriv(t):
        t = np.asarray(t, dtype=float)[..., None]
        return (g / 2 / np.cosh(t * g / 2) ** 2).sum(-1)

    def integral(a, b):
        F = lambda t: t + (2 / g * np.log(np.cosh(t * g / 2))).sum()  # noqa: E731
        return F(b) - F(a)

    return x[:, None], value, deriv, integral


def test_line_closed_form_values_derivative_area():
    X, value, deriv, integral = _line()
    ts = np.linspace(0.05, 20.0, 120)
    f = mm.magnitude_function(X, ts)
    assert f.n_solves < 60
    np.testing.assert_allclose(f.values, value(ts), rtol=1e-8, atol=0)
    np.testing.assert_allclose(f.derivative, deriv(ts), rtol=1e-8 * 10, atol=1e-8 * deriv(ts).max())
    np.testing.assert_allclose(f.dimension, ts * deriv(ts) / value(ts), rtol=1e-6)
    assert f.area() == pytest.approx(integral(0.05, 20.0), rel=1e-8)
    assert f.area(1.0, 3.0) == pytest.approx(integral(1.0, 3.0), rel=1e-8)
    assert f(7.25) == pytest.approx(float(value(7.25)), rel=1e-8)


def test_zero_first_scale_has_value_one_and_integrates_from_zero():
    X, value, _, integral = _line()
    ts = np.linspace(0.0, 5.0, 30)
    f = mm.magnitude_function(X, ts)
    assert f.values[0] == 1.0 and f(0.0) == 1.0
    np.testing.assert_allclose(f.values[1:], value(ts[1:]), rtol=1e-8)
    assert f.area() == pytest.approx(integral(0.0, 5.0), rel=1e-8)


def test_few_scales_are_solved_exactly():
    X, value, deriv, _ = _line()
    ts = np.array([0.5, 1.0, 2.0])
    f = mm.magnitude_function(X, ts)
    assert f.n_solves == 3 and f.error_estimate == 0.0
    np.testing.assert_allclose(f.values, value(ts), rtol=1e-13)
    np.testing.assert_allclose(f.derivative, deriv(ts), rtol=1e-12)


def _adversarial_spaces():
    rng = np.random.default_rng(42)
    out = []
    for i in range(14):  # random clouds of varied size, dimension and spread
        n, d = int(rng.integers(15, 90)), int(rng.integers(1, 9))
        out.append((f"cloud{i}", rng.normal(size=(n, d)) * rng.uniform(0.05, 20), "euclidean"))
    base = rng.normal(size=(30, 3))
    out += [
        (
            "near_duplicates",
            np.vstack([base, base[:10] + 1e-6 * rng.normal(size=(10, 3))]),
            "euclidean",
        ),
        (
            "clusters",
            np.vstack([rng.normal(size=(20, 2)) * 0.01 + c for c in ([0, 0], [5, 0], [0, 40])]),
            "euclidean",
        ),
        (
            "multiscale_line",
            np.concatenate([np.geomspace(1e-3, 1e2, 25), [0.0]])[:, None],
            "euclidean",
        ),
        ("l1_cloud", rng.uniform(size=(50, 4)), "cityblock"),
        ("grid", np.array([[i, j] for i in range(6) for j in range(5)], float), "cityblock"),
        ("cosine", rng.normal(size=(40, 5)), "cosine"),
        ("cycle_graph", nx.cycle_graph(25), None),
    ]
    return out


@pytest.mark.parametrize(
    "name, X, metric", _adversarial_spaces(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_error_estimate_bounds_true_error(name, X, metric):
    kw = {} if metric is None else {"metric": metric}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mm.NotPositiveDefiniteWarning)
        f = mm.magnitude_function(X, **kw)
        ts = np.geomspace(f.t_min, f.t_max, 300)
        exact = mm.magnitude(X, ts, **kw)
        exact_d = mm.magnitude_derivative(X, ts, **kw)
    err = np.max(np.abs(f(ts) / exact - 1))
    assert err <= f.error_estimate <= f.rtol
    derr = np.max(np.abs(f._poly(ts, 1) - exact_d)) / np.max(np.abs(exact_d))
    assert derr <= max(f.derivative_error_estimate, 1e-12)


def test_auto_scales_rule():
    X = np.random.default_rng(0).normal(size=(60, 3))
    f = mm.magnitude_function(X, n_scales=40)
    tc = mm.convergence_scale(X)
    assert f.scales.size == 40
    assert f.t_max == pytest.approx(tc, rel=1e-12)
    assert f.t_min == pytest.approx(tc / 1000, rel=1e-12)
    assert f.values[-1] == pytest.approx(0.95 * 60, rel=1e-8)
    assert f.values[0] < 1.2


def test_magnitude_dimension_of_a_segment_and_a_square():
    seg = np.linspace(0, 1, 300)[:, None]
    sq = np.random.default_rng(0).uniform(size=(500, 2))
    d1, d2 = mm.magnitude_dimension(seg), mm.magnitude_dimension(sq)
    assert 0.9 < d1 <= 1.0 + 1e-9
    assert 1.5 < d2 < 2.3


# ------------------------------------------------------------ convergence scale


def test_convergence_scale_closed_forms():
    assert mm.convergence_scale([[0.0], [1.0]], q=0.95) == pytest.approx(np.log(19), rel=1e-12)
    # n points at mutual distance d: n / (1 + (n-1) e^{-td}) = q n
    n, d, q = 6, 0.7, 0.8
    X = d / np.sqrt(2) * np.eye(n)
    expected = -np.log((1 / q - 1) / (n - 1)) / d
    assert mm.convergence_scale(X, q=q) == pytest.approx(expected, rel=1e-12)
    assert mm.convergence_scale([[1.0, 2.0]]) == 0.0
    assert mm.convergence_scale([[1.0], [1.0], [4.0]]) == pytest.approx(np.log(19) / 3, rel=1e-12)


def test_convergence_scale_that_is_never_reached_warns(monkeypatch):
    monkeypatch.setattr(scales_module, "_MAX_STEPS", 2)
    X = np.array([[0.0], [1e-9], [1.0]])  # needs t ~ 1e9: far beyond two decades
    with pytest.warns(mm.ConvergenceWarning, match="did not cross"):
        t = mm.convergence_scale(X)
    assert np.isfinite(t)


# ------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "scales, match",
    [
        ([0.5, 0.2, 1.0], "strictly increasing"),
        ([0.5, 0.5, 1.0], "strictly increasing"),
        ([-1.0, 0.5], "must be > 0"),
        ([0.1, np.nan], "non-finite"),
        ([0.1, np.inf], "non-finite"),
        ([], "empty"),
        ([[0.1, 0.2]], "1-D"),
        ("logspace", "'auto', 'linear' or an array"),
    ],
)
def test_bad_scales(scales, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        mm.magnitude_function([[0.0], [1.0], [3.0]], scales)


@pytest.mark.parametrize("q", [0, 1, -0.5, 1.5, np.nan, "0.9"])
def test_bad_q(q):
    with pytest.raises(mm.InvalidInputError, match="q must be"):
        mm.convergence_scale([[0.0], [1.0]], q=q)
    with pytest.raises(mm.InvalidInputError, match="q must be"):
        mm.magnitude_function([[0.0], [1.0]], q=q)


def test_bad_options():
    X = [[0.0], [1.0], [3.0]]
    with pytest.raises(mm.InvalidInputError, match="rtol"):
        mm.magnitude_function(X, rtol=0)
    with pytest.raises(mm.InvalidInputError, match="n_scales"):
        mm.magnitude_function(X, n_scales=1)
    with pytest.raises(mm.InvalidInputError, match="algorithm"):
        mm.convergence_scale(X, algorithm="bisect")


def test_evaluation_outside_range_is_an_error():
    f = mm.magnitude_function([[0.0], [1.0], [3.0]], np.linspace(0.5, 4, 20))
    with pytest.raises(mm.InvalidInputError, match="outside the range"):
        f(5.0)
    with pytest.raises(mm.InvalidInputError, match="outside the range"):
        f(0.1)
    with pytest.raises(mm.InvalidInputError, match="outside the range"):
        f.area(0.1, 2.0)
    with pytest.raises(mm.InvalidInputError, match="must not exceed"):
        f.area(3.0, 2.0)


def test_plot_returns_axes_with_the_curve():
    import matplotlib  # the test extra installs it: no silent skip

    matplotlib.use("Agg")
    X = _line()[0]
    f = mm.magnitude_function(X, np.linspace(0.1, 5, 40))
    ax = f.plot()
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_ydata(), f.values)
    ax2 = f.plot(dimension=True)
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), f.dimension)
    assert "dimension" in ax2.get_ylabel()


def test_q_times_n_at_most_one():
    assert mm.convergence_scale([[0.0], [1.0]], q=0.4) == 0.0
    with pytest.raises(mm.InvalidInputError, match="q n"):
        mm.magnitude_function([[0.0], [1.0]], q=0.4)
    with pytest.raises(mm.InvalidInputError, match="q n"):
        mm.magnitude_function([[1.0], [1.0]])


def test_derivative_and_dimension_at_any_scale():
    X, value, deriv, _ = _line()
    f = mm.magnitude_function(X, np.linspace(0.1, 5, 40))
    t = np.array([0.37, 1.9, 4.2])
    np.testing.assert_allclose(f.derivative_at(t), deriv(t), rtol=1e-7)
    np.testing.assert_allclose(f.dimension_at(t), t * deriv(t) / value(t), rtol=1e-7)
    assert isinstance(f.derivative_at(1.0), float)
    with pytest.raises(mm.InvalidInputError, match="scale t must be > 0"):
        f(-1.0)
