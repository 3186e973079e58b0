# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, nonecheck=False
"""Cython backend of the LDA kernels (``fastcavi._ext._lda``).

Same contracts as :mod:`fastcavi.kernels.reference` (the NumPy oracle) and the
same structure as :mod:`fastcavi.kernels.numba_lda`:

- ``lda_e_step``: OpenMP ``prange`` (dynamic schedule) over contiguous chunks
  of documents from :func:`fastcavi.kernels.doc_chunks`; each thread allocates
  its scratch once; every document writes only its own outputs.
- ``lda_suff_stats``: ``prange`` over words, each word gathers its column in
  the fixed CSC order.
- ``exp_dirichlet_expectation_T``: ``prange`` over topics for each topic's
  psi(sum) and lgamma(sum), then over blocks of 512 words (contiguous writes
  to the word-major output); one float64 bound term per block, summed in
  block order afterwards.

Results are therefore bit-identical for any ``n_threads``.

Per document and CAVI iteration, one sweep over the words first forms every
``n_dw / phinorm_dw`` (dot products in the working dtype with 8 partial sums)
and then ``sum_w (n_dw / phinorm_dw) expElogbeta_w`` with the K accumulators
held in vector registers, words in order (in groups of ~16 KB of rows, so the
second pass reads them from L1). The summation order is fixed by the source,
not by the instruction set, and no FMA is used (the build passes
``-ffp-contract=off``, never ``-ffast-math``). Sums of gamma and lambda, ELBO
terms, digamma, exp and lgamma are evaluated in float64, except exp(psi(gamma_dk))
of every inner iteration for float32 data in the vector variants, which runs in
float32 lanes (relative error below 1e-6 max(1, |psi|), see FC_DEFINE_VMATHF):
on short documents that row dominates the E-step.

Variants (:func:`simd_variants`, chosen at import: the widest the CPU has, or
the environment variable ``FASTCAVI_SIMD``, see :mod:`fastcavi.kernels.simd`):

- "scalar": plain C, with libm's exp and lgamma (the reentrant ``lgamma_r``
  where libm has it) and the scalar :func:`digamma`;
- "generic" (16-byte vectors), "avx2" (32-byte) and "avx512" (64-byte float64
  vectors): also evaluate the special functions in vectors: exp(psi(gamma_dk))
  of every inner iteration, the per-document bound's psi and lgamma, and the
  topic step's psi, exp and lgamma, with a division-free exp (<= 1 ulp) and
  a vector log (see FC_DEFINE_VMATH). These three return the same bits as
  each other; they differ from "scalar" by rounding only (exp(psi) within
  ~8 eps |psi|; results within the reference tolerances, see
  tests/test_kernels.py and tests/test_special.py).

``digamma`` uses the algorithm of :mod:`fastcavi.kernels.special`: a Taylor
series in double-double around the positive root, else the recurrence up to
x >= 6 and the asymptotic series to x^-20. Its 24 Taylor coefficients are
computed at import with ``scipy.special.zeta``, exactly as ``special.py`` does.
"""

from cython.parallel cimport parallel, prange
from libc.math cimport exp, log, fabs, INFINITY, NAN
from libc.stdint cimport int32_t, int64_t
from libc.stdlib cimport free, malloc

import math

import numpy as np

__all__ = [
    "exp_dirichlet_expectation_T",
    "lda_e_step",
    "lda_suff_stats",
    "digamma",
    "OPENMP_ENABLED",
    "simd_variant",
    "simd_variants",
]

