# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the spike-and-slab kernels (``fastcavi._ext._spikeslab``).

Same contracts as :mod:`fastcavi.kernels.reference_spikeslab` (the NumPy
oracle) and :mod:`fastcavi.kernels.numba_spikeslab`.

``spikeslab_sweep_dense`` is a C routine (below) over the Fortran-ordered
columns: per coordinate, the inner product ``x_j^T Xr`` over fixed chunks of
``CHUNK`` rows (each chunk with 16 partial sums combined in a fixed tree,
chunk sums added in chunk order), the
update of (s_j, mu_j, alpha_j), then the axpy on ``Xr``. The summation order
is fixed by the source; the compiler may vectorise it (no FMA: the build
passes ``-ffp-contract=off``), and an AVX2 copy of the loops, selected at
import on CPUs that have it (``FASTCAVI_SIMD``, see :mod:`fastcavi.kernels.simd`,
overrides: "scalar" and "generic" run "generic", "avx512" runs "avx2"),
performs the same operations in the same order.

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

from fastcavi.kernels.simd import choose as _choose_simd

__all__ = ["spikeslab_sweep_dense", "spikeslab_sweep_csc", "OPENMP_ENABLED",
           "PARALLEL_MIN_ROWS", "CHUNK", "simd_variant", "simd_variants"]

