/* fc_lda_sweep.h -- the E-step sweep of the LDA kernels: dot products,
   gathers and the row reductions of one document's CAVI iteration.

   Included by fc_lda_kernels.h, which expands the vector macros once per
   variant. Every variant performs the same floating-point operations in the
   same order, so they return the same bits:

   - dot(a, b): 8 partial sums (lane l takes k = l mod 8), combined as
     ((p0+p4)+(p2+p6))+((p1+p5)+(p3+p7)); in the E-step sweep of the
     vector variants (n >= 8) the n mod 8 tail enters the lanes too, as the
     chunk [n - 8, n) with the lanes already counted multiplied by zero,
     while fc_dot (the scalar variant, and the final phinorm) adds it in
     order after combining;
   - gather(rows, coef): acc[k] = sum_j coef[j] * rows[j][k], j in order,
     each acc[k] kept in a register across j.

   "generic" is plain C or GCC/Clang vector extensions of 16 bytes (SSE2,
   NEON); "avx2" uses 32-byte vectors, "avx512" 64-byte float64 vectors (see
   fc_cpu.h). */

#ifndef FC_LDA_SWEEP_H
#define FC_LDA_SWEEP_H

#include <Python.h>
#include <math.h>
#include <string.h>

#include "fc_vec.h"

#define FC_DEFINE_SCALAR(T, S)                                                 \
static inline T fc_dot_##S(const T *a, const T *b, Py_ssize_t n) {             \
    T p[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                         \
    Py_ssize_t k = 0;                                                          \
    int l;                                                                     \
    for (; k + 8 <= n; k += 8)                                                 \
        for (l = 0; l < 8; ++l) p[l] += a[k + l] * b[k + l];                   \
    T s = FC_HSUM8(p);                                                         \
    for (; k < n; ++k) s += a[k] * b[k];                                       \
    return s;                                                                  \
}                                                                              \
static void fc_gatherc_##S##_scalar(const T *const *rows, const T *coef,       \
        Py_ssize_t n, Py_ssize_t K, T *acc, int cont) {                        \
    Py_ssize_t j, k;                                                           \
    if (!cont) for (k = 0; k < K; ++k) acc[k] = 0;                             \
    for (j = 0; j < n; ++j) {                                                  \
        const T c = coef[j];                                                   \
        const T *r = rows[j];                                                  \
        for (k = 0; k < K; ++k) acc[k] += c * r[k];                            \
    }                                                                          \
}                                                                              \
static void fc_gather_##S##_scalar(const T *const *rows, const T *coef,        \
                                 Py_ssize_t n, Py_ssize_t K, T *acc) {         \
    fc_gatherc_##S##_scalar(rows, coef, n, K, acc, 0);                         \
}                                                                              \
static void fc_sweep_##S##_scalar(const T *cnt, const T *const *rows,          \
        Py_ssize_t n, Py_ssize_t K, const T *etheta, T eps, T *coef, T *acc) { \
    Py_ssize_t j;                                                              \
    for (j = 0; j < n; ++j)                                                    \
        coef[j] = cnt[j] / (fc_dot_##S(etheta, rows[j], K) + eps);             \
    fc_gather_##S##_scalar(rows, coef, n, K, acc);                             \
}

FC_DEFINE_SCALAR(float, f)
FC_DEFINE_SCALAR(double, d)

/* Row reductions of the E-step, in one fixed order for every variant: 8
   partial float64 sums (lane l takes k = l mod 8), combined by FC_HSUM8,
   then the n mod 8 tail in order. Plain C, or 8-lane vectors holding the 8
   partial sums (GCC splits them into the registers the target has); 8
   chains instead of one dependent chain of n additions.
   fc_sum: sum_k g[k]. fc_update: g[k] <- alpha[k] + etheta[k] acc[k] (in
   T); returns sum_k |new - old| and stores sum_k new in *total.
   The tails k..n-1, added in order to the combined partial sums: */
#define FC_DEFINE_ROWTAILS(T, S, ABS)                                          \
static inline double fc_sum_tail_##S(const T *g, Py_ssize_t k, Py_ssize_t n, double s) { \
    for (; k < n; ++k) s += (double)g[k];                                      \
    return s;                                                                  \
}                                                                              \
static inline double fc_update_tail_##S(const T *alpha, const T *etheta, const T *acc, \
        T *g, Py_ssize_t k, Py_ssize_t n, double sc, double st, double *total) { \
    T nw;                                                                      \
    for (; k < n; ++k) {                                                       \
        nw = alpha[k] + etheta[k] * acc[k];                                    \
        sc += (double)ABS(nw - g[k]);                                          \
        st += (double)nw;                                                      \
        g[k] = nw;                                                             \
    }                                                                          \
    *total = st;                                                               \
    return sc;                                                                 \
}
FC_DEFINE_ROWTAILS(float, f, fabsf)
FC_DEFINE_ROWTAILS(double, d, fabs)

