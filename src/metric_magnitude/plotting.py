"""Plots of magnitude results: functions, dimension profiles, MagDiff matrices, weights.

Every function draws on a matplotlib ``Axes`` (a new one when ``ax`` is None) and returns
it, like pandas and scikit-learn's display helpers. matplotlib is imported lazily (the
``plot`` extra); nothing here chooses a backend, so scripts and servers should select
``Agg`` (the command line and the report do).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._optional import import_optional
from ._validation import check_names, check_points
from .exceptions import InvalidInputError

__all__ = ["plot_functions", "plot_mag_diffs", "plot_weights", "project_2d"]


def _axes(ax):
    if ax is None:
        plt = import_optional("matplotlib.pyplot")
        _, ax = plt.subplots(figsize=(6.4, 4.2), layout="constrained")
    return ax


def plot_functions(functions: Sequence, names=None, ax=None, *, dimension: bool = False,
                   log_scale: bool = True):
    """Several magnitude functions (or dimension profiles) on one Axes.

    Parameters
    ----------
    functions : sequence of MagnitudeFunction
    names : sequence of str, optional
        Legend labels (default ``X_0, X_1, ...``).
    ax : matplotlib Axes, optional
    dimension : bool, default=False
        Plot the dimension profiles t f'(t) / f(t) instead of the values.
    log_scale : bool, default=True
        Logarithmic scale axis (zero scales are left out).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> f = mm.magnitude_function(np.linspace(0, 1, 30)[:, None])
    >>> ax = mm.plot_functions([f], names=["line"])
    >>> ax.get_legend().get_texts()[0].get_text()
    'line'
    """
    functions = list(functions)
    if not functions:
        raise InvalidInputError("plot_functions needs at least one magnitude function")
    names = check_names(names, len(functions), "functions")
    ax = _axes(ax)
    for f, name in zip(functions, names, strict=True):
        keep = f.scales > 0 if log_scale else slice(None)
        y = f.dimension if dimension else f.values
        ax.plot(f.scales[keep], y[keep], label=name)
    if log_scale:
        ax.set_xscale("log")
    ax.set_xlabel("scale t")
    ax.set_ylabel("magnitude dimension t f'(t) / f(t)" if dimension else "magnitude |tX|")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_mag_diffs(comparison, ax=None, *, annotate: bool | None = None):
    """The MagDiff matrix of a `metric_magnitude.Comparison` as a heat map.

    Parameters
    ----------
    comparison : Comparison
    ax : matplotlib Axes, optional
    annotate : bool, optional
        Write each value in its cell (default: when there are at most 12 spaces).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> rng = np.random.default_rng(0)
    >>> c = mm.compare([rng.normal(size=(40, 2)), 2 * rng.normal(size=(40, 2))])
    >>> mm.plot_mag_diffs(c).get_title()
    'MagDiff on [0, t_cut]'
    """
    diffs = np.asarray(comparison.mag_diffs)
    k = diffs.shape[0]
    ax = _axes(ax)
    image = ax.imshow(diffs, cmap="viridis")
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), comparison.names, rotation=45, ha="right")
    ax.set_yticks(range(k), comparison.names)
    if annotate is None:
        annotate = k <= 12
    if annotate:
        mid = (diffs.max() + diffs.min()) / 2
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{diffs[i, j]:.3g}", ha="center", va="center", fontsize=7,
                        color="black" if diffs[i, j] > mid else "white")
    ax.set_title("MagDiff on [0, t_cut]")
    return ax


def project_2d(X) -> np.ndarray:
    """Points as 2-D coordinates: unchanged when 2-D, a line when 1-D, else PCA.

    The PCA projection (onto the two leading principal axes, by SVD of the centred data) is
    for looking at weights, not a metric statement: distances in it are not the space's.

    >>> project_2d([[0.0], [1.0]]).tolist()
    [[0.0, 0.0], [1.0, 0.0]]
    """
    X = check_points(X)
    if X.shape[1] == 1:
        return np.column_stack([X[:, 0], np.zeros(X.shape[0])])
    if X.shape[1] == 2:
        return X.copy()
    centred = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def plot_weights(X, w, ax=None, *, title: str | None = None):
    """Points coloured by their magnitude weight (PCA projection when not 2-D).

    Parameters
    ----------
    X : array_like of shape (n, d)
        The points (coordinates).
    w : array_like of shape (n,)
        Their weights, e.g. from `metric_magnitude.weights`.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> import metric_magnitude as mm
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> ax = mm.plot_weights(X, mm.weights(X, 2.0))
    >>> len(ax.collections[0].get_offsets())
    50
    """
    xy = project_2d(X)
    w = np.asarray(w, dtype=float)
    if w.shape != (xy.shape[0],):
        raise InvalidInputError(
            f"w must hold one weight per point: got shape {w.shape} for {xy.shape[0]} points"
        )
    ax = _axes(ax)
    order = np.argsort(w)  # heaviest drawn last, on top
    sc = ax.scatter(xy[order, 0], xy[order, 1], c=w[order], s=12, cmap="plasma")
    ax.figure.colorbar(sc, ax=ax, shrink=0.8, label="weight")
    ax.set_aspect("equal", adjustable="datalim")
    projected = np.asarray(X).ndim == 2 and np.asarray(X).shape[1] > 2
    ax.set_xlabel("PC 1" if projected else "x")
    ax.set_ylabel("PC 2" if projected else "y")
    if title:
        ax.set_title(title)
    return ax
