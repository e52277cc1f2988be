"""metric_magnitude.distributed: compute_many (records against closed forms and the core
functions, names, options, the store, resume after SIGKILL) and the Dask matvec of the CG solver.

The Dask tests need ``dask[distributed]`` (the ``dask`` extra; CI installs it through the
``test`` extra). Without it they are skipped locally and fail on CI, so CI never passes by
skipping them; the in-process (``client="sync"``) tests run everywhere.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from oracles import homogeneous_magnitude, line_magnitude

import metric_magnitude as mm
from metric_magnitude import distributed as md
from metric_magnitude.exceptions import InvalidInputError, MissingDependencyError

REPO = Path(__file__).resolve().parents[1]
# the functions are interpolated to rtol = 1e-8 (estimated): values within this of exact
FUNCTION_RTOL = 1e-7


def _require_dask():
    try:
        import distributed  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("dask is missing on CI: the test extra must install it", pytrace=False)
        pytest.skip("dask is not installed (pip install 'metric-magnitude[dask]')")


def _spaces(k=4, n=30, seed=0):
    rng = np.random.default_rng(seed)
    return {f"s{i}": rng.normal(size=(n, 2)) * (1 + i) for i in range(k)}


def _without_time(record):
    return {k: v for k, v in record.items() if k != "wall_time"}


# ----------------------------------------------------------------------------- records


def test_line_against_closed_form():
    x = np.array([0.0, 0.5, 1.7, 2.0, 4.0])[:, None]
    res = mm.compute_many([x], ["line"], client="sync", n_scales=30)
    rec = res["line"]
    ts = np.array(rec["scales"])
    assert ts[0] == 0.0 and rec["magnitude"][0] == 1.0
    exact = np.array([float(line_magnitude(x, t)[0]) if t > 0 else 1.0 for t in ts])
    assert np.allclose(rec["magnitude"], exact, rtol=FUNCTION_RTOL, atol=0)
    deriv = np.array([float(line_magnitude(x, t)[3]) for t in ts[1:]])
    assert np.allclose(rec["derivative"][1:], deriv, rtol=1e-6, atol=0)
    # |t_conv X| = 0.95 n, and the area of 1 + sum tanh(t g / 2) is
    # t + sum (2 / g) log cosh(t g / 2)
    t_conv = rec["convergence_scale"]
    assert np.isclose(float(line_magnitude(x, t_conv)[0]), 0.95 * 5, rtol=1e-10)
    assert ts[-1] == t_conv and ts.size == 31
    g = np.diff(x[:, 0])
    area = t_conv + np.sum(2 / g * np.log(np.cosh(t_conv * g / 2)))
    assert np.isclose(rec["area"], area, rtol=FUNCTION_RTOL)
    assert np.isclose(rec["mag_area"], area / t_conv, rtol=FUNCTION_RTOL)
    assert rec["n_points"] == rec["n_distinct"] == 5
    assert 0 < rec["n_solves"] < 31 and rec["error_estimate"] <= 1e-8
    assert rec["wall_time"] > 0 and rec["settings"]["q"] == 0.95


def test_records_match_the_core_functions():
    spaces = _spaces(3)
    res = mm.compute_many(spaces, client="sync", n_scales=20, q=0.9)
    assert res.names == list(spaces) and res.computed == list(spaces) and res.reused == []
    for name, X in spaces.items():
        rec = res[name]
        assert np.isclose(rec["convergence_scale"], mm.convergence_scale(X, q=0.9), rtol=1e-12)
        assert np.isclose(rec["mag_area"], mm.mag_area(X, q=0.9), rtol=FUNCTION_RTOL)
        ts = np.array(rec["scales"][1:])
        dense = mm.magnitude(X, ts, method="cholesky")  # one dense Cholesky per scale
        assert np.allclose(rec["magnitude"][1:], dense, rtol=FUNCTION_RTOL, atol=0)
        assert np.isclose(rec["magnitude_dimension"], mm.magnitude_dimension(X, q=0.9),
                          rtol=1e-6)
        assert len(rec["magnitude"]) == len(rec["derivative"]) == 21
        json.dumps(rec, allow_nan=False)  # plain JSON types, all finite


def test_graph_precomputed_and_explicit_scales():
    G = nx.cycle_graph(7)  # homogeneous: n / sum_j e^{-t d(0, j)}
    row = [min(j, 7 - j) for j in range(7)]
    D = np.array([[min(abs(i - j), 7 - abs(i - j)) for j in range(7)] for i in range(7)], float)
    ts = np.linspace(0.0, 4.0, 25)
    res = mm.compute_many({"graph": G, "matrix": mm.MetricSpace(D, metric="precomputed")},
                          client="sync", scales=ts)
    exact = [1.0] + [float(homogeneous_magnitude(row, t)[0]) for t in ts[1:]]
    for name in ("graph", "matrix"):
        rec = res[name]
        assert rec["scales"] == ts.tolist()
        assert np.allclose(rec["magnitude"], exact, rtol=FUNCTION_RTOL, atol=0)
        assert rec["settings"]["n_scales"] is None and rec["settings"]["scales"] == ts.tolist()
        assert np.isclose(rec["mag_area"], rec["area"] / 4.0)
    # the same metric space as a graph and as a matrix: the same numbers, other fingerprints
    assert res["graph"]["magnitude"] == pytest.approx(res["matrix"]["magnitude"], rel=1e-12)
    assert res["graph"]["fingerprint"] != res["matrix"]["fingerprint"]


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "a b", "", "x..y", "a\\b",
                                  "-rf", "x" * 129, "é"])
def test_unsafe_names_are_rejected(name, tmp_path):
    with pytest.raises(InvalidInputError, match="cannot be a file name in the store"):
        mm.compute_many([np.eye(3)], [name], client="sync", store=tmp_path / "s")
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_names():
    X = np.eye(3)
    with pytest.raises(InvalidInputError, match="unique"):
        mm.compute_many([X, X], ["a", "a"], client="sync")
    with pytest.raises(InvalidInputError, match=r"unique \(ignoring case\).*'A' and 'a'"):
        mm.compute_many([X, X], ["A", "a"], client="sync")
    with pytest.raises(InvalidInputError, match="got 1 names for 2 spaces"):
        mm.compute_many([X, X], ["a"], client="sync")
    res = mm.compute_many([X, 2 * X], client="sync", n_scales=13)
    assert res.names == ["X_0", "X_1"] and len(res) == 2
    with pytest.raises(KeyError):
        res["nope"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"scales": "log"}, "scales must be 'auto' or an array"),
    ({"n_scales": 12}, "n_scales must be an integer >= 13"),
    ({"n_scales": 20.0}, "n_scales must be an integer >= 13"),
    ({"scales": np.linspace(0, 1, 13)}, "at least 13 positive scales"),
    ({"scales": [1.0, 0.5] * 7}, "strictly increasing"),
    ({"q": 1.5}, "q must be a number strictly between 0 and 1"),
    ({"rtol": 0.0}, r"rtol must be a number in \[1e-14, 1\)"),
    ({"method": "magic"}, "unknown method 'magic'"),
    ({"on_error": "ignore"}, "on_error must be one of"),
    ({"progress": "yes"}, "progress must be True or False"),
    ({"n_workers": 0}, "n_workers must be an integer >= 1"),
    ({"timeout": -1}, "timeout must be a number of seconds > 0"),
])
def test_bad_options(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        mm.compute_many([np.eye(3)], client="sync", **kwargs)


def test_bad_spaces():
    with pytest.raises(InvalidInputError, match="at least one space"):
        mm.compute_many([], client="sync")
    with pytest.raises(InvalidInputError, match=r"space 'flat': X must be 2-D"):
        mm.compute_many({"ok": np.eye(3), "flat": np.arange(4.0)}, client="sync")


def test_store_that_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidInputError, match="is a file; give a directory"):
        mm.compute_many([np.eye(3)], client="sync", store=f)


def test_on_error(tmp_path):
    spaces = {"ok": np.eye(3), "single": np.zeros((2, 2)), "ok2": 2 * np.eye(3)}
    with pytest.raises(InvalidInputError, match=r"space 'single': q n = 0.95 \* 1 <= 1"):
        mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13)
    # what finished before the failure is stored
    assert [p.name.split(".")[0] for p in tmp_path.glob("*.json")] == ["ok"]
    res = mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13, on_error="skip")
    assert res.names == ["ok", "ok2"] and res.reused == ["ok"] and res.computed == ["ok2"]
    assert list(res.errors) == ["single"] and "InvalidInputError" in res.errors["single"]
    assert len(list(tmp_path.glob("*.json"))) == 2  # failures are not stored


# ----------------------------------------------------------------------------- the store


def _stored(store: Path) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(store.glob("*.json"))}


def test_store_reuse_and_fingerprints(tmp_path):
    spaces = _spaces(3)
    first = mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13)
    assert first.store == tmp_path.resolve() and first.computed == list(spaces)
    before = _stored(tmp_path)
    assert len(before) == 3
    for p in tmp_path.glob("*.json"):  # each file is its record, named by name and fingerprint
        rec = json.loads(p.read_text())
        assert p.name == f"{rec['name']}.{rec['fingerprint'][:16]}.json"
        assert rec == first[rec["name"]]
    again = mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13)
    assert again.computed == [] and again.reused == list(spaces)
    assert again.records == first.records and _stored(tmp_path) == before
    # a changed setting: a new fingerprint, computed again beside the old records
    other = mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13, q=0.9)
    assert other.computed == list(spaces)
    now = _stored(tmp_path)
    assert len(now) == 6 and {k: now[k] for k in before} == before
    # changed data (one coordinate of one space): only that space is computed again
    changed = dict(spaces)
    changed["s1"] = spaces["s1"].copy()
    changed["s1"][0, 0] += 1e-9
    res = mm.compute_many(changed, client="sync", store=tmp_path, n_scales=13)
    assert res.computed == ["s1"] and res.reused == ["s0", "s2"]
    assert res["s1"]["fingerprint"] != first["s1"]["fingerprint"]
    # a changed metric, rtol or method also changes every fingerprint
    for kwargs in ({"metric": "cityblock"}, {"rtol": 1e-7}, {"method": "cholesky"},
                   {"scales": np.geomspace(0.01, 5, 13)}):
        fps = {r["fingerprint"] for r in mm.compute_many(spaces, client="sync", n_scales=13,
                                                         **kwargs).records}
        assert not fps & {r["fingerprint"] for r in first.records}, kwargs


def test_damaged_store_files_are_recomputed(tmp_path):
    spaces = _spaces(3)
    mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13)
    paths = sorted(tmp_path.glob("*.json"))
    paths[0].write_text(paths[0].read_text()[:50])  # torn
    rec = json.loads(paths[1].read_text())
    rec["fingerprint"] = "0" * 64  # someone else's record under this name
    paths[1].write_text(json.dumps(rec))
    (tmp_path / ".s2.json.abc.tmp").write_text("{")  # left by a killed run: ignored
    with pytest.warns(md.StoreWarning) as caught:
        res = mm.compute_many(spaces, client="sync", store=tmp_path, n_scales=13)
    assert len(caught) == 2
    assert "unreadable" in str(caught[0].message) and "not the record" in str(caught[1].message)
    assert res.computed == ["s0", "s1"] and res.reused == ["s2"]
    for p in paths:
        assert json.loads(p.read_text()) == res[p.name.split(".")[0]]


def test_nothing_is_written_outside_the_store(tmp_path):
    store = tmp_path / "deep" / "store"
    mm.compute_many(_spaces(2), client="sync", store=store, n_scales=13)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "deep", "deep/store",
        *sorted(f"deep/store/{p.name}" for p in store.glob("*.json"))]
    assert len(list(store.iterdir())) == 2


# ----------------------------------------------------------------------------- resume

_RESUME_JOB = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import metric_magnitude.distributed as md

    store, log, mode, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    compute = md._compute_one

    def slow(space, name, fingerprint, settings):
        # test code only: count the tasks that start, and make each slow enough to kill
        with open(log, "a") as fh:
            fh.write(name + "\\n")
        time.sleep(delay)
        return compute(space, name, fingerprint, settings)

    md._compute_one = slow

    def main():
        rng = np.random.default_rng(7)
        spaces = {f"space_{i}": rng.normal(size=(25, 2)) for i in range(8)}
        client, cluster = "sync", None
        if mode == "dask":  # threads in this process: SIGKILL takes the whole cluster down
            from distributed import Client, LocalCluster
            cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                   dashboard_address=None)
            client = Client(cluster)
        res = md.compute_many(spaces, client=client, store=store, n_scales=13,
                              progress=False)
        print(json.dumps({"computed": res.computed, "reused": res.reused}))

    if __name__ == "__main__":
        main()
""")