cdef extern from * nogil:
    """
    #include <math.h>
    #include <stdint.h>

    #ifndef FASTCAVI_OPENMP
    #define FASTCAVI_OPENMP 0
    #endif
    #if FASTCAVI_OPENMP && defined(_OPENMP)
    #include <omp.h>
    #define FC_SS_OPENMP 1
    #else
    #define FC_SS_OPENMP 0
    #endif

    #define FC_SS_CHUNK 1024

    #if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    #define FC_SS_HAVE_AVX2 1
    #else
    #define FC_SS_HAVE_AVX2 0
    #endif

    /* dot of one chunk: 16 partial sums (lane l takes i = l mod 16; enough
       independent chains to hide the add latency), combined in a fixed tree */
    #define FC_SS_DEFINE(T, S, ATTR, SFX)                                            \\
    ATTR static double fc_ss_dot_##S##SFX(const T *x, const double *r, Py_ssize_t n) { \\
        double p[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};           \\
        double q[8];                                                               \\
        Py_ssize_t i = 0;                                                          \\
        int l;                                                                     \\
        for (; i + 16 <= n; i += 16)                                               \\
            for (l = 0; l < 16; ++l) p[l] += (double)x[i + l] * r[i + l];          \\
        for (l = 0; l < 8; ++l) q[l] = p[l] + p[l + 8];                            \\
        double s = ((q[0] + q[4]) + (q[2] + q[6])) + ((q[1] + q[5]) + (q[3] + q[7])); \\
        for (; i < n; ++i) s += (double)x[i] * r[i];                               \\
        return s;                                                                  \\
    }                                                                              \\
    ATTR static void fc_ss_axpy_##S##SFX(double a, const T *x, double *r, Py_ssize_t n) { \\
        Py_ssize_t i;                                                              \\
        for (i = 0; i < n; ++i) r[i] += a * (double)x[i];                          \\
    }

    FC_SS_DEFINE(float, f, , _generic)
    FC_SS_DEFINE(double, d, , _generic)
    #if FC_SS_HAVE_AVX2
    FC_SS_DEFINE(float, f, __attribute__((target("avx2"))), _avx2)
    FC_SS_DEFINE(double, d, __attribute__((target("avx2"))), _avx2)
    #endif

    typedef double (*fc_ss_dot_f_t)(const float *, const double *, Py_ssize_t);
    typedef double (*fc_ss_dot_d_t)(const double *, const double *, Py_ssize_t);
    typedef void (*fc_ss_axpy_f_t)(double, const float *, double *, Py_ssize_t);
    typedef void (*fc_ss_axpy_d_t)(double, const double *, double *, Py_ssize_t);
    static fc_ss_dot_f_t fc_ss_dot_f = fc_ss_dot_f_generic;
    static fc_ss_dot_d_t fc_ss_dot_d = fc_ss_dot_d_generic;
    static fc_ss_axpy_f_t fc_ss_axpy_f = fc_ss_axpy_f_generic;
    static fc_ss_axpy_d_t fc_ss_axpy_d = fc_ss_axpy_d_generic;

    static int fc_ss_has_avx2(void) {
    #if FC_SS_HAVE_AVX2
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    #else
        return 0;
    #endif
    }
    /* 1: generic, 2: avx2 */
    static int fc_ss_set_simd(int level) {
        if (level == 1) {
            fc_ss_dot_f = fc_ss_dot_f_generic; fc_ss_dot_d = fc_ss_dot_d_generic;
            fc_ss_axpy_f = fc_ss_axpy_f_generic; fc_ss_axpy_d = fc_ss_axpy_d_generic;
            return 0;
        }
    #if FC_SS_HAVE_AVX2
        if (level == 2 && fc_ss_has_avx2()) {
            fc_ss_dot_f = fc_ss_dot_f_avx2; fc_ss_dot_d = fc_ss_dot_d_avx2;
            fc_ss_axpy_f = fc_ss_axpy_f_avx2; fc_ss_axpy_d = fc_ss_axpy_d_avx2;
            return 0;
        }
    #endif
        return -1;
    }

    /* the coordinate update (Carbonetto & Stephens 2012, section 3); returns
       the change of alpha_j mu_j and the new values in *sj, *mj, *aj */
    static inline double fc_ss_update(double xr_dot, double xyj, double dj, double old,
            double sigma2, double sa, double lo, double *sj, double *mj, double *aj) {
        double s_ = sigma2 * sa / (sa * dj + 1.0);
        double m_ = s_ / sigma2 * (xyj - xr_dot + dj * old);
        double logit = lo + 0.5 * log(s_ / (sa * sigma2)) + m_ * m_ / (2.0 * s_);
        double a_;
        if (logit >= 0.0) {
            a_ = 1.0 / (1.0 + exp(-logit));
        } else {
            double e = exp(logit);
            a_ = e / (1.0 + e);
        }
        *sj = s_; *mj = m_; *aj = a_;
        return a_ * m_ - old;
    }

    #define FC_SS_SWEEP(T, S)                                                      \\
    static void fc_ss_sweep_##S(const T *X, Py_ssize_t n, Py_ssize_t ldx,          \\
            const double *xy, const double *d, double sigma2, double sa,           \\
            const double *logodds, double *alpha, double *mu, double *s,           \\
            double *Xr, const int64_t *order, Py_ssize_t m, int nthreads,          \\
            double *part) {                                                        \\
        const Py_ssize_t nchunks = (n + FC_SS_CHUNK - 1) / FC_SS_CHUNK;            \\
        Py_ssize_t t;                                                              \\
        if (nthreads <= 1 || !FC_SS_OPENMP) {                                      \\
            for (t = 0; t < m; ++t) {                                              \\
                const Py_ssize_t j = (Py_ssize_t)order[t];                         \\
                const T *x = X + j * ldx;                                          \\
                double xr_dot = 0.0, sj, mj, aj, delta;                            \\
                Py_ssize_t lo;                                                     \\
                for (lo = 0; lo < n; lo += FC_SS_CHUNK)                            \\
                    xr_dot += fc_ss_dot_##S(x + lo, Xr + lo,                       \\
                                            n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \\
                delta = fc_ss_update(xr_dot, xy[j], d[j], alpha[j] * mu[j], sigma2, sa, \\
                                     logodds[j], &sj, &mj, &aj);                   \\
                s[j] = sj; mu[j] = mj; alpha[j] = aj;                              \\
                if (delta != 0.0) fc_ss_axpy_##S(delta, x, Xr, n);                 \\
            }                                                                      \\
            return;                                                                \\
        }                                                                          \\
        FC_SS_PARALLEL(S)                                                          \\
    }

    #if FC_SS_OPENMP
    #define FC_SS_PRAGMA(x) _Pragma(#x)
    #define FC_SS_PARALLEL(S)                                                      \\
        FC_SS_PRAGMA(omp parallel num_threads(nthreads))                           \\
        {                                                                          \\
            const int tid = omp_get_thread_num();                                  \\
            const int nth = omp_get_num_threads();                                 \\
            Py_ssize_t tt, c;                                                      \\
            for (tt = 0; tt < m; ++tt) {                                           \\
                const Py_ssize_t j = (Py_ssize_t)order[tt];                        \\
                const __typeof__(X) x = X + j * ldx;                               \\
                double *buf = part + (tt & 1) * nchunks;                           \\
                const double old = alpha[j] * mu[j];                               \\
                double xr_dot = 0.0, sj, mj, aj, delta;                            \\
                for (c = tid; c < nchunks; c += nth) {                             \\
                    const Py_ssize_t lo = c * FC_SS_CHUNK;                         \\
                    buf[c] = fc_ss_dot_##S(x + lo, Xr + lo,                        \\
                                           n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \\
                }                                                                  \\
                FC_SS_PRAGMA(omp barrier)                                          \\
                for (c = 0; c < nchunks; ++c) xr_dot += buf[c];                    \\
                delta = fc_ss_update(xr_dot, xy[j], d[j], old, sigma2, sa,         \\
                                     logodds[j], &sj, &mj, &aj);                   \\
                if (tid == 0) { s[j] = sj; mu[j] = mj; alpha[j] = aj; }            \\
                if (delta != 0.0) {                                                \\
                    for (c = tid; c < nchunks; c += nth) {                         \\
                        const Py_ssize_t lo = c * FC_SS_CHUNK;                     \\
                        fc_ss_axpy_##S(delta, x + lo, Xr + lo,                     \\
                                       n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \\
                    }                                                              \\
                }                                                                  \\
            }                                                                      \\
        }
    #else
    #define FC_SS_PARALLEL(S) (void)part;
    #endif

    FC_SS_SWEEP(float, f)
    FC_SS_SWEEP(double, d)
    """
    int FC_SS_OPENMP
    int FC_SS_CHUNK
    int fc_ss_has_avx2()
    int fc_ss_set_simd(int level)
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
OPENMP_ENABLED = bool(FC_SS_OPENMP)
#: rows per chunk of the inner products (the reference module's CHUNK)
CHUNK = FC_SS_CHUNK
#: rows from which ``n_threads > 1`` shares each coordinate's chunks among threads
PARALLEL_MIN_ROWS = 1 << 17

