# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the regression kernels (``fastcavi._ext._regression``).

Same contracts as :mod:`fastcavi.linear_model.regression_reference` (the NumPy
oracle) and the same structure as :mod:`fastcavi.kernels.numba_regression`:
OpenMP ``prange`` (dynamic schedule) over contiguous row chunks whose number
depends only on (n, p) (the same :func:`row_chunks` as the Numba backend);
each chunk allocates its float64 scratch block once, fills it with the
augmented rows of its block (converting float32 input), and calls BLAS from
``scipy.linalg.cython_blas`` on the block: ``dtrmm`` with the factor of
:func:`~fastcavi.linear_model.regression_reference.moment_factor` for
``R^-T x~`` and ``x~^T mu`` in one product, and ``dsyrk`` for the chunk's
partial Gram matrix. Partial matrices and partial ELBO terms are added in
chunk order, so results are bit-identical for any ``n_threads``. The caller
keeps BLAS single-threaded while these run (:func:`fastcavi.engine.limit_blas`).
"""

from cython.parallel cimport parallel, prange
from libc.math cimport sqrt, tanh, exp, log1p
from libc.stdlib cimport free, malloc
from scipy.linalg.cython_blas cimport dsyrk, dtrmm

import numpy as np

from fastcavi.linear_model.regression_reference import block_rows, moment_factor, row_chunks

__all__ = ["weighted_gram", "predictive_moments", "jj_step", "OPENMP_ENABLED"]

cdef extern from "fc_cpu.h":
    int FC_OPENMP_ENABLED

#: True when the extension was compiled with OpenMP (else prange runs serially)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)

ctypedef fused floating:
    float
    double


cdef inline void _fill(const floating[:, ::1] X, Py_ssize_t row, const double *center,
                       bint intercept, double scale, double *out) noexcept nogil:
    cdef Py_ssize_t j, d = X.shape[1]
    for j in range(d):
        out[j] = (<double>X[row, j] - center[j]) * scale
    if intercept:
        out[d] = scale


cdef inline double _lambda(double xi) noexcept nogil:
    if xi < 1e-4:
        return 0.125 - xi * xi / 96.0
    return tanh(0.5 * xi) / (4.0 * xi)


cdef inline void _syrk(double *buf, int m, int p, double *G) noexcept nogil:
    """G (col-major upper) += A A^T, A = buf seen as a p x m col-major matrix."""
    cdef char uplo = b'U'
    cdef char trans = b'N'
    cdef double one = 1.0
    dsyrk(&uplo, &trans, &p, &m, &one, buf, &p, &one, G, &p)


cdef inline void _trmm(const double *F, double *buf, int m, int q) noexcept nogil:
    """Row i of buf (i < m, q entries) <- F^T row i; F is C-order upper = col-major lower."""
    cdef char side = b'L'
    cdef char uplo = b'L'
    cdef char trans = b'N'
    cdef char diag = b'N'
    cdef double one = 1.0
    dtrmm(&side, &uplo, &trans, &diag, &q, &m, &one, <double *>F, &q, buf, &q)


cdef inline double _sumsq(const double *z, Py_ssize_t n) noexcept nogil:
    """sum_j z[j]^2 in four interleaved partial sums: a fixed order, four independent chains."""
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef Py_ssize_t j = 0
    while j + 4 <= n:
        s0 = s0 + z[j] * z[j]
        s1 = s1 + z[j + 1] * z[j + 1]
        s2 = s2 + z[j + 2] * z[j + 2]
        s3 = s3 + z[j + 3] * z[j + 3]
        j = j + 4
    while j < n:
        s0 = s0 + z[j] * z[j]
        j = j + 1
    return (s0 + s1) + (s2 + s3)


cdef void _reduce_sym(double[:, :, ::1] partial, double[:, ::1] G) noexcept nogil:
    cdef Py_ssize_t i, j, c, p = G.shape[0]
    cdef double acc
    for i in range(p):
        for j in range(i + 1):
            acc = 0.0
            for c in range(partial.shape[0]):
                acc = acc + partial[c, i, j]  # row-major lower = col-major upper
            G[i, j] = acc
            G[j, i] = acc


def _gram(const floating[:, ::1] X, const double[::1] sw, const double[::1] center,
          bint intercept, const long long[::1] bounds, int rows, double[:, :, ::1] partial,
          int n_threads):
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef int p = partial.shape[1]
    cdef Py_ssize_t c, i, start, stop, pp = p
    cdef int m
    cdef double *buf
    with nogil, parallel(num_threads=n_threads):
        buf = <double *>malloc(rows * p * sizeof(double))
        for c in prange(n_chunks, schedule="dynamic"):
            for i in range(pp * pp):
                partial[c, 0, i] = 0.0
            start = bounds[c]
            stop = bounds[c + 1]
            while start < stop:
                m = <int>min(<Py_ssize_t>rows, stop - start)
                for i in range(m):
                    _fill(X, start + i, &center[0], intercept, sqrt(sw[start + i]), buf + i * pp)
                _syrk(buf, m, p, &partial[c, 0, 0])
                start = start + m
        free(buf)


def weighted_gram(X, sample_weight, center, intercept, G, n_threads=1):
    """Cython version of :func:`fastcavi.linear_model.regression_reference.weighted_gram`."""
    n = X.shape[0]
    p = G.shape[0]
    bounds = row_chunks(n, p).astype(np.longlong)
    partial = np.empty((bounds.shape[0] - 1, p, p), dtype=np.float64)
    if n == 0:
        G[...] = 0.0
        return
    sw = np.ascontiguousarray(sample_weight, dtype=np.float64)
    center = np.ascontiguousarray(center, dtype=np.float64)
    if center.shape[0] == 0:
        center = np.zeros(1)
    _gram(X, sw, center, bool(intercept), bounds, block_rows(p), partial, max(1, int(n_threads)))
    _reduce_sym(partial, G)


def _moments(const floating[:, ::1] X, const double[::1] center, bint intercept,
             const double[:, ::1] F, double[::1] mean, double[::1] var,
             const long long[::1] bounds, int rows, int n_threads):
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef int q = F.shape[0]
    cdef Py_ssize_t c, i, start, stop, qq = q
    cdef int m
    cdef double *tri
    with nogil, parallel(num_threads=n_threads):
        tri = <double *>malloc(rows * q * sizeof(double))
        for c in prange(n_chunks, schedule="dynamic"):
            start = bounds[c]
            stop = bounds[c + 1]
            while start < stop:
                m = <int>min(<Py_ssize_t>rows, stop - start)
                for i in range(m):  # tri row i = [x~, 0]
                    _fill(X, start + i, &center[0], intercept, 1.0, tri + i * qq)
                    tri[i * qq + qq - 1] = 0.0
                _trmm(&F[0, 0], tri, m, q)
                for i in range(m):
                    mean[start + i] = tri[i * qq + qq - 1]
                    var[start + i] = _sumsq(tri + i * qq, qq - 1)
                start = start + m
        free(tri)


def predictive_moments(X, center, intercept, R, mu, mean, var, n_threads=1):
    """Cython version of :func:`fastcavi.linear_model.regression_reference.predictive_moments`."""
    n = X.shape[0]
    p = R.shape[0]
    if n == 0:
        return
    bounds = row_chunks(n, p, with_partials=False).astype(np.longlong)
    center = np.ascontiguousarray(center, dtype=np.float64)
    if center.shape[0] == 0:
        center = np.zeros(1)
    _moments(X, center, bool(intercept), moment_factor(R, mu), mean, var, bounds, block_rows(p),
             max(1, int(n_threads)))


def _jj(const floating[:, ::1] X, const double[::1] t, const double[::1] sw, bint intercept,
        const double[:, ::1] F, double[::1] xi, double[:, :, ::1] partial,
        bint compute_gram, const long long[::1] bounds, int rows, double[::1] terms,
        const double[::1] zero_center, int n_threads):
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef int q = F.shape[0]
    cdef int p = q - 1
    cdef Py_ssize_t c, i, j, start, stop, row, pp = p, qq = q
    cdef int m
    cdef double a, x, acc, scale
    cdef double *buf
    cdef double *tri
    with nogil, parallel(num_threads=n_threads):
        buf = <double *>malloc(rows * p * sizeof(double))
        tri = <double *>malloc(rows * q * sizeof(double))
        for c in prange(n_chunks, schedule="dynamic"):
            if compute_gram:
                for i in range(pp * pp):
                    partial[c, 0, i] = 0.0
            acc = 0.0
            start = bounds[c]
            stop = bounds[c + 1]
            while start < stop:
                m = <int>min(<Py_ssize_t>rows, stop - start)
                for i in range(m):  # X is read once: buf row i = x~, tri row i = [x~, 0]
                    _fill(X, start + i, &zero_center[0], intercept, 1.0, buf + i * pp)
                    for j in range(pp):
                        tri[i * qq + j] = buf[i * pp + j]
                    tri[i * qq + pp] = 0.0
                _trmm(&F[0, 0], tri, m, q)
                for i in range(m):
                    row = start + i
                    a = tri[i * qq + pp]
                    x = sqrt(_sumsq(tri + i * qq, qq))  # ||R^-T x~||^2 + a^2
                    xi[row] = x
                    acc = acc + sw[row] * (-log1p(exp(-x)) - 0.5 * x + 0.5 * t[row] * a)
                    if compute_gram:
                        scale = sqrt(2.0 * sw[row] * _lambda(x))
                        for j in range(pp):
                            buf[i * pp + j] = buf[i * pp + j] * scale
                if compute_gram:
                    _syrk(buf, m, p, &partial[c, 0, 0])
                start = start + m
            terms[c] = acc
        free(buf)
        free(tri)


def jj_step(X, t, sample_weight, intercept, R, mu, xi, G, compute_gram, n_threads=1):
    """Cython version of :func:`fastcavi.linear_model.regression_reference.jj_step`."""
    n = X.shape[0]
    p = R.shape[0]
    if n == 0:
        if compute_gram:
            G[...] = 0.0
        return 0.0
    bounds = row_chunks(n, p, with_partials=bool(compute_gram)).astype(np.longlong)
    n_chunks = bounds.shape[0] - 1
    partial = np.empty((n_chunks if compute_gram else 0, p, p), dtype=np.float64)
    if not compute_gram:
        partial = np.empty((1, 1, 1), dtype=np.float64)
    terms = np.zeros(n_chunks, dtype=np.float64)
    _jj(X, np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(sample_weight, dtype=np.float64), bool(intercept),
        moment_factor(R, mu), xi, partial, bool(compute_gram), bounds, block_rows(p), terms,
        np.zeros(max(1, X.shape[1]), dtype=np.float64), max(1, int(n_threads)))
    if compute_gram:
        _reduce_sym(partial, G)
    total = 0.0
    for v in terms:  # chunk order
        total += float(v)
    return total