@pytest.mark.parametrize("mode", ["sync", "dask"])
def test_resume_after_sigkill(mode, tmp_path):
    if mode == "dask":
        _require_dask()
    script = tmp_path / "job.py"
    script.write_text(_RESUME_JOB)
    store, log1, log2 = tmp_path / "store", tmp_path / "run1.log", tmp_path / "run2.log"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, str(script), str(store), str(log1), mode, "0.4"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(store.glob("*.json"))) >= 2:
                break
            time.sleep(0.01)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    stored = _stored(store)
    assert 2 <= len(stored) < 8, "the run was not killed half-way"
    for name in stored:  # every record complete: it parses and is what its name says
        rec = json.loads((store / name).read_text())
        assert name == f"{rec['name']}.{rec['fingerprint'][:16]}.json"
    done1 = sorted(n.split(".")[0] for n in stored)
    out = subprocess.run([sys.executable, str(script), str(store), str(log2), mode, "0"],
                         env=env, capture_output=True, text=True, timeout=120, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    missing = sorted(f"space_{i}" for i in range(8) if f"space_{i}" not in done1)
    # nothing stored was computed again: neither a task started nor a file touched
    assert sorted(summary["computed"]) == missing and sorted(summary["reused"]) == done1
    assert sorted(log2.read_text().split()) == missing
    after = _stored(store)
    assert {k: after[k] for k in stored} == stored and len(after) == 8
    # and the records are those of one uninterrupted run in this process
    rng = np.random.default_rng(7)
    spaces = {f"space_{i}": rng.normal(size=(25, 2)) for i in range(8)}
    ref = mm.compute_many(spaces, client="sync", n_scales=13)
    for _, data in after.values():
        rec = json.loads(data)
        assert _without_time(rec) == _without_time(ref[rec["name"]])


# ----------------------------------------------------------------------------- Dask


def test_import_does_not_import_dask():
    code = ("import sys, metric_magnitude as mm; mm.compute_many; "
            "assert 'distributed' not in sys.modules and 'dask' not in sys.modules; "
            "assert 'compute_many' in mm.__all__")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYTHONPATH": str(REPO / "src")})


def test_missing_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(MissingDependencyError, match=r"metric-magnitude\[dask\]"):
        mm.compute_many([np.eye(3)], n_scales=13)
    # the in-process path does not need it
    assert len(mm.compute_many([np.eye(3)], client="sync", n_scales=13)) == 1


def test_unreachable_scheduler():
    _require_dask()
    start = time.monotonic()
    with pytest.raises(InvalidInputError,
                       match=r"could not connect to a Dask scheduler at 'tcp://127.0.0.1:9' "
                             r"within 1 s"):
        mm.compute_many([np.eye(3)], client="tcp://127.0.0.1:9", timeout=1, n_scales=13)
    assert time.monotonic() - start < 30


def test_bad_client_type():
    _require_dask()
    with pytest.raises(InvalidInputError, match="client must be None"):
        mm.compute_many([np.eye(3)], client=42, n_scales=13)


def test_default_local_cluster(tmp_path):
    """client=None: a LocalCluster of one single-threaded process per CPU, closed after."""
    _require_dask()
    distributed = pytest.importorskip("distributed")
    c, cluster, own = md._connect(None, None, 10)
    try:
        assert own and len(c.nthreads()) == md._cpu_count()
        assert set(c.nthreads().values()) == {1}
        env = c.run(lambda: (os.getpid(), os.environ.get("OMP_NUM_THREADS"),
                             os.environ.get("OPENBLAS_NUM_THREADS")))
        assert {v[1:] for v in env.values()} == {("1", "1")}
        assert os.getpid() not in {v[0] for v in env.values()}  # worker processes
    finally:
        c.close()
        cluster.close()
    spaces = _spaces(3)
    res = mm.compute_many(spaces, store=tmp_path, n_scales=13, n_workers=2)
    ref = mm.compute_many(spaces, client="sync", n_scales=13)
    assert res.computed == list(spaces)
    assert [_without_time(r) for r in res.records] == [_without_time(r) for r in ref.records]
    assert distributed.client._get_global_client() is None  # nothing left as the default


@pytest.fixture(scope="module")
def dask_client():
    _require_dask()
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                           dashboard_address=None)
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()


