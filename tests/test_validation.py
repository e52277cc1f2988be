"""Bad input through the public API: every mistake is an InvalidInputError that says what."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import _optional, _validation

nx = pytest.importorskip("networkx")

GOOD_POINTS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
GOOD_D = np.array([[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]])


def _magnitude(X, **kw):
    return mm.magnitude(X, 1.0, **kw)


def _weights(X, **kw):
    return mm.weights(X, 1.0, **kw)


def _derivative(X, **kw):
    return mm.magnitude_derivative(X, 1.0, **kw)


def _spread(X, **kw):
    return mm.spread(X, 1.0, **kw)


def _distance_matrix(X, **kw):
    return mm.distance_matrix(X, **kw)


# every public entry point that takes a space
SPACE_FUNCS = pytest.mark.parametrize(
    "func",
    [_magnitude, _weights, _derivative, _spread, _distance_matrix],
    ids=["magnitude", "weights", "derivative", "spread", "distance_matrix"],
)
# every public entry point that takes scales
SCALE_FUNCS = pytest.mark.parametrize(
    "func",
    [mm.magnitude, mm.weights, mm.magnitude_derivative, mm.spread],
    ids=["magnitude", "weights", "derivative", "spread"],
)


def _with(a, index, value):
    a = np.array(a, dtype=float)
    a[index] = value
    return a


def test_invalid_input_error_is_value_error():
    assert issubclass(mm.InvalidInputError, ValueError)
    assert issubclass(mm.InsufficientMemoryError, mm.InvalidInputError)
    assert issubclass(mm.MissingDependencyError, ImportError)
    with pytest.raises(ValueError):
        mm.magnitude([[np.nan]], 1.0)


# ---------------------------------------------------------------- points


BAD_POINTS = [
    pytest.param(_with(GOOD_POINTS, (1, 0), np.nan), r"contains NaN at index \(1, 0\)", id="nan"),
    pytest.param(
        _with(GOOD_POINTS, (2, 1), np.inf),
        r"contains an infinite value at index \(2, 1\)",
        id="inf",
    ),
    pytest.param(
        _with(GOOD_POINTS, (0, 1), -np.inf),
        r"contains an infinite value at index \(0, 1\)",
        id="-inf",
    ),
    pytest.param(np.array([0.0, 1.0, 3.0]), r"1-D array of length 3.*reshape\(-1, 1\)", id="1d"),
    pytest.param(np.zeros((2, 3, 4)), r"must be 2-D.*shape \(2, 3, 4\)", id="3d"),
    pytest.param(np.float64(1.0), r"must be 2-D.*shape \(\)", id="0d"),
    pytest.param(
        np.zeros((0, 3)), "is empty: a metric space needs at least one point", id="no-pts"
    ),
    pytest.param(np.zeros((4, 0)), "has 4 points but no coordinates", id="no-features"),
    pytest.param([["a", "b"], ["c", "d"]], "must hold numbers, got dtype <U1", id="strings"),
    pytest.param(
        np.array([[0.0, 1.0], [2.0, None]], dtype=object),
        "must hold numbers, got dtype object",
        id="object",
    ),
    pytest.param(np.array([[1.0, 2.0]], dtype=object), "must hold numbers", id="object-floats"),
    pytest.param(
        np.array([[0.0, 1j], [1.0, 0.0]]), r"is complex \(complex128\).*real numbers", id="complex"
    ),
    pytest.param([[0.0, 1.0], [2.0]], "could not be read as a numeric array", id="ragged"),
]


@SPACE_FUNCS
@pytest.mark.parametrize(("X", "match"), BAD_POINTS)
def test_bad_points(func, X, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(X)


# ---------------------------------------------------------------- precomputed distances


BAD_DISTANCES = [
    pytest.param(_with(GOOD_D, (0, 1), np.nan), r"contains NaN at index \(0, 1\)", id="nan"),
    pytest.param(_with(GOOD_D, (1, 1), np.nan), r"contains NaN at index \(1, 1\)", id="nan-diag"),
    pytest.param(
        _with(_with(GOOD_D, (0, 2), np.inf), (2, 0), np.inf),
        "contains infinite distances",
        id="inf",
    ),
    pytest.param(
        np.zeros((2, 3)), r"square \(n, n\) distance matrix, got shape \(2, 3\)", id="2x3"
    ),
    pytest.param(np.zeros(3), r"square \(n, n\) distance matrix, got shape \(3,\)", id="1d"),
    pytest.param(np.zeros((2, 2, 2)), r"square .* got shape \(2, 2, 2\)", id="3d"),
    pytest.param(np.zeros((0, 0)), "is empty", id="empty"),
    pytest.param(
        _with(GOOD_D, (0, 1), 1.5),
        r"not symmetric: D\[0, 1\] = 1\.5 but D\[1, 0\] = 1\.0.*mm\.asymmetric\.magnitude",
        id="asymmetric",
    ),
    pytest.param(
        _with(_with(GOOD_D, (0, 2), -2.0), (2, 0), -2.0),
        r"negative distance -2\.0 at \(0, 2\); distances must be non-negative",
        id="negative",
    ),
    pytest.param(
        _with(GOOD_D, (1, 1), 0.5),
        r"nonzero diagonal entry D\[1, 1\] = 0\.5; the distance of a point to itself must be 0",
        id="diagonal",
    ),
    pytest.param(
        _with(GOOD_D, (1, 1), -0.5), r"negative distance -0\.5 at \(1, 1\)", id="negative-diag"
    ),
    pytest.param([["0", "1"], ["1", "0"]], "must hold numbers, got dtype <U1", id="strings"),
    pytest.param(GOOD_D.astype(complex), "is complex", id="complex"),
    pytest.param([[0.0, 1.0], [1.0]], "could not be read as a numeric array", id="ragged"),
]


@SPACE_FUNCS
@pytest.mark.parametrize(("D", "match"), BAD_DISTANCES)
def test_bad_distance_matrix(func, D, match):
    with pytest.raises(mm.InvalidInputError, match=match) as info:
        func(D, metric="precomputed")
    assert "precomputed distance matrix" in str(info.value)


def test_roundoff_asymmetry_is_accepted_and_symmetrised():
    rng = np.random.default_rng(0)
    D = GOOD_D * (1.0 + 1e-15 * rng.standard_normal(GOOD_D.shape))
    np.fill_diagonal(D, 0.0)
    assert not np.array_equal(D, D.T)
    out = mm.distance_matrix(D, metric="precomputed")
    np.testing.assert_array_equal(out, out.T)
    np.testing.assert_allclose(out, GOOD_D, rtol=1e-14)
    ref = mm.magnitude(GOOD_D, [0.1, 1.0, 5.0], metric="precomputed")
    got = mm.magnitude(D, [0.1, 1.0, 5.0], metric="precomputed")
    np.testing.assert_allclose(got, ref, rtol=1e-12)


def test_roundoff_diagonal_and_negatives_are_zeroed():
    D = GOOD_D.copy()
    D[0, 0] = 1e-16
    D[1, 1] = -1e-16
    out = _validation.check_distance_matrix(D)
    np.testing.assert_array_equal(np.diagonal(out), 0.0)
    # 1 - cos for parallel rows can come out as -2e-16: read as a zero, so merged
    E = np.array([[0.0, -2e-16, 1.0], [-2e-16, 0.0, 1.0], [1.0, 1.0, 0.0]])
    out = _validation.check_distance_matrix(E)
    assert (out >= 0).all()
    space = mm.MetricSpace(E, metric="precomputed")
    assert space.n_distinct == 2


# ---------------------------------------------------------------- scales


BAD_SCALES = [
    pytest.param(0, r"scale t must be > 0, got 0\.0", id="zero"),
    pytest.param(0.0, r"scale t must be > 0, got 0\.0", id="zero-float"),
    pytest.param(-1.0, r"scale t must be > 0, got -1\.0", id="negative"),
    pytest.param([1.0, -2.0], r"scale t must be > 0, got -2\.0", id="negative-in-array"),
    pytest.param(np.nan, r"non-finite scale \(nan\)", id="nan"),
    pytest.param(np.inf, r"non-finite scale \(inf\)", id="inf"),
    pytest.param([1.0, np.inf], r"non-finite scale \(inf\)", id="inf-in-array"),
    pytest.param(np.array([]), "t is empty: give at least one scale", id="empty"),
    pytest.param([], "t is empty", id="empty-list"),
    pytest.param(np.ones((2, 2)), r"number or a 1-D array, got shape \(2, 2\)", id="2d"),
    pytest.param("1.0", "t must hold numbers", id="string"),
    pytest.param(1.0 + 0.5j, "t is complex", id="complex"),
    pytest.param([[1.0, 2.0], [3.0]], "t could not be read", id="ragged"),
]


@SCALE_FUNCS
@pytest.mark.parametrize(("t", "match"), BAD_SCALES)
def test_bad_scales(func, t, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(GOOD_POINTS, t)


def test_scales_accept_numbers_of_any_kind():
    from fractions import Fraction

    ref = mm.magnitude(GOOD_POINTS, 0.5)
    assert mm.magnitude(GOOD_POINTS, Fraction(1, 2)) == ref
    assert mm.magnitude(GOOD_POINTS, np.float32(0.5)) == ref
    assert mm.magnitude(GOOD_POINTS, np.array(0.5)) == ref
    assert isinstance(mm.magnitude(GOOD_POINTS, np.array(0.5)), float)
    assert mm.magnitude(GOOD_POINTS, [0.5]).shape == (1,)


# ---------------------------------------------------------------- metric and method


@SPACE_FUNCS
def test_unknown_metric(func):
    with pytest.raises(mm.InvalidInputError, match="unknown metric 'no-such-metric'"):
        func(GOOD_POINTS, metric="no-such-metric")


@SPACE_FUNCS
@pytest.mark.parametrize("metric", [3, None, ["euclidean"]], ids=["int", "none", "list"])
def test_metric_not_str_or_callable(func, metric):
    with pytest.raises(mm.InvalidInputError, match="metric must be a string or a callable, got"):
        func(GOOD_POINTS, metric=metric)


@pytest.mark.parametrize(
    "func", [mm.magnitude, mm.weights, mm.magnitude_derivative], ids=["mag", "w", "deriv"]
)
@pytest.mark.parametrize("method", ["no-such-method", "Cholesky", "lu"])
def test_unknown_method(func, method):
    with pytest.raises(mm.InvalidInputError, match=f"unknown method '{method}'; choose one of"):
        func(GOOD_POINTS, 1.0, method=method)


def test_callable_metric_with_bad_values():
    with pytest.raises(mm.InvalidInputError, match="negative distance"):
        mm.magnitude(GOOD_POINTS, 1.0, metric=lambda u, v: -1.0 if (u != v).any() else 0.0)
    with pytest.raises(mm.InvalidInputError, match="nonzero diagonal"):
        mm.magnitude(GOOD_POINTS, 1.0, metric=lambda u, v: 1.0)
    with pytest.raises(mm.InvalidInputError, match=r"metric .<lambda>. is undefined for point"):
        mm.magnitude(GOOD_POINTS, 1.0, metric=lambda u, v: np.nan)


def test_cosine_of_zero_vector_is_reported():
    with pytest.raises(mm.InvalidInputError, match=r"metric 'cosine' is undefined for point 0"):
        mm.magnitude([[0.0, 0.0], [1.0, 0.0]], 1.0, metric="cosine")


# ---------------------------------------------------------------- graphs


def _graph_negative():
    G = nx.path_graph(3)
    G[1][2]["weight"] = -1.0
    return G


def _graph_string_weight():
    G = nx.path_graph(3)
    G[0][1]["weight"] = "heavy"
    return G


def _graph_numeric_string_weight():
    G = nx.path_graph(3)
    G[0][1]["weight"] = "2"
    return G


def _graph_none_weight():
    G = nx.path_graph(3)
    G[0][1]["weight"] = None
    return G


def _graph_nan_weight():
    G = nx.path_graph(3)
    G[0][1]["weight"] = np.nan
    return G


BAD_GRAPHS = [
    pytest.param(_graph_negative, r"edge \(1, 2\) has negative weight -1\.0.*>= 0", id="negative"),
    pytest.param(_graph_nan_weight, r"edge \(0, 1\) has weight nan.*finite", id="nan"),
    pytest.param(_graph_string_weight, "non-numeric weight 'heavy'", id="string"),
    pytest.param(_graph_numeric_string_weight, "non-numeric weight '2'", id="numeric-string"),
    pytest.param(_graph_none_weight, "non-numeric weight None", id="none"),
    pytest.param(lambda: nx.path_graph(3, create_using=nx.DiGraph), "directed graph", id="di"),
    pytest.param(lambda: nx.MultiDiGraph([(0, 1)]), "directed graph", id="multidi"),
    pytest.param(nx.Graph, "the graph has no nodes", id="empty"),
]


@SPACE_FUNCS
@pytest.mark.parametrize(("make", "match"), BAD_GRAPHS)
def test_bad_graph(func, make, match):
    with pytest.raises(mm.InvalidInputError, match=match):
        func(make())


# ---------------------------------------------------------------- memory


def _fake_memory(monkeypatch, n_max):
    """Pretend exactly enough memory for the dense solver at n = n_max."""
    from metric_magnitude.spaces import DENSE_MATRICES

    avail = int(DENSE_MATRICES * 8 * n_max**2) + 1
    # check_dense_memory looks available_memory up in _validation's namespace
    monkeypatch.setattr(_validation, "available_memory", lambda: avail)


@pytest.mark.parametrize("n_max", [10, 193])
def test_insufficient_memory_names_largest_n(monkeypatch, n_max):
    from metric_magnitude.spaces import DENSE_MATRICES

    _fake_memory(monkeypatch, n_max)
    avail = _validation.available_memory()
    # n_max is really the largest n that fits
    assert DENSE_MATRICES * 8 * n_max**2 <= avail < DENSE_MATRICES * 8 * (n_max + 1) ** 2
    x = np.arange(n_max + 1, dtype=float)
    X = np.c_[x, x**2]  # not collinear: points on a line need no n x n matrix
    with pytest.raises(mm.InsufficientMemoryError, match=rf"n may be at most about {n_max}\b"):
        mm.magnitude(X, 1.0)
    mm.magnitude(X[:n_max], 1.0)  # and n_max itself passes the check


@SPACE_FUNCS
def test_insufficient_memory_every_input_kind(monkeypatch, func):
    _fake_memory(monkeypatch, 10)
    X = np.arange(40, dtype=float).reshape(-1, 1)
    with pytest.raises(mm.InsufficientMemoryError, match=r"n = 40 points.*at most about 10\b"):
        func(np.c_[X, X**2])  # not collinear: points on a line need no n x n matrix
    with pytest.raises(mm.InsufficientMemoryError, match=r"n = 40 points.*at most about \d+\b"):
        func(np.abs(X - X.T), metric="precomputed")
    with pytest.raises(mm.InsufficientMemoryError, match=r"n = 40 points.*at most about 10\b"):
        func(nx.path_graph(40))


def test_insufficient_memory_counts_distinct_points(monkeypatch):
    _fake_memory(monkeypatch, 10)
    X = np.repeat(np.arange(5.0), 20).reshape(-1, 1)  # 100 rows, 5 distinct
    assert mm.magnitude(X, 1.0) == pytest.approx(1 + 4 * np.tanh(0.5), rel=1e-12)


def test_available_memory_is_positive():
    assert _validation.available_memory() > 0


# ---------------------------------------------------------------- optional dependencies


def test_import_optional_returns_module():
    assert _optional.import_optional("networkx") is nx


def test_missing_dependency_names_extra(monkeypatch):
    monkeypatch.setitem(_optional._EXTRAS, "no_such_module_xyz", ("fancy", "fancy things"))
    with pytest.raises(mm.MissingDependencyError) as info:
        _optional.import_optional("no_such_module_xyz")
    msg = str(info.value)
    assert "no_such_module_xyz is required for fancy things" in msg
    assert "pip install 'metric-magnitude[fancy]'" in msg
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value.__cause__, ImportError)


@pytest.mark.parametrize(
    ("name", "extra"),
    [("networkx", "graphs"), ("matplotlib.pyplot", "plot"), ("sklearn.datasets", "demo")],
)
def test_missing_known_dependency(monkeypatch, name, extra):
    # None in sys.modules makes the import fail as if the package were not installed
    monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(mm.MissingDependencyError, match=rf"metric-magnitude\[{extra}\]"):
        _optional.import_optional(name)


def test_missing_unlisted_dependency_points_to_all(monkeypatch):
    def fail(name, *args, **kwargs):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", fail)
    with pytest.raises(mm.MissingDependencyError, match=r"metric-magnitude\[all\]"):
        _optional.import_optional("somethingelse")
