"""A self-contained HTML report: tables, figures (inline PNG), settings and version.

The page needs no network to be viewed: figures are embedded as base64 PNG, the CSS is
inline, there is no script. It reflows on narrow screens (tables scroll sideways, figures
shrink). Numbers in tables carry their full value in ``data-value`` so that tests (and
scrapers) can check them exactly.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import platform
from collections.abc import Callable, Sequence

import numpy as np

from ._files import write_atomic
from ._optional import import_optional
from .analysis import Analysis

__all__ = ["Report", "analysis_report"]

_CSS = """
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6476; --line: #d8dde6; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 1100px; padding: 1rem; }
h1 { font-size: 1.6rem; margin: 0.5rem 0; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
p.meta, p.note { color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--line); text-align: left;
         white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: bottom; text-align: left; color: var(--muted); font-size: 0.85rem;
          padding-top: 0.3rem; white-space: normal; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9rem; }
.grid { display: flex; flex-wrap: wrap; gap: 0 1rem; }
.grid figure { flex: 1 1 420px; max-width: 540px; }
@media (max-width: 600px) { body { font-size: 15px; padding: 0.5rem; } }
"""


def _fmt(x) -> str:
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, int | np.integer):
        return str(int(x))
    if isinstance(x, float | np.floating):
        return f"{float(x):.6g}"
    return str(x)


def _cell(x, tag: str = "td") -> str:
    text = html.escape(_fmt(x))
    if isinstance(x, float | np.floating | int | np.integer) and not isinstance(x, bool):
        return f'<{tag} class="num" data-value="{float(x)!r}">{text}</{tag}>'
    return f"<{tag}>{text}</{tag}>"


def _figure_html(fig, caption: str, dpi: int = 110) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    width, height = (round(v * dpi) for v in fig.get_size_inches())
    return (
        f'<figure><img src="data:image/png;base64,{data}" width="{width}" '
        f'height="{height}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


class Report:
    """An HTML page built from titled sections of text, tables and matplotlib figures.

    Examples
    --------
    >>> r = Report("Example")
    >>> r.add_table("Numbers", ["name", "value"], [["pi", 3.14159]], table_id="numbers")
    >>> '<td class="num" data-value="3.14159">3.14159</td>' in r.html()
    True
    """

    def __init__(self, title: str, *, subtitle: str = ""):
        self.title = title
        self.subtitle = subtitle
        self._parts: list[str] = []

    def add_heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def add_text(self, text: str, *, css_class: str = "note") -> None:
        self._parts.append(f'<p class="{css_class}">{html.escape(text)}</p>')

    def add_table(self, title: str | None, header: Sequence[str], rows: Sequence[Sequence],
                  *, table_id: str | None = None, caption: str | None = None) -> None:
        """A table; numeric cells keep their exact value in ``data-value``."""
        if title:
            self.add_heading(title)
        ident = f' id="{html.escape(table_id)}"' if table_id else ""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
        body = "".join(
            "<tr>" + _cell(r[0], "th") + "".join(_cell(x) for x in r[1:]) + "</tr>"
            for r in rows
        )
        cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
        self._parts.append(
            f'<div class="table-wrap"><table{ident}>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>"
        )

    def add_figure(self, fig, caption: str, *, title: str | None = None) -> None:
        """A matplotlib Figure, embedded as a PNG (no file next to the page)."""
        if title:
            self.add_heading(title)
        self._parts.append(_figure_html(fig, caption))

    def add_figure_grid(self, figures: Sequence[tuple], *, title: str | None = None) -> None:
        """(figure, caption) pairs side by side where the screen is wide enough."""
        if title:
            self.add_heading(title)
        inner = "".join(_figure_html(fig, caption) for fig, caption in figures)
        self._parts.append(f'<div class="grid">{inner}</div>')

    def html(self) -> str:
        from . import __version__

        made = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        meta = (f"metric-magnitude {__version__} · Python {platform.python_version()} · "
                f"numpy {np.__version__} · {made}")
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(self.title)}</h1>{sub}"
            f'<p class="meta" id="version">{html.escape(meta)}</p>'
            + "\n".join(self._parts)
            + "</body></html>\n"
        )

    def write(self, path, *, force: bool = False):
        """Write the page atomically; refuses to overwrite unless ``force``. Returns the path."""
        return write_atomic(path, self.html(), force=force)


def new_figure(width: float = 6.4, height: float = 4.2):
    """A matplotlib Figure and Axes that need no display (no pyplot state)."""
    figure = import_optional("matplotlib.figure")
    fig = figure.Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def analysis_report(analysis: Analysis, *, title: str = "Magnitude report",
                    sources: Sequence[str] | None = None, max_weight_plots: int = 12,
                    after_results: Callable[[Report], None] | None = None) -> Report:
    """The standard report of an `metric_magnitude.analysis.Analysis`.

    Sections: results (convergence scale, magnitude dimension, MagArea, accuracy), what
    ``after_results(report)`` adds, the magnitude functions and dimension profiles, the
    comparison (MagArea on the common interval, MagDiff heat map and table) for two or more
    spaces, the points coloured by weight (2-D, or PCA), the largest weights, the inputs and
    the settings.
    """
    from .plotting import plot_functions, plot_mag_diffs, plot_weights

    spaces = analysis.spaces
    names = [s.name for s in spaces]
    report = Report(title, subtitle=f"{len(spaces)} space(s): " + ", ".join(names))
    src = list(sources) if sources is not None else ["(in memory)"] * len(spaces)
    report.add_table(
        "Results",
        ["space", "t_conv", "magnitude dimension", "MagArea [0, t_conv]", "weight scale",
         "exact solves", "error estimate"],
        [[s.name, s.t_conv, s.magnitude_dimension, s.mag_area, s.weight_scale,
          s.function.n_solves, s.function.error_estimate] for s in spaces],
        table_id="results",
        caption="t_conv: |tX| = q n. MagArea: the area under t -> |tX| on [0, t_conv] over "
                "t_conv (Limbeck et al. 2024).",
    )
    if after_results is not None:
        after_results(report)
    fig, ax = new_figure()
    plot_functions([s.function for s in spaces], names, ax)
    report.add_figure(fig, "Magnitude functions |tX| (log scale axis)",
                      title="Magnitude functions")
    fig, ax = new_figure()
    plot_functions([s.function for s in spaces], names, ax, dimension=True)
    report.add_figure(fig, "Dimension profiles t f'(t) / f(t); the peak is the magnitude "
                           "dimension", title="Dimension profiles")
    c = analysis.comparison
    if c is not None:
        report.add_table(
            "Comparison on a common interval",
            ["space", "t_conv", "MagArea [0, t_cut]"],
            [[n, t, a] for n, t, a in zip(c.names, c.t_convs, c.mag_areas, strict=True)],
            table_id="comparison",
            caption=f"t_cut = {c.t_cut:.6g}, the median convergence scale",
        )
        side = min(2.0 + 0.55 * len(c.names), 9.0)
        fig, ax = new_figure(side + 1.2, side)
        plot_mag_diffs(c, ax)
        report.add_figure(fig, "MagDiff: the area between two magnitude functions on "
                               "[0, t_cut], over t_cut", title="MagDiff")
        report.add_table(None, ["MagDiff", *c.names],
                         [[n, *row] for n, row in zip(c.names, c.mag_diffs, strict=True)],
                         table_id="magdiff")
    with_points = [s for s in spaces if s.points is not None][:max_weight_plots]
    if with_points:
        figures = []
        for s in with_points:
            fig, ax = new_figure(5.2, 4.2)
            plot_weights(s.points, s.weights, ax, title=s.name)
            how = "" if s.points.shape[1] <= 2 else " (PCA projection)"
            figures.append((fig, f"{s.name}: points coloured by weight at t = "
                                 f"{s.weight_scale:.4g}{how}"))
        report.add_figure_grid(figures, title="Weights")
    report.add_table(
        "Largest weights",
        ["space", "rank", "index", "weight"],
        [[s.name, r + 1, i, w] for s in spaces for r, (i, w) in enumerate(s.top_weights())],
        table_id="top-weights",
        caption="Boundary points and outliers carry the largest weights.",
    )
    report.add_table(
        "Inputs", ["space", "source", "points", "distinct", "features"],
        [[s.name, src_i, s.n_points, s.n_distinct,
          "-" if s.n_features is None else s.n_features] for s, src_i in zip(spaces, src,
                                                                              strict=True)],
        table_id="inputs",
    )
    report.add_table(
        "Settings", ["setting", "value"],
        [[k, v] for k, v in analysis.settings.items()]
        + [["scales", "0 and n_scales geometric on [t_conv/1000, t_conv]"],
           ["weights at", "the scale where |tX| = n_distinct / 2"]],
        table_id="settings",
    )
    return report
