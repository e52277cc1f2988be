"""analyse() against the library functions it stands for; the report, plots and file writing."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude._files import check_output_path, write_atomic
from metric_magnitude._progress import Progress
from metric_magnitude.plotting import project_2d

pytest.importorskip("matplotlib")
import matplotlib

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def two_clouds():
    rng = np.random.default_rng(11)
    A = rng.normal(size=(70, 3))
    B = np.vstack([0.4 * rng.normal(size=(59, 3)), [[0.4, 0.4, 0.4]]])  # one copy below
    B = np.vstack([B, B[-1:]])
    return A, B, mm.analyse([A, B], names=["A", "B"])


def test_summaries_agree_with_the_library(two_clouds):
    A, B, analysis = two_clouds
    for X, s in zip((A, B), analysis.spaces, strict=True):
        assert s.t_conv == pytest.approx(mm.convergence_scale(X), rel=1e-12)
        assert s.mag_area == pytest.approx(mm.mag_area(X), rel=1e-7)
        assert s.magnitude_dimension == pytest.approx(mm.magnitude_dimension(X), rel=1e-7)
        assert mm.magnitude(X, s.weight_scale) == pytest.approx(s.n_distinct / 2, rel=1e-7)
        np.testing.assert_allclose(s.weights, mm.weights(X, s.weight_scale), rtol=1e-12)
        f = s.function
        assert f.scales[0] == 0 and f.values[0] == 1
        np.testing.assert_allclose(f.values[1:], mm.magnitude(X, f.scales[1:]), rtol=1e-8)
    s = analysis.spaces[1]
    assert (s.n_points, s.n_distinct) == (61, 60)
    assert s.weights[-1] == pytest.approx(s.weights[-2])  # the copies share a weight
    ref = mm.compare([A, B], names=["A", "B"])
    np.testing.assert_allclose(analysis.comparison.mag_areas, ref.mag_areas, rtol=1e-12)
    np.testing.assert_allclose(analysis.comparison.mag_diffs, ref.mag_diffs, rtol=1e-12)


def test_top_weights_and_json(two_clouds):
    _, _, analysis = two_clouds
    s = analysis.spaces[0]
    top = s.top_weights(3)
    assert [i for i, _ in top] == list(np.argsort(s.weights)[::-1][:3])
    data = json.loads(json.dumps(analysis.to_dict(include_weights=True)))
    assert data["schema_version"] == 1
    assert data["spaces"][0]["weights"] == s.weights.tolist()
    assert data["comparison"]["names"] == ["A", "B"]
    assert len(data["spaces"][0]["scales"]) == 100


def test_single_space_has_no_comparison():
    line = np.linspace(0, 1, 30)[:, None]
    calls = []
    analysis = mm.analyse([line], progress=calls.append)
    assert analysis.comparison is None and calls == ["X_0"]
    assert analysis.spaces[0].n_features == 1
    graph_like = mm.MetricSpace(mm.distance_matrix(line), metric="precomputed")
    assert mm.analyse([graph_like]).spaces[0].points is None


def test_default_scales_follow_the_engine():
    # 100 scales (and t = 0) where the function comes from the reduced basis; 24 where each
    # scale is an iterative solve (method "cg" here, as "auto" picks it for points whose
    # dense matrices do not fit); an explicit n_scales is honoured on both
    X = np.random.default_rng(2).normal(size=(200, 3))
    dense = mm.analyse([X])
    assert dense.spaces[0].function.scales.size == 101
    assert dense.settings["n_scales"] == "auto"
    per_scale = mm.analyse([X], method="cg", rtol=1e-6)
    f = per_scale.spaces[0].function
    assert f.solver == "per scale" and f.scales.size == 25
    # the per-scale function's values are certified solves: they agree with the dense ones
    np.testing.assert_allclose(f.values[1:], mm.magnitude(X, f.scales[1:]), rtol=1e-6)
    assert mm.analyse([X], method="cg", rtol=1e-6, n_scales=13).spaces[0].function.scales.size == 14
    assert mm.analyse([X], n_scales=13).settings["n_scales"] == 13


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"spaces": []}, "at least one space"),
        ({"names": ["a", "b"]}, "2 names for 1 spaces"),
        ({"q": 1.0}, "q"),
        ({"n_scales": 5}, "n_scales"),
        ({"spaces": [[[0.0], [0.0]]]}, "nothing to analyse"),
    ],
)
def test_analyse_bad_input(kwargs, words):
    args = {"spaces": [np.arange(10.0)[:, None]], **kwargs}
    with pytest.raises(mm.InvalidInputError, match=words):
        mm.analyse(args.pop("spaces"), **args)


def test_report_html_is_self_contained_and_escaped(two_clouds, tmp_path):
    _, _, analysis = two_clouds
    page = mm.analysis_report(analysis, title="<b>x</b> & y", sources=["a<.npy", "b.csv"])
    text = page.html()
    assert "<title>&lt;b&gt;x&lt;/b&gt; &amp; y</title>" in text
    assert "a&lt;.npy" in text
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert text.count("<img ") == 3 + 2  # functions, dimension, MagDiff, two weight plots
    assert f'data-value="{analysis.spaces[0].t_conv!r}"' in text
    target = page.write(tmp_path / "r.html")
    with pytest.raises(mm.InvalidInputError, match="--force"):
        page.write(target)
    page.write(target, force=True)
    assert os.listdir(tmp_path) == ["r.html"]


def test_plot_helpers(two_clouds):
    A, _, analysis = two_clouds
    fs = [s.function for s in analysis.spaces]
    ax = mm.plot_functions(fs, ["A", "B"], dimension=True)
    assert len(ax.lines) == 2 and ax.get_xscale() == "log"
    ax = mm.plot_mag_diffs(analysis.comparison)
    assert len(ax.texts) == 4
    ax = mm.plot_weights(A, analysis.spaces[0].weights)
    assert ax.get_xlabel() == "PC 1"
    with pytest.raises(mm.InvalidInputError, match="1 names for 2 functions"):
        mm.plot_functions(fs, ["A"])
    with pytest.raises(mm.InvalidInputError, match="at least one"):
        mm.plot_functions([])
    with pytest.raises(mm.InvalidInputError, match="one weight per point"):
        mm.plot_weights(A, np.ones(3))


def test_project_2d_keeps_the_leading_variance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4)) * [5.0, 2.0, 0.1, 0.1]
    P = project_2d(X)
    var = P.var(axis=0)
    assert var[0] > var[1] > 1.0
    assert var.sum() == pytest.approx(X.var(axis=0)[:2].sum(), rel=0.1)
    np.testing.assert_array_equal(project_2d(X[:, :2]), X[:, :2])


def test_output_paths_are_checked(tmp_path):
    with pytest.raises(mm.InvalidInputError, match="does not exist"):
        check_output_path(tmp_path / "no" / "f.txt")
    with pytest.raises(mm.InvalidInputError, match="is a directory"):
        check_output_path(tmp_path)
    (tmp_path / "f.txt").write_text("old")
    with pytest.raises(mm.InvalidInputError, match="exists already"):
        check_output_path(tmp_path / "f.txt")
    assert check_output_path(tmp_path / "f.txt", force=True) == tmp_path / "f.txt"


def test_interrupted_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "f.txt"
    target.write_text("old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new", force=True)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["f.txt"]  # no temporary file left behind


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_draws_only_on_a_terminal_after_the_delay():
    tty = _Tty()
    with Progress(4, "job", stream=tty, delay=0.0) as bar:
        bar.step("one")
        bar.step("two")
    assert "job [" in tty.getvalue() and "2/4" in tty.getvalue()
    pipe = io.StringIO()
    with Progress(4, "job", stream=pipe, delay=0.0) as bar:
        bar.step()
    assert pipe.getvalue() == ""
    late = _Tty()
    with Progress(4, "job", stream=late, delay=60.0) as bar:
        bar.step()
    assert late.getvalue() == ""
    quiet = _Tty()
    with Progress(4, "job", stream=quiet, delay=0.0, enabled=False) as bar:
        bar.step()
    assert quiet.getvalue() == ""


def test_demo_writes_its_report(tmp_path, capsys):
    pytest.importorskip("sklearn")
    from metric_magnitude import demo

    target = tmp_path / "demo" / "report.html"
    analysis = demo.run(target, quiet=False)
    out = capsys.readouterr().out
    assert f"report: {target.resolve()}" in out and "most unusual images" in out
    assert len(analysis.spaces) == 11 and len(analysis.comparison.names) == 10
    page = target.read_text()
    assert "The most unusual images" in page and page.count("<img ") == 1 + 3 + 11
