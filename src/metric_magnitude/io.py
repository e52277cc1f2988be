"""Reading user files (untrusted input) for the command line.

Three readers, each of which either returns clean data or raises
`metric_magnitude.exceptions.InvalidInputError` with a one-line message that starts
with the file path and says what to fix:

* `read_array` reads a table of numbers (``.npy``, ``.csv``, ``.tsv``, ``.txt``,
  ``.parquet``) into a 2-D float64 array;
* `read_edge_list` reads a weighted edge list into a networkx graph;
* `load_space` reads either into a `metric_magnitude.MetricSpace`.

Files are never unpickled, and a file too large for memory is refused with
`metric_magnitude.exceptions.InsufficientMemoryError` (an ``InvalidInputError``)
before its data is loaded. Binary formats (``.npy``, ``.parquet``) are checked against
their header before anything is read; text files are checked as they are read, so reading
stops as soon as the values read so far exceed the budget.

Positions in messages: text files give 1-based line and column numbers (as an editor
shows them), binary files give 0-based row and column indices.
"""

from __future__ import annotations

import math
import os
import stat
from array import array
from collections.abc import Callable, Iterator
from typing import IO

import numpy as np

from ._optional import import_optional
from ._validation import available_memory, check_dense_memory, check_distance_matrix
from .exceptions import InsufficientMemoryError, InvalidInputError
from .spaces import DENSE_MATRICES, Metric, MetricSpace

__all__ = ["load_space", "read_array", "read_edge_list"]

PathLike = str | os.PathLike

ARRAY_SUFFIXES = (".npy", ".csv", ".tsv", ".txt", ".parquet")
EDGE_SUFFIXES = (".edges", ".edgelist")
INPUT_KINDS = ("auto", "points", "distances", "edges")

# Longest text line read, in characters: a longer one is refused instead of being split
# into millions of cells at once (16 Mi characters is ~1 million numbers on one line).
MAX_LINE_CHARS = 1 << 24
_BLOCK_CHARS = 1 << 20

# Memory estimate of a networkx graph read from an edge list: measured ~350-650 bytes per
# edge (two dict entries, the weight dict, new node labels); 1 KiB leaves headroom.
_GRAPH_BYTES_PER_EDGE = 1024

# Cells that stand for a missing value (compared in lower case).
_MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})

_NPY_KINDS = {
    "c": "complex numbers; save the real part or the absolute value instead",
    "U": "text strings; save the numbers as a float array",
    "S": "byte strings; save the numbers as a float array",
    "M": "datetimes; save them as numbers (e.g. seconds) instead",
    "m": "timedeltas; save them as numbers (e.g. seconds) instead",
    "V": "raw bytes (void dtype); save the numbers as a float array",
}


# ---------------------------------------------------------------------------------------
# messages


