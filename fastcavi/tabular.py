"""Loaders for numeric tables (samples x features), the input of mixture models.

Every loader returns a :class:`Table`: a dense float64 matrix ``X`` of shape
``(n_samples, n_features)``, the feature names, optional class labels and a
one-paragraph ``description`` of the source.

Loaders
-------
load_digits_table
    scikit-learn's bundled handwritten digits (UCI "Optical Recognition of
    Handwritten Digits", 1,797 8x8 images), the default real data set of
    ``fastcavi gmm``.
load_table
    A numeric ``.csv`` (optional header row), ``.npy`` or ``.npz`` file.

Errors
------
A missing file raises :class:`FileNotFoundError`; anything wrong with the
content (unknown extension, non-numeric fields, ragged rows, NaN or infinite
values, not two-dimensional, no rows or no columns) raises
:class:`TableError`, a subclass of :class:`ValueError`, with a one-line
message naming the file and, where it applies, the row and column.

:func:`check_mixture_data` adds the checks a mixture fit needs (at least two
samples, at least ``n_components`` samples, no zero-variance feature).
"""

from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Table", "TableError", "load_table", "load_digits_table", "check_mixture_data"]


class TableError(ValueError):
    """A numeric table file is malformed, or unfit for the requested model.

    Subclass of :class:`ValueError`; the message is a single line that names
    the file and the problem.
    """


@dataclass(eq=False, repr=False)
class Table:
    """A numeric data table.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Finite values, C-contiguous.
    feature_names : ndarray of shape (n_features,), dtype object (str)
        Column names (from a CSV header, an ``.npz`` ``feature_names`` array,
        or ``x0``, ``x1``, ... when the file has none).
    description : str
        Where the data come from and how they were processed.
    target : ndarray of shape (n_samples,), int64, or None
        True class of each sample, when the source has one (digits).
    """

    X: np.ndarray
    feature_names: np.ndarray
    description: str = ""
    target: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        """Number of columns of ``X``."""
        return self.X.shape[1]

    def __repr__(self) -> str:
        return f"Table(n_samples={self.n_samples}, n_features={self.n_features})"


def _default_names(n):
    return np.array([f"x{j}" for j in range(n)], dtype=object)