cdef extern from * nogil:
    """
    #include <math.h>
    #include <string.h>

    #ifndef FASTCAVI_OPENMP
    #define FASTCAVI_OPENMP 0
    #endif
    #if FASTCAVI_OPENMP && defined(_OPENMP)
    #define FC_OPENMP_ENABLED 1
    #else
    #define FC_OPENMP_ENABLED 0
    #endif

    /* float32 kernels flush subnormals to zero (FTZ/DAZ) on their threads:
       products of small exp(E[log theta]) and exp(E[log beta]) fall below
       1.2e-38 and every subnormal operand costs a microcode assist (the float32
       E-step ran slower than float64). Such values are 1e31 times smaller than
       the eps added to every phinorm, so results are unaffected. */
    #if defined(__x86_64__) || defined(_M_X64)
    #include <xmmintrin.h>
    static inline unsigned int fc_ftz_on(void) {
        unsigned int old = _mm_getcsr(); _mm_setcsr(old | 0x8040); return old; }
    static inline void fc_ftz_restore(unsigned int old) { _mm_setcsr(old); }
    #else
    static inline unsigned int fc_ftz_on(void) { return 0; }
    static inline void fc_ftz_restore(unsigned int old) { (void)old; }
    #endif

    /* lgamma writes the global signgam in glibc/BSD libms (a data race under
       OpenMP); the reentrant variant does not. */
    #if defined(__APPLE__)
    extern double lgamma_r(double, int *);
    #endif
    #if defined(__GLIBC__) || defined(__APPLE__) || defined(__FreeBSD__)           \\
        || defined(__NetBSD__) || defined(__OpenBSD__)
    static inline double fc_lgamma(double x) { int sign; return lgamma_r(x, &sign); }
    #else
    static inline double fc_lgamma(double x) { return lgamma(x); }
    #endif

    /* ------------------------------------------------------------------------
       Vector kernels. Every variant below performs the same floating-point
       operations in the same order, so they return the same bits:

       - dot(a, b): 8 partial sums (lane l takes k = l mod 8), combined as
         ((p0+p4)+(p2+p6))+((p1+p5)+(p3+p7)); in the E-step sweep of the
         vector variants (n >= 8) the n mod 8 tail enters the lanes too, as the
         chunk [n - 8, n) with the lanes already counted multiplied by zero,
         while fc_dot (the scalar variant, and the final phinorm) adds it in
         order after combining;
       - gather(rows, coef): acc[k] = sum_j coef[j] * rows[j][k], j in order,
         each acc[k] kept in a register across j.

       "generic" is plain C or GCC/Clang vector extensions of 16 bytes (SSE2,
       NEON); "avx2" uses 32-byte vectors in functions compiled with
       __attribute__((target("avx2"))), "avx512" 64-byte float64 vectors
       (target avx512f/dq), picked at import time when the CPU has them. FMA
       is never used, so there is no contraction to differ. The special
       functions differ between "scalar" (libm) and the vector variants, see
       FC_DEFINE_VMATH. */

    #if defined(__GNUC__) || defined(__clang__)
    #define FC_GNU_VECTORS 1
    #else
    #define FC_GNU_VECTORS 0
    #endif
    #if FC_GNU_VECTORS && (defined(__x86_64__) || defined(__i386__))
    #define FC_HAVE_AVX2 1
    #else
    #define FC_HAVE_AVX2 0
    #endif

    #define FC_DEFINE_SCALAR(T, S)                                                 \\
    static inline T fc_dot_##S(const T *a, const T *b, Py_ssize_t n) {             \\
        T p[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                         \\
        Py_ssize_t k = 0;                                                          \\
        int l;                                                                     \\
        for (; k + 8 <= n; k += 8)                                                 \\
            for (l = 0; l < 8; ++l) p[l] += a[k + l] * b[k + l];                   \\
        T s = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]));   \\
        for (; k < n; ++k) s += a[k] * b[k];                                       \\
        return s;                                                                  \\
    }                                                                              \\
    static void fc_gatherc_scalar_##S(const T *const *rows, const T *coef,         \\
            Py_ssize_t n, Py_ssize_t K, T *acc, int cont) {                        \\
        Py_ssize_t j, k;                                                           \\
        if (!cont) for (k = 0; k < K; ++k) acc[k] = 0;                             \\
        for (j = 0; j < n; ++j) {                                                  \\
            const T c = coef[j];                                                   \\
            const T *r = rows[j];                                                  \\
            for (k = 0; k < K; ++k) acc[k] += c * r[k];                            \\
        }                                                                          \\
    }                                                                              \\
    static void fc_gather_scalar_##S(const T *const *rows, const T *coef,          \\
                                     Py_ssize_t n, Py_ssize_t K, T *acc) {         \\
        fc_gatherc_scalar_##S(rows, coef, n, K, acc, 0);                           \\
    }                                                                              \\
    static void fc_sweep_scalar_##S(const T *cnt, const T *const *rows,            \\
            Py_ssize_t n, Py_ssize_t K, const T *etheta, T eps, T *coef, T *acc) { \\
        Py_ssize_t j;                                                              \\
        for (j = 0; j < n; ++j)                                                    \\
            coef[j] = cnt[j] / (fc_dot_##S(etheta, rows[j], K) + eps);             \\
        fc_gather_scalar_##S(rows, coef, n, K, acc);                               \\
    }

    FC_DEFINE_SCALAR(float, f)
    FC_DEFINE_SCALAR(double, d)

    /* Taylor series of psi around its positive root (filled at import from
       PSI_ROOT_TAYLOR, see below) for the vector digamma */
    #define FC_N_TAYLOR 24
    static double fc_psi_taylor[FC_N_TAYLOR];
    static const double fc_psi_root_hi = 1.4616321449683622;
    static const double fc_psi_root_lo = 9.549995429965697e-17;

    /* exp(psi(x)) with one exp (algorithm of fastcavi.kernels.special.exp_digamma):
       the same operations as _exp_digamma in the Cython code below. */
    static inline double fc_asym_tail(double z) {
        return z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (
            1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12 - z * (3617.0 / 8160 - z * (
                43867.0 / 14364 - z * (174611.0 / 6600))))))))));
    }
    static inline double fc_exp_digamma(double x) {
        double num = 1.0, den = x, y = x + 1.0, inv;
        int i;
        for (i = 0; i < 5; ++i) { num = num * y + den; den *= y; y += 1.0; }
        inv = 1.0 / y;
        return y * exp(-(num / den) - 0.5 * inv - fc_asym_tail(inv * inv));
    }
    #define FC_DEFINE_EXPDIG_SCALAR(T, S)                                          \\
    static void fc_expdig_row_scalar_##S(const T *g, T *out, Py_ssize_t n,         \\
                                         double total) {                           \\
        Py_ssize_t k;                                                              \\
        double scale = total > 0 ? 1.0 / fc_exp_digamma(total) : 1.0;              \\
        for (k = 0; k < n; ++k) out[k] = (T)(fc_exp_digamma((double)g[k]) * scale); \\
    }
    FC_DEFINE_EXPDIG_SCALAR(float, f)
    FC_DEFINE_EXPDIG_SCALAR(double, d)
    /* Row reductions of the E-step, in one fixed order for every variant: 8
       partial float64 sums (lane l takes k = l mod 8), combined as in dot,
       then the n mod 8 tail in order. Plain C, which the compiler may
       vectorise (the order is explicit); 8 chains instead of one dependent
       chain of n additions.
       fc_update: g[k] <- alpha[k] + etheta[k] acc[k] (in T); returns
       sum_k |new - old| and stores sum_k new in *total. */
    #define FC_DEFINE_ROWSUMS(T, S, ABS)                                           \\
    static inline double fc_sum_##S(const T *g, Py_ssize_t n) {                    \\
        double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \\
        Py_ssize_t k = 0;                                                          \\
        int l;                                                                     \\
        for (; k + 8 <= n; k += 8)                                                 \\
            for (l = 0; l < 8; ++l) p[l] += (double)g[k + l];                      \\
        double s = ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7])); \\
        for (; k < n; ++k) s += (double)g[k];                                      \\
        return s;                                                                  \\
    }                                                                              \\
    static inline double fc_update_##S(const T *alpha, const T *etheta, const T *acc, \\
                                       T *g, Py_ssize_t n, double *total) {        \\
        double c[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t[8] = {0, 0, 0, 0, 0, 0, 0, 0};   \\
        Py_ssize_t k = 0;                                                          \\
        int l;                                                                     \\
        T nw;                                                                      \\
        for (; k + 8 <= n; k += 8)                                                 \\
            for (l = 0; l < 8; ++l) {                                              \\
                nw = alpha[k + l] + etheta[k + l] * acc[k + l];                    \\
                c[l] += (double)ABS(nw - g[k + l]);                                \\
                t[l] += (double)nw;                                                \\
                g[k + l] = nw;                                                     \\
            }                                                                      \\
        double sc = ((c[0] + c[4]) + (c[2] + c[6])) + ((c[1] + c[5]) + (c[3] + c[7])); \\
        double st = ((t[0] + t[4]) + (t[2] + t[6])) + ((t[1] + t[5]) + (t[3] + t[7])); \\
        for (; k < n; ++k) {                                                       \\
            nw = alpha[k] + etheta[k] * acc[k];                                    \\
            sc += (double)ABS(nw - g[k]);                                          \\
            st += (double)nw;                                                      \\
            g[k] = nw;                                                             \\
        }                                                                          \\
        *total = st;                                                               \\
        return sc;                                                                 \\
    }
    #if FC_GNU_VECTORS
    #pragma GCC diagnostic ignored "-Wpsabi"  /* static inline helpers: no ABI crossing */
    /* the same lanes and order with 8-lane vectors (GCC splits them into the
       registers the target has), so the partial sums stay in registers */
    typedef double fc_v8d_g __attribute__((vector_size(64)));
    typedef long long fc_v8l_g __attribute__((vector_size(64)));
    typedef float fc_v8f_g __attribute__((vector_size(32)));
    typedef int fc_v8i_g __attribute__((vector_size(32)));
    static inline fc_v8d_g fc_wide_d(fc_v8d_g v) { return v; }
    static inline fc_v8d_g fc_wide_f(fc_v8f_g v) { return __builtin_convertvector(v, fc_v8d_g); }
    static inline fc_v8d_g fc_vabs_d(fc_v8d_g v) {
        return (fc_v8d_g)((fc_v8l_g)v & 0x7FFFFFFFFFFFFFFFLL); }
    static inline fc_v8f_g fc_vabs_f(fc_v8f_g v) {
        return (fc_v8f_g)((fc_v8i_g)v & 0x7FFFFFFF); }
    #define FC_DEFINE_VROWSUMS(T, S, V, ABS)                                       \\
    static inline double fc_sum_##S(const T *g, Py_ssize_t n) {                    \\
        fc_v8d_g p = {0};                                                          \\
        V x;                                                                       \\
        double l[8];                                                               \\
        Py_ssize_t k = 0;                                                          \\
        for (; k + 8 <= n; k += 8) { memcpy(&x, g + k, sizeof x); p += fc_wide_##S(x); } \\
        memcpy(l, &p, sizeof l);                                                   \\
        double s = ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7])); \\
        for (; k < n; ++k) s += (double)g[k];                                      \\
        return s;                                                                  \\
    }                                                                              \\
    static inline double fc_update_##S(const T *alpha, const T *etheta, const T *acc, \\
                                       T *g, Py_ssize_t n, double *total) {        \\
        fc_v8d_g c = {0}, t = {0};                                                 \\
        V a, e, q, o, nw;                                                          \\
        double lc[8], lt[8];                                                       \\
        Py_ssize_t k = 0;                                                          \\
        T w;                                                                       \\
        for (; k + 8 <= n; k += 8) {                                               \\
            memcpy(&a, alpha + k, sizeof a); memcpy(&e, etheta + k, sizeof e);     \\
            memcpy(&q, acc + k, sizeof q); memcpy(&o, g + k, sizeof o);            \\
            nw = a + e * q;                                                        \\
            c += fc_wide_##S(fc_vabs_##S(nw - o));                                 \\
            t += fc_wide_##S(nw);                                                  \\
            memcpy(g + k, &nw, sizeof nw);                                         \\
        }                                                                          \\
        memcpy(lc, &c, sizeof lc);                                                 \\
        memcpy(lt, &t, sizeof lt);                                                 \\
        double sc = ((lc[0] + lc[4]) + (lc[2] + lc[6])) + ((lc[1] + lc[5]) + (lc[3] + lc[7])); \\
        double st = ((lt[0] + lt[4]) + (lt[2] + lt[6])) + ((lt[1] + lt[5]) + (lt[3] + lt[7])); \\
        for (; k < n; ++k) {                                                       \\
            w = alpha[k] + etheta[k] * acc[k];                                     \\
            sc += (double)ABS(w - g[k]);                                           \\
            st += (double)w;                                                       \\
            g[k] = w;                                                              \\
        }                                                                          \\
        *total = st;                                                               \\
        return sc;                                                                 \\
    }
    FC_DEFINE_VROWSUMS(float, f, fc_v8f_g, fabsf)
    FC_DEFINE_VROWSUMS(double, d, fc_v8d_g, fabs)
    #else
    FC_DEFINE_ROWSUMS(float, f, fabsf)
    FC_DEFINE_ROWSUMS(double, d, fabs)
    #endif
    static void fc_exp_row_scalar(const double *x, double *out, Py_ssize_t n) {
        Py_ssize_t k;
        for (k = 0; k < n; ++k) out[k] = exp(x[k]);
    }

    #if FC_GNU_VECTORS
    /* V: vector type, L lanes; up to 8 vectors of acc live in registers per
       pass over the words. The last vector of a row may overlap the one before
       it (offset K - L), so it never sits alone in a block: both load acc before
       either stores, the overlap repeats the same operations, stored twice. */
    #define FC_DEFINE_SIMD(T, S, V, L, ATTR, SFX, RED4)                            \\
    ATTR static inline V fc_ld_##S##SFX(const T *p) {                              \\
        V v; memcpy(&v, p, sizeof v); return v; }                                  \\
    ATTR static inline T fc_vdot_##S##SFX(const T *a, const T *at, const T *b,     \\
                                          Py_ssize_t n) {                          \\
        V p[8 / L];                                                                \\
        T lane[8];                                                                 \\
        Py_ssize_t k = 0;                                                          \\
        int i;                                                                     \\
        for (i = 0; i < 8 / L; ++i) p[i] = (V){0};                                 \\
        for (; k + 8 <= n; k += 8)                                                 \\
            for (i = 0; i < 8 / L; ++i)                                            \\
                p[i] += fc_ld_##S##SFX(a + k + i * L) * fc_ld_##S##SFX(b + k + i * L); \\
        if (k < n)                                                                 \\
            for (i = 0; i < 8 / L; ++i)                                            \\
                p[i] += fc_ld_##S##SFX(at + i * L) * fc_ld_##S##SFX(b + n - 8 + i * L); \\
        memcpy(lane, p, sizeof lane);                                              \\
        return ((lane[0] + lane[4]) + (lane[2] + lane[6]))                         \\
            + ((lane[1] + lane[5]) + (lane[3] + lane[7]));                         \\
    }                                                                              \\
    ATTR static inline void fc_block_##S##SFX(const T *const *rows, const T *coef, \\
            Py_ssize_t n, const Py_ssize_t *off, const int m, T *acc, int cont) {  \\
        V p[8];                                                                    \\
        Py_ssize_t j;                                                              \\
        int i;                                                                     \\
        for (i = 0; i < m; ++i) p[i] = cont ? fc_ld_##S##SFX(acc + off[i]) : (V){0}; \\
        for (j = 0; j < n; ++j) {                                                  \\
            const T c = coef[j];                                                   \\
            const T *r = rows[j];                                                  \\
            for (i = 0; i < m; ++i) p[i] += c * fc_ld_##S##SFX(r + off[i]);        \\
        }                                                                          \\
        for (i = 0; i < m; ++i) memcpy(acc + off[i], &p[i], sizeof(V));            \\
    }                                                                              \\
    ATTR static void fc_gatherc_##S##SFX(const T *const *rows, const T *coef,      \\
            Py_ssize_t n, Py_ssize_t K, T *acc, int cont) {                        \\
        Py_ssize_t off[8], v, nvec;                                                \\
        int i, m;                                                                  \\
        if (K < L) { fc_gatherc_scalar_##S(rows, coef, n, K, acc, cont); return; } \\
        nvec = (K + L - 1) / L;                                                    \\
        for (v = 0; v < nvec; v += m) {                                            \\
            m = nvec - v <= 8 ? (int)(nvec - v) : (nvec - v == 9 ? 7 : 8);         \\
            for (i = 0; i < m; ++i)                                                \\
                off[i] = (v + i) * L < K - L ? (v + i) * L : K - L;                \\
            switch (m) {                                                           \\
            case 1: fc_block_##S##SFX(rows, coef, n, off, 1, acc, cont); break;    \\
            case 2: fc_block_##S##SFX(rows, coef, n, off, 2, acc, cont); break;    \\
            case 3: fc_block_##S##SFX(rows, coef, n, off, 3, acc, cont); break;    \\
            case 4: fc_block_##S##SFX(rows, coef, n, off, 4, acc, cont); break;    \\
            case 5: fc_block_##S##SFX(rows, coef, n, off, 5, acc, cont); break;    \\
            case 6: fc_block_##S##SFX(rows, coef, n, off, 6, acc, cont); break;    \\
            case 7: fc_block_##S##SFX(rows, coef, n, off, 7, acc, cont); break;    \\
            default: fc_block_##S##SFX(rows, coef, n, off, 8, acc, cont); break;   \\
            }                                                                      \\
        }                                                                          \\
    }                                                                              \\
    ATTR static void fc_gather_##S##SFX(const T *const *rows, const T *coef,       \\
                                        Py_ssize_t n, Py_ssize_t K, T *acc) {      \\
        fc_gatherc_##S##SFX(rows, coef, n, K, acc, 0);                             \\
    }                                                                              \\
    /* four dot products a . b_w at once (the loads of a shared), each with        \\
       exactly the operations of fc_vdot; RED4 sets coef_w = cnt_w / (dot_w + eps) */ \\
    ATTR static inline void fc_vdot4_##S##SFX(const T *a, const T *at,             \\
            const T *const *b, const T *const *nb, Py_ssize_t n, const T *cnt, T eps, \\
            T *coef) {                                                             \\
        V p0[8 / L], p1[8 / L], p2[8 / L], p3[8 / L], av;                          \\
        const T *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];                    \\
        const T *n0 = nb[0], *n1 = nb[1], *n2 = nb[2], *n3 = nb[3];                \\
        Py_ssize_t k = 0;                                                          \\
        int i;                                                                     \\
        for (i = 0; i < 8 / L; ++i) p0[i] = p1[i] = p2[i] = p3[i] = (V){0};        \\
        for (; k + 8 <= n; k += 8) {                                               \\
            /* the next four rows toward L1, a cache line per row and step */      \\
            __builtin_prefetch(n0 + k, 0, 3); __builtin_prefetch(n1 + k, 0, 3);    \\
            __builtin_prefetch(n2 + k, 0, 3); __builtin_prefetch(n3 + k, 0, 3);    \\
            for (i = 0; i < 8 / L; ++i) {                                          \\
                av = fc_ld_##S##SFX(a + k + i * L);                                \\
                p0[i] += av * fc_ld_##S##SFX(b0 + k + i * L);                      \\
                p1[i] += av * fc_ld_##S##SFX(b1 + k + i * L);                      \\
                p2[i] += av * fc_ld_##S##SFX(b2 + k + i * L);                      \\
                p3[i] += av * fc_ld_##S##SFX(b3 + k + i * L);                      \\
            }                                                                      \\
        }                                                                          \\
        if (k < n) {                                                               \\
            k = n - 8;                                                             \\
            for (i = 0; i < 8 / L; ++i) {                                          \\
                av = fc_ld_##S##SFX(at + i * L);                                   \\
                p0[i] += av * fc_ld_##S##SFX(b0 + k + i * L);                      \\
                p1[i] += av * fc_ld_##S##SFX(b1 + k + i * L);                      \\
                p2[i] += av * fc_ld_##S##SFX(b2 + k + i * L);                      \\
                p3[i] += av * fc_ld_##S##SFX(b3 + k + i * L);                      \\
            }                                                                      \\
        }                                                                          \\
        RED4(p0, p1, p2, p3, cnt, eps, coef);                                      \\
    }                                                                              \\
    /* words in groups of ~16 KB of rows: the gather re-reads them from L1, and    \\
       continues acc from memory, so the operations are those of one gather.       \\
       Dot products need K >= 8: lanes take chunks of 8 topics from 0 and, when    \\
       8 does not divide K, the chunk [K - 8, K) against at = etheta there with    \\
       the lanes already counted set to zero (adding 0 * beta is exact), so the    \\
       tail is vector work too. K < 8 takes the scalar sweep. */                   \\
    ATTR static void fc_sweep_##S##SFX(const T *cnt, const T *const *rows,         \\
            Py_ssize_t n, Py_ssize_t K, const T *etheta, T eps, T *coef, T *acc) { \\
        Py_ssize_t j, j0, j1, kmain;                                               \\
        T at[8];                                                                   \\
        const T *nb[4];                                                            \\
        int w;                                                                     \\
        Py_ssize_t G = (Py_ssize_t)(16384 / sizeof(T)) / (K > 0 ? K : 1);          \\
        if (K < 8) { fc_sweep_scalar_##S(cnt, rows, n, K, etheta, eps, coef, acc); return; } \\
        if (G < 8) G = 8;                                                          \\
        if (n == 0) { fc_gatherc_##S##SFX(rows, coef, 0, K, acc, 0); return; }     \\
        kmain = K - K % 8;                                                         \\
        for (w = 0; w < 8; ++w) at[w] = K - 8 + w >= kmain ? etheta[K - 8 + w] : (T)0; \\
        for (j0 = 0; j0 < n; j0 = j1) {                                            \\
            j1 = n - j0 > G ? j0 + G : n;                                          \\
            for (j = j0; j + 4 <= j1; j += 4) {                                    \\
                nb[0] = rows[j + 4 < n ? j + 4 : n - 1];                           \\
                nb[1] = rows[j + 5 < n ? j + 5 : n - 1];                           \\
                nb[2] = rows[j + 6 < n ? j + 6 : n - 1];                           \\
                nb[3] = rows[j + 7 < n ? j + 7 : n - 1];                           \\
                fc_vdot4_##S##SFX(etheta, at, rows + j, nb, K, cnt + j, eps, coef + j); \\
            }                                                                      \\
            for (; j < j1; ++j)                                                    \\
                coef[j] = cnt[j] / (fc_vdot_##S##SFX(etheta, at, rows[j], K) + eps); \\
            fc_gatherc_##S##SFX(rows + j0, coef + j0, j1 - j0, K, acc, j0 > 0);    \\
        }                                                                          \\
    }

    /* RED4 (p0, p1, p2, p3, cnt, eps, coef): coef[w] = cnt[w] / (s_w + eps) with
       s_w = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) over the 8
       partial-sum lanes l of word w, the order of fc_dot. FC_RED4_LANES goes through memory lane by lane; the vector
       forms do the same additions on 4-lane vectors: h = [l0+l4, l1+l5, l2+l6,
       l3+l7] per word, then the words' pairs interleaved by fc_comb4. */
    #define FC_RED4_LANES(T, p0, p1, p2, p3, cnt, eps, coef) do {                  \\
        T lane_[8]; const void *src_[4] = {p0, p1, p2, p3}; int w_;                \\
        for (w_ = 0; w_ < 4; ++w_) {                                               \\
            memcpy(lane_, src_[w_], sizeof lane_);                                 \\
            (coef)[w_] = (cnt)[w_] / (((lane_[0] + lane_[4]) + (lane_[2] + lane_[6])) \\
                + ((lane_[1] + lane_[5]) + (lane_[3] + lane_[7])) + (eps));        \\
        } } while (0)
    #define FC_RED4_LANES_D(p0, p1, p2, p3, c, e, q) FC_RED4_LANES(double, p0, p1, p2, p3, c, e, q)
    /* coef[0:4] = cnt[0:4] / (r + eps) as one vector division: IEEE division, so
       each lane is the scalar quotient */
    #define FC_DIV4(r, cnt, eps, coef) do {                                        \\
        __typeof__(r) c_;                                                          \\
        memcpy(&c_, cnt, sizeof c_); c_ = c_ / ((r) + (eps));                      \\
        memcpy(coef, &c_, sizeof c_); } while (0)
    typedef float fc_v4f __attribute__((vector_size(16)));
    static inline fc_v4f fc_comb4_f(fc_v4f a, fc_v4f b, fc_v4f c, fc_v4f d) {
        fc_v4f x = __builtin_shufflevector(a, b, 0, 1, 4, 5)
            + __builtin_shufflevector(a, b, 2, 3, 6, 7);
        fc_v4f y = __builtin_shufflevector(c, d, 0, 1, 4, 5)
            + __builtin_shufflevector(c, d, 2, 3, 6, 7);
        return __builtin_shufflevector(x, y, 0, 2, 4, 6)
            + __builtin_shufflevector(x, y, 1, 3, 5, 7);
    }
    /* float, two 4-lane vectors per word */
    #define FC_RED4_F4(p0, p1, p2, p3, cnt, eps, coef) do {                        \\
        fc_v4f r_ = fc_comb4_f((p0)[0] + (p0)[1], (p1)[0] + (p1)[1],               \\
                               (p2)[0] + (p2)[1], (p3)[0] + (p3)[1]);              \\
        FC_DIV4(r_, cnt, eps, coef); } while (0)
    typedef double fc_v2d __attribute__((vector_size(16)));
    FC_DEFINE_SIMD(float, f, fc_v4f, 4, , _generic, FC_RED4_F4)
    FC_DEFINE_SIMD(double, d, fc_v2d, 2, , _generic, FC_RED4_LANES_D)

    /* Elementwise float64 math on vectors of L lanes (VD, with VI the signed
       64-bit integer vector of the same size). Each lane performs the same
       IEEE operations whatever L is, so "generic" and "avx2" return the same
       bits; they differ from the scalar variant (libm exp) by about 1 ulp.

       No division in fc_vexp and short dependency chains (Estrin's scheme),
       since these run latency-bound on rows of ~50 topics.

       fc_vexp: n = round(x / ln 2) (by the 1.5 * 2^52 shifter), r = x - n ln 2
       in two parts as in Cephes (n * C1 exact), |r| <= 0.347, exp(r) = 1 + (r
       + r^2 q(r)) with q the Taylor series to r^11 / 13! (truncation 4e-18),
       times 2^n as two factors 2^(n>>1) 2^(n-(n>>1)), so that results in the
       subnormal range round once, x >= 710 gives inf, x <= -746 gives 0 and
       NaN gives NaN. Error <= 1 ulp against numpy's exp (tested).
       fc_vexpdig: exp(psi(x)) by the algorithm of fc_exp_digamma (shift to
       y = x + 6, asymptotic series), with sum_{i<6} 1/(x+i) summed pairwise
       as one fraction and the series by Estrin; within 4 ulp of the scalar
       variant. */
    #define FC_DEFINE_VMATH(VD, VI, VF, L, ATTR, SFX)                              \\
    ATTR static inline VD fc_vsel##SFX(VI m, VD a, VD b) {                         \\
        return (VD)(((VI)a & m) | ((VI)b & ~m)); }                                 \\
    ATTR static inline VD fc_vexp##SFX(VD x) {                                     \\
        const VD zero = {0};                                                       \\
        const VD shifter = zero + 6755399441055744.0;  /* 1.5 * 2^52 */            \\
        VD kd, n, r, r2, r4, q;                                                    \\
        VI ni, n1, n2;                                                             \\
        x = fc_vsel##SFX(x < -746.0, zero - 746.0, x);                             \\
        x = fc_vsel##SFX(x > 710.0, zero + 710.0, x);                              \\
        kd = x * 1.4426950408889634 + shifter;                                     \\
        n = kd - shifter;                                                          \\
        ni = (VI)kd - (VI)shifter;                                                 \\
        r = x - n * 6.93145751953125E-1;                                           \\
        r = r - n * 1.42860682030941723212E-6;                                     \\
        r2 = r * r;                                                                \\
        r4 = r2 * r2;                                                              \\
        /* q = sum_{k=0..11} r^k / (k+2)!, Estrin */                               \\
        q = ((1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)))        \\
            + r4 * (((1.0 / 720 + r * (1.0 / 5040)) + r2 * (1.0 / 40320 + r * (1.0 / 362880))) \\
                    + r4 * ((1.0 / 3628800 + r * (1.0 / 39916800))                 \\
                            + r2 * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))); \\
        n1 = ni >> 1;                                                              \\
        n2 = ni - n1;                                                              \\
        return (1.0 + (r + r2 * q)) * (VD)((n1 + 1023) << 52) * (VD)((n2 + 1023) << 52); \\
    }                                                                              \\
    ATTR static inline VD fc_vexpdig##SFX(VD x) {                                  \\
        VD x1 = x + 1.0, x2 = x + 2.0, x3 = x + 3.0, x4 = x + 4.0, x5 = x + 5.0;   \\
        VD y = x + 6.0, p01 = x * x1, p23 = x2 * x3, p45 = x4 * x5, p2345 = p23 * p45; \\
        /* sum_{i<6} 1/(x+i) = num / den, summed pairwise */                       \\
        VD num = (x + x1) * p2345 + p01 * ((x2 + x3) * p45 + (x4 + x5) * p23);     \\
        VD den = p01 * p2345;                                                      \\
        VD inv = 1.0 / y, z = inv * inv, z2 = z * z, z4 = z2 * z2, tail;           \\
        /* sum_{k=1..10} B_2k / (2k y^2k) = z P(z), Estrin */                      \\
        tail = z * (((1.0 / 12 - z * (1.0 / 120)) + z2 * (1.0 / 252 - z * (1.0 / 240))) \\
                    + z4 * (((1.0 / 132 - z * (691.0 / 32760)) + z2 * (1.0 / 12 - z * (3617.0 / 8160))) \\
                            + z4 * (43867.0 / 14364 - z * (174611.0 / 6600))));    \\
        return y * fc_vexp##SFX(-(num / den) - 0.5 * inv - tail);                  \\
    }                                                                              \\
    ATTR static inline VD fc_vld_d##SFX(const double *p) {                         \\
        VD v; memcpy(&v, p, sizeof v); return v; }                                 \\
    ATTR static inline void fc_vst_d##SFX(double *p, VD v) {                       \\
        memcpy(p, &v, sizeof v); }                                                 \\
    ATTR static inline VD fc_vld_f##SFX(const float *p) {                          \\
        VF v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, VD); }    \\
    ATTR static inline void fc_vst_f##SFX(float *p, VD v) {                        \\
        VF f = __builtin_convertvector(v, VF); memcpy(p, &f, sizeof f); }          \\
    FC_DEFINE_VROW(double, d, VD, L, ATTR, SFX)                                    \\
    ATTR static void fc_exp_row##SFX(const double *x, double *out, Py_ssize_t n) { \\
        Py_ssize_t k = 0;                                                          \\
        double buf[L];                                                             \\
        VD v;                                                                      \\
        int l;                                                                     \\
        for (; k < n; k += L) {                                                    \\
            for (l = 0; l < L; ++l) buf[l] = k + l < n ? x[k + l] : 0.0;           \\
            memcpy(&v, buf, sizeof v);                                             \\
            v = fc_vexp##SFX(v);                                                   \\
            memcpy(buf, &v, sizeof v);                                             \\
            for (l = 0; l < L && k + l < n; ++l) out[k + l] = buf[l];              \\
        }                                                                          \\
    }

    #define FC_DEFINE_VMATH2(VD, VI, VF, L, ATTR, SFX)                             \\
    /* log(y) for normal y > 0 (callers pass y >= 6 or masked lanes): y = 2^e m,   \\
       m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1),       \\
       |s| <= 0.1716, series to s^21 (truncation < 1e-18), e ln 2 in two parts. */ \\
    ATTR static inline VD fc_vlog##SFX(VD y) {                                     \\
        const VD zero = {0};                                                       \\
        const VD shifter = zero + 6755399441055744.0;                              \\
        VI bits = (VI)y, e, big;                                                   \\
        VD m, ed, f, s, w, w2, w4, p;                                              \\
        e = (bits >> 52) - 1023;                                                   \\
        m = (VD)((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);            \\
        big = m > 1.4142135623730951;                                              \\
        m = fc_vsel##SFX(big, m * 0.5, m);                                         \\
        e = e - big;                                                               \\
        ed = (VD)(e + (VI)shifter) - shifter;                                      \\
        f = m - 1.0;                                                               \\
        s = f / (m + 1.0);                                                         \\
        w = s * s; w2 = w * w; w4 = w2 * w2;                                       \\
        p = ((1.0 / 3 + w * (1.0 / 5)) + w2 * (1.0 / 7 + w * (1.0 / 9)))           \\
            + w4 * (((1.0 / 11 + w * (1.0 / 13)) + w2 * (1.0 / 15 + w * (1.0 / 17))) \\
                    + w4 * (1.0 / 19 + w * (1.0 / 21)));                           \\
        return ed * 6.93145751953125E-1                                            \\
               + (((s + s) + (s + s) * (w * p)) + ed * 1.42860682030941723212E-6); \\
    }                                                                              \\
    ATTR static inline int fc_vany##SFX(VI m) {                                    \\
        long long a = 0;                                                           \\
        int l;                                                                     \\
        for (l = 0; l < L; ++l) a |= m[l];                                         \\
        return a != 0;                                                             \\
    }                                                                              \\
    /* psi(x) and lgamma(x), lane-wise: shift to y = x + 6 (sum_{i<6} 1/(x+i) and  \\
       prod_{i<6} (x+i) pairwise), then the asymptotic series of psi and Stirling's \\
       series of lgamma to y^-20; psi near its positive root by the Taylor series  \\
       of _digamma (same operations, blended by mask, evaluated only when a lane   \\
       needs it). Outside 1e-300 < x < 1e15 (or NaN) a lane is replaced by the     \\
       scalar formulas (libm). Error: psi within 1e-13 relative of scipy (tested), \\
       lgamma within ~1e-15 absolute for x ~ 1 (relative elsewhere). */            \\
    ATTR static inline void fc_vdiglgam##SFX(VD x, VD *psi, VD *lgam) {            \\
        VD x1 = x + 1.0, x2 = x + 2.0, x3 = x + 3.0, x4 = x + 4.0, x5 = x + 5.0;   \\
        VD y = x + 6.0, p01 = x * x1, p23 = x2 * x3, p45 = x4 * x5, p2345 = p23 * p45; \\
        VD num = (x + x1) * p2345 + p01 * ((x2 + x3) * p45 + (x4 + x5) * p23);     \\
        VD den = p01 * p2345;                                                      \\
        VD inv = 1.0 / y, z = inv * inv, z2 = z * z, z4 = z2 * z2, tail, st;       \\
        VD logy = fc_vlog##SFX(y), t, acc;                                         \\
        VI near, odd;                                                              \\
        int i, l;                                                                  \\
        tail = z * (((1.0 / 12 - z * (1.0 / 120)) + z2 * (1.0 / 252 - z * (1.0 / 240))) \\
                    + z4 * (((1.0 / 132 - z * (691.0 / 32760)) + z2 * (1.0 / 12 - z * (3617.0 / 8160))) \\
                            + z4 * (43867.0 / 14364 - z * (174611.0 / 6600))));    \\
        /* sum_{k=1..10} B_2k / (2k (2k-1) y^(2k-1)) */                            \\
        st = inv * (((1.0 / 12 - z * (1.0 / 360)) + z2 * (1.0 / 1260 - z * (1.0 / 1680))) \\
                    + z4 * (((1.0 / 1188 - z * (691.0 / 360360)) + z2 * (1.0 / 156 - z * (3617.0 / 122400))) \\
                            + z4 * (43867.0 / 244188 - z * (174611.0 / 125400)))); \\
        *psi = ((logy - num / den) - 0.5 * inv) - tail;                            \\
        *lgam = (((y - 0.5) * logy - y) + (0.91893853320467274178 + st)) - fc_vlog##SFX(den); \\
        t = x - fc_psi_root_hi;                                                    \\
        near = (t < 0.25) & (t > -0.25);                                           \\
        if (fc_vany##SFX(near)) {                                                  \\
            acc = (VD){0};                                                         \\
            for (i = FC_N_TAYLOR - 1; i >= 0; --i) acc = (acc + fc_psi_taylor[i]) * t; \\
            *psi = fc_vsel##SFX(near, acc - fc_psi_root_lo * fc_psi_taylor[0], *psi); \\
        }                                                                          \\
        odd = ~((x > 1e-300) & (x < 1e15));                                        \\
        if (fc_vany##SFX(odd)) {                                                   \\
            for (l = 0; l < L; ++l) {                                              \\
                if (!odd[l]) continue;                                             \\
                double v = x[l];                                                   \\
                /* psi(x) = log x - 1/(2x) + O(x^-2) for x >= 1e15;                \\
                   -1/x - Euler's gamma + O(x) for x <= 1e-300 */                  \\
                (*psi)[l] = v > 0.0 ? (v == INFINITY ? v : v >= 1e15 ? log(v) - 0.5 / v \\
                                       : -1.0 / v - 0.57721566490153286061)        \\
                                    : (v == 0.0 ? -INFINITY : NAN);                \\
                (*lgam)[l] = fc_lgamma(v);                                         \\
            }                                                                      \\
        }                                                                          \\
    }                                                                              \\
    FC_DEFINE_VBOUND(double, d, VD, L, ATTR, SFX)                                  \\
    FC_DEFINE_VBOUND(float, f, VD, L, ATTR, SFX)                                   \\
    ATTR static void fc_diglgam_row##SFX(const double *x, double *psi, double *lgam, \\
                                         Py_ssize_t n) {                           \\
        Py_ssize_t k = 0;                                                          \\
        double buf[3][L];                                                          \\
        VD v, p, q;                                                                \\
        int l;                                                                     \\
        for (; k < n; k += L) {                                                    \\
            for (l = 0; l < L; ++l) buf[0][l] = k + l < n ? x[k + l] : 1.0;        \\
            memcpy(&v, buf[0], sizeof v);                                          \\
            fc_vdiglgam##SFX(v, &p, &q);                                           \\
            memcpy(buf[1], &p, sizeof p);                                          \\
            memcpy(buf[2], &q, sizeof q);                                          \\
            for (l = 0; l < L && k + l < n; ++l) { psi[k + l] = buf[1][l]; lgam[k + l] = buf[2][l]; } \\
        }                                                                          \\
    }

    #define FC_DEFINE_VBOUND(T, S, VD, L, ATTR, SFX)                               \\
    /* sum_k (alpha_k - g_k) (psi(g_k) - psi_total) + lgamma(g_k) in float64: the  \\
       terms of 8 consecutive topics go to 8 partial sums (lane l takes k = l mod  \\
       8, whatever L is), combined as in dot; then the n mod 8 tail in order. */   \\
    ATTR static double fc_vbound_##S##SFX(const T *alpha, const T *g, Py_ssize_t n, \\
                                           double psi_total) {                     \\
        VD part[8 / L], a, x, ps, lg;                                              \\
        double lane[8];                                                            \\
        T buf[2][L];                                                               \\
        Py_ssize_t k = 0;                                                          \\
        int i, l;                                                                  \\
        for (i = 0; i < 8 / L; ++i) part[i] = (VD){0};                             \\
        for (; k + 8 <= n; k += 8)                                                 \\
            for (i = 0; i < 8 / L; ++i) {                                          \\
                a = fc_vld_##S##SFX(alpha + k + i * L);                            \\
                x = fc_vld_##S##SFX(g + k + i * L);                                \\
                fc_vdiglgam##SFX(x, &ps, &lg);                                     \\
                part[i] += (a - x) * (ps - psi_total) + lg;                        \\
            }                                                                      \\
        memcpy(lane, part, sizeof lane);                                           \\
        double s = ((lane[0] + lane[4]) + (lane[2] + lane[6]))                     \\
                 + ((lane[1] + lane[5]) + (lane[3] + lane[7]));                    \\
        for (; k < n; k += L) {                                                    \\
            for (l = 0; l < L; ++l) {                                              \\
                buf[0][l] = k + l < n ? alpha[k + l] : (T)0;                       \\
                buf[1][l] = k + l < n ? g[k + l] : (T)1;                           \\
            }                                                                      \\
            a = fc_vld_##S##SFX(buf[0]);                                           \\
            x = fc_vld_##S##SFX(buf[1]);                                           \\
            fc_vdiglgam##SFX(x, &ps, &lg);                                         \\
            a = (a - x) * (ps - psi_total) + lg;                                   \\
            memcpy(lane, &a, sizeof a);                                            \\
            for (l = 0; l < L && k + l < n; ++l) s += lane[l];                     \\
        }                                                                          \\
        return s;                                                                  \\
    }

    /* out[k] = (T)(exp(psi(g[k])) * scale), g[k] widened to double, scale =
       1 / exp(psi(total)) (1 if total <= 0). exp(psi(total)) is computed in the
       last, partial vector together with the n mod L tail (lane n mod L), then
       two vectors per step (independent dependency chains), then one. */
    #define FC_DEFINE_VROW(T, S, VD, L, ATTR, SFX)                                 \\
    ATTR static void fc_expdig_row_##S##SFX(const T *g, T *out, Py_ssize_t n,      \\
                                            double total) {                        \\
        Py_ssize_t k = 0, kt = n - n % L;                                          \\
        double buf[L], scale = 1.0;                                                \\
        VD a, b;                                                                   \\
        int l, r = (int)(n - kt);                                                  \\
        for (l = 0; l < L; ++l) buf[l] = l < r ? (double)g[kt + l] : l == r ? total : 1.0; \\
        memcpy(&a, buf, sizeof a);                                                 \\
        a = fc_vexpdig##SFX(a);                                                    \\
        memcpy(buf, &a, sizeof a);                                                 \\
        if (total > 0) scale = 1.0 / buf[r];                                       \\
        for (l = 0; l < r; ++l) out[kt + l] = (T)(buf[l] * scale);                 \\
        for (; k + 2 * L <= kt; k += 2 * L) {                                      \\
            a = fc_vld_##S##SFX(g + k);                                            \\
            b = fc_vld_##S##SFX(g + k + L);                                        \\
            a = fc_vexpdig##SFX(a) * scale;                                        \\
            b = fc_vexpdig##SFX(b) * scale;                                        \\
            fc_vst_##S##SFX(out + k, a);                                           \\
            fc_vst_##S##SFX(out + k + L, b);                                       \\
        }                                                                          \\
        for (; k < kt; k += L)                                                     \\
            fc_vst_##S##SFX(out + k, fc_vexpdig##SFX(fc_vld_##S##SFX(g + k)) * scale); \\
    }

    /* Rows w0..w1-1 of out = exp(E[log beta]).T (see _exp_dirichlet_block): for each
       topic k, words in vectors along lam's row; returns the bound terms
       sum (eta - l) (psi(l) - psi_total_k) + lgamma(l) - lgamma(eta), with words
       w0 + 8i + l going to partial sum l (whatever L is) and the (w1 - w0) mod 8
       last words of each topic added in order to a separate sum. */
    #define FC_DEFINE_VEDIR(T, S, VD, L, ATTR, SFX)                                \\
    ATTR static double fc_vedir_##S##SFX(const T *lam, Py_ssize_t n_words, Py_ssize_t K, \\
            Py_ssize_t w0, Py_ssize_t w1, const double *psi_total, double eta,     \\
            double lg_eta, int compute_bound, T *out) {                            \\
        VD part[8 / L], x, ps, lg, el, e, term;                                    \\
        double lane[8], buf[3][L], tail = 0.0;                                     \\
        Py_ssize_t k, w, w8 = w0 + (w1 - w0) / 8 * 8;                              \\
        int i, l;                                                                  \\
        for (i = 0; i < 8 / L; ++i) part[i] = (VD){0};                             \\
        for (k = 0; k < K; ++k) {                                                  \\
            const T *row = lam + k * n_words;                                      \\
            const double pt = psi_total[k];                                        \\
            for (w = w0; w < w1; w += L) {                                         \\
                for (l = 0; l < L; ++l) buf[0][l] = w + l < w1 ? (double)row[w + l] : 1.0; \\
                memcpy(&x, buf[0], sizeof x);                                      \\
                fc_vdiglgam##SFX(x, &ps, &lg);                                     \\
                el = ps - pt;                                                      \\
                e = fc_vexp##SFX(el);                                              \\
                term = ((eta - x) * el + lg) - lg_eta;                             \\
                memcpy(buf[1], &e, sizeof e);                                      \\
                memcpy(buf[2], &term, sizeof term);                                \\
                for (l = 0; l < L && w + l < w1; ++l) out[(w + l) * K + k] = (T)buf[1][l]; \\
                if (compute_bound) {                                               \\
                    if (w + L <= w8) {                                             \\
                        part[((w - w0) % 8) / L] += term;                          \\
                    } else {                                                       \\
                        for (l = 0; l < L && w + l < w1; ++l) tail += buf[2][l];   \\
                    }                                                              \\
                }                                                                  \\
            }                                                                      \\
        }                                                                          \\
        memcpy(lane, part, sizeof lane);                                           \\
        return (((lane[0] + lane[4]) + (lane[2] + lane[6]))                        \\
                + ((lane[1] + lane[5]) + (lane[3] + lane[7]))) + tail;             \\
    }

    /* exp(psi(x)) in float32 lanes, for float32 data (VF: L floats, VIF: L int32).
       Same scheme as fc_vexpdig in float: y = x + 6, psi(x) = psi(y) - sum_{i<6}
       1/(x+i), with the factors x + i scaled by 1/y so that their products
       cannot overflow (t_i = (x+i)/y < 1; then the sum is num / (den y)), the
       asymptotic series to B_8 (next term < 2e-10 relative for y >= 6) and
       exp by round(v / ln 2) and the Taylor polynomial of exp(r) to r^7,
       |r| <= 0.347 (truncation < 6e-9), times 2^n as two factors; v < -104
       gives 0 (FTZ), v > 88 is clamped. Relative error of exp(psi(x)) a few
       float32 ulp times max(1, |psi(x)|) (tested). Each lane does the same
       operations whatever L is, so generic, avx2 and avx512 give the same bits. */
    #define FC_DEFINE_VMATHF(VF, VIF, L, ATTR, SFX)                                \\
    ATTR static inline VF fc_vself##SFX(VIF m, VF a, VF b) {                       \\
        return (VF)(((VIF)a & m) | ((VIF)b & ~m)); }                               \\
    ATTR static inline VF fc_vexpf##SFX(VF x) {                                    \\
        const VF zero = {0};                                                       \\
        const VF shifter = zero + 12582912.0f;  /* 1.5 * 2^23 */                   \\
        VF kd, n, r, r2, r4, q;                                                    \\
        VIF ni, n1, n2;                                                            \\
        x = fc_vself##SFX(x < -104.0f, zero - 104.0f, x);                          \\
        x = fc_vself##SFX(x > 88.0f, zero + 88.0f, x);                             \\
        kd = x * 1.44269504f + shifter;                                            \\
        n = kd - shifter;                                                          \\
        ni = (VIF)kd - (VIF)shifter;                                               \\
        r = x - n * 0.693359375f;                                                  \\
        r = r - n * -2.12194440e-4f;                                               \\
        r2 = r * r;                                                                \\
        r4 = r2 * r2;                                                              \\
        /* q = sum_{k=0..5} r^k / (k+2)!, Estrin */                                \\
        q = ((0.5f + r * (1.0f / 6)) + r2 * (1.0f / 24 + r * (1.0f / 120)))        \\
            + r4 * (1.0f / 720 + r * (1.0f / 5040));                               \\
        n1 = ni >> 1;                                                              \\
        n2 = ni - n1;                                                              \\
        return (1.0f + (r + r2 * q)) * (VF)((n1 + 127) << 23) * (VF)((n2 + 127) << 23);\\
    }                                                                              \\
    ATTR static inline VF fc_vexpdigf##SFX(VF x) {                                 \\
        VF y = x + 6.0f, inv = 1.0f / y;                                           \\
        VF t0 = x * inv, t1 = (x + 1.0f) * inv, t2 = (x + 2.0f) * inv;             \\
        VF t3 = (x + 3.0f) * inv, t4 = (x + 4.0f) * inv, t5 = (x + 5.0f) * inv;    \\
        VF p01 = t0 * t1, p23 = t2 * t3, p45 = t4 * t5, p2345 = p23 * p45;         \\
        VF num = (t0 + t1) * p2345 + p01 * ((t2 + t3) * p45 + (t4 + t5) * p23);    \\
        VF den = p01 * p2345, z = inv * inv;                                       \\
        VF tail = z * (1.0f / 12 - z * (1.0f / 120 - z * (1.0f / 252 - z * (1.0f / 240))));\\
        return y * fc_vexpf##SFX(-(num / (den * y)) - 0.5f * inv - tail);          \\
    }                                                                              \\
    ATTR static void fc_expdig_rowf32##SFX(const float *g, float *out, Py_ssize_t n,\\
                                           double total) {                         \\
        Py_ssize_t k = 0, l;                                                       \\
        float buf[L];                                                              \\
        const float scale = total > 0 ? (float)(1.0 / fc_exp_digamma(total)) : 1.0f;\\
        VF v;                                                                      \\
        for (; k + L <= n; k += L) {                                               \\
            memcpy(&v, g + k, sizeof v);                                           \\
            v = fc_vexpdigf##SFX(v) * scale;                                       \\
            memcpy(out + k, &v, sizeof v);                                         \\
        }                                                                          \\
        if (k < n) {                                                               \\
            for (l = 0; l < L; ++l) buf[l] = k + l < n ? g[k + l] : 1.0f;          \\
            memcpy(&v, buf, sizeof v);                                             \\
            v = fc_vexpdigf##SFX(v) * scale;                                       \\
            memcpy(buf, &v, sizeof v);                                             \\
            for (l = 0; k + l < n; ++l) out[k + l] = buf[l];                       \\
        }                                                                          \\
    }
    typedef int fc_v4i __attribute__((vector_size(16)));
    FC_DEFINE_VMATHF(fc_v4f, fc_v4i, 4, , _generic)
    typedef long long fc_v2l __attribute__((vector_size(16)));
    typedef float fc_v2f __attribute__((vector_size(8)));
    FC_DEFINE_VMATH(fc_v2d, fc_v2l, fc_v2f, 2, , _generic)
    FC_DEFINE_VMATH2(fc_v2d, fc_v2l, fc_v2f, 2, , _generic)
    FC_DEFINE_VEDIR(double, d, fc_v2d, 2, , _generic)
    FC_DEFINE_VEDIR(float, f, fc_v2d, 2, , _generic)
    #if FC_HAVE_AVX2
    typedef float fc_v8f __attribute__((vector_size(32)));
    typedef double fc_v4d __attribute__((vector_size(32)));
    __attribute__((target("avx2")))
    static inline fc_v4d fc_comb4_d(fc_v4d a, fc_v4d b, fc_v4d c, fc_v4d d) {
        fc_v4d x = __builtin_shufflevector(a, b, 0, 1, 4, 5)
            + __builtin_shufflevector(a, b, 2, 3, 6, 7);
        fc_v4d y = __builtin_shufflevector(c, d, 0, 1, 4, 5)
            + __builtin_shufflevector(c, d, 2, 3, 6, 7);
        return __builtin_shufflevector(x, y, 0, 2, 4, 6)
            + __builtin_shufflevector(x, y, 1, 3, 5, 7);
    }
    /* h of one 8-lane vector: low half + high half */
    #define FC_H4(p) (__builtin_shufflevector((p)[0], (p)[0], 0, 1, 2, 3)          \\
                      + __builtin_shufflevector((p)[0], (p)[0], 4, 5, 6, 7))
    /* float, one 8-lane vector per word */
    #define FC_RED4_F8(p0, p1, p2, p3, cnt, eps, coef) do {                        \\
        fc_v4f r_ = fc_comb4_f(FC_H4(p0), FC_H4(p1), FC_H4(p2), FC_H4(p3));        \\
        FC_DIV4(r_, cnt, eps, coef); } while (0)
    /* double, two 4-lane vectors per word */
    #define FC_RED4_D4(p0, p1, p2, p3, cnt, eps, coef) do {                        \\
        fc_v4d r_ = fc_comb4_d((p0)[0] + (p0)[1], (p1)[0] + (p1)[1],               \\
                               (p2)[0] + (p2)[1], (p3)[0] + (p3)[1]);              \\
        FC_DIV4(r_, cnt, eps, coef); } while (0)
    /* double, one 8-lane vector per word */
    #define FC_RED4_D8(p0, p1, p2, p3, cnt, eps, coef) do {                        \\
        fc_v4d r_ = fc_comb4_d(FC_H4(p0), FC_H4(p1), FC_H4(p2), FC_H4(p3));        \\
        FC_DIV4(r_, cnt, eps, coef); } while (0)
    FC_DEFINE_SIMD(float, f, fc_v8f, 8, __attribute__((target("avx2"))), _avx2, FC_RED4_F8)
    FC_DEFINE_SIMD(double, d, fc_v4d, 4, __attribute__((target("avx2"))), _avx2, FC_RED4_D4)
    typedef long long fc_v4l __attribute__((vector_size(32)));
    FC_DEFINE_VMATH(fc_v4d, fc_v4l, fc_v4f, 4, __attribute__((target("avx2"))), _avx2)
    typedef int fc_v8i __attribute__((vector_size(32)));
    FC_DEFINE_VMATHF(fc_v8f, fc_v8i, 8, __attribute__((target("avx2"))), _avx2)
    FC_DEFINE_VMATH2(fc_v4d, fc_v4l, fc_v4f, 4, __attribute__((target("avx2"))), _avx2)
    FC_DEFINE_VEDIR(double, d, fc_v4d, 4, __attribute__((target("avx2"))), _avx2)
    FC_DEFINE_VEDIR(float, f, fc_v4d, 4, __attribute__((target("avx2"))), _avx2)
    /* "avx512": 64-byte float64 vectors (8 lanes, still the same per-lane and
       per-partial-sum operations); float32 sweeps keep the avx2 code, whose 8
       lanes already cover the 8 partial sums */
    #define FC_AVX512 __attribute__((target("avx2,avx512f,avx512dq")))
    typedef double fc_v8d __attribute__((vector_size(64)));
    typedef long long fc_v8l __attribute__((vector_size(64)));
    FC_DEFINE_SIMD(double, d, fc_v8d, 8, FC_AVX512, _avx512, FC_RED4_D8)
    FC_DEFINE_VMATH(fc_v8d, fc_v8l, fc_v8f, 8, FC_AVX512, _avx512)
    typedef float fc_v16f __attribute__((vector_size(64)));
    typedef int fc_v16i __attribute__((vector_size(64)));
    FC_DEFINE_VMATHF(fc_v16f, fc_v16i, 16, FC_AVX512, _avx512)
    FC_DEFINE_VMATH2(fc_v8d, fc_v8l, fc_v8f, 8, FC_AVX512, _avx512)
    FC_DEFINE_VEDIR(double, d, fc_v8d, 8, FC_AVX512, _avx512)
    FC_DEFINE_VEDIR(float, f, fc_v8d, 8, FC_AVX512, _avx512)
    #endif
    #else  /* no vector extensions: the scalar versions are the generic ones */
    #define fc_sweep_f_generic fc_sweep_scalar_f
    #define fc_sweep_d_generic fc_sweep_scalar_d
    #define fc_gather_f_generic fc_gather_scalar_f
    #define fc_gather_d_generic fc_gather_scalar_d
    #define fc_expdig_rowf32_generic fc_expdig_row_scalar_f
    #define fc_expdig_row_d_generic fc_expdig_row_scalar_d
    #define fc_exp_row_generic fc_exp_row_scalar
    #define fc_vbound_f_generic NULL
    #define fc_vbound_d_generic NULL
    #define fc_diglgam_row_generic NULL
    #define fc_vedir_f_generic NULL
    #define fc_vedir_d_generic NULL
    #endif

    typedef void (*fc_sweep_f_t)(const float *, const float *const *, Py_ssize_t,
                                 Py_ssize_t, const float *, float, float *, float *);
    typedef void (*fc_sweep_d_t)(const double *, const double *const *, Py_ssize_t,
                                 Py_ssize_t, const double *, double, double *, double *);
    typedef void (*fc_gather_f_t)(const float *const *, const float *, Py_ssize_t,
                                  Py_ssize_t, float *);
    typedef void (*fc_gather_d_t)(const double *const *, const double *, Py_ssize_t,
                                  Py_ssize_t, double *);
    static fc_sweep_f_t fc_sweep_f_impl = fc_sweep_f_generic;
    static fc_sweep_d_t fc_sweep_d_impl = fc_sweep_d_generic;
    static fc_gather_f_t fc_gather_f_impl = fc_gather_f_generic;
    static fc_gather_d_t fc_gather_d_impl = fc_gather_d_generic;
    typedef void (*fc_expdig_row_f_t)(const float *, float *, Py_ssize_t, double);
    typedef void (*fc_expdig_row_d_t)(const double *, double *, Py_ssize_t, double);
    typedef void (*fc_exp_row_t)(const double *, double *, Py_ssize_t);
    static fc_expdig_row_f_t fc_expdig_row_f_impl = fc_expdig_rowf32_generic;
    static fc_expdig_row_d_t fc_expdig_row_d_impl = fc_expdig_row_d_generic;
    static fc_exp_row_t fc_exp_row_impl = fc_exp_row_generic;
    typedef double (*fc_vbound_f_t)(const float *, const float *, Py_ssize_t, double);
    typedef double (*fc_vbound_d_t)(const double *, const double *, Py_ssize_t, double);
    typedef void (*fc_diglgam_row_t)(const double *, double *, double *, Py_ssize_t);
    static fc_vbound_f_t fc_vbound_f_impl = fc_vbound_f_generic;
    static fc_vbound_d_t fc_vbound_d_impl = fc_vbound_d_generic;
    static fc_diglgam_row_t fc_diglgam_row_impl = fc_diglgam_row_generic;
    typedef double (*fc_vedir_f_t)(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, const double *, double, double, int, float *);
    typedef double (*fc_vedir_d_t)(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                                   Py_ssize_t, const double *, double, double, int, double *);
    static fc_vedir_f_t fc_vedir_f_impl = fc_vedir_f_generic;
    static fc_vedir_d_t fc_vedir_d_impl = fc_vedir_d_generic;

    /* 0: scalar C, 1: generic vectors, 2: avx2, 3: avx512 */
    static int fc_cpu_has_avx512(void) {
    #if FC_HAVE_AVX2
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f")
               && __builtin_cpu_supports("avx512dq");
    #else
        return 0;
    #endif
    }
    static int fc_cpu_has_avx2(void) {
    #if FC_HAVE_AVX2
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") ? 1 : 0;
    #else
        return 0;
    #endif
    }
    static int fc_set_simd(int level) {
        if (level == 0) {
            fc_sweep_f_impl = fc_sweep_scalar_f; fc_sweep_d_impl = fc_sweep_scalar_d;
            fc_gather_f_impl = fc_gather_scalar_f; fc_gather_d_impl = fc_gather_scalar_d;
            fc_expdig_row_f_impl = fc_expdig_row_scalar_f;
            fc_expdig_row_d_impl = fc_expdig_row_scalar_d;
            fc_exp_row_impl = fc_exp_row_scalar;
            fc_vbound_f_impl = NULL; fc_vbound_d_impl = NULL; fc_diglgam_row_impl = NULL;
            fc_vedir_f_impl = NULL; fc_vedir_d_impl = NULL;
            return 0;
        }
        if (level == 1) {
            fc_sweep_f_impl = fc_sweep_f_generic; fc_sweep_d_impl = fc_sweep_d_generic;
            fc_gather_f_impl = fc_gather_f_generic; fc_gather_d_impl = fc_gather_d_generic;
            fc_expdig_row_f_impl = fc_expdig_rowf32_generic;
            fc_expdig_row_d_impl = fc_expdig_row_d_generic;
            fc_exp_row_impl = fc_exp_row_generic;
            fc_vbound_f_impl = fc_vbound_f_generic; fc_vbound_d_impl = fc_vbound_d_generic;
            fc_diglgam_row_impl = fc_diglgam_row_generic;
            fc_vedir_f_impl = fc_vedir_f_generic; fc_vedir_d_impl = fc_vedir_d_generic;
            return 0;
        }
    #if FC_HAVE_AVX2
        if (level == 2 && fc_cpu_has_avx2()) {
            fc_sweep_f_impl = fc_sweep_f_avx2; fc_sweep_d_impl = fc_sweep_d_avx2;
            fc_gather_f_impl = fc_gather_f_avx2; fc_gather_d_impl = fc_gather_d_avx2;
            fc_expdig_row_f_impl = fc_expdig_rowf32_avx2;
            fc_expdig_row_d_impl = fc_expdig_row_d_avx2;
            fc_exp_row_impl = fc_exp_row_avx2;
            fc_vbound_f_impl = fc_vbound_f_avx2; fc_vbound_d_impl = fc_vbound_d_avx2;
            fc_diglgam_row_impl = fc_diglgam_row_avx2;
            fc_vedir_f_impl = fc_vedir_f_avx2; fc_vedir_d_impl = fc_vedir_d_avx2;
            return 0;
        }
        if (level == 3 && fc_cpu_has_avx512()) {
            fc_sweep_f_impl = fc_sweep_f_avx2; fc_sweep_d_impl = fc_sweep_d_avx512;
            fc_gather_f_impl = fc_gather_f_avx2; fc_gather_d_impl = fc_gather_d_avx512;
            fc_expdig_row_f_impl = fc_expdig_rowf32_avx512;
            fc_expdig_row_d_impl = fc_expdig_row_d_avx512;
            fc_exp_row_impl = fc_exp_row_avx512;
            fc_vbound_f_impl = fc_vbound_f_avx512; fc_vbound_d_impl = fc_vbound_d_avx512;
            fc_diglgam_row_impl = fc_diglgam_row_avx512;
            fc_vedir_f_impl = fc_vedir_f_avx512; fc_vedir_d_impl = fc_vedir_d_avx512;
            return 0;
        }
    #endif
        return -1;
    }

    static inline void fc_doc_sweep_f(const float *cnt, const float **rows, Py_ssize_t n,
            Py_ssize_t K, const float *etheta, float eps, float *coef, float *acc) {
        fc_sweep_f_impl(cnt, rows, n, K, etheta, eps, coef, acc);
    }
    static inline void fc_doc_sweep_d(const double *cnt, const double **rows, Py_ssize_t n,
            Py_ssize_t K, const double *etheta, double eps, double *coef, double *acc) {
        fc_sweep_d_impl(cnt, rows, n, K, etheta, eps, coef, acc);
    }
    static inline void fc_gather_f(const float **rows, const float *coef, Py_ssize_t n,
                                   Py_ssize_t K, float *acc) {
        fc_gather_f_impl(rows, coef, n, K, acc);
    }
    static inline void fc_gather_d(const double **rows, const double *coef, Py_ssize_t n,
                                   Py_ssize_t K, double *acc) {
        fc_gather_d_impl(rows, coef, n, K, acc);
    }
    static inline void fc_expdig_row_f(const float *g, float *out, Py_ssize_t n, double total) {
        fc_expdig_row_f_impl(g, out, n, total);
    }
    static inline void fc_expdig_row_d(const double *g, double *out, Py_ssize_t n, double total) {
        fc_expdig_row_d_impl(g, out, n, total);
    }
    static inline void fc_exp_row(const double *x, double *out, Py_ssize_t n) {
        fc_exp_row_impl(x, out, n);
    }
    /* 0 when the variant has no vector bound (scalar): the caller loops itself */
    static inline int fc_bound_f(const float *alpha, const float *g, Py_ssize_t n,
                                 double psi_total, double *out) {
        if (!fc_vbound_f_impl) return 0;
        *out = fc_vbound_f_impl(alpha, g, n, psi_total);
        return 1;
    }
    static inline int fc_bound_d(const double *alpha, const double *g, Py_ssize_t n,
                                 double psi_total, double *out) {
        if (!fc_vbound_d_impl) return 0;
        *out = fc_vbound_d_impl(alpha, g, n, psi_total);
        return 1;
    }
    static inline int fc_edir_f(const float *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0,
            Py_ssize_t w1, const double *pt, double eta, double lg_eta, int cb, float *out,
            double *bound) {
        if (!fc_vedir_f_impl) return 0;
        *bound = fc_vedir_f_impl(lam, V, K, w0, w1, pt, eta, lg_eta, cb, out);
        return 1;
    }
    static inline int fc_edir_d(const double *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0,
            Py_ssize_t w1, const double *pt, double eta, double lg_eta, int cb, double *out,
            double *bound) {
        if (!fc_vedir_d_impl) return 0;
        *bound = fc_vedir_d_impl(lam, V, K, w0, w1, pt, eta, lg_eta, cb, out);
        return 1;
    }
    static inline int fc_diglgam_row(const double *x, double *psi, double *lgam, Py_ssize_t n) {
        if (!fc_diglgam_row_impl) return 0;
        fc_diglgam_row_impl(x, psi, lgam, n);
        return 1;
    }
    """
    int FC_OPENMP_ENABLED
    unsigned int fc_ftz_on()
    void fc_ftz_restore(unsigned int old)
    double fc_lgamma(double x)
    float fc_dot_f(const float *a, const float *b, Py_ssize_t n)
    double fc_dot_d(const double *a, const double *b, Py_ssize_t n)
    void fc_doc_sweep_f(const float *cnt, const float **rows, Py_ssize_t n, Py_ssize_t K,
                        const float *etheta, float eps, float *coef, float *acc)
    void fc_doc_sweep_d(const double *cnt, const double **rows, Py_ssize_t n, Py_ssize_t K,
                        const double *etheta, double eps, double *coef, double *acc)
    void fc_gather_f(const float **rows, const float *coef, Py_ssize_t n, Py_ssize_t K,
                     float *acc)
    void fc_gather_d(const double **rows, const double *coef, Py_ssize_t n, Py_ssize_t K,
                     double *acc)
    void fc_expdig_row_f(const float *g, float *out, Py_ssize_t n, double total)
    void fc_expdig_row_d(const double *g, double *out, Py_ssize_t n, double total)
    void fc_exp_row(const double *x, double *out, Py_ssize_t n)
    double fc_sum_f(const float *g, Py_ssize_t n)
    double fc_sum_d(const double *g, Py_ssize_t n)
    double fc_update_f(const float *alpha, const float *etheta, const float *acc, float *g,
                       Py_ssize_t n, double *total)
    double fc_update_d(const double *alpha, const double *etheta, const double *acc,
                       double *g, Py_ssize_t n, double *total)
    double fc_psi_taylor[24]
    int fc_bound_f(const float *alpha, const float *g, Py_ssize_t n, double psi_total,
                   double *out)
    int fc_bound_d(const double *alpha, const double *g, Py_ssize_t n, double psi_total,
                   double *out)
    int fc_diglgam_row(const double *x, double *psi, double *lgam, Py_ssize_t n)
    int fc_edir_f(const float *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0, Py_ssize_t w1,
                  const double *pt, double eta, double lg_eta, int cb, float *out,
                  double *bound)
    int fc_edir_d(const double *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0, Py_ssize_t w1,
                  const double *pt, double eta, double lg_eta, int cb, double *out,
                  double *bound)
    int fc_cpu_has_avx2()
    int fc_cpu_has_avx512()
    int fc_set_simd(int level)

