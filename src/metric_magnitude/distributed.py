"""Many spaces on Dask: `compute_many`, with a resumable store of results on disk.

Each space is one task on a ``dask.distributed`` cluster (a `distributed.LocalCluster`
sized to the machine when no client is given). As the tasks finish, the client process
writes each space's record to the store, one JSON file per space, so that a run that is
killed half-way can be started again with the same store and goes on where it stopped.

Dask is optional (``pip install 'metric-magnitude[dask]'``) and imported only when a run
needs it; ``client="sync"`` computes in this process without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._files import write_atomic
from ._progress import Progress
from ._validation import check_names, check_scales_with_zero
from .exceptions import InvalidInputError, MagnitudeWarning
from .spaces import Metric, MetricSpace, as_space

__all__ = ["ManyResult", "StoreWarning", "compute_many"]

# Bumped whenever the record's fields or the numbers behind them change: part of every
# fingerprint, so that stores written by an older version are recomputed, never reused.
STORE_SCHEMA = 1

# Store names become file names: no separators, no leading dot (hidden, and the prefix of
# the temporary files), no "..", nothing a shell or another file system would trip over.
_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=-]{0,127}")
_ON_ERROR = ("raise", "skip")
# magnitude_function solves each of at most this many positive scales directly and has no
# interpolant (so no area): compute_many needs more
_MIN_SCALES = 13


class StoreWarning(MagnitudeWarning):
    """A file in the store could not be used (unreadable or not the expected record)."""


@dataclass(frozen=True, eq=False)
class ManyResult:
    """What `compute_many` returns.

    Attributes
    ----------
    records : list of dict
        One record per space that succeeded, in the order of the input (fields in
        `compute_many`). Plain JSON data: ``pandas.DataFrame(result.records)`` makes a table.
    computed : list of str
        Names of the spaces computed by this run.
    reused : list of str
        Names of the spaces whose records were read from the store instead.
    errors : dict of str to str
        ``on_error="skip"`` only: name -> error message of the spaces that failed (they are
        not stored, so a later run tries them again).
    store : Path or None
    """

    records: list
    computed: list
    reused: list
    errors: dict = field(default_factory=dict)
    store: Path | None = None

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.records]

    def __getitem__(self, name: str) -> dict:
        for r in self.records:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return (f"ManyResult({len(self.records)} records: {len(self.computed)} computed, "
                f"{len(self.reused)} reused from the store, {len(self.errors)} failed)")


@dataclass
class _Item:
    name: str
    space: MetricSpace
    fingerprint: str
    path: Path | None


# ----------------------------------------------------------------------------- checks


def _check_store_names(names: list[str]) -> None:
    for name in names:
        if not _NAME_RE.fullmatch(name) or ".." in name:
            raise InvalidInputError(
                f"name {name!r} cannot be a file name in the store: use letters, digits and "
                "_ . + = - only (no '/', no '..', no spaces), starting with a letter, digit "
                "or _, at most 128 characters"
            )
    seen: dict[str, str] = {}
    for name in names:
        # case-insensitive file systems (macOS, Windows) would put "A" and "a" in one file
        other = seen.get(name.lower())
        seen[name.lower()] = name
        if other is not None:
            raise InvalidInputError(
                f"names must be unique (ignoring case), but {other!r} and {name!r} both occur; "
                "each space's record is found by its name"
            )


def _check_settings(scales, n_scales, q, rtol, method, on_error) -> dict:
    from .core import _check_method
    from .scales import _check_q

    q = _check_q(q)
    if not (isinstance(rtol, int | float) and 1e-14 <= rtol < 1):
        raise InvalidInputError(f"rtol must be a number in [1e-14, 1), got {rtol!r}")
    _check_method(method)
    if on_error not in _ON_ERROR:
        raise InvalidInputError(f"on_error must be one of {_ON_ERROR}, got {on_error!r}")
    if isinstance(scales, str):
        if scales != "auto":
            raise InvalidInputError(f"scales must be 'auto' or an array, got {scales!r}")
        if not (isinstance(n_scales, int | np.integer) and n_scales >= _MIN_SCALES):
            raise InvalidInputError(
                f"n_scales must be an integer >= {_MIN_SCALES}, got {n_scales!r}"
            )
        scales_out, n_scales = "auto", int(n_scales)
    else:
        arr, _ = check_scales_with_zero(scales, increasing=True)
        if np.count_nonzero(arr > 0) < _MIN_SCALES:
            raise InvalidInputError(
                f"scales must hold at least {_MIN_SCALES} positive scales (the area needs an "
                f"interpolated magnitude function), got {np.count_nonzero(arr > 0)}"
            )
        scales_out, n_scales = arr.tolist(), None  # n_scales plays no part: keep it out
    return {"scales": scales_out, "n_scales": n_scales, "q": float(q), "rtol": float(rtol),
            "method": method}


def _metric_label(space: MetricSpace) -> str:
    if space.nodes is not None:
        return "graph"
    m = space.metric
    if isinstance(m, str):
        return m
    # a callable: its name and its code, so that an edited function gets a new fingerprint
    code = getattr(m, "__code__", None)
    body = b"" if code is None else code.co_code + repr(code.co_consts).encode()
    return (f"{getattr(m, '__module__', '?')}.{getattr(m, '__qualname__', type(m).__name__)}"
            f":{hashlib.sha256(body).hexdigest()[:16]}")


def _fingerprint(space: MetricSpace, settings: dict) -> str:
    """sha256 of the settings and of the data (the bytes of the arrays that define the space).

    Points are hashed as given (distinct rows and the map of copies, so no distances are
    computed here); distance matrices and graphs by their distance matrix.
    """
    h = hashlib.sha256()
    head = {"schema": STORE_SCHEMA, "settings": settings, "metric": _metric_label(space)}
    h.update(json.dumps(head, sort_keys=True).encode())
    arrays = (space._points, space._inverse) if space._points is not None else (
        space._distances, space._inverse)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ----------------------------------------------------------------------------- one space


def _compute_one(space: MetricSpace, name: str, fingerprint: str, settings: dict) -> dict:
    """The record of one space (runs on a worker; plain JSON types only)."""
    from .function import _peak_dimension, magnitude_function
    from .scales import convergence_scale

    start = time.perf_counter()
    q, rtol, method = settings["q"], settings["rtol"], settings["method"]
    t_conv = convergence_scale(space, q=q, method=method)
    if settings["scales"] == "auto":
        if t_conv == 0.0:
            raise InvalidInputError(
                f"q n = {q} * {space.n_distinct} <= 1 (a space with one distinct point has "
                "magnitude 1 at every scale): there is no convergence scale to end the "
                "automatic range; raise q or pass scales explicitly"
            )
        # as analyse does: t = 0 (|0X| = 1) and n_scales scales on [t_conv / 1000, t_conv]
        scales = np.concatenate(
            [[0.0], np.geomspace(t_conv / 1000.0, t_conv, settings["n_scales"])])
    else:
        scales = np.asarray(settings["scales"], dtype=float)
    f = magnitude_function(space, scales, rtol=rtol, method=method)
    positive = f.scales > 0
    area = f.area()
    return {
        "schema_version": STORE_SCHEMA,
        "name": name,
        "fingerprint": fingerprint,
        "settings": settings,
        "n_points": int(space.n_points),
        "n_distinct": int(space.n_distinct),
        "convergence_scale": float(t_conv),
        "mag_area": area / (f.t_max - f.t_min),
        "area": area,
        "magnitude_dimension": _peak_dimension(f, float(f.scales[positive][0]), f.t_max),
        "n_solves": f.n_solves,
        "error_estimate": f.error_estimate,
        "wall_time": time.perf_counter() - start,
        "scales": f.scales.tolist(),
        "magnitude": f.values.tolist(),
        "derivative": f.derivative.tolist(),
    }


# ----------------------------------------------------------------------------- the store


def _open_store(store) -> Path:
    path = Path(store)
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"store {str(path)!r} is a file; give a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"store {str(path)!r} could not be created: {exc}") from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise InvalidInputError(f"store {str(path)!r} is not writable")
    return path.resolve()


def _record_path(store: Path, name: str, fingerprint: str) -> Path:
    path = store / f"{name}.{fingerprint[:16]}.json"
    # the name check already rules out separators and "..": this is the belt to its braces
    if path.parent != store:
        raise InvalidInputError(f"name {name!r} would write outside the store")
    return path


def _load_record(item: _Item) -> dict | None:
    """The stored record of ``item``, or None when it is missing or cannot be trusted."""
    path = item.path
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        warnings.warn(f"{path}: unreadable ({exc}); the space is computed again and the file "
                      "replaced", StoreWarning, stacklevel=3)
        return None
    if not (isinstance(record, dict) and record.get("name") == item.name
            and record.get("fingerprint") == item.fingerprint
            and record.get("schema_version") == STORE_SCHEMA):
        warnings.warn(f"{path}: not the record of {item.name!r} with these settings and data; "
                      "the space is computed again and the file replaced", StoreWarning,
                      stacklevel=3)
        return None
    return record


def _save_record(item: _Item, record: dict) -> None:
    if item.path is not None:
        # write_atomic: a temporary file in the store, then os.replace; never half a record
        write_atomic(item.path, json.dumps(record, sort_keys=True) + "\n", force=True)


# ----------------------------------------------------------------------------- running


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _connect(client, n_workers, timeout):
    """(client, cluster, whether we own it) for ``client`` as compute_many takes it."""
    distributed = _import_distributed()
    if client is None:
        workers = _cpu_count() if n_workers is None else n_workers
        one = "1"
        cluster = distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
            # one BLAS thread per worker: the workers already use every core
            env={"OMP_NUM_THREADS": one, "OPENBLAS_NUM_THREADS": one, "MKL_NUM_THREADS": one},
        )
        return distributed.Client(cluster, set_as_default=False), cluster, True
    if isinstance(client, str):
        try:
            c = distributed.Client(client, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InvalidInputError(
                f"could not connect to a Dask scheduler at {client!r} within {timeout:g} s "
                f"({' '.join(str(exc).split()) or type(exc).__name__}); check the address "
                "(e.g. tcp://host:8786) and that the scheduler is running"
            ) from exc
        return c, None, True
    if not (hasattr(client, "submit") and hasattr(client, "nthreads")):
        raise InvalidInputError(
            "client must be None (a local cluster), 'sync' (this process), a scheduler "
            f"address or a distributed.Client, got {type(client).__name__}"
        )
    return client, None, False


def _import_distributed():
    from ._optional import import_optional

    return import_optional("distributed")


def _finish(item, get_record, on_error, done, errors, bar) -> None:
    """Store one space's record (or its error) as soon as it is known."""
    try:
        record = get_record()
    except Exception as exc:
        if on_error == "raise":
            _raise_for(item, exc)
        errors[item.name] = _message(exc)
    else:
        _save_record(item, record)
        done[item.name] = record
    bar.step(item.name)