def _finish(X, names, source, description, target=None):
    """Validate a parsed matrix and wrap it in a Table."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise TableError(f"{source}: expected a 2-D array (samples x features), got "
                         f"{X.ndim} dimension{'s' if X.ndim != 1 else ''}")
    if X.dtype.kind not in "biuf":
        raise TableError(f"{source}: expected numbers, got an array of dtype {X.dtype}")
    if X.shape[0] == 0:
        raise TableError(f"{source}: no samples (0 rows)")
    if X.shape[1] == 0:
        raise TableError(f"{source}: no features (0 columns)")
    X = np.ascontiguousarray(X, dtype=np.float64)
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        kind = "NaN" if np.isnan(X[i, j]) else "an infinite value"
        raise TableError(f"{source}: {kind} in row {i + 1}, column {names[j]!r} "
                         f"({int(bad.sum())} non-finite value{'s' if bad.sum() > 1 else ''} in all)")
    return Table(X=X, feature_names=np.asarray(names, dtype=object), description=description,
                 target=target)


def _parse_float(text):
    try:
        return float(text)
    except ValueError:
        return None


def _read_csv(path: Path):
    """Rows of a CSV file as floats; a first row that is not all numbers is the header."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            sample = f.read(65536)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t ")
            except csv.Error:
                dialect = csv.excel
            rows = [row for row in csv.reader(f, dialect) if row and any(c.strip() for c in row)]
    except UnicodeDecodeError:
        raise TableError(f"{path}: not a text CSV file (cannot decode it as UTF-8)") from None
    if not rows:
        raise TableError(f"{path}: no samples (the file is empty)")
    header = None
    if any(_parse_float(c) is None for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
        if not rows:
            raise TableError(f"{path}: no samples (only a header row)")
    n_features = len(header) if header is not None else len(rows[0])
    names = np.array(header, dtype=object) if header is not None else _default_names(n_features)
    X = np.empty((len(rows), n_features))
    first_line = 2 if header is not None else 1
    for i, row in enumerate(rows):
        if len(row) != n_features:
            raise TableError(f"{path}: row {i + first_line} has {len(row)} fields, "
                             f"expected {n_features}")
        for j, cell in enumerate(row):
            value = _parse_float(cell)
            if value is None:
                raise TableError(f"{path}: row {i + first_line}, column {names[j]!r}: "
                                 f"{cell.strip()!r} is not a number")
            X[i, j] = value
    return X, names


def load_table(path):
    """Load a numeric table from a ``.csv``, ``.npy`` or ``.npz`` file.

    Parameters
    ----------
    path : str or path-like
        - ``.csv`` (also ``.tsv``/``.txt``): one sample per line, fields
          separated by commas, semicolons, tabs or spaces (detected); a first
          line that is not all numbers is taken as the header of column names.
        - ``.npy``: a 2-D numeric array (no pickles).
        - ``.npz``: the array named ``X``, or the only array in the file; an
          optional string array ``feature_names`` names the columns and an
          optional integer array ``y`` gives class labels.

    Returns
    -------
    table : Table
        ``X`` as float64 of shape (n_samples, n_features).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TableError
        For a folder, an unknown extension, an unreadable file, non-numeric
        fields, ragged rows, NaN/inf values, a non-2-D array, no rows or no
        columns. The message names the file (and row/column where it applies).
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise FileNotFoundError(f"data file not found: {p}")
    if p.is_dir():
        raise TableError(f"{p} is a folder, expected a .csv, .npy or .npz file")
    suffix = p.suffix.lower()
    description = f"numeric table read from {p.name}"
    if suffix in (".csv", ".tsv", ".txt"):
        X, names = _read_csv(p)
        return _finish(X, names, p, description)
    if suffix in (".npy", ".npz"):
        try:
            loaded = np.load(p, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
            raise TableError(f"{p}: not a readable {suffix} file ({' '.join(str(exc).split())})"
                             ) from None
        target = None
        if suffix == ".npz":
            with loaded:
                keys = list(loaded.files)
                if "X" in keys:
                    key = "X"
                elif len(keys) == 1:
                    key = keys[0]
                else:
                    raise TableError(f"{p}: holds arrays {', '.join(keys)}; name the data 'X'")
                X = loaded[key]
                names = loaded["feature_names"] if "feature_names" in keys else None
                target = loaded["y"] if "y" in keys else None
        else:
            X, names = loaded, None
        if X.ndim == 2 and names is None:
            names = _default_names(X.shape[1])
        if names is not None and X.ndim == 2 and len(names) != X.shape[1]:
            raise TableError(f"{p}: feature_names has {len(names)} entries but X has "
                             f"{X.shape[1]} columns")
        if target is not None:
            target = np.asarray(target)
            if target.ndim != 1 or target.shape[0] != (X.shape[0] if X.ndim else -1) \
                    or target.dtype.kind not in "iu":
                raise TableError(f"{p}: y must be a 1-D integer array with one label per row")
            target = target.astype(np.int64)
        return _finish(X, names if names is not None else np.array([], dtype=object), p,
                       description, target)
    raise TableError(f"{p}: unknown file type {p.suffix or '(none)'!r}; expected .csv, .npy "
                     "or .npz")


def load_digits_table(drop_constant=True):
    """scikit-learn's bundled handwritten digits as a :class:`Table`.

    Parameters
    ----------
    drop_constant : bool, default=True
        Drop the pixels that are constant over all 1,797 images (3 of the 64,
        always blank), which would make any covariance estimate singular.

    Returns
    -------
    table : Table
        ``X`` of shape (1797, 61) (or (1797, 64)), float64 grey levels 0-16;
        ``target`` the digit 0-9; feature names ``pixel_<row>_<col>``.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = bunch.data.astype(np.float64)
    names = np.array([f"pixel_{j // 8}_{j % 8}" for j in range(X.shape[1])], dtype=object)
    description = ("scikit-learn's bundled copy of the UCI Optical Recognition of Handwritten "
                   "Digits test set (Alpaydin & Kaynak 1998; CC BY 4.0): 1,797 images of 8x8 "
                   "pixels with grey levels 0-16")
    if drop_constant:
        keep = X.std(axis=0) > 0
        description += f"; the {int((~keep).sum())} always-blank pixels removed"
        X, names = X[:, keep], names[keep]
    return Table(X=np.ascontiguousarray(X), feature_names=names, description=description,
                 target=bunch.target.astype(np.int64))


def check_mixture_data(table, n_components, source="data"):
    """Check that a table can be fitted by a mixture of ``n_components``.

    Parameters
    ----------
    table : Table
    n_components : int
    source : str
        Name of the data in the error message.

    Raises
    ------
    TableError
        If there is only one sample, fewer samples than components, or a
        feature with zero variance (its covariance would be singular); the
        message names the first such feature.
    """
    n = table.n_samples
    if n < 2:
        raise TableError(f"{source}: only one sample; a mixture needs at least 2")
    if n < n_components:
        raise TableError(f"{source}: {n} samples is fewer than n_components={n_components}")
    constant = np.flatnonzero(np.ptp(table.X, axis=0) == 0)
    if constant.size:
        j = constant[0]
        more = f" and {constant.size - 1} more" if constant.size > 1 else ""
        raise TableError(f"{source}: feature {table.feature_names[j]!r}{more} has zero variance "
                         "(the same value in every sample); remove it")