#: True when the extension was compiled with OpenMP (else prange runs serially)
OPENMP_ENABLED = bool(FC_OPENMP_ENABLED)

_SIMD_LEVELS = {"scalar": 0, "generic": 1, "avx2": 2, "avx512": 3}
_simd = None


def simd_variants():
    """Names of the vector-kernel variants usable on this CPU, slowest first.

    "scalar" (plain C, libm special functions), "generic" (16-byte vectors)
    and, on x86 CPUs with AVX2 / AVX-512F+DQ, "avx2" / "avx512". The vector
    variants give bit-identical results; "scalar" differs from them by
    rounding in the special functions only (within the reference tolerances).
    """
    usable = {"avx2": fc_cpu_has_avx2(), "avx512": fc_cpu_has_avx512()}
    return [name for name in _SIMD_LEVELS if usable.get(name, True)]


def simd_variant():
    """Name of the vector-kernel variant in use (see :func:`simd_variants`)."""
    return _simd


def _set_simd(name):
    """Select the vector-kernel variant; for tests and benchmarks only.

    Not thread-safe: do not call while kernels run. Returns the previous name.
    """
    global _simd
    if name not in _SIMD_LEVELS or fc_set_simd(_SIMD_LEVELS[name]) != 0:
        raise ValueError(f"SIMD variant must be one of {simd_variants()}; got {name!r}")
    previous, _simd = _simd, name
    return previous


