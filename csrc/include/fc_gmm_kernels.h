/* fc_gmm_kernels.h -- the Gaussian-mixture E-step of csrc/_gmm.pyx: one
   chunk of rows in blocks of FC_B = 128, transposed to (d, 128) and
   processed 8 float64 lanes (8 samples) at a time, with the chunk's float64
   partial statistics.

   Included by csrc/_gmm.pyx only. The block code is written once on 8-lane
   GCC/Clang vectors (fc_vd, split by the compiler into the registers the
   target has) and always inlined into one function per variant (numbering
   and target attributes of fc_cpu.h): "generic" (16-byte baseline), "avx2"
   and "avx512". Every operation and its order is fixed by the source, so the
   variants return the same bits. There is no "scalar" variant. */

#ifndef FC_GMM_KERNELS_H
#define FC_GMM_KERNELS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fc_cpu.h"
#include "fc_vec.h"

#define FC_B 128   /* rows per block */
#define FC_L 8     /* lanes of the vector type */

#if FC_GNU_VECTORS
#define FC_INLINE static inline __attribute__((always_inline))
typedef double fc_vd __attribute__((vector_size(64), aligned(8)));
typedef long long fc_vi __attribute__((vector_size(64), aligned(8)));
/* select and exp of fc_vec.h on fc_vd, inlined into each variant; the
   E-step's exp is fc_vexp_flush_g8 (arguments <= 0, exactly 0 below -708) */
FC_DEFINE_VMATH(fc_vd, fc_vi, fc_v8f, 8, __attribute__((always_inline)), _g8)
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

#if FC_GNU_VECTORS
FC_INLINE fc_vd fc_splat(double v) { fc_vd r = {v, v, v, v, v, v, v, v}; return r; }
FC_INLINE fc_vd fc_ld(const double *p) { return *(const fc_vd *)p; }
FC_INLINE void fc_st(double *p, fc_vd v) { *(fc_vd *)p = v; }
/* FC_HSUM8 of a vector passed by value: the accumulators themselves stay in
   registers (subscripting them in place makes GCC keep them in memory) */
FC_INLINE double fc_hsum(fc_vd v) { return FC_HSUM8(v); }
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
                m = fc_vsel_g8(v > m, v, m);
            }
            fc_vd t = fc_splat(0.0);
            for (int k = 0; k < K; k++) {
                fc_vd e = fc_vexp_flush_g8(fc_ld(LR + (size_t)k * FC_B + s) - m);
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

/* the chunk function of each variant, fc_gmm_chunk_body compiled for its target */
#define FC_GMM_VARIANT(ATTR, SFX)                                              \
ATTR static int fc_gmm_chunk##SFX(const fc_gmm_t *A, int64_t first, int64_t last, \
                                  double *nk, double *sx, double *sxx, double *sums) { \
    return fc_gmm_chunk_body(A, first, last, nk, sx, sxx, sums); }
FC_GMM_VARIANT(, _generic)
#if FC_X86
FC_GMM_VARIANT(FC_TARGET_AVX2, _avx2)
FC_GMM_VARIANT(FC_TARGET_AVX512, _avx512)
#endif
#endif  /* FC_GNU_VECTORS */

typedef struct {
    int (*chunk)(const fc_gmm_t *, int64_t, int64_t, double *, double *, double *, double *);
} fc_gmm_impl_t;

static const fc_gmm_impl_t fc_gmm_variants[FC_SIMD_N] = {
    {NULL},  /* no scalar variant */
#if FC_GNU_VECTORS
    {fc_gmm_chunk_generic},
#if FC_X86
    {fc_gmm_chunk_avx2},
    {fc_gmm_chunk_avx512},
#endif
#endif
};
/* the variant in use (none until the import selects one) */
static fc_gmm_impl_t fc_gmm = {NULL};
FC_DEFINE_SIMD_TABLE(fc_gmm_variants, fc_gmm, chunk)

/* One chunk of rows [first, last) with the current variant (see fc_gmm_chunk_body) */
static int fc_gmm_chunk(const fc_gmm_t *A, int64_t first, int64_t last,
                        double *nk, double *sx, double *sxx, double *sums) {
    return fc_gmm.chunk(A, first, last, nk, sx, sxx, sums); }

#endif /* FC_GMM_KERNELS_H */