def test_given_client_is_used_and_kept(dask_client, monkeypatch, tmp_path):
    steps = []

    class Recorder:  # the progress bar, as compute_many drives it from the futures
        def __init__(self, total, label, enabled):
            steps.append(("total", total))

        def step(self, what=""):
            steps.append(("step", what))

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

    monkeypatch.setattr(md, "Progress", Recorder)
    spaces = _spaces(4)
    res = mm.compute_many(spaces, client=dask_client, store=tmp_path, n_scales=13)
    assert dask_client.status == "running"  # not closed
    assert steps[0] == ("total", 4) and sorted(s[1] for s in steps[1:]) == sorted(spaces)
    ref = mm.compute_many(spaces, client="sync", n_scales=13)
    assert [_without_time(r) for r in res.records] == [_without_time(r) for r in ref.records]
    # the same run by address, through a client of its own
    address = dask_client.scheduler.address
    again = mm.compute_many(spaces, client=address, store=tmp_path, n_scales=13)
    assert again.reused == list(spaces) and dask_client.status == "running"


def test_error_on_a_worker(dask_client, tmp_path):
    spaces = {"ok": np.eye(3), "single": np.zeros((2, 2))}
    with pytest.raises(InvalidInputError, match=r"space 'single': q n"):
        mm.compute_many(spaces, client=dask_client, store=tmp_path, n_scales=13)
    res = mm.compute_many(spaces, client=dask_client, store=tmp_path, n_scales=13,
                          on_error="skip")
    assert res.names == ["ok"] and list(res.errors) == ["single"]