from fastcavi.kernels.simd import choose as _choose_simd  # FASTCAVI_SIMD or the widest
_set_simd(_choose_simd("lda", list(_SIMD_LEVELS), simd_variants()))

ctypedef fused floating:
    float
    double

ctypedef fused index_t:
    int32_t
    int64_t

ctypedef fused ptr_t:
    int32_t
    int64_t

# The same chunking as the Numba backend.
cdef int _CHUNKS_PER_THREAD = 8


# ---------------------------------------------------------------------------
# digamma (algorithm and constants of fastcavi/kernels/special.py)
# ---------------------------------------------------------------------------

#: positive root of digamma as a double-double: hi + lo
PSI_ROOT_HI = 1.4616321449683622
PSI_ROOT_LO = 9.549995429965697e-17
#: half-width of the interval around the root where the Taylor series is used
PSI_ROOT_RADIUS = 0.25

cdef double _ROOT_HI = PSI_ROOT_HI
cdef double _ROOT_LO = PSI_ROOT_LO
cdef double _ROOT_RADIUS = PSI_ROOT_RADIUS
cdef enum:
    _N_TAYLOR = 24
cdef double _TAYLOR[_N_TAYLOR]


def _taylor_coefficients():
    """c_n = (-1)^(n+1) zeta(n+1, x0), n = 1..24, as in special.PSI_ROOT_TAYLOR."""
    from scipy.special import zeta

    return np.array(
        [(-1.0) ** (n + 1) * zeta(n + 1, PSI_ROOT_HI) for n in range(1, _N_TAYLOR + 1)],
        dtype=np.float64,
    )


