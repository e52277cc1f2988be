"""The ``metric-magnitude`` command line.

Each subcommand is one entry of `COMMANDS`: a function that adds its arguments to a
parser and a function that runs it and returns what to print. Shared options (input,
metric, output) come from parent parsers, so a new subcommand (``outliers``, ``image``,
``graph``) is one more entry. User mistakes end with one line on stderr and exit code 2,
never a traceback; outputs are written atomically and never overwrite without ``--force``.

Examples
--------
>>> import contextlib, io, pathlib, tempfile
>>> import numpy as np
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.save(d / "x.npy", np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
>>> out = io.StringIO()
>>> with contextlib.redirect_stdout(out):
...     code = main(["compute", str(d / "x.npy"), "--scales", "10", "--format", "csv"])
>>> code, out.getvalue().splitlines()
(0, ['scale,magnitude', '10.0,2.99981...'])
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__
from ._files import check_output_path, write_atomic
from ._optional import import_optional
from ._progress import Progress
from .exceptions import MagnitudeError, MissingDependencyError
from .io import EDGE_SUFFIXES, INPUT_KINDS

PROG = "metric-magnitude"
SCHEMA_VERSION = 1


class UsageError(Exception):
    """A mistake in the command line or the input: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of usage + message
        raise UsageError(f"{self.prog}: {message} (see {self.prog} --help)")


# ---------------------------------------------------------------------------- inputs


@dataclass
class _Input:
    name: str
    source: str
    data: object  # the points (an array), or a MetricSpace for matrices and graphs
    points: np.ndarray | None  # the points, when data holds points
    metric: str  # what MetricSpace gets for points
    metric_label: str  # what the outputs say

    def space(self):
        from .spaces import MetricSpace

        return self.data if self.points is None else MetricSpace(self.data, metric=self.metric)


def _input_kind(path: Path, metric: str, kind: str) -> str:
    if kind != "auto":
        return kind
    if path.suffix.lower() in EDGE_SUFFIXES:
        return "edges"
    return "distances" if metric == "precomputed" else "points"


def _read_input(path_text: str, args) -> _Input:
    from .io import load_space, read_array

    path = Path(path_text)
    kind = _input_kind(path, args.metric, args.input)
    if kind != "points" and args.sample:
        raise UsageError("--sample works on points, not on a distance matrix or a graph")
    if kind == "points" and args.metric == "precomputed":
        raise UsageError(f"{path}: --metric precomputed reads a distance matrix; "
                         "drop --input points or --metric precomputed")
    if kind != "points":
        # load_space checks the matrix (or graph) and names the file in its messages
        metric = "precomputed" if kind == "distances" else "euclidean"
        if kind == "distances" and args.metric not in ("precomputed", "euclidean"):
            raise UsageError(f"{path}: a distance matrix needs --metric precomputed, "
                             f"not {args.metric}")
        space = load_space(path, metric=metric, input=kind)
        label = "precomputed" if kind == "distances" else "shortest path"
        return _Input(path.stem, path_text, space, None, metric, label)
    X = read_array(path)
    if args.sample and args.sample < X.shape[0]:
        rng = np.random.default_rng(args.seed)
        X = X[np.sort(rng.choice(X.shape[0], size=args.sample, replace=False))]
    return _Input(path.stem, path_text, X, X, args.metric, args.metric)


def _unique_names(inputs: Sequence[_Input]) -> list[str]:
    names = [i.name for i in inputs]
    if len(set(names)) < len(names):  # same stem in different folders: use the given text
        names = [i.source for i in inputs]
    return names


# --------------------------------------------------------------------------- outputs


@dataclass
class _Table:
    header: list[str]
    rows: list[list]
    title: str = ""


@dataclass
class _Output:
    """What a command produced: JSON data, and one or more tables (table and CSV formats)."""

    data: dict
    tables: list[_Table]


def _fmt(x) -> str:
    if isinstance(x, float | np.floating):
        return f"{float(x):.6g}"
    return str(x)


