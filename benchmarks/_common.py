"""What the benchmark and study scripts share: BLAS thread pinning, the import of
metric_magnitude, and the machine details recorded next to the results.

The scripts run as ``python benchmarks/<script>.py``, which puts this folder on sys.path, so
they import this module by its name. It imports only the standard library at top level: the
thread variables must be set before numpy is imported.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_REEXEC_MARKER = "_BENCH_THREADS"

# --------------------------------------------------------------------------- threads


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """The ``--threads N`` option that :func:`pin_threads` acts on."""
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="set OMP/OPENBLAS/MKL_NUM_THREADS=N (re-executes before numpy is imported)",
    )


def parse_scale_timing(parser: argparse.ArgumentParser, n: int, scales: list[float],
                       dims: bool = True) -> argparse.Namespace:
    """--n (--d), --scales, --repeats and --threads for a script timing products at a few
    scales on Gaussian points; parses, pins threads and imports metric_magnitude."""
    parser.add_argument("--n", type=int, default=n)
    if dims:
        parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=scales)
    parser.add_argument("--repeats", type=int, default=3)
    add_threads_option(parser)
    args = parser.parse_args()
    pin_threads(args.threads)
    import_metric_magnitude()
    return args


def add_function_options(parser: argparse.ArgumentParser, n: int) -> None:
    """The options of the scripts that time a magnitude function's scales on Gaussian
    points: --n, --d, --n-scales, --rtol, --out and --threads."""
    parser.add_argument("--n", type=int, default=n)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--n-scales", type=int, default=20)
    parser.add_argument("--rtol", type=float, default=1e-6)
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    add_threads_option(parser)


def gaussian_points(script: str, args: argparse.Namespace, **extra):
    """Pin threads, import, and return (metric_magnitude, X): args.n Gaussian points in
    R^args.d (seed 0), after a small cg solve that loads the numba kernels outside the
    timing; prints the script's header line (date, machine, load, options and ``extra``)."""
    pin_threads(args.threads)
    mm = import_metric_magnitude()
    import numpy as np

    X = np.random.default_rng(0).standard_normal((args.n, args.d))
    mm.magnitude(X[:500], 1.0, method="cg")
    more = "".join(f", {k} = {v}" for k, v in extra.items())
    print(f"# {script}, {utc_now()}, {cpu_model()}, {cpus_available()} CPUs, load "
          f"{os.getloadavg()[0]:.2f}, n = {args.n}, d = {args.d}, rtol = {args.rtol}{more}\n")
    return mm, X


def set_thread_env(threads: int, *, override: bool = True) -> None:
    """Set the BLAS thread variables to ``threads`` in this process, before numpy is imported.

    With ``override=False`` a variable that is already set keeps its value.
    """
    for var in THREAD_VARS:
        if override:
            os.environ[var] = str(threads)
        else:
            os.environ.setdefault(var, str(threads))


def pin_threads(threads: int | None) -> None:
    """Re-execute the script with the BLAS thread variables set, before numpy is imported.

    Nothing happens when ``threads`` is None or this process is already the re-executed one.
    """
    if threads is None or os.environ.get(_REEXEC_MARKER) == str(threads):
        return
    if "numpy" in sys.modules:  # pragma: no cover - only if imported as a module
        raise RuntimeError("--threads must take effect before numpy is imported")
    env = dict(os.environ)
    env.update({var: str(threads) for var in THREAD_VARS})
    env[_REEXEC_MARKER] = str(threads)
    os.execve(sys.executable, [sys.executable, *sys.argv], env)


def thread_env() -> dict[str, str | None]:
    """The BLAS thread variables as they are in this process."""
    return {var: os.environ.get(var) for var in THREAD_VARS}


# --------------------------------------------------------------------------- import


def import_metric_magnitude():
    """Import metric_magnitude; from the source tree (REPO/src) when it is not installed.

    After this call ``from metric_magnitude.<module> import ...`` works either way.
    """
    try:
        import metric_magnitude
    except ImportError:  # not installed: use the source tree
        sys.path.insert(0, str(REPO / "src"))
        import metric_magnitude
    return metric_magnitude


# --------------------------------------------------------------------------- machine


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo, else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """"load average L on N CPUs (model); date": the line the scripts print under a table."""
    return (f"load average {os.getloadavg()[0]:.2f} on {cpus_available()} CPUs "
            f"({cpu_model()}); {utc_now()}")


def cpus_available() -> int | None:
    """CPUs this process may run on (None where the OS does not say)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return None


def git(*cmd: str) -> str | None:
    """``git *cmd`` in the repository: its stripped output, None if git fails."""
    try:
        out = subprocess.run(
            ["git", *cmd], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_commit() -> str | None:
    """The commit checked out, from git or else from the files in .git."""
    commit = git("rev-parse", "HEAD")
    if commit:
        return commit
    try:  # no usable git (not installed, or the checkout is owned by another user)
        head = (REPO / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = REPO / ".git" / head[5:]
        if ref.exists():
            return ref.read_text().strip()
        for line in (REPO / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + head[5:]):
                return line.split()[0]
    except OSError:
        pass
    return None


def run_child(script: str, args: list[str], timeout: float | None = None) -> dict | list:
    """Run ``script --child ARGS`` in a fresh interpreter and return the JSON of its last
    stdout line; on failure or timeout, ``{"error": why}`` (the last line of its stderr)."""
    import json

    cmd = [sys.executable, os.path.abspath(script), "--child", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over --timeout {timeout:g} s"}
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def iterative_summary(res) -> dict:
    """The JSON fields of a one-scale `IterativeResult` that the cg benchmarks report."""
    return {
        "magnitude": float(res.magnitude[0]),
        "lower": float(res.lower[0]),
        "upper": float(res.upper[0]),
        "gap": float(res.gap[0]),
        "iterations": int(res.iterations[0]),
        "matvecs": int(res.matvecs[0]),
        "preconditioner": res.preconditioners[0],
    }


def write_results(path: str | None, rows) -> None:
    """Write ``rows`` as JSON with the machine, commit, thread settings and load average."""
    if not path:
        return
    import json

    meta = {"date": utc_now(), "cpu": cpu_model(), "cpus": cpus_available(),
            "commit": git_commit(), "threads_env": thread_env(), "loadavg": os.getloadavg()}
    with open(path, "w") as fh:
        json.dump({"meta": meta, "results": rows}, fh, indent=1)
