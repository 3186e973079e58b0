"""Work partitioning shared by the kernels of every backend.

The compiled backends split their work into chunks that depend only on the
data (never on the thread count) and reduce the chunks' results in a fixed
order, so a fixed backend returns the same bits on any number of threads:

- :func:`doc_chunks`: contiguous runs of CSR rows (documents) of about equal
  work, the unit of LDA's parallel E-step;
- :func:`csc_structure`: the column-major order of a CSR matrix's entries,
  for word-by-word reductions in a fixed order.

Both are re-exported by :mod:`fastcavi.kernels`. The families' own static
partitions (``chunk_bounds`` of the mixture, ``row_chunks`` of the
regression kernels) live with their reference kernels.
"""

import numpy as np
import scipy.sparse as sp

__all__ = ["doc_chunks", "csc_structure"]


def doc_chunks(indptr, n_chunks):
    """Split documents into contiguous chunks of about equal word count.

    Parameters
    ----------
    indptr : ndarray of shape (n_docs + 1,)
        CSR row pointers.
    n_chunks : int
        Requested number of chunks (>= 1).

    Returns
    -------
    bounds : ndarray of shape (m + 1,), int64
        Chunk c covers documents ``bounds[c]:bounds[c + 1]``; ``m <= n_chunks``,
        empty chunks removed. Each chunk holds about ``nnz / n_chunks``
        non-zeros plus one document's worth of padding.
    """
    indptr = np.asarray(indptr, dtype=np.int64)
    n_docs = indptr.shape[0] - 1
    if n_docs <= 0:
        return np.zeros(1, dtype=np.int64)
    # weight each document by its non-zeros plus a constant for the per-document
    # work (digamma of K entries), so chunks of short documents stay balanced
    work = np.diff(indptr) + 4
    cum = np.concatenate(([0], np.cumsum(work)))
    targets = np.linspace(0, cum[-1], n_chunks + 1)
    bounds = np.searchsorted(cum, targets, side="left")
    bounds[0], bounds[-1] = 0, n_docs
    return np.unique(bounds).astype(np.int64)


def csc_structure(indices, indptr, n_words):
    """Column structure of a CSR matrix, for fixed-order word reductions.

    Parameters
    ----------
    indices : ndarray of shape (nnz,)
        CSR column indices.
    indptr : ndarray of shape (n_docs + 1,)
        CSR row pointers.
    n_words : int
        Number of columns.

    Returns
    -------
    csc_indptr : ndarray of shape (n_words + 1,), int64
    csc_docs : ndarray of shape (nnz,), int64
        Row of each entry in column-major order.
    csc_perm : ndarray of shape (nnz,), int64
        Index into the CSR arrays of each entry in column-major order.

    Notes
    -----
    Within a column, entries keep their CSR order (rows ascending): the order
    of a stable sort by column, found in O(nnz) by scipy's CSR-to-CSC
    conversion of the entries' positions, not by an O(nnz log nnz) sort.
    A sharded corpus has it computed for every shard on every pass.
    """
    indices = np.asarray(indices)
    indptr = np.asarray(indptr)
    n_docs = indptr.shape[0] - 1
    nnz = indices.shape[0]
    positions = np.arange(nnz, dtype=np.int64)
    csc = sp.csr_matrix((positions, indices, indptr), shape=(n_docs, n_words),
                        copy=False).tocsc()
    # (tocsc sums nothing: each stored entry keeps its own slot, duplicates included)
    return (csc.indptr.astype(np.int64, copy=False), csc.indices.astype(np.int64, copy=False),
            csc.data)