def _csv_text(tables: Sequence[_Table]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for k, t in enumerate(tables):
        if k:
            buf.write("\n")
        writer.writerow(t.header)
        writer.writerows([[repr(float(x)) if isinstance(x, float | np.floating) else x
                           for x in row] for row in t.rows])
    return buf.getvalue()


def _plain_table(t: _Table) -> str:
    cells = [t.header] + [[_fmt(x) for x in row] for row in t.rows]
    widths = [max(len(str(r[j])) for r in cells) for j in range(len(t.header))]
    lines = [t.title] if t.title else []
    for r in cells:
        lines.append("  ".join(str(c).ljust(w) if j == 0 else str(c).rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(lines)


def _print_tables(tables: Sequence[_Table]) -> None:
    rich = None
    if sys.stdout.isatty():
        try:
            import rich.console
            import rich.table
        except ImportError:  # plain text is a complete fallback
            rich = None
    if rich is not None:
        console = rich.console.Console()
        for t in tables:
            table = rich.table.Table(title=t.title or None)
            for j, h in enumerate(t.header):
                table.add_column(h, justify="left" if j == 0 else "right")
            for row in t.rows:
                table.add_row(*[_fmt(x) for x in row])
            console.print(table)
        return
    print("\n\n".join(_plain_table(t) for t in tables))


def _json_safe(x):
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_json_safe(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else ("inf" if x > 0 else "-inf")
    return x


def _emit(out: _Output, args, command: str) -> None:
    fmt = "json" if args.json else args.format
    if fmt == "json":
        data = {"schema_version": SCHEMA_VERSION, "command": command,
                "version": __version__, **out.data}
        text = json.dumps(_json_safe(data), indent=2, allow_nan=False) + "\n"
    elif fmt == "csv":
        text = _csv_text(out.tables)
    else:
        text = None
    if args.output:
        write_atomic(args.output, text if text is not None else
                     "\n\n".join(_plain_table(t) for t in out.tables) + "\n", force=args.force)
        if not args.quiet:
            print(f"wrote {args.output}", file=sys.stderr)
    elif text is not None:
        sys.stdout.write(text)
    else:
        _print_tables(out.tables)


def _save_png(fig, path, force: bool, quiet: bool) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    write_atomic(path, buf.getvalue(), force=force)
    if not quiet:
        print(f"wrote {path}", file=sys.stderr)


# -------------------------------------------------------------------------- commands


def _parse_scales(values: Sequence[str]) -> np.ndarray:
    from ._validation import check_scales

    out = []
    for v in values:
        for part in v.split(","):
            if part.strip():
                try:
                    out.append(float(part))
                except ValueError:
                    raise UsageError(f"--scales: {part!r} is not a number") from None
    if not out:
        raise UsageError("--scales needs at least one positive number")
    arr, _ = check_scales(out)
    return arr


def _add_compute(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="points, a distance matrix or an edge list")
    p.add_argument("--scales", nargs="+", required=True, metavar="T",
                   help="scales t > 0 (space or comma separated)")
    p.add_argument("--weights", action="store_true",
                   help="also output the weight of every point at every scale")


def _run_compute(args) -> _Output:
    from .core import solve

    scales = _parse_scales(args.scales)
    inp = _read_input(args.file, args)
    space = inp.space()  # distances computed once, reused at every scale
    mags, W = [], []
    with Progress(scales.size, "compute", enabled=_bar(args)) as bar:
        for t in scales:
            _, result = solve(space, t, weights=args.weights)
            mags.append(float(result.magnitude[0]))
            if args.weights:
                W.append(space.expand_weights(result.weights[0]))
            bar.step(f"t = {t:.4g}")
    mags = np.array(mags)
    data = {"input": inp.source, "n_points": space.n_points, "n_distinct": space.n_distinct,
            "metric": inp.metric_label, "scales": scales.tolist(), "magnitude": mags.tolist()}
    tables = [_Table(["scale", "magnitude"], [[float(t), float(m)]
                                              for t, m in zip(scales, mags, strict=True)])]
    if args.weights:
        W = np.array(W)
        data["weights"] = W.tolist()
        tables.append(_Table(["point", *[f"weight t={_fmt(float(t))}" for t in scales]],
                             [[i, *W[:, i].tolist()] for i in range(W.shape[1])]))
    return _Output(data, tables)


def _add_function(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="points, a distance matrix or an edge list")
    p.add_argument("--n-scales", type=int, default=None, metavar="K",
                   help="scales on [t_conv/1000, t_conv] (default: 100, or 24 where each "
                        "is an iterative solve: points whose dense matrices do not fit)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative accuracy (1e-8)")
    p.add_argument("--plot", metavar="PNG", help="write the function and dimension profile")


def _analyse(inputs: Sequence[_Input], args, label: str):
    from .analysis import analyse, analysis_steps

    names = _unique_names(inputs)
    # points go in as arrays (kept for the weight plots) with their metric, the rest as spaces
    spaces = [i.points if i.points is not None else i.space() for i in inputs]
    metric = inputs[0].metric if inputs[0].points is not None else "euclidean"
    with Progress(analysis_steps(len(inputs)), label, enabled=_bar(args)) as bar:
        analysis = analyse(spaces, names, metric=metric, q=args.q,
                           n_scales=getattr(args, "n_scales", None),
                           rtol=getattr(args, "rtol", 1e-8), progress=bar.step)
    analysis.settings["metric"] = inputs[0].metric_label
    return analysis


def _summary_table(analysis) -> _Table:
    return _Table(
        ["space", "points", "t_conv", "dimension", "MagArea", "solves", "error est."],
        [[s.name, s.n_points, s.t_conv, s.magnitude_dimension, s.mag_area,
          s.function.n_solves, s.function.error_estimate] for s in analysis.spaces],
    )


def _run_function(args) -> _Output:
    if args.plot:
        check_output_path(args.plot, force=args.force)
    inp = _read_input(args.file, args)
    analysis = _analyse([inp], args, "function")
    s = analysis.spaces[0]
    f = s.function
    keep = f.scales > 0
    tables = [_summary_table(analysis)]
    if args.json or args.format == "csv":
        tables = [_Table(["scale", "magnitude", "derivative", "dimension"],
                         np.column_stack([f.scales[keep], f.values[keep], f.derivative[keep],
                                          f.dimension[keep]]).tolist())]
    if args.plot:
        from .plotting import plot_functions
        from .report import new_figure

        fig, ax = new_figure(6.4, 4.2)
        plot_functions([f], [s.name], ax)
        ax2 = ax.twinx()
        ax2.plot(f.scales[keep], f.dimension[keep], color="tab:red", ls="--")
        ax2.set_ylabel("dimension profile (dashed)", color="tab:red")
        _save_png(fig, args.plot, args.force, args.quiet)
    data = {"input": inp.source, **analysis.to_dict()}
    return _Output(data, tables)


def _add_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="two or more spaces")
    p.add_argument("--plot", metavar="PNG", help="write the MagDiff heat map")


def _read_many(args, at_least: int) -> list[_Input]:
    if len(args.files) < at_least:
        raise UsageError(f"{args.command} needs at least {at_least} files, got "
                         f"{len(args.files)}")
    inputs = [_read_input(f, args) for f in args.files]
    if len({i.metric_label for i in inputs}) > 1:
        raise UsageError("the files hold different kinds of input (points, distance "
                         "matrices, graphs): compare like with like")
    return inputs


def _run_compare(args) -> _Output:
    if args.plot:
        check_output_path(args.plot, force=args.force)
    inputs = _read_many(args, 2)
    analysis = _analyse(inputs, args, "compare")
    c = analysis.comparison
    tables = [
        _Table(["space", "t_conv", "MagArea"],
               [[n, t, a] for n, t, a in zip(c.names, c.t_convs, c.mag_areas, strict=True)],
               title=f"MagArea on [0, t_cut], t_cut = {c.t_cut:.6g} (median t_conv)"),
        _Table(["MagDiff", *c.names],
               [[n, *row] for n, row in zip(c.names, c.mag_diffs.tolist(), strict=True)],
               title="MagDiff matrix"),
    ]
    if args.plot:
        from .plotting import plot_mag_diffs
        from .report import new_figure

        side = min(2.0 + 0.55 * len(c.names), 9.0)
        fig, ax = new_figure(side + 1.2, side)
        plot_mag_diffs(c, ax)
        _save_png(fig, args.plot, args.force, args.quiet)
    return _Output({"inputs": [i.source for i in inputs], **analysis.to_dict()}, tables)


def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="one or more spaces")
    p.add_argument("--title", default="Magnitude report", help="the page's title")


def _run_report(args) -> _Output:
    from .report import analysis_report

    if not args.output:
        raise UsageError("report needs -o/--output, the HTML file to write")
    check_output_path(args.output, force=args.force)
    inputs = _read_many(args, 1)
    analysis = _analyse(inputs, args, "report")
    page = analysis_report(analysis, title=args.title, sources=[i.source for i in inputs])
    page.write(args.output, force=args.force)
    if not args.quiet:
        print(f"wrote {args.output}", file=sys.stderr)
    return _Output({}, [_summary_table(analysis)])


def _add_top_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--top", type=int, default=10, metavar="K",
                   help="rows in the terminal table (default: 10; all in CSV and JSON)")


def _ranked_rows(rows: list, args) -> list:
    """All rows for CSV and JSON, the first --top on the terminal."""
    return rows if (args.json or args.format == "csv") else rows[: args.top]


def _add_outliers(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="points or a distance matrix")
    p.add_argument("--t", type=float, default=None, metavar="T",
                   help="scale (default: where |tX| = (n + 1) / 2)")
    p.add_argument("--contamination", type=float, default=0.1,
                   help="expected share of outliers, in (0, 0.5] (default: 0.1)")
    _add_top_option(p)


def _run_outliers(args) -> _Output:
    from .outliers import MagnitudeOutlierDetector

    inp = _read_input(args.file, args)
    if inp.points is None and inp.metric != "precomputed":
        raise UsageError(f"{args.file}: outliers needs points or a distance matrix, not a graph")
    detector = MagnitudeOutlierDetector(
        "auto" if args.t is None else args.t, metric=inp.metric,
        contamination=args.contamination)
    with Progress(1, "outliers", enabled=_bar(args)) as bar:
        labels = detector.fit_predict(inp.points if inp.points is not None
                                      else inp.space().full_distance_matrix())
        bar.step(inp.name)
    w = detector.weights_
    order = np.argsort(w, kind="stable")[::-1]
    rows = [[int(i), float(w[i]), "outlier" if labels[i] == -1 else ""] for i in order]
    shown = _ranked_rows(rows, args)
    data = {"input": inp.source, "metric": inp.metric_label, "t": detector.t_,
            "contamination": args.contamination, "offset": detector.offset_,
            "n_outliers": int((labels == -1).sum()), "weights": w.tolist(),
            "outlier": (labels == -1).tolist()}
    title = (f"{data['n_outliers']} outliers of {w.size} points at t = {detector.t_:.6g} "
             "(largest weights first)")
    return _Output(data, [_Table(["point", "weight", "label"], shown, title=title)])


_PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")


def _read_picture(path: Path) -> np.ndarray:
    """A picture file as a grey float image in [0, 1] (Pillow, which matplotlib brings)."""
    from ._validation import available_memory

    Image = import_optional("PIL.Image")
    if not path.is_file():
        raise UsageError(f"{path}: no such file; check the path and its spelling")
    try:
        with Image.open(path) as picture:  # reads the header only
            width, height = picture.size
            # the decoded grey image in float64, and the solver's work arrays beside it
            if 8 * 16 * width * height > available_memory():
                raise UsageError(f"{path}: {width} x {height} pixels is too large for "
                                 "memory; downscale the image first")
            grey = np.asarray(picture.convert("L"), dtype=np.float64) / 255.0
    except UsageError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UsageError(f"{path}: not a readable image ({exc})") from None
    return grey


def _add_image(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="a grey image: .png/.jpg (converted to grey), .npy or .csv")
    p.add_argument("--t", type=float, default=2.0, metavar="T", help="scale (default: 2)")
    p.add_argument("--intensity-scale", type=float, default=None, metavar="L",
                   help="weight of intensity in the pixel metric (default: 1 / range)")
    p.add_argument("--edges", action="store_true", help="output the edge score map")
    p.add_argument("--save", metavar="FILE",
                   help="write the map: .npy (numbers) or .png (a picture)")


def _run_image(args) -> _Output:
    from . import images

    path = Path(args.file)
    if args.save:
        check_output_path(args.save, force=args.force)
        if Path(args.save).suffix.lower() not in (".npy", ".png"):
            raise UsageError(f"--save {args.save}: give a .npy or .png file name")
    if path.suffix.lower() in _PICTURE_SUFFIXES:
        image = _read_picture(path)
    else:
        from .io import read_array

        image = read_array(path)
    scale = "auto" if args.intensity_scale is None else args.intensity_scale
    with Progress(1, "image", enabled=_bar(args)) as bar:
        result = images.solve_image(image, args.t, intensity_scale=scale)
        values = (images.edges(image, args.t, intensity_scale=scale) if args.edges
                  else result.weights)
        bar.step(path.name)
    if args.save:
        if args.save.lower().endswith(".npy"):
            buf = io.BytesIO()
            np.save(buf, values, allow_pickle=False)
            write_atomic(args.save, buf.getvalue(), force=args.force)
        else:
            from .report import new_figure

            fig, ax = new_figure(6.0, 6.0 * image.shape[0] / max(image.shape[1], 1) + 0.4)
            shown = ax.imshow(values, cmap="magma")
            fig.colorbar(shown, ax=ax, shrink=0.8,
                         label="edge score" if args.edges else "weight")
            ax.set_axis_off()
            _save_png(fig, args.save, args.force, True)
        if not args.quiet:
            print(f"wrote {args.save}", file=sys.stderr)
    data = {"input": args.file, "shape": list(image.shape), "t": result.t,
            "intensity_scale": result.intensity_scale, "method": result.method,
            "magnitude": result.magnitude, "error_bound": result.error_bound,
            "map": "edges" if args.edges else "weights",
            "min": float(values.min()), "max": float(values.max())}
    rows = [[k, v if v is not None else "-"] for k, v in data.items() if k != "input"]
    return _Output(data, [_Table(["quantity", "value"], rows, title=path.name)])


def _add_graph(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", help="an edge list: lines 'u v' or 'u v weight', # comments")
    p.add_argument("--t", type=float, default=None, metavar="T",
                   help="scale of the node scores (default: graphs.default_scale)")
    p.add_argument("--scales", nargs="+", metavar="T",
                   help="also the magnitude at these scales")
    _add_top_option(p)


def _run_graph(args) -> _Output:
    from . import graphs
    from .io import read_edge_list

    scales = _parse_scales(args.scales) if args.scales else None
    G = read_edge_list(args.file)
    with Progress(1, "graph", enabled=_bar(args)) as bar:
        t = graphs.default_scale(G) if args.t is None else args.t
        scores = graphs.node_scores(G, t)
        mags = graphs.magnitude(G, scales) if scales is not None else None
        bar.step(Path(args.file).name)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    rows = _ranked_rows([[str(v), float(x)] for v, x in ranked], args)
    data = {"input": args.file, "n_nodes": G.number_of_nodes(),
            "n_edges": G.number_of_edges(), "t": float(t),
            "magnitude_at_t": float(sum(scores.values())),
            "node_scores": {str(v): float(x) for v, x in scores.items()}}
    tables = [_Table(["node", "score"], rows,
                     title=f"{G.number_of_nodes()} nodes, {G.number_of_edges()} edges: "
                           f"node scores (weights) at t = {t:.6g}, largest first")]
    if mags is not None:
        data["scales"], data["magnitude"] = scales.tolist(), np.atleast_1d(mags).tolist()
        tables.append(_Table(["scale", "magnitude"],
                             [[float(a), float(b)] for a, b in zip(scales, data["magnitude"],
                                                                   strict=True)]))
    return _Output(data, tables)


def _add_many(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="the spaces, one per file; each is named by its file name")
    p.add_argument("--n-scales", type=int, default=100, metavar="K",
                   help="scales on [t_conv/1000, t_conv] (default: 100)")
    p.add_argument("--rtol", type=float, default=1e-8, help="relative accuracy (1e-8)")
    p.add_argument("--store", metavar="DIR",
                   help="keep each finished space in DIR (one JSON file each); a later run "
                        "with the same DIR computes only what is missing")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler (tcp://host:8786), or 'sync' to compute in this "
                        "process (default: a local cluster, one worker per CPU)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="workers of the local cluster (default: one per CPU)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="seconds to wait for --scheduler (default: 10)")


def _run_many(args) -> _Output:
    from .distributed import compute_many

    if args.workers is not None:
        if args.scheduler:
            raise UsageError("--workers sizes the local cluster; it cannot be combined with "
                             "--scheduler")
        if args.workers < 1:
            raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if not args.connect_timeout > 0:
        raise UsageError(f"--connect-timeout must be > 0, got {args.connect_timeout}")
    inputs = _read_many(args, 1)
    seen: dict[str, str] = {}
    for i in inputs:
        if i.name in seen:
            raise UsageError(f"{seen[i.name]} and {i.source} have the same name {i.name!r}; "
                             "each space is named (and stored) by its file name: rename one")
        seen[i.name] = i.source
    spaces = [i.points if i.points is not None else i.space() for i in inputs]
    metric = inputs[0].metric if inputs[0].points is not None else "euclidean"
    res = compute_many(spaces, [i.name for i in inputs], n_scales=args.n_scales, q=args.q,
                       rtol=args.rtol, metric=metric, client=args.scheduler,
                       store=args.store, progress=_bar(args), n_workers=args.workers,
                       timeout=args.connect_timeout)
    reused = set(res.reused)
    rows = [[r["name"], r["n_points"], r["convergence_scale"], r["magnitude_dimension"],
             r["mag_area"], r["n_solves"], r["error_estimate"], r["wall_time"],
             "store" if r["name"] in reused else "computed"] for r in res.records]
    table = _Table(["space", "points", "t_conv", "dimension", "MagArea", "solves",
                    "error est.", "seconds", "from"], rows)
    data = {"inputs": [i.source for i in inputs],
            "settings": {"metric": inputs[0].metric_label, "q": args.q,
                         "n_scales": args.n_scales, "rtol": args.rtol},
            "store": None if res.store is None else str(res.store),
            "computed": res.computed, "reused": res.reused, "spaces": res.records}
    return _Output(data, [table])


@dataclass(frozen=True)
class Command:
    """A subcommand: its help, an example for ``--help``, and its two functions."""

    help: str
    example: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], _Output]
    writes_output_itself: bool = False


