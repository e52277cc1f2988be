"""The command line: outputs match the library, user mistakes give one line and exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude.cli import COMMANDS, main

pytest.importorskip("matplotlib")


@pytest.fixture
def points(tmp_path):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, 3))
    path = tmp_path / "cloud.npy"
    np.save(path, X)
    return X, path


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_compute_csv_matches_library(points, capsys):
    X, path = points
    code, out, err = run(["compute", path, "--scales", "0.5,1", "2", "--format", "csv"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "scale,magnitude"
    got = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    np.testing.assert_allclose(got[:, 0], [0.5, 1, 2])
    np.testing.assert_allclose(got[:, 1], mm.magnitude(X, [0.5, 1, 2]), rtol=1e-14)


def test_compute_weights_json(points, capsys):
    X, path = points
    code, out, _ = run(["compute", path, "--scales", "1", "3", "--weights", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["schema_version"] == 1 and data["command"] == "compute"
    assert data["version"] == mm.__version__
    np.testing.assert_allclose(data["weights"], mm.weights(X, [1.0, 3.0]), rtol=1e-12)
    np.testing.assert_allclose(data["magnitude"], mm.magnitude(X, [1.0, 3.0]), rtol=1e-14)


def test_compute_weights_csv_and_duplicates(tmp_path, capsys):
    path = tmp_path / "dup.csv"
    path.write_text("x,y\n0,0\n1,0\n1,0\n")
    code, out, _ = run(["compute", path, "--scales", "2", "--weights", "--format", "csv"], capsys)
    assert code == 0
    table = out.split("\n\n")[1].splitlines()
    assert table[0] == "point,weight t=2"
    w = [float(r.split(",")[1]) for r in table[1:]]
    np.testing.assert_allclose(w, mm.weights([[0, 0], [1, 0], [1, 0]], 2.0), rtol=1e-13)


def test_function_json_plot_and_plain_table(points, tmp_path, capsys):
    X, path = points
    out_json, out_png = tmp_path / "f.json", tmp_path / "f.png"
    code, _, err = run(["function", path, "--json", "-o", out_json, "--plot", out_png], capsys)
    assert code == 0, err
    data = json.loads(out_json.read_text())
    (s,) = data["spaces"]
    np.testing.assert_allclose(s["magnitude"], mm.magnitude(X, s["scales"]), rtol=1e-8)
    np.testing.assert_allclose(s["convergence_scale"], mm.convergence_scale(X), rtol=1e-10)
    np.testing.assert_allclose(s["mag_area"], mm.mag_area(X), rtol=1e-7)
    assert len(s["scales"]) == 100 and s["scales"][-1] == pytest.approx(s["convergence_scale"])
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code, out, _ = run(["function", path, "--quiet"], capsys)  # not a TTY: plain table
    assert code == 0 and "cloud" in out and "t_conv" in out
    assert f"{s['convergence_scale']:.6g}" in out


def test_function_csv_has_every_scale(points, capsys):
    _, path = points
    code, out, _ = run(["function", path, "--format", "csv", "--n-scales", "20"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "scale,magnitude,derivative,dimension" and len(lines) == 21


def test_compare_matches_library(tmp_path, capsys):
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(50, 2)), 0.4 * rng.normal(size=(60, 2))
    np.save(tmp_path / "a.npy", A)
    np.savetxt(tmp_path / "b.csv", B, delimiter=",", header="u,v", comments="")
    code, out, err = run(["compare", tmp_path / "a.npy", tmp_path / "b.csv", "--json",
                          "--plot", tmp_path / "m.png"], capsys)
    assert code == 0, err
    c = json.loads(out)["comparison"]
    ref = mm.compare([A, B], names=["a", "b"])
    assert c["names"] == ["a", "b"]
    np.testing.assert_allclose(c["mag_areas"], ref.mag_areas, rtol=1e-7)
    np.testing.assert_allclose(c["mag_diffs"], ref.mag_diffs, rtol=1e-6, atol=1e-9)
    assert (tmp_path / "m.png").stat().st_size > 1000


def test_report_writes_html(points, tmp_path, capsys):
    _, path = points
    target = tmp_path / "r.html"
    code, out, err = run(["report", path, "-o", target, "--title", "My <run>"], capsys)
    assert code == 0, err
    page = target.read_text()
    assert "<title>My &lt;run&gt;</title>" in page and 'id="results"' in page
    assert "cloud" in out  # the summary table on stdout


def test_distance_matrix_and_graph_inputs(tmp_path, capsys):
    D = np.array([[0, 3, 4], [3, 0, 5], [4, 5, 0]], dtype=float)
    np.save(tmp_path / "d.npy", D)
    code, out, _ = run(["compute", tmp_path / "d.npy", "--metric", "precomputed",
                        "--scales", "1", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["magnitude"][0] == pytest.approx(
        mm.magnitude(D, 1.0, metric="precomputed"), rel=1e-14)
    pytest.importorskip("networkx")
    (tmp_path / "g.edges").write_text("# a path\na b 1\nb c 2\n")
    code, out, _ = run(["compute", tmp_path / "g.edges", "--scales", "1", "--json"], capsys)
    assert code == 0
    P = np.array([[0, 1, 3], [1, 0, 2], [3, 2, 0]], dtype=float)
    assert json.loads(out)["magnitude"][0] == pytest.approx(
        mm.magnitude(P, 1.0, metric="precomputed"), rel=1e-14)


def test_sample_is_reproducible(points, capsys):
    _, path = points
    argv = ["compute", path, "--scales", "1", "--sample", "10", "--json"]
    first = json.loads(run([*argv, "--seed", "3"], capsys)[1])
    again = json.loads(run([*argv, "--seed", "3"], capsys)[1])
    other = json.loads(run([*argv, "--seed", "4"], capsys)[1])
    assert first["n_points"] == 10 and first["magnitude"] == again["magnitude"]
    assert first["magnitude"] != other["magnitude"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_an_example(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "example: metric-magnitude " + name in out


def test_never_overwrites_without_force_and_writes_atomically(points, tmp_path, capsys):
    _, path = points
    target = tmp_path / "out.csv"
    target.write_text("keep me")
    code, _, err = run(["compute", path, "--scales", "1", "-o", target], capsys)
    assert code == 2 and "--force" in err and target.read_text() == "keep me"
    code, _, _ = run(["compute", path, "--scales", "1", "-o", target, "--force",
                      "--format", "csv"], capsys)
    assert code == 0 and target.read_text().startswith("scale,magnitude")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cloud.npy", "out.csv"]


def _bad(tmp_path, name: str, content) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content, allow_pickle=True)
    return path


BAD_FILES = {
    "empty": ("e.csv", "", "no data"),
    "ragged": ("r.csv", "1,2\n3,4,5\n", "line 2"),
    "non-numeric": ("n.csv", "1,2\n3,abc\n", "abc"),
    "nan": ("nan.csv", "1,2\nnan,4\n", "line 2"),
    "objects": ("o.npy", np.array([{"a": 1}, None], dtype=object), "object"),
    "not-a-distance-matrix": ("d.csv", "0,1\n2,0\n", "symmetric"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_files_give_one_line_and_exit_2(case, tmp_path, capsys):
    name, content, words = BAD_FILES[case]
    path = _bad(tmp_path, name, content)
    target = tmp_path / "out.json"
    extra = ["--metric", "precomputed"] if case == "not-a-distance-matrix" else []
    code, out, err = run(["compute", path, "--scales", "1", "-o", target, *extra], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("metric-magnitude")
    assert words.lower() in err.lower()
    assert "Traceback" not in err and out == ""
    assert not target.exists()


def test_too_large_for_memory_is_refused_before_loading(points, capsys, monkeypatch):
    import metric_magnitude.io as mio

    def never(*args, **kwargs):
        raise AssertionError("np.load was reached")

    _, path = points
    monkeypatch.setattr(mio, "available_memory", lambda: 500)  # the file holds 960 bytes
    monkeypatch.setattr(np, "load", never)
    code, _, err = run(["compute", path, "--scales", "1"], capsys)
    assert code == 2 and "memory" in err.lower() and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["compute", "missing.csv", "--scales", "1"], "missing.csv"),
        (["compute", "{x}", "--scales", "0"], "scale"),
        (["compute", "{x}", "--scales", "a"], "'a' is not a number"),
        (["compute", "{x}"], "--scales"),
        (["function", "{x}", "--q", "1.5"], "--q"),
        (["function", "{x}", "-o", "{tmp}/missing/f.json"], "does not exist"),
        (["function", "{x}", "--plot", "{tmp}/missing/f.png"], "does not exist"),
        (["compare", "{x}"], "at least 2"),
        (["report", "{x}"], "-o/--output"),
        (["frobnicate"], "invalid choice"),
        (["compute", "{x}", "--scales", "1", "--metric", "nonsense"], "unknown metric"),
        (["compute", "{x}", "--scales", "1", "--sample", "1"], "--sample"),
        (["outliers", "{x}", "--top", "0"], "--top"),
    ],
)
def test_usage_errors(argv, words, points, tmp_path, capsys):
    _, path = points
    argv = [a.format(x=path, tmp=tmp_path) for a in argv]
    code, _, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1, err
    assert words in err and "Traceback" not in err
    assert not (tmp_path / "missing").exists()


def test_console_script_runs_without_traceback(points, tmp_path):
    _, path = points
    script = Path(sys.executable).parent / "metric-magnitude"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "metric_magnitude.cli"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    ok = subprocess.run([*cmd, "compute", str(path), "--scales", "1"], capture_output=True,
                        text=True, env=env, timeout=120)
    assert ok.returncode == 0 and "magnitude" in ok.stdout
    bad = subprocess.run([*cmd, "compute", str(tmp_path / "nope.csv"), "--scales", "1"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


def test_outliers_match_the_estimator(tmp_path, capsys):
    rng = np.random.default_rng(5)
    X = np.vstack([rng.normal(size=(60, 2)), [[8.0, 8.0], [-9.0, 7.0]]])
    np.save(tmp_path / "o.npy", X)
    code, out, err = run(["outliers", tmp_path / "o.npy", "--contamination", "0.05",
                          "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    est = mm.MagnitudeOutlierDetector(contamination=0.05)
    labels = est.fit_predict(X)
    np.testing.assert_allclose(data["weights"], est.weights_, rtol=1e-12)
    assert data["outlier"] == (labels == -1).tolist()
    assert data["outlier"][-2:] == [True, True]
    code, out, _ = run(["outliers", tmp_path / "o.npy", "--top", "2"], capsys)
    rows = out.splitlines()[2:]
    assert sorted(int(r.split()[0]) for r in rows) == [60, 61]
    code, _, err = run(["outliers", tmp_path / "o.npy", "--contamination", "0.9"], capsys)
    assert code == 2 and "contamination" in err and err.count("\n") == 1


def test_image_weights_and_edges(tmp_path, capsys):
    from metric_magnitude import images

    yy, xx = np.mgrid[:24, :32]
    img = np.where((xx - 16) ** 2 + (yy - 12) ** 2 < 64, 0.9, 0.1)
    np.save(tmp_path / "disk.npy", img)
    code, out, err = run(["image", tmp_path / "disk.npy", "--json", "--save",
                          tmp_path / "w.npy"], capsys)
    assert code == 0, err
    data = json.loads(out)
    ref = images.solve_image(img, 2.0)
    assert data["shape"] == [24, 32] and data["magnitude"] == pytest.approx(ref.magnitude)
    np.testing.assert_allclose(np.load(tmp_path / "w.npy"), ref.weights, rtol=1e-12)
    import matplotlib.image

    matplotlib.image.imsave(tmp_path / "disk.png", img, cmap="gray", vmin=0, vmax=1)
    code, _, err = run(["image", tmp_path / "disk.png", "--edges", "--save",
                        tmp_path / "e.png", "--quiet"], capsys)
    assert code == 0, err
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("content", "extra", "words"),
    [
        (np.full((4, 4), np.nan), [], "NaN"),
        (np.zeros((3, 3, 3)), [], "3-D"),
        (np.zeros((8, 8)), ["--save", "out.txt"], ".npy or .png"),
        (np.zeros((8, 8)), ["--t", "0"], "t"),
        (b"not a png", [], "not a readable image"),
    ],
    ids=["nan", "3-d", "save-suffix", "t", "corrupt-png"],
)
def test_image_bad_input(content, extra, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "bad.png" if isinstance(content, bytes) else "bad.npy"
    path = _bad(tmp_path, name, content)
    code, _, err = run(["image", path, *extra], capsys)
    assert code == 2 and words in err and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_graph_scores_and_magnitude(tmp_path, capsys):
    nx = pytest.importorskip("networkx")
    from metric_magnitude import graphs

    (tmp_path / "c.edges").write_text("".join(f"{i} {(i + 1) % 6}\n" for i in range(6)))
    code, out, err = run(["graph", tmp_path / "c.edges", "--t", "1", "--scales", "0.5", "2",
                          "--json"], capsys)
    assert code == 0, err
    data = json.loads(out)
    C6 = nx.cycle_graph(6)
    # a cycle is homogeneous: equal weights, |tC6| = 6 / sum_j e^{-t d(0, j)}
    expected = [6 / sum(np.exp(-t * min(j, 6 - j)) for j in range(6)) for t in (0.5, 2.0)]
    np.testing.assert_allclose(data["magnitude"], expected, rtol=1e-13)
    np.testing.assert_allclose(sorted(data["node_scores"].values()),
                               sorted(graphs.node_scores(C6, 1.0).values()), rtol=1e-12)
    assert data["n_nodes"] == 6 and data["t"] == 1.0
    (tmp_path / "bad.edges").write_text("a b -1\n")
    code, _, err = run(["graph", tmp_path / "bad.edges"], capsys)
    assert code == 2 and "line 1" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- many


def _many_files(tmp_path, k=3):
    rng = np.random.default_rng(11)
    paths = []
    for i in range(k):
        path = tmp_path / f"space_{i}.npy"
        np.save(path, rng.normal(size=(30, 2)) * (1 + i))
        paths.append(path)
    return paths


def test_many_store_and_resume(tmp_path, capsys):
    paths = _many_files(tmp_path)
    store = tmp_path / "store"
    argv = ["many", *paths, "--n-scales", "13", "--scheduler", "sync", "--store", store,
            "--json"]
    code, out, err = run(argv[:2] + argv[4:], capsys)  # the first file only
    assert code == 0, err
    code, out, err = run(argv, capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["command"] == "many" and data["store"] == str(store.resolve())
    assert data["reused"] == ["space_0"] and data["computed"] == ["space_1", "space_2"]
    ref = mm.compute_many([np.load(p) for p in paths], [p.stem for p in paths],
                          client="sync", n_scales=13)
    for got, want in zip(data["spaces"], ref.records, strict=True):
        assert {k: v for k, v in got.items() if k != "wall_time"} == {
            k: v for k, v in want.items() if k != "wall_time"}
    assert len(list(store.glob("*.json"))) == 3
    code, out, _ = run([*argv[:-1], "--format", "csv"], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("space,points,t_conv")
    assert [line.split(",")[-1] for line in lines[1:]] == ["store"] * 3


def test_many_on_a_scheduler_address(tmp_path, capsys):
    try:
        from distributed import LocalCluster
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("dask is missing on CI: the test extra must install it", pytrace=False)
        pytest.skip("dask is not installed")
    paths = _many_files(tmp_path, 2)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:
        code, out, err = run(["many", *paths, "--n-scales", "13", "--json", "--scheduler",
                              cluster.scheduler_address], capsys)
    assert code == 0, err
    data = json.loads(out)
    ref = mm.compute_many([np.load(p) for p in paths], client="sync", n_scales=13)
    assert [s["magnitude"] for s in data["spaces"]] == [r["magnitude"] for r in ref.records]
    assert data["store"] is None and data["reused"] == []


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"],
         "could not connect to a Dask scheduler at 'tcp://127.0.0.1:9'"),
        (["--workers", "2", "--scheduler", "sync"], "--workers sizes the local cluster"),
        (["--workers", "0"], "--workers must be at least 1"),
        (["--connect-timeout", "0"], "--connect-timeout must be > 0"),
        (["--store", "{tmp}/space_0.npy"], "is a file; give a directory"),
        (["--n-scales", "5"], "--n-scales must be at least 13"),
    ],
)
def test_many_errors(extra, words, tmp_path, capsys):
    paths = _many_files(tmp_path, 1)
    if "tcp://" in extra[1]:
        pytest.importorskip("distributed")
    code, out, err = run(["many", *paths, *[e.format(tmp=tmp_path) for e in extra]], capsys)
    assert code == 2 and err.count("\n") == 1 and words in err, err
    assert out == "" and "Traceback" not in err


def test_many_names_come_from_file_names(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        np.save(tmp_path / d / "x.npy", np.eye(3))
    np.save(tmp_path / "my data.npy", np.eye(3))
    code, _, err = run(["many", tmp_path / "a" / "x.npy", tmp_path / "b" / "x.npy",
                        "--scheduler", "sync"], capsys)
    assert code == 2 and "have the same name 'x'" in err and err.count("\n") == 1
    code, _, err = run(["many", tmp_path / "my data.npy", "--scheduler", "sync"], capsys)
    assert code == 2 and "'my data' cannot be a file name in the store" in err
