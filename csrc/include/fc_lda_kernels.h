/* fc_lda_kernels.h -- the LDA kernels of csrc/_lda.pyx: every variant
   instantiated, the table of variants and the entry points the Cython code
   calls (through the current variant's function pointers).

   Included by csrc/_lda.pyx only. Variants (numbering of fc_cpu.h):
   "scalar" (plain C, libm's exp and lgamma and the scalar digamma),
   "generic" (16-byte vectors), "avx2" (32-byte) and "avx512" (64-byte
   float64 vectors; the float32 sweeps keep the avx2 code, whose 8 lanes
   already cover the 8 partial sums). The vector variants also evaluate the
   special functions in vectors (fc_vec.h, fc_special.h) and return the same
   bits as each other; "scalar" differs from them by rounding only. */

#ifndef FC_LDA_KERNELS_H
#define FC_LDA_KERNELS_H

#include <Python.h>

#include "fc_cpu.h"
#include "fc_vec.h"
#include "fc_special.h"
#include "fc_lda_sweep.h"
#include "fc_lda_rows.h"

/* the scalar variant's row functions (no vector bound: the caller loops) */
#define fc_expdig_rowf32_scalar fc_expdig_row_f_scalar
#define fc_vbound_f_scalar NULL
#define fc_vbound_d_scalar NULL
#define fc_diglgam_row_scalar NULL
#define fc_vedir_f_scalar NULL
#define fc_vedir_d_scalar NULL

#if FC_GNU_VECTORS
/* one vector variant: the float64 math (VD: L doubles, VI, VFD: L floats),
   the float32 math (VF: LF floats, VIF), the float64 sweep (RED4D, see
   fc_lda_sweep.h) and every row */
#define FC_LDA_VARIANT(VD, VI, VFD, L, VF, VIF, LF, ATTR, SFX, RED4D)          \
FC_DEFINE_VMATH(VD, VI, VFD, L, ATTR, SFX)                                     \
FC_DEFINE_VLOG(VD, VI, L, ATTR, SFX)                                           \
FC_DEFINE_VSPECIAL(VD, VI, L, ATTR, SFX)                                       \
FC_DEFINE_VMATHF(VF, VIF, LF, ATTR, SFX)                                       \
FC_DEFINE_VSPECIALF(VF, LF, ATTR, SFX)                                         \
FC_DEFINE_SIMD(double, d, VD, L, ATTR, SFX, RED4D)                             \
FC_DEFINE_LDA_ROWS(VD, L, ATTR, SFX)                                           \
FC_DEFINE_ROWF32(VF, LF, ATTR, SFX)

FC_LDA_VARIANT(fc_v2d, fc_v2l, fc_v2f, 2, fc_v4f, fc_v4i, 4, , _generic, FC_RED4_LANES_D)
FC_DEFINE_SIMD(float, f, fc_v4f, 4, , _generic, FC_RED4_F4)
#if FC_X86
FC_LDA_VARIANT(fc_v4d, fc_v4l, fc_v4f, 4, fc_v8f, fc_v8i, 8, FC_TARGET_AVX2, _avx2, FC_RED4_D4)
FC_DEFINE_SIMD(float, f, fc_v8f, 8, FC_TARGET_AVX2, _avx2, FC_RED4_F8)
/* avx512: the float32 sweeps are avx2's (see FC_LDA_ENTRY below) */
FC_LDA_VARIANT(fc_v8d, fc_v8l, fc_v8f, 8, fc_v16f, fc_v16i, 16, FC_TARGET_AVX512, _avx512,
               FC_RED4_D8)
#endif /* FC_X86 */
#else  /* no vector extensions: the scalar versions are the generic ones */
#define fc_sweep_f_generic fc_sweep_f_scalar
#define fc_sweep_d_generic fc_sweep_d_scalar
#define fc_gather_f_generic fc_gather_f_scalar
#define fc_gather_d_generic fc_gather_d_scalar
#define fc_expdig_rowf32_generic fc_expdig_row_f_scalar
#define fc_expdig_row_d_generic fc_expdig_row_d_scalar
#define fc_exp_row_generic fc_exp_row_scalar
#define fc_vbound_f_generic NULL
#define fc_vbound_d_generic NULL
#define fc_diglgam_row_generic NULL
#define fc_vedir_f_generic NULL
#define fc_vedir_d_generic NULL
#endif /* FC_GNU_VECTORS */

/* one variant: its function pointers (NULL: the caller evaluates the row in
   scalar C itself) */