def _one_line(text: str) -> str:
    """Escape every character that could break a message over lines or the terminal."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _error(path: PathLike, message: str, cls: type[InvalidInputError] = InvalidInputError):
    """An exception whose one-line message starts with the path."""
    return cls(_one_line(f"{os.fspath(path)}: {message}"))


def _show(text: str, limit: int = 30) -> str:
    """A cell or a name from the file, quoted, escaped and shortened, for a message."""
    text = text.strip()
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return repr(text)


def _size(n_bytes: float) -> str:
    """Human-readable byte count: 512 B, 1.5 KiB, 3.2 GiB."""
    value = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------------------------------
# files and memory


def _budget(path: PathLike, max_bytes: int | None) -> tuple[int, str]:
    """(bytes the result may take, how to name that amount in a message)."""
    if max_bytes is None:
        return available_memory(), "is available"
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | np.integer):
        raise _error(path, f"max_bytes must be an integer or None, got {max_bytes!r}")
    if max_bytes < 0:
        raise _error(path, f"max_bytes must be >= 0, got {max_bytes}")
    return int(max_bytes), "is allowed (max_bytes)"


def _check_fits(path: PathLike, need: int, what: str, budget: tuple[int, str]) -> None:
    limit, allowed = budget
    if need > limit:
        raise _error(
            path,
            f"too large for memory: reading it needs about {_size(need)} ({what}) but only "
            f"{_size(limit)} {allowed}; subsample the data or use a machine with more memory",
            InsufficientMemoryError,
        )


def _suffix(path: PathLike) -> str:
    name = os.path.basename(os.fspath(path)).lower()
    _, dot, ext = name.rpartition(".")
    return "." + ext if dot and ext else ""


def _open(path: PathLike, mode: str) -> tuple[IO, int]:
    """Open a regular file for reading; return (file, size in bytes) or raise clearly."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise _error(path, "no such file; check the path and its spelling") from None
    except PermissionError:
        raise _error(path, "permission denied: a folder on the path cannot be searched") from None
    except (OSError, ValueError) as exc:  # ValueError: embedded NUL character
        raise _error(path, f"cannot access the file ({exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise _error(path, "is a directory, not a file; give the path of a data file")
    if not stat.S_ISREG(st.st_mode):
        raise _error(
            path,
            "is not a regular file (a pipe, socket or device); save the data to a file first",
        )
    kwargs = {"encoding": "utf-8-sig"} if "b" not in mode else {}
    try:
        fh = open(path, mode, **kwargs)  # the caller closes it
    except PermissionError:
        raise _error(
            path, "permission denied: the file cannot be read; check its permissions"
        ) from None
    except OSError as exc:
        raise _error(path, f"the file cannot be opened ({exc.strerror or exc})") from None
    return fh, int(os.fstat(fh.fileno()).st_size)


def _read_failed(path: PathLike, exc: OSError) -> InvalidInputError:
    return _error(path, f"reading the file failed ({exc.strerror or exc})")


# ---------------------------------------------------------------------------------------
# text


def _blocks(path: PathLike, fh: IO[str]) -> Iterator[tuple[int, list[str]]]:
    """(1-based number of the first line, lines without their newline) for blocks of lines.

    The file is read in blocks of about 1 MiB, so a line can be refused as too long
    without reading all of it.
    """
    carry = ""
    lineno = 1
    while True:
        try:
            block = fh.read(_BLOCK_CHARS)
        except UnicodeDecodeError as exc:
            bad = exc.object[exc.start : exc.start + 1].hex()
            raise _error(
                path,
                f"is not UTF-8 text (it holds the byte 0x{bad}, which is not valid UTF-8); "
                "save it as UTF-8 text, or give a binary file a suffix that says its format",
            ) from None
        except OSError as exc:
            raise _read_failed(path, exc) from None
        if not block:
            if carry:
                yield lineno, [carry]
            return
        lines = (carry + block).split("\n")
        carry = lines.pop()
        if len(carry) > MAX_LINE_CHARS:
            raise _error(
                path,
                f"line {lineno + len(lines)} is longer than {MAX_LINE_CHARS:,} characters; "
                "is this really a text table?",
            )
        if lines:
            yield lineno, lines
            lineno += len(lines)


def _is_content(line: str) -> bool:
    """Neither blank nor a # comment."""
    stripped = line.lstrip()
    return bool(stripped) and stripped[0] != "#"


def _content_lines(path: PathLike, fh: IO[str]) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) of every line that is neither blank nor a # comment."""
    for start, lines in _blocks(path, fh):
        for lineno, line in enumerate(lines, start):
            if _is_content(line):
                yield lineno, line


def _sniff(line: str) -> str | None:
    """Comma if the line holds one, else tab if it holds one, else any whitespace (None)."""
    if "," in line:
        return ","
    if "\t" in line:
        return "\t"
    return None


def _splitter(sep: str | None) -> Callable[[str], list[str]]:
    if sep is None:
        return str.split
    return lambda line: line.split(sep)


def _unquote(cell: str) -> str:
    cell = cell.strip()
    if len(cell) >= 2 and cell[0] == cell[-1] and cell[0] in "\"'":
        return cell[1:-1].strip()
    return cell


