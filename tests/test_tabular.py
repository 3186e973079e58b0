"""Numeric table loaders and the checks a mixture fit needs (fastcavi.tabular)."""

import numpy as np
import pytest

from fastcavi.tabular import (
    Table,
    TableError,
    check_mixture_data,
    load_digits_table,
    load_table,
)


def test_csv_with_header_and_delimiters(tmp_path, rng):
    X = rng.normal(size=(5, 3))
    for sep in (",", ";", "\t"):
        path = tmp_path / f"data{len(sep)}{ord(sep)}.csv"
        lines = [sep.join(["a", "b", "c"])] + [sep.join(repr(float(v)) for v in row) for row in X]
        path.write_text("\n".join(lines) + "\n")
        table = load_table(path)
        np.testing.assert_array_equal(table.X, X)  # repr round-trips floats exactly
        assert list(table.feature_names) == ["a", "b", "c"]
        assert table.X.flags.c_contiguous and table.X.dtype == np.float64


def test_csv_without_header_gets_default_names(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("1,2\n3,4.5\n\n")  # a blank last line is ignored
    table = load_table(path)
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4.5]])
    assert list(table.feature_names) == ["x0", "x1"]


def test_npy_and_npz(tmp_path, rng):
    X = rng.normal(size=(6, 2)).astype(np.float32)
    np.save(tmp_path / "a.npy", X)
    table = load_table(tmp_path / "a.npy")
    np.testing.assert_array_equal(table.X, X.astype(np.float64))
    np.savez(tmp_path / "b.npz", X=X, feature_names=np.array(["u", "v"]), y=np.arange(6))
    table = load_table(tmp_path / "b.npz")
    assert list(table.feature_names) == ["u", "v"]
    np.testing.assert_array_equal(table.target, np.arange(6))
    np.savez(tmp_path / "c.npz", whatever=X)  # a single array needs no name
    assert load_table(tmp_path / "c.npz").X.shape == (6, 2)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("text.csv", "a,b\n1,x\n", r"row 2, column 'b': 'x' is not a number"),
        ("ragged.csv", "1,2\n3\n", r"row 2 has 1 fields, expected 2"),
        ("nan.csv", "1,2\nnan,4\n", r"NaN in row 2, column 'x0'"),
        ("inf.csv", "1,inf\n3,4\n", r"an infinite value in row 1, column 'x1'"),
        ("empty.csv", "", r"no samples"),
        ("header.csv", "a,b\n", r"only a header row"),
        ("data.json", "{}", r"unknown file type '.json'"),
    ],
)
def test_bad_text_files(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(TableError, match=message):
        load_table(path)


def test_bad_binary_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_table(tmp_path / "missing.npy")
    with pytest.raises(TableError, match="is a folder"):
        load_table(tmp_path)
    np.save(tmp_path / "one_d.npy", np.arange(3.0))
    with pytest.raises(TableError, match="expected a 2-D array"):
        load_table(tmp_path / "one_d.npy")
    np.save(tmp_path / "strings.npy", np.array([["a", "b"]]))
    with pytest.raises(TableError, match="expected numbers"):
        load_table(tmp_path / "strings.npy")
    np.save(tmp_path / "no_cols.npy", np.zeros((3, 0)))
    with pytest.raises(TableError, match="no features"):
        load_table(tmp_path / "no_cols.npy")
    np.savez(tmp_path / "two.npz", A=np.zeros((2, 2)), B=np.zeros((2, 2)))
    with pytest.raises(TableError, match="name the data 'X'"):
        load_table(tmp_path / "two.npz")
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(TableError, match="not a readable .npy file"):
        load_table(tmp_path / "junk.npy")
    (tmp_path / "bytes.csv").write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(TableError, match="cannot decode"):
        load_table(tmp_path / "bytes.csv")


def test_digits_table():
    table = load_digits_table()
    assert table.X.shape == (1797, 61)
    assert np.all(table.X.std(axis=0) > 0)
    assert set(np.unique(table.target)) == set(range(10))
    assert load_digits_table(drop_constant=False).X.shape == (1797, 64)
    check_mixture_data(table, 20)  # the CLI's default data passes the checks


def test_check_mixture_data(rng):
    names = np.array(["a", "b"], dtype=object)
    with pytest.raises(TableError, match="only one sample"):
        check_mixture_data(Table(rng.normal(size=(1, 2)), names), 1)
    with pytest.raises(TableError, match="3 samples is fewer than n_components=4"):
        check_mixture_data(Table(rng.normal(size=(3, 2)), names), 4)
    X = rng.normal(size=(5, 2))
    X[:, 1] = 7.0
    with pytest.raises(TableError, match="feature 'b' has zero variance"):
        check_mixture_data(Table(X, names), 2)