def _run_sync(todo, settings, on_error, done, errors, bar) -> None:
    for item in todo:
        _finish(item, lambda item=item: _compute_one(item.space, item.name, item.fingerprint,
                                                     settings),
                on_error, done, errors, bar)


def _run_dask(client, todo, settings, on_error, done, errors, bar) -> None:
    distributed = _import_distributed()
    # a bounded window of tasks in flight, so that the cluster holds a few spaces at a time
    window = max(2, 2 * sum(client.nthreads().values()))
    pending = iter(todo)
    in_flight: dict = {}  # key -> (future, item, its space's future), until handled
    ac = distributed.as_completed(loop=client.loop)

    def submit_next() -> None:
        item = next(pending, None)
        if item is None:
            return
        # scattered, not embedded in the task: large spaces would make a "large graph"
        space = client.scatter(item.space, hash=False)
        fut = client.submit(_compute_one, space, item.name, item.fingerprint, settings,
                            # unique per run: a key cancelled by an earlier run may linger
                            key=f"compute_many-{item.name}-{uuid.uuid4().hex[:12]}")
        in_flight[fut.key] = (fut, item, space)
        ac.add(fut)

    for _ in range(window):
        submit_next()
    try:
        for fut in ac:
            _, item, _ = in_flight.pop(fut.key)
            _finish(item, fut.result, on_error, done, errors, bar)
            fut.release()
            submit_next()
    finally:
        # an error or an interrupt: keep what has finished, cancel the rest
        for fut, item, _ in in_flight.values():
            if fut.status == "finished":
                record = fut.result()
                _save_record(item, record)
                done[item.name] = record
            else:
                fut.cancel()


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _raise_for(item: _Item, exc: BaseException):
    # the same exception (type, attributes, traceback), its message naming the space
    if exc.args and isinstance(exc.args[0], str):
        exc.args = (f"space {item.name!r}: {exc.args[0]}", *exc.args[1:])
    raise exc


