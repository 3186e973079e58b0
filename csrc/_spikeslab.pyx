# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the spike-and-slab kernels (``fastcavi._ext._spikeslab``).

Same contracts as :mod:`fastcavi.linear_model.spikeslab_reference` (the NumPy
oracle) and :mod:`fastcavi.kernels.numba_spikeslab`.

``spikeslab_sweep_dense`` is a C routine (csrc/include/fc_spikeslab_kernels.h)
over the Fortran-ordered columns: per coordinate, the inner product
``x_j^T Xr`` over fixed chunks of ``CHUNK`` rows (each chunk with 16 partial
sums combined in a fixed tree, chunk sums added in chunk order), the update of
(s_j, mu_j, alpha_j), then the axpy on ``Xr``. The summation order is fixed by
the source; the compiler may vectorise it (no FMA: the build passes
``-ffp-contract=off``), and the AVX2 and AVX-512 copies of the loops, the
widest the CPU runs selected at import (``FASTCAVI_SIMD``, see
:mod:`fastcavi.kernels.simd`, overrides: "scalar" runs "generic"), perform the
same operations in the same order.

With ``n_threads > 1`` and ``n >= PARALLEL_MIN_ROWS`` one OpenMP region runs
the whole sweep: each thread owns the chunks ``c = tid, tid + T, ...``, writes
their partial sums into a buffer, one barrier per coordinate, then every
thread adds the partials in chunk order (so all compute the same update),
thread 0 stores it and each thread applies the axpy to its own chunks of
``Xr`` (the next coordinate's dot reads only those, so no second barrier; the
partial buffer alternates between two halves from one coordinate to the
next). Results are bit-identical to the serial sweep for any thread count.
This path requires distinct coordinates in ``order`` (checked).