def _is_label(cell: str) -> bool:
    """True for a cell that is text: neither a number nor a missing-value marker."""
    cell = _unquote(cell)
    try:
        float(cell)
    except ValueError:
        return cell.lower() not in _MISSING
    return False


def _sep_name(sep: str | None) -> str:
    return {None: "whitespace", " ": "spaces", "\t": "tabs", ",": "commas"}.get(sep, repr(sep))


def _delimiter_hint(cell: str, sep: str | None) -> str:
    for other in (";", "\t", ",", "|", " "):
        if other in cell.strip() and other != sep and not (other == " " and sep is None):
            return f" (is the file separated by {_sep_name(other)}? pass delimiter={other!r})"
    return ""


def _parse_cells(path, lineno: int, cells: list[str], sep: str | None, what: str) -> list[float]:
    """Numbers of one line's cells (slow path: quotes stripped, errors explained)."""
    out = []
    for col, raw in enumerate(cells, start=1):
        cell = _unquote(raw)
        try:
            value = float(cell)
        except ValueError:
            where = f"line {lineno}, column {col}"
            if cell.lower() in _MISSING:
                held = "is empty" if not cell else f"holds {_show(cell)}"
                raise _error(
                    path,
                    f"{where} {held}, a missing value; every {what} must be a finite "
                    "number: drop or impute such rows",
                ) from None
            raise _error(
                path,
                f"{where}: {_show(cell)} is not a number{_delimiter_hint(cell, sep)}; "
                f"every {what} must be a number",
            ) from None
        out.append(value)
    return out


def _column_count_error(path, lineno, found, expected, ref_line, header, cells, hint=""):
    ref = f"the header on line {ref_line}" if header else f"line {ref_line}"
    if found > expected and not cells[-1].strip():
        hint = " (a trailing delimiter?)"
    return _error(
        path,
        f"line {lineno} has {found} columns but {ref} has {expected}{hint}; "
        "every row needs the same number of columns",
    )


