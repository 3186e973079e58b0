"""Rows on a Dask cluster for the linear models' ``scheduler="dask"``.

The blocks of a fit on a cluster are *row blocks*: the row chunks of a Dask
array (dask-ml's convention: chunked along the rows only; the columns are
rechunked into one), or, for data in the client's memory, blocks of
:data:`BLOCK_ROWS` rows (``dask.array.from_array``). Either way each block is a
future of ``(X_b, y_b, w_b)`` on the workers (computed from the array's graph,
so a block lost with a worker is computed again), which :func:`open_rows` turns
into a :class:`~fastcavi.linear_model.gaussian.RowBlock` there, and a fit
depends on the blocks (the chunks), never on the number of workers.

A Dask array is validated chunk by chunk on the workers
(:func:`_check_rows`), which return only what the estimators need of the
whole data set (counts, the weighted sums behind the weighted means, the
range of the targets), summed in the fixed tree of
:func:`fastcavi.engine.reduce.tree_sum`.

This module imports dask only inside its functions.
"""

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

from ..engine.reduce import tree_sum
from .gaussian import RowBlock

__all__ = ["BLOCK_ROWS", "RowSummary", "is_dask_collection", "row_futures", "open_rows",
           "open_labels", "block_labels"]

#: rows per block for data in memory fitted on a cluster
BLOCK_ROWS = 65536


def is_dask_collection(x):
    """Whether ``x`` is a Dask collection (without importing dask when it is not loaded)."""
    import sys
    if "dask" not in sys.modules:
        return False
    from dask import is_dask_collection as check
    return check(x)


class RowSummary:
    """What the estimators need of all the rows, additive over row blocks.

    Attributes: ``n`` rows, ``d`` columns, ``n_pos`` rows of positive weight,
    ``S`` the weights' sum, ``xw`` = X^T w, ``yw`` = w . y, ``y_min``/``y_max``
    over the rows of positive weight, ``dtype`` of X.
    """

    def __init__(self, n, d, n_pos, S, xw, yw, y_min, y_max, dtype):
        self.n, self.d, self.n_pos, self.S = n, d, n_pos, S
        self.xw, self.yw, self.y_min, self.y_max, self.dtype = xw, yw, y_min, y_max, dtype

    def __add__(self, o):
        if o.d != self.d:
            raise ValueError(f"row blocks with {self.d} and {o.d} columns")
        return RowSummary(self.n + o.n, self.d, self.n_pos + o.n_pos, self.S + o.S,
                          self.xw + o.xw, self.yw + o.yw, min(self.y_min, o.y_min),
                          max(self.y_max, o.y_max), np.result_type(self.dtype, o.dtype))


def open_rows(item):
    """The :class:`RowBlock` of one block ``(X_b, y_b, w_b)`` (run on the worker)."""
    X, y, w = item
    if not sp.issparse(X):
        X = np.ascontiguousarray(X)
    return RowBlock(X, np.asarray(y, dtype=np.float64), np.asarray(w, dtype=np.float64))


def open_labels(item, positive):
    """The :class:`RowBlock` of one block with labels +1 where ``y == positive``, else -1."""
    X, y, w = item
    return open_rows((X, np.where(np.asarray(y) == positive, 1.0, -1.0), w))


def block_labels(item):
    """The distinct labels of one block (run on the worker)."""
    return np.unique(np.asarray(item[1]))


def _check_rows(item):
    """Validate one block on its worker and summarise it (:class:`RowSummary`)."""
    X, y, w = item
    X = check_array(X, dtype=[np.float64, np.float32], order="C")
    y = check_array(np.asarray(y), ensure_2d=False, dtype=np.float64)
    w = check_array(np.asarray(w), ensure_2d=False, dtype=np.float64, ensure_min_samples=0)
    if y.shape != (X.shape[0],) or w.shape != (X.shape[0],):
        raise ValueError(f"a row block has {X.shape[0]} rows of X, {y.shape[0]} targets and "
                         f"{w.shape[0]} sample weights")
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative")
    pos = y[w > 0]
    return RowSummary(X.shape[0], X.shape[1], int(np.count_nonzero(w > 0)), float(w.sum()),
                      X.T.astype(np.float64) @ w if X.shape[0] else np.zeros(X.shape[1]),
                      float(w @ y), float(pos.min()) if pos.size else np.inf,
                      float(pos.max()) if pos.size else -np.inf, X.dtype)


def row_futures(client, X, y, sample_weight=None):
    """The row blocks of a Dask array on the cluster, validated and summarised there.

    Parameters
    ----------
    client : distributed.Client
    X : dask.array.Array of shape (n_samples, n_features)
        Its row chunks are the blocks.
    y : dask.array.Array or array-like of shape (n_samples,)
        Rechunked to X's row chunks.
    sample_weight : dask.array.Array or array-like of shape (n_samples,), optional
        Default: ones.

    Returns
    -------
    items : list of distributed.Future
        One ``(X_b, y_b, w_b)`` per row chunk, in row order (the blocks).
    summary : RowSummary
        Of all the rows.

    Raises
    ------
    ValueError
        X not 2-D, lengths that differ, NaN or infinite values, negative
        weights (from a worker's check of its block).
    """
    import dask
    import dask.array as da

    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got a dask array of shape {X.shape}")
    X = X.rechunk({1: -1})
    rows = X.chunks[0]
    y = da.asarray(y).rechunk((rows,)) if is_dask_collection(y) else \
        da.from_array(np.asarray(y), chunks=(rows,))
    w = da.ones(X.shape[0], chunks=(rows,)) if sample_weight is None else (
        da.asarray(sample_weight).rechunk((rows,)) if is_dask_collection(sample_weight)
        else da.from_array(np.asarray(sample_weight, dtype=np.float64), chunks=(rows,)))
    if y.shape[0] != X.shape[0] or w.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows, y {y.shape[0]} and sample_weight "
                         f"{w.shape[0]}")
    parts = [dask.delayed(tuple)([xb, yb, wb]) for xb, yb, wb in
             zip(X.to_delayed().ravel(), y.to_delayed().ravel(), w.to_delayed().ravel())]
    items = client.compute(parts)
    summary = tree_sum(client.gather([client.submit(_check_rows, f, pure=False) for f in items]))
    return items, summary