PSI_ROOT_TAYLOR = _taylor_coefficients()
PSI_ROOT_TAYLOR.setflags(write=False)
for _i in range(_N_TAYLOR):
    _TAYLOR[_i] = PSI_ROOT_TAYLOR[_i]
    fc_psi_taylor[_i] = PSI_ROOT_TAYLOR[_i]
del _i


cdef inline double _digamma(double x) noexcept nogil:
    cdef double t, acc, result, inv, z, num, den
    cdef int i
    if not (x > 0.0):
        if x == 0.0:
            return -INFINITY
        return NAN
    t = x - _ROOT_HI
    if fabs(t) < _ROOT_RADIUS:
        # t is exact; the root's low part enters to first order, as in special.py
        acc = 0.0
        for i in range(_N_TAYLOR - 1, -1, -1):
            acc = (acc + _TAYLOR[i]) * t
        return acc - _ROOT_LO * _TAYLOR[0]
    result = 0.0
    if x < 6.0:
        # psi(x) = psi(x + n) - sum_{i<n} 1/(x + i), the sum as one fraction
        num = 0.0
        den = 1.0
        while x < 6.0:
            num = num * x + den
            den *= x
            x += 1.0
        result = -num / den
    inv = 1.0 / x
    z = inv * inv
    return result + log(x) - 0.5 * inv - _asymptotic_tail(z)