COMMANDS: dict[str, Command] = {
    "compute": Command(
        "magnitude (and weights) at given scales",
        "metric-magnitude compute points.csv --scales 0.5 1 2 --weights --format csv",
        _add_compute, _run_compute),
    "function": Command(
        "the magnitude function, dimension profile, convergence scale and MagArea",
        "metric-magnitude function points.npy --json -o f.json --plot f.png",
        _add_function, _run_function),
    "compare": Command(
        "MagArea of each space and the MagDiff matrix on a common interval",
        "metric-magnitude compare a.npy b.npy c.csv --plot magdiff.png",
        _add_compare, _run_compare),
    "many": Command(
        "magnitude functions of many spaces on Dask, kept in a resumable store",
        "metric-magnitude many data/*.npy --store results/ --scheduler tcp://host:8786",
        _add_many, _run_many),
    "outliers": Command(
        "outlier scores: each point's weight, the largest flagged",
        "metric-magnitude outliers points.csv --contamination 0.05 --format csv -o w.csv",
        _add_outliers, _run_outliers),
    "image": Command(
        "the magnitude vector (pixel weights) or edge map of an image",
        "metric-magnitude image photo.png --t 2 --edges --save edges.png",
        _add_image, _run_image),
    "graph": Command(
        "node scores (weights) and magnitude of a graph given as an edge list",
        "metric-magnitude graph network.edges --scales 0.5 1 2",
        _add_graph, _run_graph),
    "report": Command(
        "a self-contained HTML report with plots and tables",
        "metric-magnitude report a.npy b.npy -o report.html",
        _add_report, _run_report, writes_output_itself=True),
}


