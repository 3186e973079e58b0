/* fc_lda_rows.h -- the LDA kernels' rows of special functions: exp(psi)
   of a gamma row, the per-document bound terms, the rows of exp(E[log beta])
   with their bound terms, and the row functions the tests call through
   _vector_math (exp, psi and lgamma).

   Included by fc_lda_kernels.h, which expands the vector macros once per
   variant (they use fc_vec.h's and fc_special.h's functions of the same
   SFX). The vector variants return the same bits as each other; they differ
   from "scalar" (libm exp and lgamma, scalar digamma) by rounding only. */

#ifndef FC_LDA_ROWS_H
#define FC_LDA_ROWS_H

#include <Python.h>
#include <math.h>
#include <string.h>

#include "fc_special.h"

/* out[k] = (T)(exp(psi(g[k])) * scale), scale = 1 / exp(psi(total)) (1 if
   total <= 0), in scalar C */
#define FC_DEFINE_EXPDIG_SCALAR(T, S)                                          \
static void fc_expdig_row_##S##_scalar(const T *g, T *out, Py_ssize_t n,       \
                                     double total) {                           \
    Py_ssize_t k;                                                              \
    double scale = total > 0 ? 1.0 / fc_exp_digamma(total) : 1.0;              \
    for (k = 0; k < n; ++k) out[k] = (T)(fc_exp_digamma((double)g[k]) * scale); \
}
FC_DEFINE_EXPDIG_SCALAR(float, f)
FC_DEFINE_EXPDIG_SCALAR(double, d)
static void fc_exp_row_scalar(const double *x, double *out, Py_ssize_t n) {
    Py_ssize_t k;
    for (k = 0; k < n; ++k) out[k] = exp(x[k]);
}

#if FC_GNU_VECTORS
/* out[k] = (T)(exp(psi(g[k])) * scale), g[k] widened to double, scale =
   1 / exp(psi(total)) (1 if total <= 0). exp(psi(total)) is computed in the
   last, partial vector together with the n mod L tail (lane n mod L), then
   two vectors per step (independent dependency chains), then one. */
#define FC_DEFINE_VROW(T, S, VD, L, ATTR, SFX)                                 \
ATTR static void fc_expdig_row_##S##SFX(const T *g, T *out, Py_ssize_t n,      \
                                        double total) {                        \
    Py_ssize_t k = 0, kt = n - n % L;                                          \
    double buf[L], scale = 1.0;                                                \
    VD a, b;                                                                   \
    int l, r = (int)(n - kt);                                                  \
    for (l = 0; l < L; ++l) buf[l] = l < r ? (double)g[kt + l] : l == r ? total : 1.0; \
    memcpy(&a, buf, sizeof a);                                                 \
    a = fc_vexpdig##SFX(a);                                                    \
    memcpy(buf, &a, sizeof a);                                                 \
    if (total > 0) scale = 1.0 / buf[r];                                       \
    for (l = 0; l < r; ++l) out[kt + l] = (T)(buf[l] * scale);                 \
    for (; k + 2 * L <= kt; k += 2 * L) {                                      \
        a = fc_vld_##S##SFX(g + k);                                            \
        b = fc_vld_##S##SFX(g + k + L);                                        \
        a = fc_vexpdig##SFX(a) * scale;                                        \
        b = fc_vexpdig##SFX(b) * scale;                                        \
        fc_vst_##S##SFX(out + k, a);                                           \
        fc_vst_##S##SFX(out + k + L, b);                                       \
    }                                                                          \
    for (; k < kt; k += L)                                                     \
        fc_vst_##S##SFX(out + k, fc_vexpdig##SFX(fc_vld_##S##SFX(g + k)) * scale); \
}

#define FC_DEFINE_VBOUND(T, S, VD, L, ATTR, SFX)                               \
/* sum_k (alpha_k - g_k) (psi(g_k) - psi_total) + lgamma(g_k) in float64: the  \
   terms of 8 consecutive topics go to 8 partial sums (lane l takes k = l mod  \
   8, whatever L is), combined as in dot; then the n mod 8 tail in order. */   \