# ----------------------------------------------------------------------------- CG on Dask


def test_split_is_contiguous_and_balanced():
    from metric_magnitude.solvers._dask_operator import _split

    rng = np.random.default_rng(0)
    work = rng.uniform(1, 2, size=200)
    for weights in ([1, 1], [1, 3], [2, 2, 2, 2], [1] * 7):
        ranges = _split(work, weights)
        assert ranges[0][0] == 0 and ranges[-1][1] == 200 and len(ranges) == len(weights)
        assert all(a <= b for a, b in ranges)
        assert all(r[1] == s[0] for r, s in itertools.pairwise(ranges))  # contiguous rows
        share = np.array([work[a:b].sum() for a, b in ranges]) / work.sum()
        assert np.allclose(share, np.array(weights) / sum(weights), atol=2 * 2 / work.sum())
    assert _split(np.ones(2), [1, 1, 1]) in ([(0, 0), (0, 1), (1, 2)], [(0, 1), (1, 1), (1, 2)],
                                             [(0, 1), (1, 2), (2, 2)])


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
def test_dask_products_equal_local_products(dask_client, kernel, metric):
    from metric_magnitude.solvers._dask_operator import DaskSimilarityOperator
    from metric_magnitude.solvers.iterative import SimilarityOperator

    if kernel == "numba":
        pytest.importorskip("numba")  # the numba extra; the numpy path needs nothing
    X = np.random.default_rng(1).standard_normal((3000, 3))
    X[1500:] += 40.0  # two far clusters: at t = 30 whole tiles underflow and are skipped
    op = DaskSimilarityOperator(X, client=dask_client, metric=metric, kernel=kernel)
    local = SimilarityOperator(X, metric=metric, kernel="numpy", threads=1)
    assert op.kernel == kernel and set(op.workers) == set(dask_client.nthreads())
    V = np.random.default_rng(2).standard_normal((3000, 3))
    for t in (0.2, 3.0, 30.0):
        ref = local.matmat(V, t)
        got = op.matmat(V, t)
        assert np.max(np.abs(got - ref)) <= 1e-13 * np.max(np.abs(ref))
        S = op.scaled(t)
        assert len(S._shares) == 2  # both workers have rows
        assert S.sum_terms == local.scaled(t).sum_terms + op.partial_sums - 1
    v = op.matvec(np.ones(3000), 3.0)
    assert v.shape == (3000,) and np.allclose(v, local.matvec(np.ones(3000), 3.0), rtol=1e-13)