def _common_options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("input")
    g.add_argument("--metric", default="euclidean",
                   help="scipy cdist metric name, or 'precomputed' for a distance matrix "
                        "(default: euclidean)")
    g.add_argument("--input", choices=INPUT_KINDS, default="auto",
                   help="what the files hold (default: by suffix and --metric)")
    g.add_argument("--q", type=float, default=0.95,
                   help="convergence scale: where |tX| = q n (default: 0.95)")
    g.add_argument("--sample", type=int, metavar="N",
                   help="use a random sample of N points (reproducible with --seed)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    o = p.add_argument_group("output")
    o.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    o.add_argument("--format", choices=("table", "json", "csv"), default="table")
    o.add_argument("--json", action="store_true", help="same as --format json")
    o.add_argument("--force", action="store_true", help="overwrite existing output files")
    o.add_argument("--quiet", action="store_true", help="no progress bar or messages")
    o.add_argument("-v", "--verbose", action="store_true",
                   help="log every solve on stderr (scale, method, certified bounds, time) "
                        "in place of the progress bar: for long runs at large n")
    return p


def _bar(args) -> bool:
    """Whether to draw the progress bar (not with --quiet, nor with --verbose's log lines)."""
    return not (args.quiet or args.verbose)


class _VerboseLog:
    """With --verbose, the library's INFO lines (`logging`, logger ``metric_magnitude``) on
    stderr for the duration of one command; the logger is left as it was afterwards."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.logger = logging.getLogger("metric_magnitude")

    def __enter__(self):
        if self.enabled:
            self.handler = logging.StreamHandler(sys.stderr)
            self.handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
            self.level = self.logger.level
            self.logger.addHandler(self.handler)
            self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.logger.removeHandler(self.handler)
            self.logger.setLevel(self.level)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per entry of `COMMANDS`."""
    parser = _Parser(
        prog=PROG,
        description="Magnitude of finite metric spaces from the command line.",
        epilog="example: metric-magnitude function points.csv --plot f.png",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    common = _common_options()
    for name, cmd in COMMANDS.items():
        p = sub.add_parser(name, help=cmd.help, parents=[common], description=cmd.help,
                           epilog=f"example: {cmd.example}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        cmd.add_arguments(p)
    return parser


def _check_args(args) -> None:
    if not 0 < args.q < 1:
        raise UsageError(f"--q must be in (0, 1), got {args.q}")
    if args.quiet and args.verbose:
        raise UsageError("--quiet and --verbose contradict each other; give one of them")
    if args.sample is not None and args.sample < 2:
        raise UsageError(f"--sample must be at least 2, got {args.sample}")
    if getattr(args, "top", 1) < 1:
        raise UsageError(f"--top must be at least 1, got {args.top}")
    if getattr(args, "n_scales", None) is not None and args.n_scales < 13:
        raise UsageError(f"--n-scales must be at least 13, got {args.n_scales}")
    if args.output and not COMMANDS[args.command].writes_output_itself:
        check_output_path(args.output, force=args.force)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input or usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        _check_args(args)
        cmd = COMMANDS[args.command]
        with _VerboseLog(args.verbose):
            out = cmd.run(args)
        if cmd.writes_output_itself:
            if not args.quiet:
                _print_tables(out.tables)
        else:
            _emit(out, args, args.command)
        return 0
    except (UsageError, MagnitudeError, ValueError, MissingDependencyError) as exc:
        msg = " ".join(str(exc).split())  # one line, whatever the exception held
        if not msg.startswith(PROG):
            msg = f"{PROG}: error: {msg}"
        print(msg, file=sys.stderr)
        return 2
    except np.linalg.LinAlgError as exc:
        print(f"{PROG}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{PROG}: error: out of memory; try --sample N", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted; no output written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