ATTR static double fc_vbound_##S##SFX(const T *alpha, const T *g, Py_ssize_t n, \
                                       double psi_total) {                     \
    VD part[8 / L], a, x, ps, lg;                                              \
    double lane[8];                                                            \
    T buf[2][L];                                                               \
    Py_ssize_t k = 0;                                                          \
    int i, l;                                                                  \
    for (i = 0; i < 8 / L; ++i) part[i] = (VD){0};                             \
    for (; k + 8 <= n; k += 8)                                                 \
        for (i = 0; i < 8 / L; ++i) {                                          \
            a = fc_vld_##S##SFX(alpha + k + i * L);                            \
            x = fc_vld_##S##SFX(g + k + i * L);                                \
            fc_vdiglgam##SFX(x, &ps, &lg);                                     \
            part[i] += (a - x) * (ps - psi_total) + lg;                        \
        }                                                                      \
    memcpy(lane, part, sizeof lane);                                           \
    double s = FC_HSUM8(lane);                                                 \
    for (; k < n; k += L) {                                                    \
        for (l = 0; l < L; ++l) {                                              \
            buf[0][l] = k + l < n ? alpha[k + l] : (T)0;                       \
            buf[1][l] = k + l < n ? g[k + l] : (T)1;                           \
        }                                                                      \
        a = fc_vld_##S##SFX(buf[0]);                                           \
        x = fc_vld_##S##SFX(buf[1]);                                           \
        fc_vdiglgam##SFX(x, &ps, &lg);                                         \
        a = (a - x) * (ps - psi_total) + lg;                                   \
        memcpy(lane, &a, sizeof a);                                            \
        for (l = 0; l < L && k + l < n; ++l) s += lane[l];                     \
    }                                                                          \
    return s;                                                                  \
}

/* Rows w0..w1-1 of out = exp(E[log beta]).T (see _exp_dirichlet_block): for each
   topic k, words in vectors along lam's row; returns the bound terms
   sum (eta - l) (psi(l) - psi_total_k) + lgamma(l) - lgamma(eta), with words
   w0 + 8i + l going to partial sum l (whatever L is) and the (w1 - w0) mod 8
   last words of each topic added in order to a separate sum. */
#define FC_DEFINE_VEDIR(T, S, VD, L, ATTR, SFX)                                \
ATTR static double fc_vedir_##S##SFX(const T *lam, Py_ssize_t n_words, Py_ssize_t K, \
        Py_ssize_t w0, Py_ssize_t w1, const double *psi_total, double eta,     \
        double lg_eta, int compute_bound, T *out) {                            \
    VD part[8 / L], x, ps, lg, el, e, term;                                    \
    double lane[8], buf[3][L], tail = 0.0;                                     \
    Py_ssize_t k, w, w8 = w0 + (w1 - w0) / 8 * 8;                              \
    int i, l;                                                                  \
    for (i = 0; i < 8 / L; ++i) part[i] = (VD){0};                             \
    for (k = 0; k < K; ++k) {                                                  \
        const T *row = lam + k * n_words;                                      \
        const double pt = psi_total[k];                                        \
        for (w = w0; w < w1; w += L) {                                         \
            for (l = 0; l < L; ++l) buf[0][l] = w + l < w1 ? (double)row[w + l] : 1.0; \
            memcpy(&x, buf[0], sizeof x);                                      \
            fc_vdiglgam##SFX(x, &ps, &lg);                                     \
            el = ps - pt;                                                      \
            e = fc_vexp##SFX(el);                                              \
            term = ((eta - x) * el + lg) - lg_eta;                             \
            memcpy(buf[1], &e, sizeof e);                                      \
            memcpy(buf[2], &term, sizeof term);                                \
            for (l = 0; l < L && w + l < w1; ++l) out[(w + l) * K + k] = (T)buf[1][l]; \
            if (compute_bound) {                                               \
                if (w + L <= w8) {                                             \
                    part[((w - w0) % 8) / L] += term;                          \
                } else {                                                       \
                    for (l = 0; l < L && w + l < w1; ++l) tail += buf[2][l];   \
                }                                                              \
            }                                                                  \
        }                                                                      \
    }                                                                          \
    memcpy(lane, part, sizeof lane);                                           \
    return FC_HSUM8(lane) + tail;                                              \
}

