"""Numba backend of the spike-and-slab kernels (``@njit(nogil=True, cache=True)``).

Same contracts as :mod:`fastcavi.linear_model.spikeslab_reference`. The coordinate
sweep is sequential by nature (each update reads ``Xr`` as left by the one
before), so its parallelism lives elsewhere:

- the estimator runs the points of a hyperparameter grid in threads, and every
  kernel releases the GIL (``nogil=True``);
- within one coordinate, the inner product and the axpy over n rows are split
  into fixed chunks of :data:`CHUNK` rows; with ``n_threads > 1`` and
  ``n >= PARALLEL_MIN_ROWS`` the chunks are shared out by a ``prange``
  (``parallel=True``) kernel. The chunk sums are added in chunk order in
  both the serial and the parallel kernel, so results are bit-identical
  whatever ``n_threads`` is. A parallel region per coordinate costs a few
  microseconds, hence the threshold.

The chunk dot product is compiled with ``FASTMATH`` (reassociation, so LLVM
vectorises the reduction; NaN/inf semantics kept); the serial and the
parallel kernel call the same compiled chunk function, so they agree bit for
bit (tested).
"""

import math

import numba
import numpy as np
from numba import prange

from ..kernels.numba_support import FASTMATH, set_threads
from .spikeslab_reference import CHUNK

__all__ = ["spikeslab_sweep_dense", "spikeslab_sweep_csc", "PARALLEL_MIN_ROWS"]

#: rows from which ``n_threads > 1`` splits each coordinate's passes over threads
PARALLEL_MIN_ROWS = 1 << 17


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _chunk_dot(x, r, lo, hi):
    """sum_{i in [lo, hi)} x[i] r[i] in float64 (x float32 or float64).

    Indexing slices from 0 (not ``x[lo + i]``) lets LLVM drop the
    negative-index wrap-around and vectorise; ``FASTMATH`` allows the
    reassociation a vectorised reduction needs. The order is then fixed by
    the compiled code, the same in the serial and the parallel kernel.
    """
    xs = x[lo:hi]
    rs = r[lo:hi]
    acc = 0.0
    for i in range(xs.shape[0]):
        acc += np.float64(xs[i]) * rs[i]
    return acc


@numba.njit(cache=True, nogil=True, fastmath=FASTMATH)
def _chunk_axpy(delta, x, r, lo, hi):
    """r[lo:hi] += delta * x[lo:hi] (no reduction: every backend gives the same bits)."""
    xs = x[lo:hi]
    rs = r[lo:hi]
    for i in range(xs.shape[0]):
        rs[i] += delta * np.float64(xs[i])


@numba.njit(cache=True, nogil=True, inline="always")
def _update(j, xr_dot, xy, d, sigma2, sa, logodds, alpha, mu, s):
    old = alpha[j] * mu[j]
    sj = sigma2 * sa / (sa * d[j] + 1.0)
    mj = sj / sigma2 * (xy[j] - xr_dot + d[j] * old)
    logit = logodds[j] + 0.5 * math.log(sj / (sa * sigma2)) + mj * mj / (2.0 * sj)
    if logit >= 0.0:
        aj = 1.0 / (1.0 + math.exp(-logit))
    else:
        e = math.exp(logit)
        aj = e / (1.0 + e)
    s[j] = sj
    mu[j] = mj
    alpha[j] = aj
    return aj * mj - old


@numba.njit(cache=True, nogil=True)
def _sweep_dense_serial(XT, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr, order):
    n = XT.shape[1]
    for t in range(order.shape[0]):
        j = order[t]
        x = XT[j]
        xr_dot = 0.0
        for lo in range(0, n, CHUNK):
            xr_dot += _chunk_dot(x, Xr, lo, min(n, lo + CHUNK))
        delta = _update(j, xr_dot, xy, d, sigma2, sa, logodds, alpha, mu, s)
        if delta != 0.0:
            _chunk_axpy(delta, x, Xr, 0, n)


@numba.njit(cache=True, nogil=True, parallel=True)
def _sweep_dense_parallel(XT, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr, order):
    n = XT.shape[1]
    n_chunks = (n + CHUNK - 1) // CHUNK
    part = np.empty(n_chunks, dtype=np.float64)
    for t in range(order.shape[0]):
        j = order[t]
        x = XT[j]
        for c in prange(n_chunks):
            part[c] = _chunk_dot(x, Xr, c * CHUNK, min(n, (c + 1) * CHUNK))
        xr_dot = 0.0
        for c in range(n_chunks):
            xr_dot += part[c]
        delta = _update(j, xr_dot, xy, d, sigma2, sa, logodds, alpha, mu, s)
        if delta != 0.0:
            for c in prange(n_chunks):
                _chunk_axpy(delta, x, Xr, c * CHUNK, min(n, (c + 1) * CHUNK))


def spikeslab_sweep_dense(X, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr, order, n_threads=1):
    """Numba version of :func:`fastcavi.linear_model.spikeslab_reference.spikeslab_sweep_dense`.

    Same parameters and contract; X must be Fortran-ordered (its transpose is
    passed on as a C-ordered array of rows).
    """
    XT = X.T
    args = (XT, xy, d, float(sigma2), float(sa), logodds, alpha, mu, s, Xr,
            np.asarray(order, dtype=np.int64))
    if int(n_threads) > 1 and X.shape[0] >= PARALLEL_MIN_ROWS:
        with set_threads(n_threads):
            _sweep_dense_parallel(*args)
    else:
        _sweep_dense_serial(*args)


@numba.njit(cache=True, nogil=True)
def _sweep_csc(data, indices, indptr, xm, wsum, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr,
               xr_sum, order):
    T = xr_sum[0]
    for t in range(order.shape[0]):
        j = order[t]
        lo = indptr[j]
        hi = indptr[j + 1]
        p0 = p1 = p2 = p3 = 0.0
        k = lo
        while k + 4 <= hi:
            p0 += np.float64(data[k]) * Xr[indices[k]]
            p1 += np.float64(data[k + 1]) * Xr[indices[k + 1]]
            p2 += np.float64(data[k + 2]) * Xr[indices[k + 2]]
            p3 += np.float64(data[k + 3]) * Xr[indices[k + 3]]
            k += 4
        acc = (p0 + p2) + (p1 + p3)
        while k < hi:
            acc += np.float64(data[k]) * Xr[indices[k]]
            k += 1
        delta = _update(j, acc - xm[j] * T, xy, d, sigma2, sa, logodds, alpha, mu, s)
        if delta != 0.0:
            for k in range(lo, hi):
                Xr[indices[k]] += delta * np.float64(data[k])
            T += delta * xm[j] * wsum
    xr_sum[0] = T


def spikeslab_sweep_csc(data, indices, indptr, xm, wsum, xy, d, sigma2, sa, logodds, alpha, mu,
                        s, Xr, xr_sum, order, n_threads=1):
    """Numba version of :func:`fastcavi.linear_model.spikeslab_reference.spikeslab_sweep_csc`.

    Same parameters and contract; serial (``n_threads`` is ignored: a sparse
    column is too short to share among threads), GIL released.
    """
    _sweep_csc(data, indices, indptr, xm, float(wsum), xy, d, float(sigma2), float(sa), logodds,
               alpha, mu, s, Xr, xr_sum, np.asarray(order, dtype=np.int64))