cdef inline double _asymptotic_tail(double z) noexcept nogil:
    """sum_{k=1..10} B_2k / (2k x^2k) with z = 1/x^2 (error < 3e-15 at x >= 6)."""
    return z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (
        1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12 - z * (3617.0 / 8160 - z * (
            43867.0 / 14364 - z * (174611.0 / 6600))))))))))


cdef inline double _exp_digamma(double x) noexcept nogil:
    """exp(psi(x)) with one exp, no log: y exp(-sum_{i<6} 1/(x+i) - 1/(2y) - tail(y)),
    y = x + 6 (as fastcavi.kernels.special.exp_digamma)."""
    cdef double num = 1.0, den = x, y = x + 1.0, inv
    cdef int i
    for i in range(5):
        num = num * y + den
        den *= y
        y += 1.0
    inv = 1.0 / y
    return y * exp(-(num / den) - 0.5 * inv - _asymptotic_tail(inv * inv))


cpdef double digamma(double x) noexcept nogil:
    """Digamma function psi(x) for x > 0, in float64.

    Same algorithm as :func:`fastcavi.kernels.special.digamma`: relative
    error below 1e-13 against ``scipy.special.digamma`` on (0, 1e6].
    ``digamma(0) = -inf``; negative or NaN arguments give NaN.
    """
    return _digamma(x)