#if !FC_GNU_VECTORS
#define FC_DEFINE_ROWSUMS(T, S, ABS)                                           \
static inline double fc_sum_##S(const T *g, Py_ssize_t n) {                    \
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \
    Py_ssize_t k = 0;                                                          \
    int l;                                                                     \
    for (; k + 8 <= n; k += 8)                                                 \
        for (l = 0; l < 8; ++l) p[l] += (double)g[k + l];                      \
    return fc_sum_tail_##S(g, k, n, FC_HSUM8(p));                              \
}                                                                              \
static inline double fc_update_##S(const T *alpha, const T *etheta, const T *acc, \
                                   T *g, Py_ssize_t n, double *total) {        \
    double c[8] = {0, 0, 0, 0, 0, 0, 0, 0}, t[8] = {0, 0, 0, 0, 0, 0, 0, 0};   \
    Py_ssize_t k = 0;                                                          \
    int l;                                                                     \
    T nw;                                                                      \
    for (; k + 8 <= n; k += 8)                                                 \
        for (l = 0; l < 8; ++l) {                                              \
            nw = alpha[k + l] + etheta[k + l] * acc[k + l];                    \
            c[l] += (double)ABS(nw - g[k + l]);                                \
            t[l] += (double)nw;                                                \
            g[k + l] = nw;                                                     \
        }                                                                      \
    return fc_update_tail_##S(alpha, etheta, acc, g, k, n, FC_HSUM8(c), FC_HSUM8(t), total); \
}
FC_DEFINE_ROWSUMS(float, f, fabsf)
FC_DEFINE_ROWSUMS(double, d, fabs)
#else
static inline fc_v8d fc_wide_d(fc_v8d v) { return v; }
static inline fc_v8d fc_wide_f(fc_v8f v) { return __builtin_convertvector(v, fc_v8d); }
static inline fc_v8d fc_vabs_d(fc_v8d v) {
    return (fc_v8d)((fc_v8l)v & 0x7FFFFFFFFFFFFFFFLL); }
static inline fc_v8f fc_vabs_f(fc_v8f v) {
    return (fc_v8f)((fc_v8i)v & 0x7FFFFFFF); }
#define FC_DEFINE_VROWSUMS(T, S, V)                                            \
static inline double fc_sum_##S(const T *g, Py_ssize_t n) {                    \
    fc_v8d p = {0};                                                            \
    V x;                                                                       \
    double l[8];                                                               \
    Py_ssize_t k = 0;                                                          \
    for (; k + 8 <= n; k += 8) { memcpy(&x, g + k, sizeof x); p += fc_wide_##S(x); } \
    memcpy(l, &p, sizeof l);                                                   \
    return fc_sum_tail_##S(g, k, n, FC_HSUM8(l));                              \
}                                                                              \
static inline double fc_update_##S(const T *alpha, const T *etheta, const T *acc, \
                                   T *g, Py_ssize_t n, double *total) {        \
    fc_v8d c = {0}, t = {0};                                                   \
    V a, e, q, o, nw;                                                          \
    double lc[8], lt[8];                                                       \
    Py_ssize_t k = 0;                                                          \
    for (; k + 8 <= n; k += 8) {                                               \
        memcpy(&a, alpha + k, sizeof a); memcpy(&e, etheta + k, sizeof e);     \
        memcpy(&q, acc + k, sizeof q); memcpy(&o, g + k, sizeof o);            \
        nw = a + e * q;                                                        \
        c += fc_wide_##S(fc_vabs_##S(nw - o));                                 \
        t += fc_wide_##S(nw);                                                  \
        memcpy(g + k, &nw, sizeof nw);                                         \
    }                                                                          \
    memcpy(lc, &c, sizeof lc);                                                 \
    memcpy(lt, &t, sizeof lt);                                                 \
    return fc_update_tail_##S(alpha, etheta, acc, g, k, n, FC_HSUM8(lc), FC_HSUM8(lt), total); \
}
FC_DEFINE_VROWSUMS(float, f, fc_v8f)
FC_DEFINE_VROWSUMS(double, d, fc_v8d)
#endif