typedef struct {
    void (*sweep_f)(const float *, const float *const *, Py_ssize_t, Py_ssize_t,
                    const float *, float, float *, float *);
    void (*sweep_d)(const double *, const double *const *, Py_ssize_t, Py_ssize_t,
                    const double *, double, double *, double *);
    void (*gather_f)(const float *const *, const float *, Py_ssize_t, Py_ssize_t, float *);
    void (*gather_d)(const double *const *, const double *, Py_ssize_t, Py_ssize_t,
                     double *);
    void (*expdig_row_f)(const float *, float *, Py_ssize_t, double);
    void (*expdig_row_d)(const double *, double *, Py_ssize_t, double);
    void (*exp_row)(const double *, double *, Py_ssize_t);
    double (*vbound_f)(const float *, const float *, Py_ssize_t, double);
    double (*vbound_d)(const double *, const double *, Py_ssize_t, double);
    void (*diglgam_row)(const double *, double *, double *, Py_ssize_t);
    double (*vedir_f)(const float *, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      const double *, double, double, int, float *);
    double (*vedir_d)(const double *, Py_ssize_t, Py_ssize_t, Py_ssize_t, Py_ssize_t,
                      const double *, double, double, int, double *);
} fc_lda_impl_t;

/* the entry of a variant whose float32 sweeps have suffix F, float32 rows RF
   and everything else D */
#define FC_LDA_ENTRY(F, RF, D) {                                               \
    fc_sweep_f##F, fc_sweep_d##D, fc_gather_f##F, fc_gather_d##D,              \
    fc_expdig_rowf32##RF, fc_expdig_row_d##D, fc_exp_row##D, fc_vbound_f##D,   \
    fc_vbound_d##D, fc_diglgam_row##D, fc_vedir_f##D, fc_vedir_d##D }

static const fc_lda_impl_t fc_lda_variants[FC_SIMD_N] = {
    FC_LDA_ENTRY(_scalar, _scalar, _scalar),
    FC_LDA_ENTRY(_generic, _generic, _generic),
#if FC_X86
    FC_LDA_ENTRY(_avx2, _avx2, _avx2),
    FC_LDA_ENTRY(_avx2, _avx512, _avx512),
#endif
};
/* the variant in use (generic until the import selects one) */
static fc_lda_impl_t fc_lda = FC_LDA_ENTRY(_generic, _generic, _generic);
FC_DEFINE_SIMD_TABLE(fc_lda_variants, fc_lda, sweep_d)

static inline void fc_doc_sweep_f(const float *cnt, const float **rows, Py_ssize_t n,
        Py_ssize_t K, const float *etheta, float eps, float *coef, float *acc) {
    fc_lda.sweep_f(cnt, rows, n, K, etheta, eps, coef, acc);
}
static inline void fc_doc_sweep_d(const double *cnt, const double **rows, Py_ssize_t n,
        Py_ssize_t K, const double *etheta, double eps, double *coef, double *acc) {
    fc_lda.sweep_d(cnt, rows, n, K, etheta, eps, coef, acc);
}
static inline void fc_gather_f(const float **rows, const float *coef, Py_ssize_t n,
                               Py_ssize_t K, float *acc) {
    fc_lda.gather_f(rows, coef, n, K, acc);
}
static inline void fc_gather_d(const double **rows, const double *coef, Py_ssize_t n,
                               Py_ssize_t K, double *acc) {
    fc_lda.gather_d(rows, coef, n, K, acc);
}
static inline void fc_expdig_row_f(const float *g, float *out, Py_ssize_t n, double total) {
    fc_lda.expdig_row_f(g, out, n, total);
}
static inline void fc_expdig_row_d(const double *g, double *out, Py_ssize_t n, double total) {
    fc_lda.expdig_row_d(g, out, n, total);
}
static inline void fc_exp_row(const double *x, double *out, Py_ssize_t n) {
    fc_lda.exp_row(x, out, n);
}
/* 0 when the variant has no vector bound (scalar): the caller loops itself */
static inline int fc_bound_f(const float *alpha, const float *g, Py_ssize_t n,
                             double psi_total, double *out) {
    if (!fc_lda.vbound_f) return 0;
    *out = fc_lda.vbound_f(alpha, g, n, psi_total);
    return 1;
}
static inline int fc_bound_d(const double *alpha, const double *g, Py_ssize_t n,
                             double psi_total, double *out) {
    if (!fc_lda.vbound_d) return 0;
    *out = fc_lda.vbound_d(alpha, g, n, psi_total);
    return 1;
}
static inline int fc_edir_f(const float *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0,
        Py_ssize_t w1, const double *pt, double eta, double lg_eta, int cb, float *out,
        double *bound) {
    if (!fc_lda.vedir_f) return 0;
    *bound = fc_lda.vedir_f(lam, V, K, w0, w1, pt, eta, lg_eta, cb, out);
    return 1;
}
static inline int fc_edir_d(const double *lam, Py_ssize_t V, Py_ssize_t K, Py_ssize_t w0,
        Py_ssize_t w1, const double *pt, double eta, double lg_eta, int cb, double *out,
        double *bound) {
    if (!fc_lda.vedir_d) return 0;
    *bound = fc_lda.vedir_d(lam, V, K, w0, w1, pt, eta, lg_eta, cb, out);
    return 1;
}
static inline int fc_diglgam_row(const double *x, double *psi, double *lgam, Py_ssize_t n) {
    if (!fc_lda.diglgam_row) return 0;
    fc_lda.diglgam_row(x, psi, lgam, n);
    return 1;
}

#endif /* FC_LDA_KERNELS_H */
