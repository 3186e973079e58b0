/* fc_spikeslab_kernels.h -- the dense coordinate sweep of csrc/_spikeslab.pyx
   (Carbonetto & Stephens 2012): per coordinate the inner product x_j^T Xr
   over chunks of FC_SS_CHUNK rows, the update of (s_j, mu_j, alpha_j), then
   the axpy on Xr; serial, or one OpenMP region for the whole sweep.

   Included by csrc/_spikeslab.pyx only. The chunk dot and the axpy are plain
   C with a fixed summation order, compiled once per variant (numbering and
   target attributes of fc_cpu.h): "generic", "avx2" and "avx512". The compiler may
   vectorise them but not reorder them (no -ffast-math, no FMA), so the
   variants return the same bits. */

#ifndef FC_SPIKESLAB_KERNELS_H
#define FC_SPIKESLAB_KERNELS_H

#include <Python.h>
#include <math.h>
#include <stdint.h>

#include "fc_cpu.h"
#include "fc_vec.h"

#define FC_SS_CHUNK 1024

/* dot of one chunk: 16 partial sums (lane l takes i = l mod 16; enough
   independent chains to hide the add latency), halved to 8 and combined by
   FC_HSUM8 */
#define FC_SS_DEFINE(T, S, ATTR, SFX)                                          \
ATTR static double fc_ss_dot_##S##SFX(const T *x, const double *r, Py_ssize_t n) { \
    double p[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};           \
    double q[8];                                                               \
    Py_ssize_t i = 0;                                                          \
    int l;                                                                     \
    for (; i + 16 <= n; i += 16)                                               \
        for (l = 0; l < 16; ++l) p[l] += (double)x[i + l] * r[i + l];          \
    for (l = 0; l < 8; ++l) q[l] = p[l] + p[l + 8];                            \
    double s = FC_HSUM8(q);                                                    \
    for (; i < n; ++i) s += (double)x[i] * r[i];                               \
    return s;                                                                  \
}                                                                              \
ATTR static void fc_ss_axpy_##S##SFX(double a, const T *x, double *r, Py_ssize_t n) { \
    Py_ssize_t i;                                                              \
    for (i = 0; i < n; ++i) r[i] += a * (double)x[i];                          \
}

FC_SS_DEFINE(float, f, , _generic)
FC_SS_DEFINE(double, d, , _generic)
#if FC_X86
FC_SS_DEFINE(float, f, FC_TARGET_AVX2, _avx2)
FC_SS_DEFINE(double, d, FC_TARGET_AVX2, _avx2)
FC_SS_DEFINE(float, f, FC_TARGET_AVX512, _avx512)
FC_SS_DEFINE(double, d, FC_TARGET_AVX512, _avx512)
#endif

typedef struct {
    double (*dot_f)(const float *, const double *, Py_ssize_t);
    double (*dot_d)(const double *, const double *, Py_ssize_t);
    void (*axpy_f)(double, const float *, double *, Py_ssize_t);
    void (*axpy_d)(double, const double *, double *, Py_ssize_t);
} fc_ss_impl_t;

#define FC_SS_ENTRY(SFX) {fc_ss_dot_f##SFX, fc_ss_dot_d##SFX, fc_ss_axpy_f##SFX, fc_ss_axpy_d##SFX}
static const fc_ss_impl_t fc_ss_variants[FC_SIMD_N] = {
    {NULL, NULL, NULL, NULL},  /* no scalar variant */
    FC_SS_ENTRY(_generic),
#if FC_X86
    FC_SS_ENTRY(_avx2),
    FC_SS_ENTRY(_avx512),
#endif
};
/* the variant in use (generic until the import selects one) */
static fc_ss_impl_t fc_ss = FC_SS_ENTRY(_generic);
FC_DEFINE_SIMD_TABLE(fc_ss_variants, fc_ss, dot_d)

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

#define FC_SS_SWEEP(T, S)                                                      \
static void fc_ss_sweep_##S(const T *X, Py_ssize_t n, Py_ssize_t ldx,          \
        const double *xy, const double *d, double sigma2, double sa,           \
        const double *logodds, double *alpha, double *mu, double *s,           \
        double *Xr, const int64_t *order, Py_ssize_t m, int nthreads,          \
        double *part) {                                                        \
    const Py_ssize_t nchunks = (n + FC_SS_CHUNK - 1) / FC_SS_CHUNK;            \
    Py_ssize_t t;                                                              \
    if (nthreads <= 1 || !FC_OPENMP_ENABLED) {                                 \
        for (t = 0; t < m; ++t) {                                              \
            const Py_ssize_t j = (Py_ssize_t)order[t];                         \
            const T *x = X + j * ldx;                                          \
            double xr_dot = 0.0, sj, mj, aj, delta;                            \
            Py_ssize_t lo;                                                     \
            for (lo = 0; lo < n; lo += FC_SS_CHUNK)                            \
                xr_dot += fc_ss.dot_##S(x + lo, Xr + lo,                       \
                                        n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \
            delta = fc_ss_update(xr_dot, xy[j], d[j], alpha[j] * mu[j], sigma2, sa, \
                                 logodds[j], &sj, &mj, &aj);                   \
            s[j] = sj; mu[j] = mj; alpha[j] = aj;                              \
            if (delta != 0.0) fc_ss.axpy_##S(delta, x, Xr, n);                 \
        }                                                                      \
        return;                                                                \
    }                                                                          \
    FC_SS_PARALLEL(S)                                                          \
}

#if FC_OPENMP_ENABLED
#define FC_SS_PRAGMA(x) _Pragma(#x)
#define FC_SS_PARALLEL(S)                                                      \
    FC_SS_PRAGMA(omp parallel num_threads(nthreads))                           \
    {                                                                          \
        const int tid = omp_get_thread_num();                                  \
        const int nth = omp_get_num_threads();                                 \
        Py_ssize_t tt, c;                                                      \
        for (tt = 0; tt < m; ++tt) {                                           \
            const Py_ssize_t j = (Py_ssize_t)order[tt];                        \
            const __typeof__(X) x = X + j * ldx;                               \
            double *buf = part + (tt & 1) * nchunks;                           \
            const double old = alpha[j] * mu[j];                               \
            double xr_dot = 0.0, sj, mj, aj, delta;                            \
            for (c = tid; c < nchunks; c += nth) {                             \
                const Py_ssize_t lo = c * FC_SS_CHUNK;                         \
                buf[c] = fc_ss.dot_##S(x + lo, Xr + lo,                        \
                                       n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \
            }                                                                  \
            FC_SS_PRAGMA(omp barrier)                                          \
            for (c = 0; c < nchunks; ++c) xr_dot += buf[c];                    \
            delta = fc_ss_update(xr_dot, xy[j], d[j], old, sigma2, sa,         \
                                 logodds[j], &sj, &mj, &aj);                   \
            if (tid == 0) { s[j] = sj; mu[j] = mj; alpha[j] = aj; }            \
            if (delta != 0.0) {                                                \
                for (c = tid; c < nchunks; c += nth) {                         \
                    const Py_ssize_t lo = c * FC_SS_CHUNK;                     \
                    fc_ss.axpy_##S(delta, x + lo, Xr + lo,                     \
                                   n - lo < FC_SS_CHUNK ? n - lo : FC_SS_CHUNK); \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }
#else
#define FC_SS_PARALLEL(S) (void)part;
#endif

FC_SS_SWEEP(float, f)
FC_SS_SWEEP(double, d)

#endif /* FC_SPIKESLAB_KERNELS_H */
