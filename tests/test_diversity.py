"""MagArea, MagDiff and compare: magnipy's numbers reproduced, closed forms, bad input.

The reference numbers come from magnipy 1.0.0 itself (tests/fixtures/magnipy_reference.json,
made by tests/fixtures/make_magnipy_fixtures.py in magnipy's own environment).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import metric_magnitude as mm

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "magnipy_reference.json").read_text())
DATA = {k: np.array(v["points"]) for k, v in FIXTURE["datasets"].items()}
SINGLE = FIXTURE["single"]
REL = 1e-6  # the requirement


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_convergence_scale_matches_magnipy(name):
    ref = SINGLE[name]
    assert _rel(mm.convergence_scale(DATA[name], algorithm="magnipy"), ref["t_conv"]) <= 1e-12
    # our default finds the exact crossing, which magnipy's rtol=1e-5 search approximates
    tight = ref["t_conv_search"]["t_conv_tight"]
    assert _rel(mm.convergence_scale(DATA[name]), tight) <= 1e-10


@pytest.mark.parametrize("name", sorted(SINGLE))
def test_magnitude_values_match_magnipy(name):
    ref = SINGLE[name]["fixed_scales"]
    assert ref["ts"][0] == 0.0  # magnipy sets each weight to 1/n there: 1 up to rounding
    assert _rel(mm.magnitude(DATA[name], ref["ts"][1:]), ref["magnitude"][1:]) <= 1e-10


@pytest.mark.parametrize("n_ts", [30, 10])
@pytest.mark.parametrize("name", sorted(SINGLE))
def test_mag_area_matches_magnipy(name, n_ts):
    ref = SINGLE[name][f"n_ts_{n_ts}"]
    X = DATA[name]
    got = mm.mag_area(X, integration="trapezoid", n_ts=n_ts, convergence="magnipy")
    assert _rel(got, ref["mag_area_scaled"]) <= REL
    got = mm.mag_area(X, integration="trapezoid", n_ts=n_ts, convergence="magnipy", normalise=False)
    assert _rel(got, ref["mag_area"]) <= REL
    f = mm.magnitude_function(X, np.array(ref["ts"]))
    assert _rel(f.values, ref["magnitude"]) <= 1e-8


@pytest.mark.parametrize(
    "key, kwargs",
    [
        ("diversipy_median", {}),
        ("diversipy_q30", {"quantile": 0.3}),
        ("diversipy_ref0", {"reference": 0}),
    ],
)
def test_compare_matches_magnipy_diversipy(key, kwargs):
    ref = FIXTURE[key]
    spaces = [DATA[n] for n in ref["names"]]
    common = {"integration": "trapezoid", "convergence": "magnipy", **kwargs}
    c = mm.compare(spaces, names=ref["names"], **common)
    assert _rel(c.t_convs, ref["t_convs"]) <= 1e-12
    assert _rel(c.t_cut, ref["t_cut"]) <= 1e-12
    assert _rel(c.scales, ref["ts"]) <= 1e-14
    assert _rel(c.values, ref["magnitude"]) <= 1e-8
    assert _rel(c.mag_areas, ref["mag_areas"]) <= REL
    iu = np.triu_indices(len(spaces), 1)
    assert _rel(c.mag_diffs[iu], np.array(ref["mag_diffs"])[iu]) <= REL
    raw = mm.compare(spaces, normalise=False, **common)
    assert _rel(raw.mag_areas, ref["mag_areas_unscaled"]) <= REL
    assert _rel(raw.mag_diffs[iu], np.array(ref["mag_diffs_unscaled"])[iu]) <= REL
    signed = mm.compare(spaces, absolute=False, **common)
    # magnipy mirrors its signed upper triangle; ours is antisymmetric
    assert _rel(signed.mag_diffs[iu], np.array(ref["mag_diffs_signed"])[iu]) <= REL
    np.testing.assert_allclose(signed.mag_diffs, -signed.mag_diffs.T, atol=1e-12)


def test_mag_diff_pair_matches_diversipy_entry():
    ref = FIXTURE["diversipy_median"]
    i, j = 0, 3
    got = mm.mag_diff(
        DATA[ref["names"][i]],
        DATA[ref["names"][j]],
        t_cut=ref["t_cut"],
        integration="trapezoid",
    )
    assert _rel(got, ref["mag_diffs"][i][j]) <= REL


def test_duplicates_do_not_change_magnipy_numbers():
    a = SINGLE["square150_dup10"]
    assert mm.mag_area(
        DATA["square150_dup10"], integration="trapezoid", convergence="magnipy"
    ) == pytest.approx(a["n_ts_30"]["mag_area_scaled"], rel=REL)


# ------------------------------------------------------------ exact integration


def _two_points_area(T):
    # integral_0^T 2 / (1 + e^-t) dt = 2 log((1 + e^T) / 2)
    return 2 * np.log((1 + np.exp(T)) / 2)


def test_exact_integration_beats_the_trapezoid_rule():
    X, T = [[0.0], [1.0]], 4.0
    exact = _two_points_area(T) / T
    ours = mm.mag_area(X, T)
    trap = mm.mag_area(X, T, integration="trapezoid")
    assert abs(ours - exact) <= 1e-9 * exact
    assert abs(trap - exact) > 1e-5 * exact  # the trapezoid rule's discretisation error


def test_mag_diff_closed_form_and_symmetry():
    X, Y, T = [[0.0], [1.0]], [[0.0], [2.0]], 3.0
    # |tY| >= |tX| everywhere, so the absolute and signed areas agree up to sign
    exact = (2 * np.log((1 + np.exp(2 * T)) / 2) / 2 - _two_points_area(T)) / T
    assert mm.mag_diff(Y, X, T) == pytest.approx(exact, rel=1e-9)
    assert mm.mag_diff(X, Y, T, absolute=False) == pytest.approx(-exact, rel=1e-9)
    assert mm.mag_diff(X, Y, T) == pytest.approx(mm.mag_diff(Y, X, T), rel=1e-12)


def test_mag_diff_with_crossing_functions_integrates_the_absolute_value():
    # a wide pair of points against a tight cluster of many points: the functions cross
    A = [[0.0], [10.0]]
    B = np.linspace(0, 1, 12)[:, None]
    T = 8.0
    fa = mm.magnitude_function(A, np.linspace(0, T, 4001))
    fb = mm.magnitude_function(B, np.linspace(0, T, 4001))
    d = fa.values - fb.values
    assert (d > 0).any() and (d < 0).any()
    ref_abs = np.trapezoid(np.abs(d), fa.scales) / T
    ref_signed = np.trapezoid(d, fa.scales) / T
    assert mm.mag_diff(A, B, T) == pytest.approx(ref_abs, rel=1e-5)
    assert mm.mag_diff(A, B, T, absolute=False) == pytest.approx(ref_signed, rel=1e-5)


def test_compare_normalised_and_table():
    rng = np.random.default_rng(0)
    spaces = [rng.normal(size=(50, 2)) * s for s in (1.0, 0.5, 0.25)]
    c = mm.compare(spaces, names=["a", "b", "c"], reference=0)
    np.testing.assert_allclose(c.normalised_mag_diffs, c.mag_diffs[0] / c.mag_areas[0])
    assert c.t_cut == c.t_convs[0]
    assert "MagArea" in c.table() and "b" in c.table()
    assert list(c.mag_areas) == sorted(c.mag_areas, reverse=True)


# ------------------------------------------------------------ bad input


def test_compare_needs_two_spaces():
    with pytest.raises(mm.InvalidInputError, match="at least two spaces"):
        mm.compare([np.zeros((3, 2))])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"names": ["a"]}, "names for 2 spaces"),
        ({"reference": 2}, "reference must be an index"),
        ({"quantile": 1.5}, "quantile must be in"),
        ({"integration": "simpson"}, "integration must be one of"),
        ({"n_ts": 1}, "n_ts must be"),
        ({"t_cut": -1.0}, "t_cut must be"),
        ({"q": 1.0}, "q must be"),
    ],
)
def test_compare_bad_options(kwargs, match):
    rng = np.random.default_rng(0)
    with pytest.raises(mm.InvalidInputError, match=match):
        mm.compare([rng.normal(size=(5, 2)), rng.normal(size=(6, 2))], **kwargs)


def test_normalised_diffs_need_a_reference():
    rng = np.random.default_rng(0)
    c = mm.compare([rng.normal(size=(5, 2)), rng.normal(size=(6, 2))])
    with pytest.raises(mm.InvalidInputError, match="reference"):
        _ = c.normalised_mag_diffs
