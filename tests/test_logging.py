"""The solvers' INFO log lines (logger ``metric_magnitude``) and the CLI's --verbose.

Long runs at large n (minutes) report each certified scale: the lines must carry the bounds
the solver certified, one line per solve, and nothing is printed unless asked for.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude.cli import main
from metric_magnitude.solvers.iterative import solve_iterative

BOUNDS = re.compile(r"\|tX\| in \[([^,]+), ([^\]]+)\] \(relative gap ([^)]+)\)")


def _lines(caplog, prefix: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith(prefix)]


@pytest.fixture
def cloud():
    return np.random.default_rng(3).standard_normal((400, 3))


def test_cg_logs_each_scale_with_its_certified_bounds(cloud, caplog):
    scales = np.array([0.3, 2.0, 9.0])
    with caplog.at_level(logging.INFO, logger="metric_magnitude"):
        res = solve_iterative(cloud, scales, rtol=1e-8, weights=False)
    lines = _lines(caplog, "cg, scale")
    assert len(lines) == 3
    exact = mm.magnitude(cloud, scales, method="cholesky")
    # the chain runs from the largest scale down; each line names its own scale
    for line, k in zip(lines, range(1, 4), strict=True):
        assert line.startswith(f"cg, scale {k} of 3: t = ")
        t = float(line.split("t = ")[1].split(",")[0])
        i = int(np.argmin(np.abs(scales - t)))
        assert t == pytest.approx(scales[i], rel=1e-5)
        lo, up, gap = (float(v) for v in BOUNDS.search(line).groups())
        # the logged bounds are the result's (10 significant digits) and contain the value
        assert lo == pytest.approx(res.lower[i], rel=1e-9)
        assert up == pytest.approx(res.upper[i], rel=1e-9)
        assert lo * (1 - 1e-9) <= exact[i] <= up * (1 + 1e-9)
        assert gap <= 1e-8 * 1.05
        assert "NOT certified" not in line
        assert f"after {res.iterations[i]} iterations ({res.matvecs[i]} products" in line


def test_an_uncertified_scale_says_so(cloud, caplog):
    with caplog.at_level(logging.INFO, logger="metric_magnitude"), pytest.warns(
        mm.CertificationWarning
    ):
        res = solve_iterative(cloud, [0.5], rtol=1e-12, maxiter=1, strict=False,
                              weights=False)
    assert not res.certified[0]
    (line,) = _lines(caplog, "cg, scale")
    assert line.endswith("s") and "NOT certified" in line


def test_dense_and_sparse_lines_from_solve(caplog):
    X = np.random.default_rng(0).standard_normal((2000, 2))
    with caplog.at_level(logging.INFO, logger="metric_magnitude"):
        _, res = mm.solve(X, [0.5, 300.0], weights=False)
    assert res.methods == ("cholesky", "sparse")
    (dense,) = _lines(caplog, "dense:")
    assert dense.startswith("dense: 1 scale(s) of 2000 points by cholesky, ")
    (sparse,) = _lines(caplog, "sparse:")
    lo, up, _ = (float(v) for v in BOUNDS.search(sparse).groups())
    assert lo <= res.magnitude[1] * (1 + 1e-9) and res.magnitude[1] <= up * (1 + 1e-9)
    assert up - lo <= 1e-8 * lo * 1.05


def test_per_scale_function_logs_search_and_every_scale(cloud, caplog):
    with caplog.at_level(logging.INFO, logger="metric_magnitude"):
        f = mm.magnitude_function(cloud, "auto", n_scales=5, rtol=1e-6, method="cg")
    (conv,) = _lines(caplog, "convergence scale t = ")
    # (6 significant digits)
    assert float(conv.split("t = ")[1].split(" ")[0]) == pytest.approx(f.scales[-1],
                                                                        rel=1e-5)
    (engine,) = _lines(caplog, "per-scale engine: ")
    assert engine.startswith("per-scale engine: 5 scale(s) from t = ")
    # the search's solves come first (each "scale 1 of 1"), then the function's five
    chain = [line for line in _lines(caplog, "cg, scale") if " of 5:" in line]
    assert [line.split(":")[0] for line in chain] == [f"cg, scale {k} of 5"
                                                      for k in range(1, 6)]


def test_convergence_scale_logs_its_search(caplog):
    X = np.random.default_rng(4).standard_normal((150, 2))
    with caplog.at_level(logging.INFO, logger="metric_magnitude"):
        t = mm.convergence_scale(X, q=0.9)
    (line,) = _lines(caplog, "convergence scale t = ")
    assert float(line.split("t = ")[1].split(" ")[0]) == pytest.approx(t, rel=1e-5)
    assert "(|tX| = 0.9 n)" in line


def test_silent_unless_configured():
    # a fresh interpreter with logging untouched: no line reaches stderr
    code = ("import numpy as np, metric_magnitude as mm; "
            "X = np.random.default_rng(0).standard_normal((300, 3)); "
            "mm.magnitude(X, [1.0, 2.0], method='cg', rtol=1e-6); "
            "mm.magnitude(X, 1.0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stderr == "" and out.stdout == ""


def test_cli_verbose_logs_and_restores_the_logger(tmp_path, capsys):
    path = tmp_path / "cloud.npy"
    np.save(path, np.random.default_rng(1).standard_normal((40, 3)))
    logger = logging.getLogger("metric_magnitude")
    before = (logger.level, list(logger.handlers))
    assert main(["compute", str(path), "--scales", "1", "--verbose"]) == 0
    _, err = capsys.readouterr()
    assert "metric-magnitude: dense: 1 scale(s) of 40 points by cholesky, " in err
    assert (logger.level, list(logger.handlers)) == before
    # without --verbose: not a line
    assert main(["compute", str(path), "--scales", "1"]) == 0
    assert "dense:" not in capsys.readouterr().err


def test_cli_quiet_and_verbose_contradict(tmp_path, capsys):
    path = tmp_path / "cloud.npy"
    np.save(path, np.zeros((3, 2)) + np.arange(3)[:, None])
    assert main(["compute", str(path), "--scales", "1", "--quiet", "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "--quiet and --verbose" in err and err.count("\n") == 1