#if FC_GNU_VECTORS
/* one step of fc_vdot4 (in FC_DEFINE_SIMD): the 8 topics of A (8 / L vectors,
   loaded once) against those from KB of the four rows b0..b3, into p0..p3 */
#define FC_VDOT4_STEP(S, SFX, L, A, KB)                                        \
    for (i = 0; i < 8 / L; ++i) {                                              \
        av = fc_ld_##S##SFX((A) + i * L);                                      \
        p0[i] += av * fc_ld_##S##SFX(b0 + (KB) + i * L);                       \
        p1[i] += av * fc_ld_##S##SFX(b1 + (KB) + i * L);                       \
        p2[i] += av * fc_ld_##S##SFX(b2 + (KB) + i * L);                       \
        p3[i] += av * fc_ld_##S##SFX(b3 + (KB) + i * L);                       \
    }

/* V: vector type, L lanes; up to 8 vectors of acc live in registers per
   pass over the words. The last vector of a row may overlap the one before
   it (offset K - L), so it never sits alone in a block: both load acc before
   either stores, the overlap repeats the same operations, stored twice. */
#define FC_DEFINE_SIMD(T, S, V, L, ATTR, SFX, RED4)                            \
ATTR static inline V fc_ld_##S##SFX(const T *p) {                              \
    V v; memcpy(&v, p, sizeof v); return v; }                                  \
ATTR static inline T fc_vdot_##S##SFX(const T *a, const T *at, const T *b,     \
                                      Py_ssize_t n) {                          \
    V p[8 / L];                                                                \
    T lane[8];                                                                 \
    Py_ssize_t k = 0;                                                          \
    int i;                                                                     \
    for (i = 0; i < 8 / L; ++i) p[i] = (V){0};                                 \
    for (; k + 8 <= n; k += 8)                                                 \
        for (i = 0; i < 8 / L; ++i)                                            \
            p[i] += fc_ld_##S##SFX(a + k + i * L) * fc_ld_##S##SFX(b + k + i * L); \
    if (k < n)                                                                 \
        for (i = 0; i < 8 / L; ++i)                                            \
            p[i] += fc_ld_##S##SFX(at + i * L) * fc_ld_##S##SFX(b + n - 8 + i * L); \
    memcpy(lane, p, sizeof lane);                                              \
    return FC_HSUM8(lane);                                                     \
}                                                                              \
ATTR static inline void fc_block_##S##SFX(const T *const *rows, const T *coef, \
        Py_ssize_t n, const Py_ssize_t *off, const int m, T *acc, int cont) {  \
    V p[8];                                                                    \
    Py_ssize_t j;                                                              \
    int i;                                                                     \
    for (i = 0; i < m; ++i) p[i] = cont ? fc_ld_##S##SFX(acc + off[i]) : (V){0}; \
    for (j = 0; j < n; ++j) {                                                  \
        const T c = coef[j];                                                   \
        const T *r = rows[j];                                                  \
        for (i = 0; i < m; ++i) p[i] += c * fc_ld_##S##SFX(r + off[i]);        \
    }                                                                          \
    for (i = 0; i < m; ++i) memcpy(acc + off[i], &p[i], sizeof(V));            \
}                                                                              \
ATTR static void fc_gatherc_##S##SFX(const T *const *rows, const T *coef,      \
        Py_ssize_t n, Py_ssize_t K, T *acc, int cont) {                        \
    Py_ssize_t off[8], v, nvec;                                                \
    int i, m;                                                                  \
    if (K < L) { fc_gatherc_##S##_scalar(rows, coef, n, K, acc, cont); return; } \
    nvec = (K + L - 1) / L;                                                    \
    for (v = 0; v < nvec; v += m) {                                            \
        m = nvec - v <= 8 ? (int)(nvec - v) : (nvec - v == 9 ? 7 : 8);         \
        for (i = 0; i < m; ++i)                                                \
            off[i] = (v + i) * L < K - L ? (v + i) * L : K - L;                \
        switch (m) {                                                           \
        case 1: fc_block_##S##SFX(rows, coef, n, off, 1, acc, cont); break;    \
        case 2: fc_block_##S##SFX(rows, coef, n, off, 2, acc, cont); break;    \
        case 3: fc_block_##S##SFX(rows, coef, n, off, 3, acc, cont); break;    \
        case 4: fc_block_##S##SFX(rows, coef, n, off, 4, acc, cont); break;    \
        case 5: fc_block_##S##SFX(rows, coef, n, off, 5, acc, cont); break;    \
        case 6: fc_block_##S##SFX(rows, coef, n, off, 6, acc, cont); break;    \
        case 7: fc_block_##S##SFX(rows, coef, n, off, 7, acc, cont); break;    \
        default: fc_block_##S##SFX(rows, coef, n, off, 8, acc, cont); break;   \
        }                                                                      \
    }                                                                          \
}                                                                              \
ATTR static void fc_gather_##S##SFX(const T *const *rows, const T *coef,       \
                                    Py_ssize_t n, Py_ssize_t K, T *acc) {      \
    fc_gatherc_##S##SFX(rows, coef, n, K, acc, 0);                             \
}                                                                              \
/* four dot products a . b_w at once (the loads of a shared), each with        \
   exactly the operations of fc_vdot; RED4 sets coef_w = cnt_w / (dot_w + eps) */ \