def test_dask_operator_bad_input(dask_client):
    from metric_magnitude.solvers._dask_operator import DaskSimilarityOperator
    from metric_magnitude.solvers.iterative import solve_iterative

    X = np.random.default_rng(0).standard_normal((50, 2))
    with pytest.raises(InvalidInputError, match=r"workers \['tcp://nowhere:1'\] are not in"):
        DaskSimilarityOperator(X, client=dask_client, workers=["tcp://nowhere:1"])
    with pytest.raises(InvalidInputError, match="computes from points"):
        DaskSimilarityOperator(None, client=dask_client)
    D = mm.distance_matrix(X)
    with pytest.raises(InvalidInputError, match="solve it without client="):
        solve_iterative(D, 1.0, metric="precomputed", client=dask_client)


def test_cg_on_two_workers_equals_the_single_machine_solver(dask_client):
    """n = 20,000 in R^3: the same certified result, the products on two worker processes."""
    from metric_magnitude.solvers.iterative import solve_iterative

    assert len(dask_client.nthreads()) == 2
    X = np.random.default_rng(3).standard_normal((20_000, 3))
    kwargs = {"rtol": 1e-6, "weights": True}
    dist = solve_iterative(X, [25.0], client=dask_client, **kwargs)
    local = solve_iterative(X, [25.0], threads=1, **kwargs)
    assert dist.certified.all() and local.certified.all()
    assert np.all(dist.gap <= 1e-6)
    # both intervals are certified to contain |tX|: they overlap, and the estimates agree
    assert np.all(dist.lower <= local.upper) and np.all(local.lower <= dist.upper)
    assert np.allclose(dist.magnitude, local.magnitude, rtol=1e-6, atol=0)
    # the same iteration on products that differ only by rounding
    assert np.array_equal(dist.iterations, local.iterations)
    assert np.allclose(dist.weights, local.weights, rtol=0, atol=1e-9 * np.abs(local.weights).max())
    assert dist.preconditioners == local.preconditioners


def test_core_api_passes_the_client_to_cg(dask_client):
    """mm.magnitude / mm.weights / mm.solve(method="cg", client=...): the products on the
    workers, the same certified result and derivative as the single-machine solver."""
    X = np.random.default_rng(4).standard_normal((3000, 3))
    ts = [0.5, 8.0]
    local = mm.magnitude(X, ts, method="cg", rtol=1e-9)
    dist = mm.magnitude(X, ts, method="cg", rtol=1e-9, client=dask_client)
    assert np.allclose(dist, local, rtol=1e-9, atol=0)
    _, res = mm.solve(X, ts, method="cg", rtol=1e-9, client=dask_client, derivative=True,
                      weights=False)
    exact = mm.magnitude_derivative(X, ts, method="cholesky")
    assert np.all(np.abs(res.derivative - exact) <= res.derivative_error)
    W = mm.weights(X, 8.0, method="cg", rtol=1e-9, client=dask_client)
    assert np.allclose(W, mm.weights(X, 8.0, method="cg", rtol=1e-9), rtol=0, atol=1e-9)