cdef bint _diglgam(const double[::1] x, double[:, ::1] out):
    return fc_diglgam_row(&x[0], &out[0, 0], &out[1, 0], x.shape[0]) != 0


def _vector_math(name, x):
    """Apply the current SIMD variant's row function ``name`` to a 1-d array; for tests.

    ``name``: "exp" (float64 in and out), "exp_digamma" (exp(psi(x)), float32
    or float64 in, same dtype out), "digamma_lgamma" (float64, returns an array
    of shape (2, n): psi(x) and lgamma(x)). The scalar variant uses libm's exp
    and lgamma and the scalar digamma.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 1:
        raise ValueError(f"x must be 1-d; got shape {x.shape}")
    if name == "digamma_lgamma":
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty((2, x.shape[0]))
        if x.shape[0] and not _diglgam(x, out):
            out[0] = [_digamma(v) for v in x]
            out[1] = [fc_lgamma(v) for v in x]
        return out
    if name == "exp":
        x = np.ascontiguousarray(x, dtype=np.float64)
    elif name != "exp_digamma":
        raise ValueError(f"unknown function {name!r}")
    elif x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float64)
    out = np.empty_like(x)
    cdef Py_ssize_t n = x.shape[0]
    cdef double[::1] x64, o64
    cdef float[::1] x32, o32
    if n == 0:
        return out
    if x.dtype == np.float32:
        x32 = x
        o32 = out
        fc_expdig_row_f(&x32[0], &o32[0], n, 0.0)
    else:
        x64 = x
        o64 = out
        if name == "exp":
            fc_exp_row(&x64[0], &o64[0], n)
        else:
            fc_expdig_row_d(&x64[0], &o64[0], n, 0.0)
    return out


# ---------------------------------------------------------------------------
# small vector helpers, dispatched on the fused dtype at compile time
# ---------------------------------------------------------------------------

cdef inline floating _dot(const floating *a, const floating *b, Py_ssize_t n) noexcept nogil:
    if floating is float:
        return fc_dot_f(a, b, n)
    else:
        return fc_dot_d(a, b, n)


cdef inline void _gather(
    const floating **rows, const floating *coef, Py_ssize_t n, Py_ssize_t n_topics,
    floating *acc,
) noexcept nogil:
    """acc[k] = sum_j coef[j] * rows[j][k], j in order."""
    if floating is float:
        fc_gather_f(rows, coef, n, n_topics, acc)
    else:
        fc_gather_d(rows, coef, n, n_topics, acc)


cdef inline double _row_sum(const floating *g, Py_ssize_t n) noexcept nogil:
    """sum(g) in float64, 8 partial sums (fixed order, see fc_sum)."""
    if floating is float:
        return fc_sum_f(g, n)
    else:
        return fc_sum_d(g, n)


cdef inline double _update_row(
    const floating *alpha, const floating *etheta, const floating *acc, floating *g,
    Py_ssize_t n, double *total,
) noexcept nogil:
    """g <- alpha + etheta * acc; returns sum |change|, *total = sum(new g) (float64)."""
    if floating is float:
        return fc_update_f(alpha, etheta, acc, g, n, total)
    else:
        return fc_update_d(alpha, etheta, acc, g, n, total)


cdef inline void _exp_dirichlet_row(
    const floating *g, double total, floating *out, Py_ssize_t n
) noexcept nogil:
    """out[k] = exp(psi(g[k]) - psi(total)), total = sum(g); psi in float64
    (float32 lanes for float32 data in the vector variants)."""
    cdef Py_ssize_t k
    cdef double psi_total
    if total >= 1.0:
        # exp(psi(g_k)) / exp(psi(total)): one exp per topic, no log (vectorised
        # in the "generic" and "avx2" variants, exp(psi(total)) included)
        if floating is float:
            fc_expdig_row_f(g, out, n, total)
        else:
            fc_expdig_row_d(g, out, n, total)
    else:
        # tiny total (an empty document, small prior): avoid underflow of exp(psi(g_k))
        psi_total = _digamma(total)
        for k in range(n):
            out[k] = <floating> exp(_digamma(g[k]) - psi_total)


# ---------------------------------------------------------------------------
# exp_dirichlet_expectation_T
# ---------------------------------------------------------------------------

# words per parallel block (as in the Numba backend): blocks write contiguous
# rows of the word-major output
cdef Py_ssize_t _WORD_BLOCK = 512


cdef void _topic_totals(
    const floating *lam_k, Py_ssize_t n_words, double *psi_total, double *lg_total
) noexcept nogil:
    cdef Py_ssize_t w
    cdef double total = 0.0
    for w in range(n_words):
        total += lam_k[w]
    psi_total[0] = _digamma(total)
    lg_total[0] = fc_lgamma(total)


cdef double _exp_dirichlet_block(
    const floating *lam, Py_ssize_t n_words, Py_ssize_t n_topics, Py_ssize_t w0,
    Py_ssize_t w1, const double *psi_total, double eta, double lg_eta, bint compute_bound,
    floating *out,
) noexcept nogil:
    """Rows w0..w1-1 of out = exp(Elogbeta).T; returns their bound terms (w, then k order).

    The vector variants evaluate digamma, exp and lgamma in vectors along each
    topic's row of lam (see fc_vedir; bound summed in another fixed order)."""
    cdef Py_ssize_t w, k
    cdef double lkw, elog
    cdef double acc = 0.0
    if floating is float:
        if fc_edir_f(lam, n_words, n_topics, w0, w1, psi_total, eta, lg_eta, compute_bound,
                     out, &acc):
            return acc
    else:
        if fc_edir_d(lam, n_words, n_topics, w0, w1, psi_total, eta, lg_eta, compute_bound,
                     out, &acc):
            return acc
    for w in range(w0, w1):
        for k in range(n_topics):
            lkw = lam[k * n_words + w]
            elog = _digamma(lkw) - psi_total[k]
            out[w * n_topics + k] = <floating> exp(elog)
            if compute_bound:
                acc += (eta - lkw) * elog + fc_lgamma(lkw) - lg_eta
    return acc


def _exp_dirichlet_T(
    const floating[:, ::1] lam, double eta, floating[:, ::1] out, bint compute_bound,
    int n_threads
):
    cdef Py_ssize_t n_topics = lam.shape[0]
    cdef Py_ssize_t n_words = lam.shape[1]
    cdef Py_ssize_t n_blocks = (n_words + _WORD_BLOCK - 1) // _WORD_BLOCK
    cdef Py_ssize_t k, b
    cdef double lg_eta = fc_lgamma(eta)
    cdef double lg_eta_sum = fc_lgamma(eta * n_words)
    cdef double bound = 0.0
    if out.shape[0] != n_words or out.shape[1] != n_topics:
        raise ValueError(
            f"out must have shape {(n_words, n_topics)} (lam transposed); "
            f"got {(out.shape[0], out.shape[1])}"
        )
    if n_topics == 0:
        return 0.0
    # per-topic psi(sum_w lambda_kw) and lgamma of it, then word blocks in parallel;
    # the bound is summed per block, then over blocks in order, then over topics
    totals = np.empty((2, n_topics), dtype=np.float64)
    partial = np.zeros(max(n_blocks, 1), dtype=np.float64)
    cdef double[:, ::1] tot = totals
    cdef double[::1] part = partial
    cdef const floating *p_lam = &lam[0, 0]
    cdef floating *p_out = &out[0, 0] if n_words else NULL
    with nogil:
        for k in prange(n_topics, num_threads=n_threads, schedule="static"):
            _topic_totals(p_lam + k * n_words, n_words, &tot[0, k], &tot[1, k])
        for b in prange(n_blocks, num_threads=n_threads, schedule="dynamic"):
            part[b] = _exp_dirichlet_block(
                p_lam, n_words, n_topics, b * _WORD_BLOCK,
                min(n_words, (b + 1) * _WORD_BLOCK), &tot[0, 0], eta, lg_eta,
                compute_bound, p_out,
            )
        if compute_bound:
            for b in range(n_blocks):
                bound += part[b]
            for k in range(n_topics):
                bound += lg_eta_sum - tot[1, k]
    return bound


def exp_dirichlet_expectation_T(lam, eta, out, compute_bound=True, n_threads=1):
    """Cython version of :func:`fastcavi.kernels.reference.exp_dirichlet_expectation_T`.

    Same parameters, shapes and return value; parallel over topics, then over
    word blocks, with ``n_threads`` OpenMP threads. ``lam`` is used in place when C-contiguous
    (else copied); ``out`` must be C-contiguous with the dtype of ``lam``.
    """
    lam = np.ascontiguousarray(lam)
    if lam.dtype != np.float32 and lam.dtype != np.float64:
        raise TypeError(f"lam must be float32 or float64; got {lam.dtype}")
    if lam.ndim != 2:
        raise ValueError(f"lam must be 2-d; got shape {lam.shape}")
    _check_dtype("out", out, lam.dtype)
    return float(
        _exp_dirichlet_T(lam, float(eta), out, bool(compute_bound), _n_threads(n_threads))
    )


# ---------------------------------------------------------------------------
# lda_e_step
# ---------------------------------------------------------------------------

cdef inline void _doc_sweep(
    const floating *cnt, const floating **rows, Py_ssize_t n, Py_ssize_t n_topics,
    const floating *etheta, floating epsv, floating *coef, floating *acc,
) noexcept nogil:
    if floating is float:
        fc_doc_sweep_f(cnt, rows, n, n_topics, etheta, epsv, coef, acc)
    else:
        fc_doc_sweep_d(cnt, rows, n, n_topics, etheta, epsv, coef, acc)


cdef Py_ssize_t _e_step_doc(
    const floating *cnt, const index_t *ids, Py_ssize_t n_ids,
    const floating *etw, const floating *alpha, Py_ssize_t n_topics,
    Py_ssize_t max_iter, double tol, floating epsv, double alpha_bound,
    floating *g, floating *etheta_out, floating *ratio, double *bound,
    floating *etheta, floating *acc, floating *coef, const floating **rows,
) noexcept nogil:
    """CAVI for one document (in place on its gamma row ``g``); returns #updates.

    Scratch: ``etheta``, ``acc`` of n_topics and ``coef``, ``rows`` of n_ids.
    """
    cdef Py_ssize_t it, j, k
    cdef Py_ssize_t n_up = 0
    cdef floating s
    cdef double change, loglik, total, psi_total, gk, b, terms
    cdef int vec
    for j in range(n_ids):
        rows[j] = etw + <Py_ssize_t> ids[j] * n_topics
    _exp_dirichlet_row(g, _row_sum(g, n_topics), etheta, n_topics)
    for it in range(max_iter):
        # phinorm_j = etheta . beta_w + eps; acc = sum_j (n_j / phinorm_j) beta_w
        _doc_sweep(cnt, rows, n_ids, n_topics, etheta, epsv, coef, acc)
        # gamma = alpha + etheta * acc, its mean absolute change and its sum
        change = _update_row(alpha, etheta, acc, g, n_topics, &total) / n_topics
        _exp_dirichlet_row(g, total, etheta, n_topics)
        n_up += 1
        if change < tol:
            break
    loglik = 0.0
    for j in range(n_ids):
        s = _dot(etheta, rows[j], n_topics) + epsv
        ratio[j] = cnt[j] / s
        loglik += <double> cnt[j] * log(<double> s)
    total = _row_sum(g, n_topics)
    psi_total = _digamma(total)
    b = loglik + alpha_bound - fc_lgamma(total)
    # sum_k (alpha_k - g_k) (psi(g_k) - psi_total) + lgamma(g_k): vectorised
    # (8 partial sums) in the vector variants, in order in the scalar one
    if floating is float:
        vec = fc_bound_f(alpha, g, n_topics, psi_total, &terms)
    else:
        vec = fc_bound_d(alpha, g, n_topics, psi_total, &terms)
    if vec:
        b += terms
    else:
        for k in range(n_topics):
            gk = g[k]
            b += (alpha[k] - gk) * (_digamma(gk) - psi_total) + fc_lgamma(gk)
    for k in range(n_topics):
        etheta_out[k] = etheta[k]
    bound[0] = b
    return n_up