def _read_text(path, fh: IO[str], size: int, suffix: str, delimiter, budget) -> np.ndarray:
    limit, allowed = budget
    sep: str | None = None
    split: Callable[[str], list[str]] = str.split
    n_cols = 0  # 0 until the first content line is seen
    ref_line, header, hint = 0, False, ""
    values = array("d")
    row_lines = array("q")  # line number of each data row, for messages

    for start, lines in _blocks(path, fh):
        cells: list[str] = []  # the block's cells, parsed by numpy at once
        numbers: list[int] = []  # line number of each of the block's data rows
        for lineno, line in enumerate(lines, start):
            if not _is_content(line):
                continue
            row = None
            if not n_cols:
                if delimiter is not None:
                    sep = None if delimiter.strip() == "" else delimiter
                elif suffix == ".csv":
                    sep = ","
                elif suffix == ".tsv":
                    sep = "\t"
                else:
                    sep = _sniff(line)
                split = _splitter(sep)
                row = split(line)
                n_cols, ref_line = len(row), lineno
                header = any(_is_label(c) for c in row)
                # one column, but another delimiter in the line: probably the wrong one
                hint = _delimiter_hint(line, sep) if n_cols == 1 else ""
                if header:
                    continue
            row = split(line) if row is None else row
            if len(row) != n_cols:
                raise _column_count_error(
                    path, lineno, len(row), n_cols, ref_line, header, row, hint
                )
            cells.extend(row)
            numbers.append(lineno)
        if not numbers:
            continue
        try:
            block = np.array(cells, dtype=np.float64)
        except ValueError:  # find the bad cell (or read quoted numbers) line by line
            block = np.array(
                [
                    x
                    for k, lineno in enumerate(numbers)
                    for x in _parse_cells(
                        path, lineno, cells[k * n_cols : (k + 1) * n_cols], sep, "value"
                    )
                ],
                dtype=np.float64,
            )
        del cells
        if 8 * (len(values) + block.size) > limit:
            rows_fit = max(limit // 8 - len(values), 0) // n_cols  # rows of this block
            count = len(values) + (rows_fit + 1) * n_cols
            raise _error(
                path,
                f"too large for memory: its first {numbers[rows_fit]:,} lines already hold "
                f"{count:,} numbers ({_size(8 * count)} as float64) of a file of "
                f"{_size(size)}, but only {_size(limit)} {allowed}; subsample the data or "
                "use a machine with more memory",
                InsufficientMemoryError,
            )
        values.frombytes(block.tobytes())
        row_lines.extend(numbers)

    if not n_cols:
        raise _error(
            path,
            "holds no data rows (it is empty or only comments); give one row of numbers per point",
        )
    if not row_lines:
        raise _error(
            path,
            f"holds no data rows, only the header on line {ref_line}; give one row of "
            "numbers per point below it",
        )
    X = np.frombuffer(values, dtype=np.float64).reshape(len(row_lines), n_cols)
    _check_finite_table(path, X, lambda i, j: f"line {row_lines[i]}, column {j + 1} holds {{}}")
    return X


def _check_finite_table(path, X: np.ndarray, where: Callable[[int, int], str]) -> None:
    """Raise for the first NaN or infinite entry; ``where(i, j)`` places it ({} = what)."""
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.unravel_index(int(np.argmax(bad)), X.shape)
        kind = "NaN" if np.isnan(X[i, j]) else "an infinite value"
        raise _error(
            path,
            where(int(i), int(j)).format(kind)
            + "; every value must be a finite number: drop or impute such rows",
        )


# ---------------------------------------------------------------------------------------
# .npy


def _read_npy(path, fh: IO[bytes], size: int, budget) -> np.ndarray:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fh)
    except (ValueError, EOFError, OSError):
        raise _error(
            path,
            "is not a .npy file (it does not start with the .npy magic string); save the "
            "array with numpy.save, or give the file the suffix of its real format",
        ) from None
    if version not in ((1, 0), (2, 0)):
        raise _error(
            path,
            f"uses .npy format version {version[0]}.{version[1]}, which is not supported "
            "(only structured arrays need 3.0); save a plain numeric array with numpy.save",
        )
    read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    try:
        shape, fortran_order, dtype = read_header(fh)
    except Exception as exc:  # any malformed header: ValueError, SyntaxError, TypeError...
        raise _error(
            path,
            f"is a corrupt .npy file: its header cannot be read ({str(exc)[:120]}); "
            "save the array again with numpy.save",
        ) from None
    data_offset = fh.tell()

    if dtype.hasobject:
        raise _error(
            path,
            "holds Python objects (dtype object), which could only be read by unpickling, "
            "and that is unsafe for a file from elsewhere; save a numeric array, e.g. "
            "numpy.save(path, X.astype(float))",
        )
    if dtype.names is not None:
        names = ", ".join(_show(str(n), 20) for n in dtype.names[:5])
        more = ", ..." if len(dtype.names) > 5 else ""
        raise _error(
            path,
            f"holds a structured array (fields {names}{more}); save a plain 2-D numeric "
            "array instead, e.g. numpy.column_stack([X[name] for name in X.dtype.names])",
        )
    if dtype.kind not in "biuf" or dtype.subdtype is not None:
        reason = _NPY_KINDS.get(dtype.kind, "a dtype that is not a plain number; save floats")
        raise _error(path, f"holds {reason} (dtype {dtype.str})")
    if not isinstance(shape, tuple) or any(not isinstance(s, int) or s < 0 for s in shape):
        raise _error(path, f"is a corrupt .npy file: its header has the shape {shape!r}")
    if len(shape) == 0:
        raise _error(path, "holds a single number, not a table; save a 1-D or 2-D array")
    if len(shape) > 2:
        raise _error(
            path,
            f"holds a {len(shape)}-D array of shape {shape}; save a 2-D array of shape "
            "(n_points, n_features), e.g. X.reshape(len(X), -1)",
        )
    n = math.prod(shape)
    if shape[0] == 0:
        raise _error(path, f"holds no data rows (shape {shape}); save at least one point")
    if n == 0:
        raise _error(path, f"has no columns (shape {shape}); save at least one coordinate")
    if size - data_offset < n * dtype.itemsize:
        raise _error(
            path,
            f"is truncated: its header promises shape {shape} of {dtype.str} "
            f"({_size(n * dtype.itemsize)} of data) but only {_size(size - data_offset)} "
            "follow; copy the file again",
        )
    native_f8 = dtype == np.dtype(np.float64) and dtype.isnative
    need = 8 * n if native_f8 and not fortran_order else (8 + dtype.itemsize) * n
    what = f"{n:,} values as float64" + ("" if need == 8 * n else f", read as {dtype.str}")
    _check_fits(path, need, what, budget)

    fh.seek(0)
    try:
        X = np.load(fh, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise _error(
            path, f"could not be read as .npy ({str(exc)[:120]}); save it again with numpy.save"
        ) from None
    if not isinstance(X, np.ndarray) or X.shape != shape:  # pragma: no cover - defensive
        raise _error(path, "changed while it was being read; try again")
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    _check_finite_table(path, X, lambda i, j: f"holds {{}} at row {i}, column {j} (0-based)")
    return X


# ---------------------------------------------------------------------------------------
# .parquet


def _read_parquet(path, fh: IO[bytes], budget) -> np.ndarray:
    pq = import_optional("pyarrow.parquet")
    pa = import_optional("pyarrow")
    try:
        pf = pq.ParquetFile(fh)
        schema = pf.schema_arrow
        n_rows = int(pf.metadata.num_rows)
    except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for corrupt files
        raise _error(
            path,
            f"is not a valid Parquet file ({str(exc)[:160]}); write it again, or give the "
            "file the suffix of its real format",
        ) from None
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    for field in schema:
        if not (any(is_type(field.type) for is_type in numeric) or pa.types.is_decimal(field.type)):
            raise _error(
                path,
                f"column {_show(field.name)} is not numeric (type {field.type}); every column "
                "must hold numbers: drop or convert it",
            )
    n_cols = len(schema)
    if n_cols == 0:
        raise _error(path, "has no columns; save at least one numeric column")
    if n_rows <= 0:
        raise _error(path, "holds no data rows; save at least one row")
    n = n_rows * n_cols
    # the Arrow table (up to 8 bytes a value) and the float64 result exist at once
    _check_fits(path, 16 * n, f"{n:,} values: the Arrow table and the float64 result", budget)
    try:
        table = pf.read()
    except Exception as exc:
        raise _error(path, f"is a corrupt Parquet file ({str(exc)[:160]})") from None
    if table.num_rows != n_rows or table.num_columns != n_cols:
        raise _error(path, "is a corrupt Parquet file: its metadata does not match its data")
    X = np.empty((n_rows, n_cols), dtype=np.float64)
    for j, (name, column) in enumerate(zip(schema.names, table.columns, strict=True)):
        if column.null_count:
            i = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
            raise _error(
                path,
                f"column {_show(name)} has a missing (null) value at row {i} (0-based); "
                "every value must be a number: drop or impute such rows",
            )
        try:
            if pa.types.is_decimal(column.type):
                column = column.cast(pa.float64())
            X[:, j] = column.to_numpy(zero_copy_only=False)
        except Exception as exc:
            raise _error(
                path, f"column {_show(name)} cannot be read as float64 ({str(exc)[:120]})"
            ) from None
    del table
    _check_finite_table(
        path, X, lambda i, j: f"column {_show(schema.names[j])} holds {{}} at row {i} (0-based)"
    )
    return X


# ---------------------------------------------------------------------------------------
# public


def read_array(
    path: PathLike, *, delimiter: str | None = None, max_bytes: int | None = None
) -> np.ndarray:
    """Read a table of numbers from a file into a 2-D float64 array.

    The format follows the suffix (case-insensitive):

    ``.npy``
        Numeric arrays only (bool, int, uint, float); never unpickled. The header is
        checked (dtype, shape, size, memory) before the data is loaded.
    ``.csv``, ``.tsv``, ``.txt``
        UTF-8 text, one row per line. The delimiter is a comma for ``.csv`` and a tab for
        ``.tsv``; for ``.txt`` it is a comma if the first line holds one, else a tab if it
        holds one, else any run of whitespace. Blank lines and lines starting with ``#`` are
        skipped ("first line" means the first other line). The first line is a header (and
        skipped) if any of its cells is text, i.e. neither a number nor a missing-value
        marker (empty, ``NA``, ``null``...); a header of numbers only is read as data.
        Cells may be quoted (``"1.5"``); lines may be at most 16 Mi characters long.
    ``.parquet``
        Every column must be numeric (integer, float, bool or decimal) and free of nulls;
        needs pyarrow (``pip install 'metric-magnitude[parquet]'``).

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    delimiter : str, optional
        Text files only: the string that separates cells, instead of the automatic choice;
        a whitespace-only string (e.g. ``" "``) means any run of whitespace.
    max_bytes : int, optional
        Memory the result may take, instead of the memory available to this process
        (``MemAvailable``). Binary files are refused before their data is loaded if the
        float64 result (plus, for ``.npy`` files that need converting and for Parquet, the
        data as stored) would exceed it; text files are refused as soon as the numbers read
        so far (8 bytes each) exceed it.

    Returns
    -------
    X : ndarray of shape (n_rows, n_columns), float64, C-contiguous
        A 1-D ``.npy`` array becomes one column. Every value is finite.

    Raises
    ------
    InvalidInputError
        With a one-line message that starts with the path and says what to fix: missing,
        unreadable or unsupported file, no data rows, rows of different lengths, a cell
        that is not a number, a missing, NaN or infinite value, a non-numeric dtype or
        column, a corrupt file.
    InsufficientMemoryError
        (An ``InvalidInputError``.) The data would not fit in memory (or in ``max_bytes``).
    MissingDependencyError
        A ``.parquet`` file was given but pyarrow is not installed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from metric_magnitude.io import read_array
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "points.csv"
    ...     _ = path.write_text("x,y\\n0,0\\n3,4\\n")
    ...     X = read_array(path)
    >>> X
    array([[0., 0.],
           [3., 4.]])
    """
    suffix = _suffix(path)
    budget = _budget(path, max_bytes)
    if delimiter is not None:
        if not isinstance(delimiter, str) or delimiter == "" or "\n" in delimiter:
            raise _error(path, f"delimiter must be a non-empty one-line string, got {delimiter!r}")
        if suffix in (".npy", ".parquet"):
            raise _error(path, f"delimiter applies to text files only, not to {suffix} files")
    binary = suffix in (".npy", ".parquet")
    fh, size = _open(path, "rb" if binary else "r")
    with fh:
        if suffix not in ARRAY_SUFFIXES:
            shown = f"the suffix {suffix!r}" if suffix else "no suffix"
            raise _error(
                path,
                f"has {shown}, which is not a supported format; use one of "
                f"{', '.join(ARRAY_SUFFIXES)}",
            )
        if size == 0:
            raise _error(path, "is empty: it holds no data rows")
        if suffix == ".npy":
            return _read_npy(path, fh, size, budget)
        if suffix == ".parquet":
            return _read_parquet(path, fh, budget)
        return _read_text(path, fh, size, suffix, delimiter, budget)


def read_edge_list(path: PathLike, *, max_bytes: int | None = None):
    """Read a weighted (or unweighted) edge list into an undirected networkx graph.

    One edge per line, ``u v`` or ``u v weight``, the cells separated by a comma if the
    first (non-comment) line holds one, else by a tab if it holds one, else by any
    whitespace. Blank lines and lines starting with ``#`` are skipped; there is no header
    line (comment it out). Every line must have the same number of columns (2 or 3).

    Node labels are ints if every label is a plain decimal integer (``7``, ``-3``, not
    ``07``), otherwise strings. Weights must be finite and >= 0; without a weight column
    edges carry no ``weight`` attribute (length 1). An edge given more than once, in either
    direction, keeps its smallest weight; a self-loop ``u u w`` only adds the node ``u``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read (UTF-8 text, any suffix).
    max_bytes : int, optional
        Memory the graph may take instead of the memory available; reading stops with
        `InsufficientMemoryError` once the edges read so far would exceed it
        (estimated at 1 KiB per edge).

    Returns
    -------
    G : networkx.Graph

    Raises
    ------
    InvalidInputError
        With a one-line message that starts with the path (and names the line).
    MissingDependencyError
        networkx is not installed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from metric_magnitude.io import read_edge_list
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "graph.edges"
    ...     _ = path.write_text("# u v weight\\n1 2 0.5\\n2 3 1.5\\n2 1 0.25\\n")
    ...     G = read_edge_list(path)
    >>> sorted(G.edges(data="weight"))
    [(1, 2, 0.25), (2, 3, 1.5)]
    """
    nx = import_optional("networkx")
    budget = _budget(path, max_bytes)
    fh, _ = _open(path, "r")
    with fh:
        lines = _content_lines(path, fh)
        first = next(lines, None)
        if first is None:
            raise _error(
                path,
                "holds no edges (it is empty or only comments); give one edge 'u v' or "
                "'u v weight' per line",
            )
        sep = _sniff(first[1])
        split = _splitter(sep)
        n_cols = len(split(first[1]))
        if n_cols not in (2, 3):
            raise _error(
                path,
                f"line {first[0]} has {n_cols} columns; every line must be 'u v' or "
                f"'u v weight' separated by {_sep_name(sep)}",
            )
        edges: dict[tuple[str, str], float | None] = {}
        nodes: dict[str, None] = {}  # labels in order of first appearance
        limit = budget[0]

        def rows():
            yield first
            yield from lines

        for lineno, line in rows():
            cells = split(line)
            if len(cells) != n_cols:
                raise _column_count_error(path, lineno, len(cells), n_cols, first[0], False, cells)
            u, v = _unquote(cells[0]), _unquote(cells[1])
            for col, label in ((1, u), (2, v)):
                if not label:
                    raise _error(
                        path, f"line {lineno}, column {col} is empty; every edge needs two nodes"
                    )
            w = None
            if n_cols == 3:
                cell = _unquote(cells[2])
                try:
                    w = float(cell)
                except ValueError:
                    header = ""
                    if lineno == first[0]:
                        header = " (a header line? comment it out with '#')"
                    raise _error(
                        path,
                        f"line {lineno}: the weight {_show(cell)} is not a number{header}; "
                        "weights must be finite non-negative numbers",
                    ) from None
                if not math.isfinite(w) or w < 0:
                    raise _error(
                        path,
                        f"line {lineno}: the edge ({_show(u, 20)}, {_show(v, 20)}) has weight "
                        f"{w!r}; weights must be finite and >= 0",
                    )
            nodes.setdefault(u)
            nodes.setdefault(v)
            if u == v:
                continue
            key = (u, v) if u <= v else (v, u)
            if key not in edges or (w is not None and w < edges[key]):
                edges[key] = w
            if _GRAPH_BYTES_PER_EDGE * len(edges) > limit:
                raise _error(
                    path,
                    f"too large for memory: its first {lineno:,} lines already hold "
                    f"{len(edges):,} edges (about {_size(_GRAPH_BYTES_PER_EDGE * len(edges))} "
                    f"as a graph), but only {_size(limit)} {budget[1]}; use a smaller graph "
                    "or a machine with more memory",
                    InsufficientMemoryError,
                )

    as_int = all(_is_canonical_int(label) for label in nodes)
    relabel = int if as_int else str
    G = nx.Graph()
    G.add_nodes_from(relabel(label) for label in nodes)
    for (u, v), w in edges.items():
        if w is None:
            G.add_edge(relabel(u), relabel(v))
        else:
            G.add_edge(relabel(u), relabel(v), weight=w)
    return G


def _is_canonical_int(label: str) -> bool:
    try:
        return str(int(label)) == label
    except ValueError:
        return False


def load_space(
    path: PathLike,
    *,
    metric: Metric = "euclidean",
    input: str = "auto",
    delimiter: str | None = None,
    max_bytes: int | None = None,
) -> MetricSpace:
    """Read a file into a `metric_magnitude.MetricSpace`.

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    metric : str or callable, default="euclidean"
        The metric of the points, or ``"precomputed"`` for a distance matrix. An edge list
        has the shortest-path metric, so it takes no other metric than the default.
    input : {"auto", "points", "distances", "edges"}, default="auto"
        What the file holds. ``"auto"``: an edge list for the suffixes ``.edges`` and
        ``.edgelist``, a distance matrix when ``metric="precomputed"``, else points (one per
        row). Points and distances are read by `read_array`, edges by
        `read_edge_list`.
    delimiter : str, optional
        Passed on to `read_array` (text tables only; edge lists ignore it).
    max_bytes : int, optional
        Passed on to the reader.

    Returns
    -------
    MetricSpace

    Raises
    ------
    InvalidInputError
        With a one-line message that starts with the path: everything `read_array`
        and `read_edge_list` refuse, a matrix that is not a distance matrix (not
        square, asymmetric, negative, nonzero diagonal), an unknown ``input`` or a
        ``metric`` that contradicts it. An unknown metric name is only noticed when the
        distances are first computed.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from metric_magnitude.io import load_space
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = pathlib.Path(tmp) / "distances.csv"
    ...     _ = path.write_text("0,1\\n1,0\\n")
    ...     space = load_space(path, metric="precomputed")
    >>> space
    MetricSpace(n_points=2, n_distinct=2, metric='precomputed')
    """
    if not isinstance(input, str) or input not in INPUT_KINDS:
        raise _error(
            path, f"input must be one of {', '.join(map(repr, INPUT_KINDS))}, got {input!r}"
        )
    precomputed = isinstance(metric, str) and metric == "precomputed"
    kind = input
    if kind == "auto":
        if _suffix(path) in EDGE_SUFFIXES:
            kind = "edges"
        else:
            kind = "distances" if precomputed else "points"
    default_metric = isinstance(metric, str) and metric == "euclidean"
    if kind == "edges" and not default_metric:
        raise _error(
            path,
            f"metric={metric!r} does not apply to an edge list, whose distances are "
            "shortest-path lengths; leave the metric out",
        )
    if kind == "points" and precomputed:
        raise _error(
            path,
            "input='points' contradicts metric='precomputed'; for a distance matrix use "
            "input='distances'",
        )
    if kind == "distances" and not (precomputed or default_metric):
        raise _error(
            path,
            f"input='distances' contradicts metric={metric!r}; a distance matrix needs no "
            "metric (it is 'precomputed')",
        )

    try:
        if kind == "edges":
            return MetricSpace(read_edge_list(path, max_bytes=max_bytes))
        X = read_array(path, delimiter=delimiter, max_bytes=max_bytes)
        if kind == "points":
            return MetricSpace(X, metric=metric)
        if X.shape[0] == X.shape[1]:
            check_dense_memory(X.shape[0], DENSE_MATRICES)
        D = check_distance_matrix(X, name="the matrix")
        return MetricSpace(D, metric="precomputed")
    except InvalidInputError as exc:
        prefix = _one_line(f"{os.fspath(path)}: ")
        if str(exc).startswith(prefix):
            raise
        raise _error(path, str(exc), type(exc)) from None
