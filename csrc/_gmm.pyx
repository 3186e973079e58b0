# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the Gaussian-mixture kernel (``fastcavi._ext._gmm``).

Same contract as :func:`fastcavi.kernels.reference_gmm.gmm_e_step` and the
same structure as :mod:`fastcavi.kernels.numba_gmm`: OpenMP ``prange``
(dynamic schedule) over the chunks of
:func:`~fastcavi.kernels.reference_gmm.chunk_bounds` (a partition that
depends on n only); each chunk allocates its scratch once, walks its rows in
blocks of ``FC_B`` = 128 and accumulates into its own float64 partials, which
are summed in chunk order afterwards. Results are bit-identical whatever
``n_threads``.

The hot loops are C with GCC/Clang vector extensions, 8 float64 lanes = 8
samples of a block transposed to (d, 128):

- "full"/"tied": ``y = (x - m_k) @ U_k`` with U_k copied into a zero-padded
  (d, dp) upper-triangular tile (dp = d rounded up to 8), eight output
  columns held in registers while the rows i <= j stream through, so each
  difference row is loaded once per eight columns and rows below a column
  group are skipped;
- one vectorised exp per (sample, component) (Cody-Waite reduction and a
  degree-13 polynomial, ~1 ulp; exactly 0 below -708, NaN propagates);
- the "full" scatter ``sum_i w_i r_ik (x_i - m_k)(x_i - m_k)^T`` in 2 x 4
  register tiles over the upper triangle only, mirrored after the chunk
  reduction; "diag"/"spherical" square the difference, never expand it.

