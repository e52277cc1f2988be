"""metric_magnitude.io: reading untrusted files for the command line.

Every format reads back what was written; every bad file is an InvalidInputError whose
message is one line, starts with the path and names what to fix.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import metric_magnitude as mm
from metric_magnitude import io as mio
from metric_magnitude.exceptions import (
    InsufficientMemoryError,
    InvalidInputError,
    MissingDependencyError,
)

POINTS = np.array([[0.0, 1.5], [2.0, -3.25], [1e-3, 4e5]])


def _write(path, text: str, encoding: str = "utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def _error(func, path, *words, cls=InvalidInputError, **kwargs) -> str:
    """Call func(path), expect cls; check the message is one line, starts with the path and
    holds every word (case-insensitive). Returns the message."""
    with pytest.raises(cls) as info:
        func(path, **kwargs)
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, ValueError)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1, msg
    assert "\n" not in msg and "\r" not in msg
    assert msg.startswith(f"{os.fspath(path)}: "), msg
    for word in words:
        assert word.lower() in msg.lower(), (word, msg)
    return msg


def _read_error(path, *words, **kwargs) -> str:
    return _error(mio.read_array, path, *words, **kwargs)


def _check_array(X, expected):
    assert isinstance(X, np.ndarray)
    assert X.dtype == np.float64
    assert X.ndim == 2
    assert X.flags.c_contiguous
    np.testing.assert_array_equal(X, np.asarray(expected, dtype=float))


# ---------------------------------------------------------------------------------------
# round trips


@pytest.mark.parametrize(
    "array",
    [
        POINTS,
        np.arange(12, dtype=np.int64).reshape(4, 3) - 5,
        np.array([[True, False], [False, True]]),
        np.arange(6, dtype=np.uint8).reshape(3, 2),
        POINTS.astype(np.float32),
        np.asfortranarray(POINTS),
        POINTS.astype(">f8"),
        np.array([[0.5, -2.0], [1024.0, 3.0]], dtype=np.float16),
    ],
    ids=["float64", "int64", "bool", "uint8", "float32", "fortran", "big-endian", "float16"],
)
def test_npy_round_trip(tmp_path, array):
    path = tmp_path / "x.npy"
    np.save(path, array)
    _check_array(mio.read_array(path), array.astype(float))


def test_npy_one_dimensional_becomes_a_column(tmp_path):
    path = tmp_path / "line.npy"
    np.save(path, np.array([3.0, 1.0, 2.0]))
    X = mio.read_array(path)
    _check_array(X, [[3.0], [1.0], [2.0]])


def test_npy_suffix_is_case_insensitive(tmp_path):
    path = tmp_path / "X.NPY"
    with open(path, "wb") as fh:
        np.save(fh, POINTS)
    _check_array(mio.read_array(path), POINTS)


def test_csv_with_header(tmp_path):
    path = _write(tmp_path / "p.csv", "x,y\n0,1.5\n2,-3.25\n0.001,4e5\n")
    _check_array(mio.read_array(path), POINTS)


def test_csv_without_header(tmp_path):
    path = _write(tmp_path / "p.csv", "0,1.5\n2, -3.25\n0.001 ,4e5")  # no final newline
    _check_array(mio.read_array(path), POINTS)


def test_csv_comments_blank_lines_quotes_crlf_and_bom(tmp_path):
    text = '# exported\r\n\r\n"x","y"\r\n  # a note\r\n"0","1.5"\r\n2,-3.25\r\n\r\n0.001,4e5\r\n'
    path = _write(tmp_path / "p.CSV", text, encoding="utf-8-sig")
    _check_array(mio.read_array(path), POINTS)


def test_header_with_empty_index_name(tmp_path):
    # pandas writes an unnamed index column as an empty header cell
    path = _write(tmp_path / "p.csv", ",a\n0,1\n1,2\n")
    _check_array(mio.read_array(path), [[0, 1], [1, 2]])


def test_tsv(tmp_path):
    path = _write(tmp_path / "p.tsv", "x\ty\n0\t1.5\n2\t-3.25\n0.001\t4e5\n")
    _check_array(mio.read_array(path), POINTS)


@pytest.mark.parametrize(
    "text",
    [
        "0 1.5\n2   -3.25\n\t0.001  4e5\n",
        "x y\n0 1.5\n2 -3.25\n0.001 4e5\n",
        "0,1.5\n2,-3.25\n0.001,4e5\n",
        "0\t1.5\n2\t-3.25\n0.001\t4e5\n",
    ],
    ids=["whitespace", "whitespace-header", "comma", "tab"],
)
def test_txt_delimiter_is_sniffed(tmp_path, text):
    path = _write(tmp_path / "p.txt", text)
    _check_array(mio.read_array(path), POINTS)


def test_single_column_text(tmp_path):
    path = _write(tmp_path / "p.txt", "value\n1\n2\n")
    _check_array(mio.read_array(path), [[1.0], [2.0]])


def test_explicit_delimiter(tmp_path):
    path = _write(tmp_path / "p.csv", "x;y\n0;1.5\n2;-3.25\n0.001;4e5\n")
    _check_array(mio.read_array(path, delimiter=";"), POINTS)
    path = _write(tmp_path / "q.txt", "0  1.5\n2 -3.25\n0.001\t4e5\n")
    _check_array(mio.read_array(path, delimiter=" "), POINTS)


def test_parquet_round_trip(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    from decimal import Decimal

    table = pa.table(
        {
            "f": pa.array([0.5, -1.0, 2.0]),
            "i": pa.array([1, 2, 3], type=pa.int32()),
            "b": pa.array([True, False, True]),
            "d": pa.array([Decimal("1.25"), Decimal("0"), Decimal("-2.5")]),
        }
    )
    path = tmp_path / "p.parquet"
    pq.write_table(table, path)
    X = mio.read_array(path)
    _check_array(X, [[0.5, 1, 1, 1.25], [-1, 2, 0, 0], [2, 3, 1, -2.5]])


# ---------------------------------------------------------------------------------------
# files that cannot be read


def test_missing_file(tmp_path):
    _read_error(tmp_path / "nope.csv", "no such file")
    _read_error(tmp_path / "no" / "such" / "dir.npy", "no such file")


def test_directory(tmp_path):
    folder = tmp_path / "data.csv"
    folder.mkdir()
    _read_error(folder, "directory")


def test_permission_denied_on_open(tmp_path, monkeypatch):
    # faked: CI runs as root, which reads any file whatever its mode
    path = _write(tmp_path / "secret.csv", "1,2\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(mio, "open", denied, raising=False)
    _read_error(path, "permission denied", "cannot be read")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_pipe_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    _read_error(path, "not a regular file")


@pytest.mark.parametrize("name", ["x.xlsx", "x.npz", "x.csv.gz", "noext", "x."])
def test_unknown_suffix(tmp_path, name):
    path = _write(tmp_path / name, "1,2\n")
    msg = _read_error(path, "suffix", "supported", ".npy", ".csv", ".tsv", ".txt", ".parquet")
    if name == "noext":
        assert "no suffix" in msg


@pytest.mark.parametrize("name", ["e.csv", "e.txt", "e.tsv", "e.npy", "e.parquet"])
def test_empty_file(tmp_path, name):
    path = _write(tmp_path / name, "")
    _read_error(path, "empty", "no data rows")


def test_only_comments(tmp_path):
    path = _write(tmp_path / "c.txt", "# nothing here\n\n   \n# still nothing\n")
    _read_error(path, "holds no data rows")


def test_header_only(tmp_path):
    path = _write(tmp_path / "h.csv", "x,y\n# no rows\n")
    _read_error(path, "holds no data rows", "header on line 1")


def test_small_blocks_keep_line_numbers(tmp_path, monkeypatch):
    # the reader splits the file into blocks of lines: lines cut by a block boundary and
    # line numbers must come out the same whatever the block size
    monkeypatch.setattr(mio, "_BLOCK_CHARS", 3)
    text = "# c\nx,y\n\n0,1.5\n2,-3.25\n# c\n0.001,4e5\n"
    _check_array(mio.read_array(_write(tmp_path / "p.csv", text)), POINTS)
    path = _write(tmp_path / "q.csv", text + "\n1,nan\n")
    _read_error(path, "line 9, column 2", "NaN")
    path = _write(tmp_path / "r.csv", text + "1,2,3")
    _read_error(path, "line 8 has 3 columns", "header on line 2")
    G = mio.read_edge_list(_write(tmp_path / "g.edges", "# c\nab cd 1\n\nef ab 2"))
    assert G.number_of_edges() == 2
    assert (G["ab"]["cd"]["weight"], G["ef"]["ab"]["weight"]) == (1.0, 2.0)


def test_too_long_line(tmp_path, monkeypatch):
    monkeypatch.setattr(mio, "MAX_LINE_CHARS", 10)
    monkeypatch.setattr(mio, "_BLOCK_CHARS", 4)
    path = _write(tmp_path / "long.csv", "1,2\n" + "3," * 20 + "4\n")
    _read_error(path, "line 2 is longer than 10 characters")


def test_not_utf8_text(tmp_path):
    path = tmp_path / "binary.txt"
    np.save(tmp_path / "b.npy", POINTS)
    path.write_bytes((tmp_path / "b.npy").read_bytes())
    _read_error(path, "not UTF-8", "0x93")


# ---------------------------------------------------------------------------------------
# bad text tables


def test_ragged_rows(tmp_path):
    path = _write(tmp_path / "r.csv", "x,y\n1,2\n3,4,5\n")
    _read_error(path, "line 3", "3 columns", "header on line 1 has 2")
    path = _write(tmp_path / "r.txt", "# c\n1 2 3\n\n4 5\n")
    _read_error(path, "line 4 has 2 columns", "line 2 has 3")


def test_trailing_delimiter_is_pointed_out(tmp_path):
    path = _write(tmp_path / "r.csv", "1,2\n3,4,\n")
    _read_error(path, "line 2 has 3 columns", "trailing delimiter")


def test_non_numeric_cell(tmp_path):
    path = _write(tmp_path / "n.csv", "x,y\n1,2\n3,abc\n")
    _read_error(path, "line 3, column 2", "'abc'", "not a number")


def test_long_cell_is_truncated(tmp_path):
    cell = "z" * 500
    path = _write(tmp_path / "n.csv", f"1,2\n3,{cell}\n")
    msg = _read_error(path, "line 2, column 2", "...")
    assert cell not in msg
    assert len(msg) < 300


def test_wrong_delimiter_hint(tmp_path):
    path = _write(tmp_path / "eu.csv", "x;y\n1,5;2,5\n")
    _read_error(path, "line 2 has 3 columns", "header on line 1 has 1", "delimiter=';'")
    path = _write(tmp_path / "semi.csv", "1;2\n3;4\n")
    _read_error(path, "line 2, column 1", "'3;4'", "not a number", "delimiter=';'")


def test_control_characters_stay_on_one_line(tmp_path):
    path = _write(tmp_path / "c.csv", "1,2\n3,a\x0bb\u2028c\x1c\n")
    msg = _read_error(path, "line 2, column 2")
    assert "\x0b" not in msg and "\u2028" not in msg


def test_path_with_a_newline_stays_on_one_line(tmp_path):
    path = tmp_path / "bad\nname.csv"
    with pytest.raises(InvalidInputError) as info:
        mio.read_array(path)
    msg = str(info.value)
    assert len(msg.splitlines()) == 1
    assert msg.startswith(os.fspath(tmp_path)) and "bad\\nname.csv" in msg


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("1,2\n3,nan\n", ["line 2, column 2", "NaN", "drop or impute"]),
        ("1,2\nNaN,3\n", ["line 2, column 1", "NaN", "drop or impute"]),
        ("1,inf\n3,4\n", ["line 1, column 2", "infinite", "drop or impute"]),
        ("1,2\n3,-Infinity\n", ["line 2, column 2", "infinite"]),
        ("1,2\n3,1e999\n", ["line 2, column 2", "infinite"]),
        ("x,y\n1,2\n,4\n", ["line 3, column 1", "empty", "drop or impute"]),
        ("x,y\n1,2\n3,NA\n", ["line 3, column 2", "'NA'", "missing", "drop or impute"]),
        ("1,,3\n4,5,6\n", ["line 1, column 2", "empty"]),  # not mistaken for a header
    ],
    ids=["nan", "NaN-first-col", "inf", "-Infinity", "overflow", "empty", "NA", "first-row"],
)
def test_missing_or_non_finite_values(tmp_path, text, words):
    path = _write(tmp_path / "m.csv", text)
    _read_error(path, *words)


def test_empty_cell_in_tsv(tmp_path):
    path = _write(tmp_path / "m.tsv", "1\t2\n3\t\n")
    _read_error(path, "line 2, column 2", "empty")


def test_bad_delimiter_argument(tmp_path):
    path = _write(tmp_path / "p.csv", "1,2\n")
    _read_error(path, "delimiter", delimiter="")
    np.save(tmp_path / "p.npy", POINTS)
    _read_error(tmp_path / "p.npy", "delimiter", "text files", delimiter=",")


# ---------------------------------------------------------------------------------------
# bad .npy files


def test_npy_with_objects_is_never_unpickled(tmp_path, monkeypatch):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    calls = []
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(a))
    _read_error(path, "objects", "unpickling")
    assert not calls


@pytest.mark.parametrize(
    ("array", "words"),
    [
        (np.zeros(3, dtype=[("a", "f8"), ("b", "i4")]), ["structured", "'a'", "'b'"]),
        (np.array([["1", "2"], ["3", "4"]]), ["strings", "<U1"]),
        (np.array([[b"1", b"2"]]), ["byte strings"]),
        (np.array([[1 + 2j, 3]]), ["complex"]),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), ["datetimes"]),
        (np.zeros((2, 2, 2)), ["3-D", "(2, 2, 2)"]),
        (np.array(1.0), ["single number"]),
        (np.zeros((0, 3)), ["no data rows"]),
        (np.zeros((3, 0)), ["no columns"]),
        (np.array([[1.0, np.nan]]), ["NaN", "row 0, column 1", "drop or impute"]),
        (np.array([1.0, -np.inf]), ["infinite", "row 1, column 0"]),
    ],
    ids=[
        "structured",
        "unicode",
        "bytes",
        "complex",
        "datetime",
        "3d",
        "0d",
        "no-rows",
        "no-cols",
        "nan",
        "inf",
    ],
)
def test_npy_bad_contents(tmp_path, array, words):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    _read_error(path, *words)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"this is not numpy at all", ["not a .npy file"]),
        (b"\x93NUMPY\x01\x00\x10\x00{'descr': '<f8', 'for", ["corrupt", "header"]),
        (b"\x93NUMPY\x01\x00\x20\x00not a python dictionary at all!\n", ["corrupt"]),
        (b"\x93NUMPY\x07\x00\x10\x00", ["version 7.0"]),
        (b"\x93NU", ["not a .npy file"]),
    ],
    ids=["text", "cut-header", "bad-header", "version", "short"],
)
def test_corrupt_npy(tmp_path, data, words):
    path = tmp_path / "corrupt.npy"
    path.write_bytes(data)
    _read_error(path, *words)


def test_truncated_npy(tmp_path):
    path = tmp_path / "cut.npy"
    np.save(path, np.zeros((100, 4)))
    path.write_bytes(path.read_bytes()[:-8])
    _read_error(path, "truncated", "(100, 4)")


def test_npy_too_large_is_refused_before_loading(tmp_path, monkeypatch):
    path = tmp_path / "big.npy"
    np.save(path, np.zeros((100, 4), dtype=np.float32))
    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        raise AssertionError("np.load must not be reached")

    monkeypatch.setattr(np, "load", spy)
    msg = _read_error(
        path,
        "too large for memory",
        "4.7 KiB",
        "100 B",
        cls=InsufficientMemoryError,
        max_bytes=100,
    )  # (8 + 4) * 400 bytes: the float64 result plus the float32 data
    assert "max_bytes" in msg
    assert not calls
    # the memory available to the process is the default limit
    monkeypatch.setattr(mio, "available_memory", lambda: 1000)
    msg = _read_error(path, "too large for memory", "is available", cls=InsufficientMemoryError)
    assert not calls
    monkeypatch.undo()
    _check_array(mio.read_array(path, max_bytes=4800), np.zeros((100, 4)))


def test_max_bytes_is_validated(tmp_path):
    path = _write(tmp_path / "p.csv", "1,2\n")
    _read_error(path, "max_bytes", max_bytes=-1)
    _read_error(path, "max_bytes", max_bytes=True)
    _read_error(path, "max_bytes", max_bytes=1.5)


def test_text_too_large_stops_reading(tmp_path, monkeypatch):
    rows = "\n".join(f"{i},{i + 1}" for i in range(1000))
    path = _write(tmp_path / "big.csv", "x,y\n" + rows + "\n")
    msg = _read_error(
        path,
        "too large for memory",
        "first 7 lines",
        "12 numbers",
        "max_bytes",
        cls=InsufficientMemoryError,
        max_bytes=88,
    )
    assert "1,000" not in msg  # it stopped early, long before the end
    _check_array(mio.read_array(path, max_bytes=16000)[-1:], [[999, 1000]])


def test_parquet_too_large_is_refused_before_reading(tmp_path, monkeypatch):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"a": np.arange(100.0), "b": np.arange(100.0)}), path)

    def no_read(*args, **kwargs):
        raise AssertionError("the table must not be read")

    monkeypatch.setattr(pq.ParquetFile, "read", no_read)
    _read_error(path, "too large for memory", "3.1 KiB", cls=InsufficientMemoryError, max_bytes=10)


# ---------------------------------------------------------------------------------------
# bad parquet files


def test_parquet_string_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0], "label": ["a", "b"], "z": ["c", "d"]}), path)
    _read_error(path, "column 'label'", "not numeric", "string")


def test_parquet_nulls(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [1, None, 3]}), path)
    _read_error(path, "column 'y'", "null", "row 1", "drop or impute")


def test_parquet_nan(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "n.parquet"
    pq.write_table(pa.table({"x": [1.0, np.nan]}), path)
    _read_error(path, "column 'x'", "NaN", "row 1")


def test_parquet_no_rows(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "e.parquet"
    pq.write_table(pa.table({"x": pa.array([], type=pa.float64())}), path)
    _read_error(path, "no data rows")


def test_corrupt_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = _write(tmp_path / "c.parquet", "x,y\n1,2\n")
    _read_error(path, "not a valid Parquet file")


def test_parquet_without_pyarrow(tmp_path, monkeypatch):
    path = _write(tmp_path / "p.parquet", "PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(MissingDependencyError, match=r"metric-magnitude\[parquet\]"):
        mio.read_array(path)


# ---------------------------------------------------------------------------------------
# edge lists


@pytest.fixture
def nx():
    return pytest.importorskip("networkx")


def test_edge_list_weighted_int_labels(tmp_path, nx):
    text = "# u v w\n1 2 0.5\n\n2 3 1.5\n2 1 0.25\n3 3 0\n1 2 7\n"
    G = mio.read_edge_list(_write(tmp_path / "g.edges", text))
    assert isinstance(G, nx.Graph) and not G.is_directed()
    assert list(G.nodes) == [1, 2, 3]
    assert sorted(G.edges(data="weight")) == [(1, 2, 0.25), (2, 3, 1.5)]
    assert not nx.number_of_selfloops(G)


@pytest.mark.parametrize(
    "text",
    ["a,b,1\nb,c d,2\n", "a\tb\t1\nb\tc d\t2\n"],
    ids=["comma", "tab"],
)
def test_edge_list_string_labels(tmp_path, nx, text):
    G = mio.read_edge_list(_write(tmp_path / "g.txt", text))
    assert sorted(G.edges(data="weight")) == [("a", "b", 1.0), ("b", "c d", 2.0)]


def test_edge_list_labels_stay_strings_unless_canonical_ints(tmp_path, nx):
    G = mio.read_edge_list(_write(tmp_path / "g.txt", "07 7\n7 -1\n"))
    assert set(G.nodes) == {"07", "7", "-1"}  # '07' and '7' must not merge
    G = mio.read_edge_list(_write(tmp_path / "h.txt", "0 7\n7 -1\n"))
    assert set(G.nodes) == {0, 7, -1}


def test_edge_list_unweighted(tmp_path, nx):
    G = mio.read_edge_list(_write(tmp_path / "g.edgelist", "a b\nb c\nc a\nb a\n"))
    assert G.number_of_edges() == 3
    assert all("weight" not in data for _, _, data in G.edges(data=True))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["no edges"]),
        ("# only a comment\n\n", ["no edges"]),
        ("1 2 1\n2 3 -0.5\n", ["line 2", "weight -0.5", ">= 0"]),
        ("1 2 1\n2 3 nan\n", ["line 2", "nan", "finite"]),
        ("1 2 1\n2 3 inf\n", ["line 2", "inf", "finite"]),
        ("1 2 1\n2 3 heavy\n", ["line 2", "'heavy'", "not a number"]),
        ("source target weight\n1 2 1\n", ["line 1", "header line"]),
        ("1 2 1\n2 3\n", ["line 2 has 2 columns", "line 1 has 3"]),
        ("1 2\n2 3 4\n", ["line 2 has 3 columns", "line 1 has 2"]),
        ("1\n2\n", ["line 1 has 1 columns", "'u v'"]),
        ("1 2 3 4\n", ["line 1 has 4 columns"]),
        ("1,,2\n", ["line 1, column 2 is empty"]),
    ],
    ids=[
        "empty",
        "comments",
        "negative",
        "nan",
        "inf",
        "text-weight",
        "header",
        "ragged-short",
        "ragged-long",
        "one-column",
        "four-columns",
        "empty-node",
    ],
)
def test_bad_edge_lists(tmp_path, nx, text, words):
    path = _write(tmp_path / "bad.edges", text)
    _error(mio.read_edge_list, path, *words)


def test_edge_list_missing_file_and_memory(tmp_path, nx):
    _error(mio.read_edge_list, tmp_path / "missing.edges", "no such file")
    path = _write(tmp_path / "g.edges", "\n".join(f"{i} {i + 1}" for i in range(50)))
    _error(
        mio.read_edge_list,
        path,
        "too large for memory",
        "3 edges",
        cls=InsufficientMemoryError,
        max_bytes=2048,
    )


# ---------------------------------------------------------------------------------------
# load_space


def test_load_points(tmp_path):
    path = _write(tmp_path / "p.csv", "x,y\n0,0\n3,4\n3,4\n")
    space = mio.load_space(path)
    assert isinstance(space, mm.MetricSpace)
    assert (space.n_points, space.n_distinct) == (3, 2)
    space = mio.load_space(path, metric="cityblock")
    assert space.distances[0, 1] == 7.0


def test_load_distances(tmp_path):
    path = _write(tmp_path / "d.csv", "0,1,2\n1,0,1.5\n2,1.5,0\n")
    space = mio.load_space(path, metric="precomputed")
    np.testing.assert_array_equal(space.distances, [[0, 1, 2], [1, 0, 1.5], [2, 1.5, 0]])
    same = mio.load_space(path, input="distances")
    np.testing.assert_array_equal(same.distances, space.distances)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("0,1\n2,0\n", ["not symmetric", "D[0, 1]"]),
        ("0,-1\n-1,0\n", ["negative distance"]),
        ("0,1,2\n1,0,3\n", ["square", "(2, 3)"]),
        ("1,2\n2,0\n", ["nonzero diagonal"]),
    ],
    ids=["asymmetric", "negative", "not-square", "diagonal"],
)
def test_load_bad_distance_matrix(tmp_path, text, words):
    path = _write(tmp_path / "d.csv", text)
    _error(mio.load_space, path, *words, metric="precomputed")


def test_load_edges(tmp_path, nx):
    path = _write(tmp_path / "g.edges", "a b 2\nb c 3\n")
    space = mio.load_space(path)
    assert space.nodes == ["a", "b", "c"]
    assert space.distances[0, 2] == 5.0
    txt = _write(tmp_path / "g.txt", "a b 2\nb c 3\n")
    assert mio.load_space(txt, input="edges").distances[0, 2] == 5.0


def test_load_errors_name_the_path(tmp_path, nx):
    points = _write(tmp_path / "p.csv", "0,0\n1,1\n")
    _error(mio.load_space, points, "input must be one of", "'edges'", input="graph")
    _error(mio.load_space, points, "contradicts", input="points", metric="precomputed")
    _error(mio.load_space, points, "contradicts", input="distances", metric="cityblock")
    edges = _write(tmp_path / "g.edges", "a b 2\n")
    _error(mio.load_space, edges, "does not apply to an edge list", metric="cityblock")
    _error(mio.load_space, tmp_path / "none.csv", "no such file")
    _error(mio.load_space, _write(tmp_path / "g2.edges", "a b -1\n"), "line 1", ">= 0")