ATTR static inline void fc_vdot4_##S##SFX(const T *a, const T *at,             \
        const T *const *b, const T *const *nb, Py_ssize_t n, const T *cnt, T eps, \
        T *coef) {                                                             \
    V p0[8 / L], p1[8 / L], p2[8 / L], p3[8 / L], av;                          \
    const T *b0 = b[0], *b1 = b[1], *b2 = b[2], *b3 = b[3];                    \
    const T *n0 = nb[0], *n1 = nb[1], *n2 = nb[2], *n3 = nb[3];                \
    Py_ssize_t k = 0;                                                          \
    int i;                                                                     \
    for (i = 0; i < 8 / L; ++i) p0[i] = p1[i] = p2[i] = p3[i] = (V){0};        \
    for (; k + 8 <= n; k += 8) {                                               \
        /* the next four rows toward L1, a cache line per row and step */      \
        __builtin_prefetch(n0 + k, 0, 3); __builtin_prefetch(n1 + k, 0, 3);    \
        __builtin_prefetch(n2 + k, 0, 3); __builtin_prefetch(n3 + k, 0, 3);    \
        FC_VDOT4_STEP(S, SFX, L, a + k, k);                                    \
    }                                                                          \
    if (k < n) {                                                               \
        k = n - 8;                                                             \
        FC_VDOT4_STEP(S, SFX, L, at, k);                                       \
    }                                                                          \
    RED4(p0, p1, p2, p3, cnt, eps, coef);                                      \
}                                                                              \
/* words in groups of ~16 KB of rows: the gather re-reads them from L1, and    \
   continues acc from memory, so the operations are those of one gather.       \
   Dot products need K >= 8: lanes take chunks of 8 topics from 0 and, when    \
   8 does not divide K, the chunk [K - 8, K) against at = etheta there with    \
   the lanes already counted set to zero (adding 0 * beta is exact), so the    \
   tail is vector work too. K < 8 takes the scalar sweep. */                   \