/* the float32 row of exp(psi(g)) * scale in float32 lanes (fc_vexpdigf) */
#define FC_DEFINE_ROWF32(VF, L, ATTR, SFX)                                     \
ATTR static void fc_expdig_rowf32##SFX(const float *g, float *out, Py_ssize_t n, \
                                       double total) {                         \
    Py_ssize_t k = 0, l;                                                       \
    float buf[L];                                                              \
    const float scale = total > 0 ? (float)(1.0 / fc_exp_digamma(total)) : 1.0f; \
    VF v;                                                                      \
    for (; k + L <= n; k += L) {                                               \
        memcpy(&v, g + k, sizeof v);                                           \
        v = fc_vexpdigf##SFX(v) * scale;                                       \
        memcpy(out + k, &v, sizeof v);                                         \
    }                                                                          \
    if (k < n) {                                                               \
        for (l = 0; l < L; ++l) buf[l] = k + l < n ? g[k + l] : 1.0f;          \
        memcpy(&v, buf, sizeof v);                                             \
        v = fc_vexpdigf##SFX(v) * scale;                                       \
        memcpy(buf, &v, sizeof v);                                             \
        for (l = 0; k + l < n; ++l) out[k + l] = buf[l];                       \
    }                                                                          \
}

/* every float64-vector row of one variant: exp(psi) rows (float64 data), the
   bound terms (both dtypes), exp(E[log beta]) rows (both dtypes), and the
   rows of exp and of psi and lgamma for _vector_math */
#define FC_DEFINE_LDA_ROWS(VD, L, ATTR, SFX)                                   \
FC_DEFINE_VROW(double, d, VD, L, ATTR, SFX)                                    \
FC_DEFINE_VBOUND(double, d, VD, L, ATTR, SFX)                                  \
FC_DEFINE_VBOUND(float, f, VD, L, ATTR, SFX)                                   \
FC_DEFINE_VEDIR(double, d, VD, L, ATTR, SFX)                                   \
FC_DEFINE_VEDIR(float, f, VD, L, ATTR, SFX)                                    \
ATTR static void fc_exp_row##SFX(const double *x, double *out, Py_ssize_t n) { \
    Py_ssize_t k = 0;                                                          \
    double buf[L];                                                             \
    VD v;                                                                      \
    int l;                                                                     \
    for (; k < n; k += L) {                                                    \
        for (l = 0; l < L; ++l) buf[l] = k + l < n ? x[k + l] : 0.0;           \
        memcpy(&v, buf, sizeof v);                                             \
        v = fc_vexp##SFX(v);                                                   \
        memcpy(buf, &v, sizeof v);                                             \
        for (l = 0; l < L && k + l < n; ++l) out[k + l] = buf[l];              \
    }                                                                          \
}                                                                              \
ATTR static void fc_diglgam_row##SFX(const double *x, double *psi, double *lgam, \
                                     Py_ssize_t n) {                           \
    Py_ssize_t k = 0;                                                          \
    double buf[3][L];                                                          \
    VD v, p, q;                                                                \
    int l;                                                                     \
    for (; k < n; k += L) {                                                    \
        for (l = 0; l < L; ++l) buf[0][l] = k + l < n ? x[k + l] : 1.0;        \
        memcpy(&v, buf[0], sizeof v);                                          \
        fc_vdiglgam##SFX(v, &p, &q);                                           \
        memcpy(buf[1], &p, sizeof p);                                          \
        memcpy(buf[2], &q, sizeof q);                                          \
        for (l = 0; l < L && k + l < n; ++l) { psi[k + l] = buf[1][l]; lgam[k + l] = buf[2][l]; } \
    }                                                                          \
}
#endif /* FC_GNU_VECTORS */

#endif /* FC_LDA_ROWS_H */