def compute_many(
    spaces,
    names: Sequence[str] | None = None,
    *,
    scales="auto",
    n_scales: int = 100,
    q: float = 0.95,
    rtol: float = 1e-8,
    metric: Metric = "euclidean",
    method: str = "auto",
    client=None,
    store=None,
    progress: bool = True,
    n_workers: int | None = None,
    timeout: float = 10.0,
    on_error: str = "raise",
) -> ManyResult:
    """Magnitude function, convergence scale and MagArea of many spaces, one task each.

    For every space: its magnitude function (`metric_magnitude.magnitude_function`), its
    convergence scale t_conv (`metric_magnitude.convergence_scale`), the area under the
    function over its own range and MagArea (that area over the range's length), the peak of
    the dimension profile, the number of exact solves, the function's error estimate and the
    task's wall time. The spaces are computed as tasks on a Dask cluster (or in this process)
    and each result is written to ``store`` as soon as it arrives.

    Parameters
    ----------
    spaces : sequence or mapping of array_like, networkx.Graph or MetricSpace
        The spaces, each what `metric_magnitude.magnitude` accepts. A mapping gives the
        names as its keys.
    names : sequence of str, optional
        Default: the mapping's keys, else ``X_0, X_1, ...``. Unique (ignoring case), and
        usable as file names: letters, digits and ``_ . + = -``, at most 128 characters.
    scales : "auto" or array_like, default="auto"
        ``"auto"``: t = 0 and ``n_scales`` scales spaced geometrically on
        [t_conv / 1000, t_conv], as `metric_magnitude.analyse` uses, so that ``mag_area`` is
        MagArea on [0, t_conv]. An array (increasing, at least 13 positive scales) is used
        for every space.
    n_scales : int, default=100
        For ``scales="auto"``; at least 13.
    q : float in (0, 1), default=0.95
        Defines the convergence scale, where |tX| = q n.
    rtol : float, default=1e-8
        Relative accuracy of the magnitude functions.
    metric : str or callable, default="euclidean"
        For spaces given as points.
    method : str, default="auto"
        Solver, as in `metric_magnitude.magnitude`.
    client : None, "sync", str or distributed.Client, optional
        Where the tasks run. None: a `distributed.LocalCluster` of ``n_workers`` processes
        (default: one per CPU) with one thread and one BLAS thread each, closed at the end.
        ``"sync"``: one after another in this process, without Dask (for debugging and for
        small jobs). Another string: the address of a running scheduler
        (``"tcp://host:8786"``), connected to within ``timeout`` seconds. A
        ``distributed.Client``: used as it is and not closed. Workers need
        metric-magnitude installed.
    store : str or path-like, optional
        A directory (created if missing) that keeps one JSON file per finished space; a
        later run with the same store reads them instead of computing again.
    progress : bool, default=True
        Show a progress bar on stderr (on a terminal, for runs longer than a second),
        driven by the tasks as they finish.
    n_workers : int, optional
        Size of the local cluster (``client=None`` only).
    timeout : float, default=10
        Seconds to wait for a scheduler given by address.
    on_error : {"raise", "skip"}, default="raise"
        A space whose computation fails: ``"raise"`` stops the run with its error (the
        message names the space; what finished before is stored); ``"skip"`` records the
        message in ``errors`` and goes on.

    Returns
    -------
    ManyResult
        ``records`` in input order. Each record is a dict with ``name``, ``fingerprint``,
        ``settings``, ``n_points``, ``n_distinct``, ``convergence_scale``, ``mag_area``,
        ``area``, ``magnitude_dimension``, ``n_solves``, ``error_estimate``, ``wall_time``
        (seconds), and the lists ``scales``, ``magnitude`` and ``derivative``.

    Raises
    ------
    InvalidInputError
        A bad option, a space that cannot be read (the message names it), a name that is
        not a safe file name, a store that cannot be written, an unreachable scheduler.
    MissingDependencyError
        Dask is needed (``client`` other than ``"sync"``) but not installed.

    Notes
    -----
    The store and resuming. Record files are named ``<name>.<fingerprint[:16]>.json``.
    The fingerprint is the sha256 of the settings (scales, n_scales, q, rtol, method, metric,
    the store schema) and of the data (the bytes of the points, or of the distance matrix),
    so a changed setting or changed data never reuses a stale record: it is computed again
    under a new file name. The client process alone writes the store (workers need no
    shared file system), each record through a temporary file in the same directory that is
    then renamed over the final name (`os.replace`, atomic on POSIX file systems). A run
    killed at any moment therefore leaves every record file either complete or absent; at
    worst a temporary ``.<name>...tmp`` file, which is ignored. On start, a record is reused
    only if its file parses as JSON and holds the expected name, fingerprint and schema,
    so even a file damaged outside this protocol (a crash of the machine before the data
    reached the disk) is detected, reported with a `StoreWarning`, and computed again.

    Examples
    --------
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> spaces = {"wide": rng.normal(size=(40, 2)), "narrow": rng.normal(size=(40, 2)) / 3}
    >>> res = mm.compute_many(spaces, client="sync", n_scales=20)
    >>> res.names, res.computed
    (['wide', 'narrow'], ['wide', 'narrow'])
    >>> rec = res["wide"]
    >>> bool(np.isclose(rec["convergence_scale"], mm.convergence_scale(spaces["wide"])))
    True
    >>> bool(np.isclose(rec["magnitude"][-1], 0.95 * 40))   # |t_conv X| = q n
    True
    """
    if isinstance(spaces, Mapping):
        if names is None:
            names = [str(k) for k in spaces]
        spaces = list(spaces.values())
    else:
        spaces = list(spaces)
    if not spaces:
        raise InvalidInputError("compute_many needs at least one space, got none")
    names = check_names(names, len(spaces))
    _check_store_names(names)
    settings = _check_settings(scales, n_scales, q, rtol, method, on_error)
    if not isinstance(progress, bool):
        raise InvalidInputError(f"progress must be True or False, got {progress!r}")
    if n_workers is not None and not (isinstance(n_workers, int) and n_workers >= 1):
        raise InvalidInputError(f"n_workers must be an integer >= 1, got {n_workers!r}")
    if not (isinstance(timeout, int | float) and timeout > 0):
        raise InvalidInputError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    items = []
    for x, name in zip(spaces, names, strict=True):
        try:
            space = as_space(x, metric)
        except InvalidInputError as exc:
            raise InvalidInputError(f"space {name!r}: {exc}") from exc
        items.append(_Item(name, space, _fingerprint(space, settings), None))
    root = None
    if store is not None:
        root = _open_store(store)
        for item in items:
            item.path = _record_path(root, item.name, item.fingerprint)
    done: dict[str, dict] = {}
    reused = []
    for item in items:
        record = _load_record(item)
        if record is not None:
            done[item.name] = record
            reused.append(item.name)
    todo = [item for item in items if item.name not in done]
    errors: dict[str, str] = {}
    if todo:
        with Progress(len(todo), "compute_many", enabled=progress) as bar:
            if isinstance(client, str) and client == "sync":
                _run_sync(todo, settings, on_error, done, errors, bar)
            else:
                c, cluster, own = _connect(client, n_workers, timeout)
                try:
                    _run_dask(c, todo, settings, on_error, done, errors, bar)
                finally:
                    if own:
                        c.close()
                        if cluster is not None:
                            cluster.close()
    computed = [item.name for item in todo if item.name in done]
    records = [done[item.name] for item in items if item.name in done]
    return ManyResult(records, computed, reused, errors, root)