_SIMD_LEVELS = {"generic": 1, "avx2": 2}
_simd = None


def simd_variants():
    """Names of the vector variants of the dense loops this CPU can run, narrowest first.

    ``["generic"]`` or ``["generic", "avx2"]``.
    """
    return ["generic", "avx2"] if fc_ss_has_avx2() else ["generic"]


def simd_variant():
    """Name of the vector variant of the dense loops in use ("generic" or "avx2")."""
    return _simd


def _set_simd(name):
    """Select the vector variant; for tests and benchmarks only (not thread-safe).

    Returns the previous name. Both variants give bit-identical results.
    """
    global _simd
    if name not in _SIMD_LEVELS or fc_ss_set_simd(_SIMD_LEVELS[name]) != 0:
        raise ValueError(f"SIMD variant must be 'generic' or (on AVX2 CPUs) 'avx2'; got {name!r}")
    previous, _simd = _simd, name
    return previous


# the widest usable variant, or FASTCAVI_SIMD's (fastcavi.kernels.simd, the one reader of it)
_set_simd(_choose_simd("spikeslab", list(_SIMD_LEVELS), simd_variants()))


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
    """Cython version of :func:`fastcavi.kernels.reference_spikeslab.spikeslab_sweep_dense`.

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
    """Cython version of :func:`fastcavi.kernels.reference_spikeslab.spikeslab_sweep_csc`.

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
