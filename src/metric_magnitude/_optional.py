"""Lazy imports of optional dependencies with a message that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import MissingDependencyError

# module name -> (pip extra, what it is used for)
_EXTRAS = {
    "networkx": ("graphs", "graph input"),
    "matplotlib": ("plot", "plots"),
    "sklearn": ("demo", "the bundled demo data"),
    "pyarrow": ("parquet", "reading .parquet files"),
    "rich": ("cli", "terminal tables"),
    "playwright": ("browser", "checking reports in a browser"),
    "PIL": ("plot", "reading picture files"),
    "torch": ("torch", "the PyTorch backend"),
    "dask": ("dask", "distributed computation"),
    "distributed": ("dask", "distributed computation"),
    "numba": ("numba", "the fused numba kernels of the matrix-free solver"),
}


def import_optional(name: str) -> ModuleType:
    """Import an optional dependency or raise `MissingDependencyError`.

    The message names the pip extra that installs it, e.g.
    ``pip install 'metric-magnitude[plot]'``.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        extra, purpose = _EXTRAS.get(name.split(".")[0], ("all", name))
        raise MissingDependencyError(
            f"{name} is required for {purpose} but is not installed; "
            f"install it with: pip install 'metric-magnitude[{extra}]'"
        ) from exc