The vector code is compiled three times (generic 16-byte baseline, AVX2 and
AVX-512F via ``__attribute__((target(...)))``) and the widest one the CPU
supports is picked at import (:func:`simd_variant`; ``FASTCAVI_SIMD``
overrides, see :mod:`fastcavi.kernels.simd`: "scalar" runs "generic"). The source fixes every operation and its order (element-wise
vector arithmetic, fixed-order horizontal sums, no FMA: the build passes
``-ffp-contract=off``), so the variants return the same bits (tested), as
do all thread counts.
"""

from cython.parallel cimport prange
from libc.stdint cimport int64_t
cimport numpy as cnp

import numpy as np

from fastcavi.kernels.reference_gmm import chunk_bounds
from fastcavi.kernels.simd import choose as _choose_simd

cnp.import_array()

__all__ = ["gmm_e_step", "OPENMP_ENABLED", "simd_variant", "simd_variants"]

cdef extern from * nogil:
    """
    #include <math.h>
    #include <stdint.h>
    #include <stdlib.h>
    #include <string.h>

    #ifndef FASTCAVI_OPENMP
    #define FASTCAVI_OPENMP 0
    #endif
    #if FASTCAVI_OPENMP && defined(_OPENMP)
    #define FC_OPENMP_ENABLED 1
    #else
    #define FC_OPENMP_ENABLED 0
    #endif

    #define FC_B 128   /* rows per block */
    #define FC_L 8     /* lanes of the vector type */

    #if defined(__GNUC__) || defined(__clang__)
    #define FC_INLINE static inline __attribute__((always_inline))
    typedef double fc_vd __attribute__((vector_size(64), aligned(8)));
    typedef long long fc_vi __attribute__((vector_size(64), aligned(8)));
    #define FC_GNU 1
    #else
    #define FC_GNU 0
    #endif
    #if FC_GNU && (defined(__x86_64__) || defined(__i386__))
    #define FC_X86 1
    #else
    #define FC_X86 0
    #endif

    typedef struct {
        int d, K, dp, kind, f32, write_resp, write_norm, stats;
        const void *X;
        const void *w;
        const double *means;   /* (K, d) */
        const double *prec;    /* full (K, d, dp), tied (d, dp), diag (K, d), spherical (K,) */
        const double *bias;    /* (K,) */
        void *log_resp;        /* (n, K) of dtype, or NULL */
        void *log_norm;        /* (n,) of dtype, or NULL */
    } fc_gmm_t;

    #if FC_GNU
    FC_INLINE fc_vd fc_splat(double v) { fc_vd r = {v, v, v, v, v, v, v, v}; return r; }
    FC_INLINE fc_vd fc_ld(const double *p) { return *(const fc_vd *)p; }
    FC_INLINE void fc_st(double *p, fc_vd v) { *(fc_vd *)p = v; }
    FC_INLINE fc_vd fc_select(fc_vi mask, fc_vd a, fc_vd b) {
        return (fc_vd)(((fc_vi)a & mask) | ((fc_vi)b & ~mask)); }
    /* fixed-order horizontal sum */
    FC_INLINE double fc_hsum(fc_vd v) {
        return ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])); }

    /* exp(x) for x <= 0: Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2,
       exp(r) by its degree-13 Taylor polynomial (truncation < 2e-17), 2^n from
       its bits. Exactly 0 below -708 (the result would be < 3.3e-308); NaN
       propagates through the polynomial. */
    FC_INLINE fc_vd fc_vexp(fc_vd x) {
        const fc_vd shifter = fc_splat(6755399441055744.0); /* 1.5 * 2^52 */
        fc_vi under = x < fc_splat(-708.0);
        fc_vd xc = fc_select(under, fc_splat(-708.0), x);
        fc_vd kd = xc * fc_splat(1.4426950408889634) + shifter;
        fc_vd nf = kd - shifter;          /* round(x / ln2), exact */
        fc_vi ni = (fc_vi)kd - (fc_vi)shifter;
        fc_vd r = (xc - nf * fc_splat(0.693145751953125))
                  - nf * fc_splat(1.42860682030941723212e-6);
        fc_vd p = fc_splat(1.0 / 6227020800.0);
        p = p * r + fc_splat(1.0 / 479001600.0);
        p = p * r + fc_splat(1.0 / 39916800.0);
        p = p * r + fc_splat(1.0 / 3628800.0);
        p = p * r + fc_splat(1.0 / 362880.0);
        p = p * r + fc_splat(1.0 / 40320.0);
        p = p * r + fc_splat(1.0 / 5040.0);
        p = p * r + fc_splat(1.0 / 720.0);
        p = p * r + fc_splat(1.0 / 120.0);
        p = p * r + fc_splat(1.0 / 24.0);
        p = p * r + fc_splat(1.0 / 6.0);
        p = p * r + fc_splat(0.5);
        p = p * r + fc_splat(1.0);
        p = p * r + fc_splat(1.0);
        fc_vd scale = (fc_vd)((ni + 1023) << 52);
        fc_vd res = p * scale;
        return (fc_vd)((fc_vi)res & ~under);
    }

    /* q[s] = || DT[:, s]^T U ||^2, U a zero-padded (d, dp) upper triangle */
    FC_INLINE void fc_maha_tri(const double *DT, const double *U, int d, int dp, int nbp,
                               double *q) {
        for (int s = 0; s < nbp; s += FC_L) {
            fc_vd qa = fc_splat(0.0);
            for (int jg = 0; jg < dp; jg += 8) {
                fc_vd a0 = fc_splat(0.0), a1 = a0, a2 = a0, a3 = a0;
                fc_vd a4 = a0, a5 = a0, a6 = a0, a7 = a0;
                int iend = jg + 8 < d ? jg + 8 : d;
                int ihalf = jg + 4 < d ? jg + 4 : d;
                for (int i = 0; i < ihalf; i++) {
                    fc_vd t = fc_ld(DT + (size_t)i * FC_B + s);
                    const double *u = U + (size_t)i * dp + jg;
                    a0 += t * u[0]; a1 += t * u[1]; a2 += t * u[2]; a3 += t * u[3];
                    a4 += t * u[4]; a5 += t * u[5]; a6 += t * u[6]; a7 += t * u[7];
                }
                /* rows jg+4.. feed only the upper four columns of the group */
                for (int i = ihalf; i < iend; i++) {
                    fc_vd t = fc_ld(DT + (size_t)i * FC_B + s);
                    const double *u = U + (size_t)i * dp + jg;
                    a4 += t * u[4]; a5 += t * u[5]; a6 += t * u[6]; a7 += t * u[7];
                }
                qa += ((a0 * a0 + a1 * a1) + (a2 * a2 + a3 * a3))
                    + ((a4 * a4 + a5 * a5) + (a6 * a6 + a7 * a7));
            }
            fc_st(q + s, qa);
        }
    }

    /* out[a * dp + b] += sum_s WD[a, s] DT[b, s], 2 x 4 tiles covering b >= a */
    FC_INLINE void fc_scatter_tri(const double *WD, const double *DT, int d, int dp, int nbp,
                                  double *out) {
        for (int a = 0; a < d; a += 2) {
            for (int b = (a / 4) * 4; b < d; b += 4) {
                fc_vd c00 = fc_splat(0.0), c01 = c00, c02 = c00, c03 = c00;
                fc_vd c10 = c00, c11 = c00, c12 = c00, c13 = c00;
                const double *wa = WD + (size_t)a * FC_B, *wb = wa + FC_B;
                const double *d0 = DT + (size_t)b * FC_B;
                for (int s = 0; s < nbp; s += FC_L) {
                    fc_vd x0 = fc_ld(wa + s), x1 = fc_ld(wb + s);
                    fc_vd y0 = fc_ld(d0 + s), y1 = fc_ld(d0 + FC_B + s);
                    fc_vd y2 = fc_ld(d0 + 2 * FC_B + s), y3 = fc_ld(d0 + 3 * FC_B + s);
                    c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
                    c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
                }
                double *o = out + (size_t)a * dp + b;
                o[0] += fc_hsum(c00); o[1] += fc_hsum(c01);
                o[2] += fc_hsum(c02); o[3] += fc_hsum(c03);
                o += dp;
                o[0] += fc_hsum(c10); o[1] += fc_hsum(c11);
                o[2] += fc_hsum(c12); o[3] += fc_hsum(c13);
            }
        }
    }

    /* One chunk of rows [first, last). Scratch is (re)used for every block.
       Partials: nk (K,), sx (K, d), sxx (K, dp, dp) full / (K, d) diag /
       (K,) spherical; sums (2,). Returns 0, or -1 if malloc failed. */
    FC_INLINE int fc_gmm_chunk_body(const fc_gmm_t *A, int64_t first, int64_t last,
                                    double *nk, double *sx, double *sxx, double *sums) {
        const int d = A->d, K = A->K, dp = A->dp, kind = A->kind;
        size_t nscr = (size_t)FC_B * (3 * (size_t)dp + 2 * (size_t)K + 5) + 8;
        double *raw = (double *)calloc(nscr, sizeof(double));
        if (raw == NULL) return -1;
        double *XT = (double *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
        double *DT = XT + (size_t)FC_B * dp;
        double *WD = DT + (size_t)FC_B * dp;
        double *LR = WD + (size_t)FC_B * dp;
        double *E = LR + (size_t)FC_B * K;
        double *q = E + (size_t)FC_B * K;
        double *mx = q + FC_B;
        double *tot = mx + FC_B;
        double *ww = tot + FC_B;
        double *lse = ww + FC_B;
        double s_norm = 0.0, s_ent = 0.0;
        for (int64_t b0 = first; b0 < last; b0 += FC_B) {
            int nb = (int)(last - b0 < FC_B ? last - b0 : FC_B);
            int nbp = (nb + FC_L - 1) / FC_L * FC_L;
            /* transpose the block to float64 (d, FC_B); padding lanes are 0
               with weight 0 */
            if (A->f32) {
                const float *X = (const float *)A->X + (size_t)b0 * d;
                const float *w = (const float *)A->w + b0;
                for (int s = 0; s < nb; s++) {
                    for (int j = 0; j < d; j++) XT[(size_t)j * FC_B + s] = X[(size_t)s * d + j];
                    ww[s] = w[s];
                }
            } else {
                const double *X = (const double *)A->X + (size_t)b0 * d;
                const double *w = (const double *)A->w + b0;
                for (int s = 0; s < nb; s++) {
                    for (int j = 0; j < d; j++) XT[(size_t)j * FC_B + s] = X[(size_t)s * d + j];
                    ww[s] = w[s];
                }
            }
            for (int s = nb; s < nbp; s++) {
                for (int j = 0; j < d; j++) XT[(size_t)j * FC_B + s] = 0.0;
                ww[s] = 0.0;
            }
            /* log rho */
            for (int k = 0; k < K; k++) {
                const double *m = A->means + (size_t)k * d;
                if (kind <= 1) {
                    /* the difference is stored once and streamed dp / 8 times */
                    for (int j = 0; j < d; j++) {
                        fc_vd mj = fc_splat(m[j]);
                        for (int s = 0; s < nbp; s += FC_L)
                            fc_st(DT + (size_t)j * FC_B + s, fc_ld(XT + (size_t)j * FC_B + s) - mj);
                    }
                    const double *U = A->prec + (kind == 0 ? (size_t)k * d * dp : 0);
                    fc_maha_tri(DT, U, d, dp, nbp, q);
                } else {
                    /* j outer, samples inner: independent accumulators in flight
                       (a j-inner register sum would be one long dependency chain) */
                    for (int s = 0; s < nbp; s += FC_L) fc_st(q + s, fc_splat(0.0));
                    for (int j = 0; j < d; j++) {
                        fc_vd mj = fc_splat(m[j]);
                        fc_vd uj = fc_splat(kind == 2 ? A->prec[(size_t)k * d + j] : A->prec[k]);
                        for (int s = 0; s < nbp; s += FC_L) {
                            fc_vd t = (fc_ld(XT + (size_t)j * FC_B + s) - mj) * uj;
                            fc_st(q + s, fc_ld(q + s) + t * t);
                        }
                    }
                }
                fc_vd bk = fc_splat(A->bias[k]);
                for (int s = 0; s < nbp; s += FC_L)
                    fc_st(LR + (size_t)k * FC_B + s, bk - fc_splat(0.5) * fc_ld(q + s));
            }
            /* row-wise log-sum-exp, one exp per entry kept in E */
            for (int s = 0; s < nbp; s += FC_L) {
                fc_vd m = fc_ld(LR + s);
                for (int k = 1; k < K; k++) {
                    fc_vd v = fc_ld(LR + (size_t)k * FC_B + s);
                    m = fc_select(v > m, v, m);
                }
                fc_vd t = fc_splat(0.0);
                for (int k = 0; k < K; k++) {
                    fc_vd e = fc_vexp(fc_ld(LR + (size_t)k * FC_B + s) - m);
                    fc_st(E + (size_t)k * FC_B + s, e);
                    t += e;
                }
                fc_st(mx + s, m);
                fc_st(tot + s, t);
            }
            for (int s = 0; s < nbp; s++) {
                double l = mx[s] + log(tot[s]);
                lse[s] = l;
                tot[s] = 1.0 / tot[s];
            }
            for (int s = 0; s < nb; s++) s_norm += ww[s] * lse[s];
            if (A->write_norm) {
                if (A->f32) { float *o = (float *)A->log_norm + b0;
                    for (int s = 0; s < nb; s++) o[s] = (float)lse[s]; }
                else { double *o = (double *)A->log_norm + b0;
                    for (int s = 0; s < nb; s++) o[s] = lse[s]; }
            }
            if (A->write_resp) {
                if (A->f32) { float *o = (float *)A->log_resp + (size_t)b0 * K;
                    for (int s = 0; s < nb; s++) for (int k = 0; k < K; k++)
                        o[(size_t)s * K + k] = (float)(LR[(size_t)k * FC_B + s] - lse[s]); }
                else { double *o = (double *)A->log_resp + (size_t)b0 * K;
                    for (int s = 0; s < nb; s++) for (int k = 0; k < K; k++)
                        o[(size_t)s * K + k] = LR[(size_t)k * FC_B + s] - lse[s]; }
            }
            /* LR <- w_i r_ik; entropy term w_i r_ik log r_ik (0 log 0 = 0) */
            fc_vd ent = fc_splat(0.0);
            for (int k = 0; k < K; k++) {
                for (int s = 0; s < nbp; s += FC_L) {
                    double *p = LR + (size_t)k * FC_B + s;
                    fc_vd lr = fc_ld(p) - fc_ld(lse + s);
                    fc_vd r = fc_ld(E + (size_t)k * FC_B + s) * fc_ld(tot + s);
                    fc_vd w = fc_ld(ww + s);
                    fc_vd rl = (fc_vd)((fc_vi)(r * lr) & (r > fc_splat(0.0)));
                    ent += w * rl;
                    fc_st(p, w * r);
                }
            }
            s_ent += fc_hsum(ent);
            if (!A->stats) continue;
            for (int k = 0; k < K; k++) {
                const double *R = LR + (size_t)k * FC_B;
                const double *m = A->means + (size_t)k * d;
                fc_vd acc = fc_splat(0.0);
                for (int s = 0; s < nbp; s += FC_L) acc += fc_ld(R + s);
                nk[k] += fc_hsum(acc);
                if (kind == 0) {
                    for (int j = 0; j < d; j++) {
                        fc_vd mj = fc_splat(m[j]);
                        fc_vd a1 = fc_splat(0.0);
                        for (int s = 0; s < nbp; s += FC_L) {
                            fc_vd t = fc_ld(XT + (size_t)j * FC_B + s) - mj;
                            fc_vd wt = fc_ld(R + s) * t;
                            fc_st(DT + (size_t)j * FC_B + s, t);
                            fc_st(WD + (size_t)j * FC_B + s, wt);
                            a1 += wt;
                        }
                        sx[(size_t)k * d + j] += fc_hsum(a1);
                    }
                    fc_scatter_tri(WD, DT, d, dp, nbp, sxx + (size_t)k * dp * dp);
                } else {
                    double a2tot = 0.0;
                    for (int j = 0; j < d; j++) {
                        fc_vd mj = fc_splat(m[j]);
                        fc_vd a1 = fc_splat(0.0), a2 = a1;
                        for (int s = 0; s < nbp; s += FC_L) {
                            fc_vd t = fc_ld(XT + (size_t)j * FC_B + s) - mj;
                            fc_vd wt = fc_ld(R + s) * t;
                            a1 += wt;
                            a2 += wt * t;
                        }
                        sx[(size_t)k * d + j] += fc_hsum(a1);
                        if (kind == 2) sxx[(size_t)k * d + j] += fc_hsum(a2);
                        else if (kind == 3) a2tot += fc_hsum(a2);
                    }
                    if (kind == 3) sxx[k] += a2tot;
                }
            }
        }
        sums[0] = s_norm;
        sums[1] = s_ent;
        free(raw);
        return 0;
    }

    static int fc_gmm_chunk_generic(const fc_gmm_t *A, int64_t first, int64_t last,
                                    double *nk, double *sx, double *sxx, double *sums) {
        return fc_gmm_chunk_body(A, first, last, nk, sx, sxx, sums); }
    #if FC_X86
    __attribute__((target("avx2")))
    static int fc_gmm_chunk_avx2(const fc_gmm_t *A, int64_t first, int64_t last,
                                 double *nk, double *sx, double *sxx, double *sums) {
        return fc_gmm_chunk_body(A, first, last, nk, sx, sxx, sums); }
    __attribute__((target("avx512f")))
    static int fc_gmm_chunk_avx512(const fc_gmm_t *A, int64_t first, int64_t last,
                                   double *nk, double *sx, double *sxx, double *sums) {
        return fc_gmm_chunk_body(A, first, last, nk, sx, sxx, sums); }
    #endif
    #endif  /* FC_GNU */

    typedef int (*fc_gmm_fn)(const fc_gmm_t *, int64_t, int64_t, double *, double *, double *,
                             double *);
    #if FC_GNU
    static fc_gmm_fn fc_gmm_impl = fc_gmm_chunk_generic;
    #else
    static fc_gmm_fn fc_gmm_impl = NULL;
    #endif

    /* 0 generic, 1 avx2, 2 avx512f */
    static int fc_gmm_supports(int level) {
        if (level == 0) return FC_GNU;
    #if FC_X86
        __builtin_cpu_init();
        if (level == 1) return __builtin_cpu_supports("avx2") ? 1 : 0;
        if (level == 2) return __builtin_cpu_supports("avx512f") ? 1 : 0;
    #endif
        return 0;
    }
    static int fc_gmm_set_simd(int level) {
        if (!fc_gmm_supports(level)) return -1;
    #if FC_GNU
        if (level == 0) fc_gmm_impl = fc_gmm_chunk_generic;
    #endif
    #if FC_X86
        if (level == 1) fc_gmm_impl = fc_gmm_chunk_avx2;
        if (level == 2) fc_gmm_impl = fc_gmm_chunk_avx512;
    #endif
        return 0;
    }
    static int fc_gmm_chunk(const fc_gmm_t *A, int64_t first, int64_t last,
                            double *nk, double *sx, double *sxx, double *sums) {
        return fc_gmm_impl(A, first, last, nk, sx, sxx, sums); }
    """
    ctypedef struct fc_gmm_t:
        int d, K, dp, kind, f32, write_resp, write_norm, stats
        const void *X
        const void *w
        const double *means
        const double *prec
        const double *bias
        void *log_resp
        void *log_norm
    int fc_gmm_chunk(const fc_gmm_t *A, int64_t first, int64_t last, double *nk, double *sx,
                     double *sxx, double *sums)
    int fc_gmm_supports(int level)
    int fc_gmm_set_simd(int level)
    int FC_OPENMP_ENABLED


#: True when the extension was compiled with OpenMP (else prange runs serially)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)

_SIMD_LEVELS = {"generic": 0, "avx2": 1, "avx512": 2}
_simd = None


def simd_variants():
    """Names of the vector-kernel variants this CPU can run.

    Returns
    -------
    names : list of str
        A subset of ``["generic", "avx2", "avx512"]``, narrowest first.
    """
    return [name for name, level in _SIMD_LEVELS.items() if fc_gmm_supports(level)]


def simd_variant():
    """Name of the vector-kernel variant in use (see :func:`simd_variants`)."""
    return _simd


def _set_simd(name):
    """Select the vector-kernel variant; for tests and benchmarks only.

    Not thread-safe: do not call while kernels run. Returns the previous name.
    """
    global _simd
    if name not in _SIMD_LEVELS or fc_gmm_set_simd(_SIMD_LEVELS[name]) != 0:
        raise ValueError(f"SIMD variant must be one of {simd_variants()}; got {name!r}")
    previous, _simd = _simd, name
    return previous


# the widest usable variant, or FASTCAVI_SIMD's (fastcavi.kernels.simd, the one reader of it)
_names = simd_variants()
if _names:
    _set_simd(_choose_simd("gmm", list(_SIMD_LEVELS), _names))
del _names

_KINDS = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


cdef inline void* _ptr(cnp.ndarray a):
    return cnp.PyArray_DATA(a)


def gmm_e_step(X, sample_weight, means, prec_chol, log_bias, cov_type, nk, sx, sxx,
               log_resp, log_norm, compute_stats, n_threads=1):
    """Cython version of :func:`fastcavi.kernels.reference_gmm.gmm_e_step`.

    Same parameters, shapes, dtypes and return value; ``n_threads`` OpenMP
    threads over a static partition of the samples (results do not depend on
    it).

    Raises
    ------
    ValueError
        If ``log_resp``/``log_norm`` are to be written but are not writeable
        C-contiguous arrays of X's dtype (they are written through a pointer).
    RuntimeError
        If the extension was built without GCC/Clang vector extensions.
    MemoryError
        If a scratch allocation failed.
    """
    if _simd is None:
        raise RuntimeError("fastcavi._ext._gmm was compiled without vector extensions")
    cdef int kind = _KINDS[cov_type]
    cdef Py_ssize_t n = X.shape[0]
    cdef int d = X.shape[1]
    cdef int K = means.shape[0]
    cdef int dp = (d + 7) // 8 * 8
    cdef int nt = max(1, int(n_threads))
    cdef bint stats = bool(compute_stats)
    cdef fc_gmm_t A
    cdef cnp.ndarray Xc = np.ascontiguousarray(X)
    cdef cnp.ndarray wc = np.ascontiguousarray(sample_weight, dtype=Xc.dtype)
    cdef cnp.ndarray m64 = np.ascontiguousarray(means, dtype=np.float64)
    cdef cnp.ndarray b64 = np.ascontiguousarray(log_bias, dtype=np.float64)
    cdef cnp.ndarray U
    if kind <= 1:
        P = np.asarray(prec_chol, dtype=np.float64).reshape(-1, d, d)
        U = np.zeros((P.shape[0], d, dp))
        U[:, :, :d] = np.triu(P)
    else:
        U = np.ascontiguousarray(prec_chol, dtype=np.float64)
    cdef int sxx_size = {0: dp * dp, 1: 0, 2: d, 3: 1}[kind]
    cdef cnp.ndarray bnd = chunk_bounds(n)
    cdef int n_chunks = bnd.shape[0] - 1
    cdef cnp.ndarray nk_p = np.zeros((n_chunks, K))
    cdef cnp.ndarray sx_p = np.zeros((n_chunks, K, d))
    cdef cnp.ndarray sxx_p = np.zeros((n_chunks, K, max(sxx_size, 1)))
    cdef cnp.ndarray sums_p = np.zeros((n_chunks, 2))
    cdef cnp.ndarray status = np.zeros(n_chunks, dtype=np.int32)
    A.d = d
    A.K = K
    A.dp = dp
    A.kind = kind
    A.f32 = Xc.dtype == np.float32
    A.write_resp = log_resp.shape[0] != 0
    A.write_norm = log_norm.shape[0] != 0
    A.stats = stats
    A.X = _ptr(Xc)
    A.w = _ptr(wc)
    A.means = <const double *>_ptr(m64)
    A.prec = <const double *>_ptr(U)
    A.bias = <const double *>_ptr(b64)
    for name, arr, write in (("log_resp", log_resp, A.write_resp),
                             ("log_norm", log_norm, A.write_norm)):
        if write and (not isinstance(arr, np.ndarray) or arr.dtype != Xc.dtype
                      or not arr.flags.c_contiguous or not arr.flags.writeable):
            raise ValueError(f"{name} must be a writeable C-contiguous {Xc.dtype} array")
    A.log_resp = _ptr(log_resp) if A.write_resp else NULL
    A.log_norm = _ptr(log_norm) if A.write_norm else NULL
    cdef int64_t[::1] bv = bnd
    cdef double *pnk = <double *>_ptr(nk_p)
    cdef double *psx = <double *>_ptr(sx_p)
    cdef double *psxx = <double *>_ptr(sxx_p)
    cdef double *psums = <double *>_ptr(sums_p)
    cdef int[::1] st = status
    cdef int sxx_stride = K * max(sxx_size, 1)
    cdef int c
    with nogil:
        for c in prange(n_chunks, schedule="dynamic", chunksize=1, num_threads=nt):
            st[c] = fc_gmm_chunk(&A, bv[c], bv[c + 1], pnk + c * K, psx + c * K * d,
                                 psxx + c * sxx_stride, psums + 2 * c)
    if status.any():
        raise MemoryError("fastcavi._ext._gmm: scratch allocation failed")
    # fixed-order reduction of the chunk partials
    cdef double s_norm = 0.0, s_ent = 0.0
    for c in range(n_chunks):
        s_norm += psums[2 * c]
        s_ent += psums[2 * c + 1]
    if stats:
        _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx, kind, d, dp)
    return float(s_norm), float(s_ent)


def _reduce(nk_p, sx_p, sxx_p, nk, sx, sxx, int kind, int d, int dp):
    """Sum the partials in chunk order into the outputs; mirror "full"."""
    cdef double[:, ::1] a = nk_p
    cdef double[:, :, ::1] b = sx_p
    cdef double[:, :, ::1] cc = sxx_p
    cdef int n_chunks = a.shape[0], K = a.shape[1]
    cdef int c, k, j, i
    cdef double acc
    cdef double[::1] onk = nk
    cdef double[:, ::1] osx = sx
    cdef double[:, :, ::1] of
    cdef double[:, ::1] od
    cdef double[::1] osph
    for k in range(K):
        acc = 0.0
        for c in range(n_chunks):
            acc += a[c, k]
        onk[k] = acc
        for j in range(d):
            acc = 0.0
            for c in range(n_chunks):
                acc += b[c, k, j]
            osx[k, j] = acc
    if kind == 0:
        of = sxx
        for k in range(K):
            for i in range(d):
                for j in range(i, d):
                    acc = 0.0
                    for c in range(n_chunks):
                        acc += cc[c, k, i * dp + j]
                    of[k, i, j] = acc
                    of[k, j, i] = acc
    elif kind == 2:
        od = sxx
        for k in range(K):
            for j in range(d):
                acc = 0.0
                for c in range(n_chunks):
                    acc += cc[c, k, j]
                od[k, j] = acc
    elif kind == 3:
        osph = sxx
        for k in range(K):
            acc = 0.0
            for c in range(n_chunks):
                acc += cc[c, k, 0]
            osph[k] = acc