``spikeslab_sweep_csc`` is serial (a sparse column is too short to share):
one gather-dot and one scatter-axpy per coordinate, GIL released.
"""

from libc.math cimport exp, log
from libc.stdint cimport int32_t, int64_t

import numpy as np


__all__ = ["spikeslab_sweep_dense", "spikeslab_sweep_csc", "OPENMP_ENABLED",
           "PARALLEL_MIN_ROWS", "CHUNK", "simd_variant", "simd_variants"]

# the C kernels: csrc/include/fc_spikeslab_kernels.h
cdef extern from "fc_spikeslab_kernels.h" nogil:
    int FC_OPENMP_ENABLED
    int FC_SS_CHUNK
    void fc_ss_sweep_f(const float *X, Py_ssize_t n, Py_ssize_t ldx, const double *xy,
                       const double *d, double sigma2, double sa, const double *logodds,
                       double *alpha, double *mu, double *s, double *Xr, const int64_t *order,
                       Py_ssize_t m, int nthreads, double *part)
    void fc_ss_sweep_d(const double *X, Py_ssize_t n, Py_ssize_t ldx, const double *xy,
                       const double *d, double sigma2, double sa, const double *logodds,
                       double *alpha, double *mu, double *s, double *Xr, const int64_t *order,
                       Py_ssize_t m, int nthreads, double *part)
    double fc_ss_update(double xr_dot, double xyj, double dj, double old, double sigma2,
                        double sa, double lo, double *sj, double *mj, double *aj)

#: True when the extension was compiled with OpenMP (else every sweep is serial)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)
#: rows per chunk of the inner products (the reference module's CHUNK)
CHUNK = FC_SS_CHUNK
#: rows from which ``n_threads > 1`` shares each coordinate's chunks among threads
PARALLEL_MIN_ROWS = 1 << 17

_FAMILY = "spikeslab"
include "fc_simd.pxi"


ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused ptr_t:
    int32_t
    int64_t

ctypedef fused floating:
    float
    double


def _threads_for(n, n_threads, order):
    nt = max(1, int(n_threads))
    if nt == 1 or not OPENMP_ENABLED or n < PARALLEL_MIN_ROWS:
        return 1
    if np.unique(order).shape[0] != order.shape[0]:
        raise ValueError("order must not repeat a coordinate when n_threads > 1")
    return min(nt, (n + CHUNK - 1) // CHUNK)


def spikeslab_sweep_dense(X, xy, d, sigma2, sa, logodds, alpha, mu, s, Xr, order, n_threads=1):
    """Cython version of :func:`fastcavi.linear_model.spikeslab_reference.spikeslab_sweep_dense`.

    Same parameters and contract; X must be Fortran-ordered float32 or
    float64. Releases the GIL.
    """
    order = np.ascontiguousarray(order, dtype=np.int64)
    nt = _threads_for(X.shape[0], n_threads, order)
    if X.dtype == np.float32:
        _dense_f(X, xy, d, float(sigma2), float(sa), logodds, alpha, mu, s, Xr, order, nt)
    else:
        _dense_d(X, xy, d, float(sigma2), float(sa), logodds, alpha, mu, s, Xr, order, nt)


cdef _dense_f(const float[::1, :] X, const double[::1] xy, const double[::1] d, double sigma2,
              double sa, const double[::1] logodds, double[::1] alpha, double[::1] mu,
              double[::1] s, double[::1] Xr, const int64_t[::1] order, int nt):
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], m = order.shape[0]
    cdef double[::1] part = np.empty(2 * ((n + CHUNK - 1) // CHUNK) + 1, dtype=np.float64)
    if m == 0 or n == 0 or p == 0:
        return
    with nogil:
        fc_ss_sweep_f(&X[0, 0], n, n, &xy[0], &d[0], sigma2, sa, &logodds[0], &alpha[0],
                      &mu[0], &s[0], &Xr[0], &order[0], m, nt, &part[0])


cdef _dense_d(const double[::1, :] X, const double[::1] xy, const double[::1] d, double sigma2,
              double sa, const double[::1] logodds, double[::1] alpha, double[::1] mu,
              double[::1] s, double[::1] Xr, const int64_t[::1] order, int nt):
    cdef Py_ssize_t n = X.shape[0], p = X.shape[1], m = order.shape[0]
    cdef double[::1] part = np.empty(2 * ((n + CHUNK - 1) // CHUNK) + 1, dtype=np.float64)
    if m == 0 or n == 0 or p == 0:
        return
    with nogil:
        fc_ss_sweep_d(&X[0, 0], n, n, &xy[0], &d[0], sigma2, sa, &logodds[0], &alpha[0],
                      &mu[0], &s[0], &Xr[0], &order[0], m, nt, &part[0])


def spikeslab_sweep_csc(data, indices, indptr, xm, wsum, xy, d, sigma2, sa, logodds, alpha, mu,
                        s, Xr, xr_sum, order, n_threads=1):
    """Cython version of :func:`fastcavi.linear_model.spikeslab_reference.spikeslab_sweep_csc`.

    Same parameters and contract; serial (``n_threads`` is ignored), GIL
    released.
    """
    order = np.ascontiguousarray(order, dtype=np.int64)
    if order.shape[0] == 0:
        return
    _csc(data, indices, indptr, xm, float(wsum), xy, d, float(sigma2), float(sa), logodds, alpha,
         mu, s, Xr, xr_sum, order)


def _csc(const floating[::1] data, const index_t[::1] indices, const ptr_t[::1] indptr,
         const double[::1] xm, double wsum, const double[::1] xy, const double[::1] d,
         double sigma2, double sa, const double[::1] logodds, double[::1] alpha, double[::1] mu,
         double[::1] s, double[::1] Xr, double[::1] xr_sum, const int64_t[::1] order):
    cdef Py_ssize_t t, j, k, lo, hi
    cdef double T, p0, p1, p2, p3, acc, sj, mj, aj, delta
    with nogil:
        T = xr_sum[0]
        for t in range(order.shape[0]):
            j = order[t]
            lo = indptr[j]
            hi = indptr[j + 1]
            p0 = 0.0
            p1 = 0.0
            p2 = 0.0
            p3 = 0.0
            k = lo
            while k + 4 <= hi:
                p0 += <double>data[k] * Xr[indices[k]]
                p1 += <double>data[k + 1] * Xr[indices[k + 1]]
                p2 += <double>data[k + 2] * Xr[indices[k + 2]]
                p3 += <double>data[k + 3] * Xr[indices[k + 3]]
                k += 4
            acc = (p0 + p2) + (p1 + p3)
            while k < hi:
                acc += <double>data[k] * Xr[indices[k]]
                k += 1
            delta = fc_ss_update(acc - xm[j] * T, xy[j], d[j], alpha[j] * mu[j], sigma2, sa,
                                 logodds[j], &sj, &mj, &aj)
            s[j] = sj
            mu[j] = mj
            alpha[j] = aj
            if delta != 0.0:
                for k in range(lo, hi):
                    Xr[indices[k]] += delta * <double>data[k]
                T += delta * xm[j] * wsum
        xr_sum[0] = T