ATTR static void fc_sweep_##S##SFX(const T *cnt, const T *const *rows,         \
        Py_ssize_t n, Py_ssize_t K, const T *etheta, T eps, T *coef, T *acc) { \
    Py_ssize_t j, j0, j1, kmain;                                               \
    T at[8];                                                                   \
    const T *nb[4];                                                            \
    int w;                                                                     \
    Py_ssize_t G = (Py_ssize_t)(16384 / sizeof(T)) / (K > 0 ? K : 1);          \
    if (K < 8) { fc_sweep_##S##_scalar(cnt, rows, n, K, etheta, eps, coef, acc); return; } \
    if (G < 8) G = 8;                                                          \
    if (n == 0) { fc_gatherc_##S##SFX(rows, coef, 0, K, acc, 0); return; }     \
    kmain = K - K % 8;                                                         \
    for (w = 0; w < 8; ++w) at[w] = K - 8 + w >= kmain ? etheta[K - 8 + w] : (T)0; \
    for (j0 = 0; j0 < n; j0 = j1) {                                            \
        j1 = n - j0 > G ? j0 + G : n;                                          \
        for (j = j0; j + 4 <= j1; j += 4) {                                    \
            nb[0] = rows[j + 4 < n ? j + 4 : n - 1];                           \
            nb[1] = rows[j + 5 < n ? j + 5 : n - 1];                           \
            nb[2] = rows[j + 6 < n ? j + 6 : n - 1];                           \
            nb[3] = rows[j + 7 < n ? j + 7 : n - 1];                           \
            fc_vdot4_##S##SFX(etheta, at, rows + j, nb, K, cnt + j, eps, coef + j); \
        }                                                                      \
        for (; j < j1; ++j)                                                    \
            coef[j] = cnt[j] / (fc_vdot_##S##SFX(etheta, at, rows[j], K) + eps); \
        fc_gatherc_##S##SFX(rows + j0, coef + j0, j1 - j0, K, acc, j0 > 0);    \
    }                                                                          \
}

/* RED4 (p0, p1, p2, p3, cnt, eps, coef): coef[w] = cnt[w] / (s_w + eps) with
   s_w = FC_HSUM8 of the 8 partial-sum lanes of word w, the order of fc_dot.
   FC_RED4_LANES goes through memory lane by lane; the vector forms do the
   same additions on 4-lane vectors: h = [l0+l4, l1+l5, l2+l6, l3+l7] per
   word (the sum of its two 4-lane vectors, or the halves of its 8-lane
   one), then fc_comb4 (fc_vec.h) of the four words, and one division. */
#define FC_RED4_LANES(T, p0, p1, p2, p3, cnt, eps, coef) do {                  \
    T lane_[8]; const void *src_[4] = {p0, p1, p2, p3}; int w_;                \
    for (w_ = 0; w_ < 4; ++w_) {                                               \
        memcpy(lane_, src_[w_], sizeof lane_);                                 \
        (coef)[w_] = (cnt)[w_] / (FC_HSUM8(lane_) + (eps));                    \
    } } while (0)
#define FC_RED4_LANES_D(p0, p1, p2, p3, c, e, q) FC_RED4_LANES(double, p0, p1, p2, p3, c, e, q)
/* coef[0:4] = cnt[0:4] / (r + eps) as one vector division: IEEE division, so
   each lane is the scalar quotient */
#define FC_DIV4(r, cnt, eps, coef) do {                                        \
    __typeof__(r) c_;                                                          \
    memcpy(&c_, cnt, sizeof c_); c_ = c_ / ((r) + (eps));                      \
    memcpy(coef, &c_, sizeof c_); } while (0)
/* h of one 8-lane vector: low half + high half */
#define FC_H4(p) (__builtin_shufflevector((p)[0], (p)[0], 0, 1, 2, 3)          \
                  + __builtin_shufflevector((p)[0], (p)[0], 4, 5, 6, 7))
/* two 4-lane vectors per word (S: fc_comb4_f or _d) */
#define FC_RED4_PAIRS(S, p0, p1, p2, p3, cnt, eps, coef)                       \
    FC_DIV4(fc_comb4_##S((p0)[0] + (p0)[1], (p1)[0] + (p1)[1],                 \
                         (p2)[0] + (p2)[1], (p3)[0] + (p3)[1]), cnt, eps, coef)
/* one 8-lane vector per word */
#define FC_RED4_HALVES(S, p0, p1, p2, p3, cnt, eps, coef)                      \
    FC_DIV4(fc_comb4_##S(FC_H4(p0), FC_H4(p1), FC_H4(p2), FC_H4(p3)), cnt, eps, coef)
#define FC_RED4_F4(...) FC_RED4_PAIRS(f, __VA_ARGS__)
#define FC_RED4_F8(...) FC_RED4_HALVES(f, __VA_ARGS__)
#define FC_RED4_D4(...) FC_RED4_PAIRS(d, __VA_ARGS__)
#define FC_RED4_D8(...) FC_RED4_HALVES(d, __VA_ARGS__)
#endif /* FC_GNU_VECTORS */

#endif /* FC_LDA_SWEEP_H */