cdef int64_t _e_step_range(
    const floating *data, const index_t *indices, const ptr_t *indptr,
    Py_ssize_t first, Py_ssize_t last,
    const floating *etw, const floating *alpha, Py_ssize_t n_topics,
    Py_ssize_t max_iter, double tol, floating epsv, double alpha_bound,
    floating *gamma, floating *exp_doc_topic, floating *ratio, double *doc_bound,
    void *scratch, Py_ssize_t max_len,
) noexcept nogil:
    """Documents first..last-1 of one chunk; returns their number of updates.

    ``scratch`` holds max_len row pointers followed by max_len + 2 * n_topics
    floating values (max_len = longest document).
    """
    cdef Py_ssize_t d, start, stop
    cdef int64_t n_up = 0
    cdef const floating **rows = <const floating **> scratch
    cdef floating *coef = <floating *> (rows + max_len)
    cdef floating *etheta = coef + max_len
    cdef floating *acc = etheta + n_topics
    for d in range(first, last):
        start = indptr[d]
        stop = indptr[d + 1]
        n_up += _e_step_doc(
            data + start, indices + start, stop - start, etw, alpha, n_topics,
            max_iter, tol, epsv, alpha_bound,
            gamma + d * n_topics, exp_doc_topic + d * n_topics, ratio + start,
            doc_bound + d, etheta, acc, coef, rows,
        )
    return n_up


def _e_step(
    const floating[::1] data,
    const index_t[::1] indices,
    const ptr_t[::1] indptr,
    const floating[:, ::1] exp_topic_word,
    const floating[::1] alpha,
    floating[:, ::1] gamma,
    Py_ssize_t max_iter,
    double mean_change_tol,
    double eps,
    floating[:, ::1] exp_doc_topic,
    floating[::1] ratio,
    double[::1] doc_bound,
    const int64_t[::1] bounds,
    double alpha_bound,
    Py_ssize_t max_len,
    int n_threads,
):
    cdef Py_ssize_t n_topics = gamma.shape[1]
    cdef Py_ssize_t n_chunks = bounds.shape[0] - 1
    cdef Py_ssize_t c
    cdef floating epsv = <floating> eps
    cdef void *scratch = NULL
    # raw pointers (computed from element 0 only when the array is non-empty)
    cdef const floating *p_data = &data[0] if data.shape[0] else NULL
    cdef const index_t *p_indices = &indices[0] if indices.shape[0] else NULL
    cdef const floating *p_etw = &exp_topic_word[0, 0] if exp_topic_word.shape[0] else NULL
    cdef floating *p_ratio = &ratio[0] if ratio.shape[0] else NULL
    updates = np.zeros(max(n_chunks, 0), dtype=np.int64)
    cdef int64_t[::1] upd = updates
    if n_chunks <= 0 or n_topics == 0:
        return 0
    # each thread's scratch: etheta, acc, coef and row pointers (see _e_step_range),
    # padded so that threads do not share cache lines
    cdef size_t scratch_bytes = (
        max_len * sizeof(void *) + (max_len + 2 * n_topics) * sizeof(floating) + 128
    )
    cdef unsigned int csr = 0
    with nogil, parallel(num_threads=n_threads):
        if floating is float:
            csr = fc_ftz_on()
        scratch = malloc(scratch_bytes)
        for c in prange(n_chunks, schedule="dynamic"):
            if scratch == NULL:
                upd[c] = -1
            else:
                upd[c] = _e_step_range(
                    p_data, p_indices, &indptr[0], bounds[c], bounds[c + 1],
                    p_etw, &alpha[0], n_topics, max_iter, mean_change_tol, epsv,
                    alpha_bound, &gamma[0, 0], &exp_doc_topic[0, 0], p_ratio,
                    &doc_bound[0], scratch, max_len,
                )
        free(scratch)
        if floating is float:
            fc_ftz_restore(csr)
    if (updates < 0).any():
        raise MemoryError("fastcavi: could not allocate per-thread scratch")
    return int(updates.sum())


def lda_e_step(
    data,
    indices,
    indptr,
    exp_topic_word,
    alpha,
    gamma,
    max_iter,
    mean_change_tol,
    eps,
    exp_doc_topic,
    ratio,
    doc_bound,
    n_threads=1,
):
    """Cython version of :func:`fastcavi.kernels.reference.lda_e_step`.

    Same parameters, shapes, dtypes and return value; OpenMP over chunks of
    documents with ``n_threads`` threads. Inputs are used in place when
    contiguous (``data`` is never copied then); the outputs ``gamma``,
    ``exp_doc_topic``, ``ratio`` and ``doc_bound`` must be C-contiguous.
    Word ids in ``indices`` must lie in ``[0, n_words)`` (not checked).
    """
    from fastcavi.kernels import doc_chunks

    n_threads = _n_threads(n_threads)
    dtype = np.dtype(gamma.dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"gamma must be float32 or float64; got {dtype}")
    for name, arr in (("data", data), ("exp_topic_word", exp_topic_word),
                      ("exp_doc_topic", exp_doc_topic), ("ratio", ratio)):
        _check_dtype(name, arr, dtype)
    _check_dtype("doc_bound", doc_bound, np.float64)
    data = np.ascontiguousarray(data)
    indices = _as_index(indices)
    indptr = _as_index(indptr)
    exp_topic_word = np.ascontiguousarray(exp_topic_word)
    n_docs = indptr.shape[0] - 1
    n_topics = gamma.shape[1] if gamma.ndim == 2 else -1
    alpha = np.ascontiguousarray(alpha, dtype=dtype)
    if alpha.shape != (n_topics,):
        raise ValueError(f"alpha must have shape ({n_topics},); got {alpha.shape}")
    if gamma.shape != (n_docs, n_topics) or exp_doc_topic.shape != (n_docs, n_topics):
        raise ValueError(
            f"gamma and exp_doc_topic must have shape {(n_docs, n_topics)}; "
            f"got {gamma.shape} and {exp_doc_topic.shape}"
        )
    if exp_topic_word.ndim != 2 or exp_topic_word.shape[1] != n_topics:
        raise ValueError(
            f"exp_topic_word must have shape (n_words, {n_topics}); got {exp_topic_word.shape}"
        )
    if doc_bound.shape != (n_docs,):
        raise ValueError(f"doc_bound must have shape ({n_docs},); got {doc_bound.shape}")
    nnz = data.shape[0]
    if indices.shape != (nnz,) or ratio.shape != (nnz,):
        raise ValueError(
            f"data, indices and ratio must have the same shape; got "
            f"{data.shape}, {indices.shape}, {ratio.shape}"
        )
    if n_docs < 0 or (n_docs > 0 and (indptr[0] < 0 or indptr[n_docs] > nnz)):
        raise ValueError("indptr is not a valid CSR row-pointer array for data")
    if n_docs == 0:
        return 0
    alpha64 = alpha.astype(np.float64)
    alpha_bound = math.lgamma(float(alpha64.sum())) - sum(math.lgamma(a) for a in alpha64)
    bounds = doc_chunks(indptr, n_threads * _CHUNKS_PER_THREAD)
    max_len = int(np.diff(indptr).max())
    return _e_step(
        data, indices, indptr, exp_topic_word, alpha, gamma, int(max_iter),
        float(mean_change_tol), float(eps), exp_doc_topic, ratio, doc_bound,
        bounds, alpha_bound, max_len, n_threads,
    )


# ---------------------------------------------------------------------------
# lda_suff_stats
# ---------------------------------------------------------------------------

cdef void _suff_stats_word(
    const int64_t *col, const index_t *docs, const ptr_t *perm, const floating *ratio,
    const floating *edt, const floating *etw_w, Py_ssize_t n_topics, floating *out_w,
    const floating **rows, floating *coef,
) noexcept nogil:
    """out_w = (sum_j ratio_j * edt[doc_j]) * etw_w over the column's entries j in order."""
    cdef Py_ssize_t j, k
    cdef Py_ssize_t first = col[0]
    cdef Py_ssize_t n = col[1] - first
    for j in range(n):
        rows[j] = edt + <Py_ssize_t> docs[first + j] * n_topics
        coef[j] = ratio[perm[first + j]]
    _gather(rows, coef, n, n_topics, out_w)
    for k in range(n_topics):
        out_w[k] = out_w[k] * etw_w[k]


def _suff_stats(
    const int64_t[::1] csc_indptr,
    const index_t[::1] csc_docs,
    const ptr_t[::1] csc_perm,
    const floating[::1] ratio,
    const floating[:, ::1] exp_doc_topic,
    const floating[:, ::1] exp_topic_word,
    floating[:, ::1] out,
    Py_ssize_t max_len,
    int n_threads,
):
    cdef Py_ssize_t n_words = exp_topic_word.shape[0]
    cdef Py_ssize_t n_topics = exp_topic_word.shape[1]
    cdef Py_ssize_t w
    cdef void *scratch = NULL
    cdef const index_t *p_docs = &csc_docs[0] if csc_docs.shape[0] else NULL
    cdef const ptr_t *p_perm = &csc_perm[0] if csc_perm.shape[0] else NULL
    cdef const floating *p_ratio = &ratio[0] if ratio.shape[0] else NULL
    cdef const floating *p_edt = &exp_doc_topic[0, 0] if exp_doc_topic.shape[0] else NULL
    # per thread: max_len row pointers, then max_len coefficients (+ padding)
    cdef size_t scratch_bytes = max_len * (sizeof(void *) + sizeof(floating)) + 128
    cdef int n_failed = 0
    if n_words == 0 or n_topics == 0:
        return
    with nogil, parallel(num_threads=n_threads):
        scratch = malloc(scratch_bytes)
        for w in prange(n_words, schedule="guided"):
            if scratch == NULL:
                n_failed += 1
            else:
                _suff_stats_word(
                    &csc_indptr[w], p_docs, p_perm, p_ratio, p_edt,
                    &exp_topic_word[w, 0], n_topics, &out[w, 0],
                    <const floating **> scratch,
                    <floating *> (<const floating **> scratch + max_len),
                )
        free(scratch)
    if n_failed:
        raise MemoryError("fastcavi: could not allocate per-thread scratch")


def lda_suff_stats(
    csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out, n_threads=1
):
    """Cython version of :func:`fastcavi.kernels.reference.lda_suff_stats`.

    Same parameters and shapes; OpenMP over words with ``n_threads`` threads,
    each word gathering its CSC column in order (bit-identical for any
    ``n_threads``). ``out`` must be C-contiguous.
    """
    dtype = np.dtype(out.dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"out must be float32 or float64; got {dtype}")
    for name, arr in (("ratio", ratio), ("exp_doc_topic", exp_doc_topic),
                      ("exp_topic_word", exp_topic_word)):
        _check_dtype(name, arr, dtype)
    csc_indptr = np.ascontiguousarray(csc_indptr, dtype=np.int64)
    csc_docs = _as_index(csc_docs)
    csc_perm = _as_index(csc_perm)
    ratio = np.ascontiguousarray(ratio)
    exp_doc_topic = np.ascontiguousarray(exp_doc_topic)
    exp_topic_word = np.ascontiguousarray(exp_topic_word)
    if exp_topic_word.ndim != 2 or out.shape != exp_topic_word.shape:
        raise ValueError(
            f"out and exp_topic_word must have the same 2-d shape; got "
            f"{out.shape} and {exp_topic_word.shape}"
        )
    n_words, n_topics = exp_topic_word.shape
    if csc_indptr.shape != (n_words + 1,):
        raise ValueError(f"csc_indptr must have shape ({n_words + 1},); got {csc_indptr.shape}")
    nnz = csc_docs.shape[0]
    if csc_perm.shape != (nnz,) or ratio.shape != (nnz,):
        raise ValueError("csc_docs, csc_perm and ratio must have the same length")
    if n_words > 0 and (csc_indptr[0] < 0 or csc_indptr[n_words] > nnz):
        raise ValueError("csc_indptr is not a valid column-pointer array")
    if exp_doc_topic.ndim != 2 or exp_doc_topic.shape[1] != n_topics:
        raise ValueError(
            f"exp_doc_topic must have shape (n_docs, {n_topics}); got {exp_doc_topic.shape}"
        )
    max_len = int(np.diff(csc_indptr).max()) if n_words > 0 else 0
    _suff_stats(
        csc_indptr, csc_docs, csc_perm, ratio, exp_doc_topic, exp_topic_word, out,
        max_len, _n_threads(n_threads),
    )


# ---------------------------------------------------------------------------
# argument helpers (Python level, outside the hot loops)
# ---------------------------------------------------------------------------

cdef int _n_threads(n_threads) except -1:
    return <int> max(1, min(int(n_threads), 1 << 16))


def _check_dtype(name, arr, dtype):
    if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
        got = arr.dtype if hasattr(arr, "dtype") else type(arr).__name__
        raise TypeError(f"{name} must be a numpy array of dtype {np.dtype(dtype)}; got {got}")


def _as_index(a):
    """int32/int64 arrays pass through (no copy when contiguous); others -> int64."""
    a = np.asarray(a)
    if a.dtype == np.int32 or a.dtype == np.int64:
        return np.ascontiguousarray(a)
    if a.dtype.kind not in "iu":
        raise TypeError(f"index arrays must be integer; got {a.dtype}")
    return np.ascontiguousarray(a, dtype=np.int64)
