"""Writing output files safely: never overwrite without ``force``, never leave half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .exceptions import InvalidInputError


def check_output_path(path, *, force: bool = False) -> Path:
    """Return ``path`` as a Path if it can be written, else raise InvalidInputError.

    Checked before any work is done, so that a long computation does not end in a refusal.
    """
    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(f"{path}: is a directory; give a file name to write")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInputError(
            f"{path}: the directory {parent} does not exist; create it first or choose "
            "another output path"
        )
    if not os.access(parent, os.W_OK):
        raise InvalidInputError(f"{path}: the directory {parent} is not writable")
    if path.exists() and not force:
        raise InvalidInputError(f"{path}: exists already; pass --force to overwrite it")
    return path


def write_atomic(path, data: str | bytes, *, force: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same directory, then rename.

    An interrupted run leaves either the old file or none, never a partial one.
    """
    path = check_output_path(path, force=force)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, mode, **({} if mode == "wb" else {"encoding": "utf-8"})) as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
