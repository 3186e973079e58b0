/* fc_vec.h -- elementwise float64/float32 math on GCC/Clang vectors: the
   vector types of every width, select, exp and log.

   Included by fc_special.h and the kernel headers (fc_lda_kernels.h). The
   functions are macros over the vector type, expanded once per variant by the
   including header (SFX names the instance, ATTR is its target attribute):
   each lane performs the same IEEE operations whatever the number of lanes L,
   so all instances return the same bits, and they differ from libm by about
   1 ulp.

   No division in fc_vexp and short dependency chains (Estrin's scheme), since
   these run latency-bound on rows of ~50 topics. */

#ifndef FC_VEC_H
#define FC_VEC_H

#include <string.h>

#include "fc_cpu.h"

#if FC_GNU_VECTORS
/* fc_v<lanes><type>: d double, l long long, f float, i int */
typedef double fc_v2d __attribute__((vector_size(16)));
typedef long long fc_v2l __attribute__((vector_size(16)));
typedef float fc_v2f __attribute__((vector_size(8)));
typedef float fc_v4f __attribute__((vector_size(16)));
typedef int fc_v4i __attribute__((vector_size(16)));
typedef double fc_v4d __attribute__((vector_size(32)));
typedef long long fc_v4l __attribute__((vector_size(32)));
typedef float fc_v8f __attribute__((vector_size(32)));
typedef int fc_v8i __attribute__((vector_size(32)));
typedef double fc_v8d __attribute__((vector_size(64)));
typedef long long fc_v8l __attribute__((vector_size(64)));
typedef float fc_v16f __attribute__((vector_size(64)));
typedef int fc_v16i __attribute__((vector_size(64)));

/* Float64 vectors VD of L lanes, VI the signed 64-bit integer vector and VF
   the float vector of L lanes.

   fc_vsel(m, a, b): a where the mask m is set, else b.
   fc_vexp: n = round(x / ln 2) (by the 1.5 * 2^52 shifter), r = x - n ln 2
   in two parts as in Cephes (n * C1 exact), |r| <= 0.347, exp(r) = 1 + (r
   + r^2 q(r)) with q the Taylor series to r^11 / 13! (truncation 4e-18),
   times 2^n as two factors 2^(n>>1) 2^(n-(n>>1)), so that results in the
   subnormal range round once, x >= 710 gives inf, x <= -746 gives 0 and
   NaN gives NaN. Error <= 1 ulp against numpy's exp (tested).
   fc_vld_d/fc_vst_d, fc_vld_f/fc_vst_f: L doubles, or L floats widened to
   double (narrowed on store), from/to unaligned memory. */
#define FC_DEFINE_VMATH(VD, VI, VF, L, ATTR, SFX) \
ATTR static inline VD fc_vsel##SFX(VI m, VD a, VD b) { \
    return (VD)(((VI)a & m) | ((VI)b & ~m)); } \
ATTR static inline VD fc_vexp##SFX(VD x) { \
    const VD zero = {0}; \
    const VD shifter = zero + 6755399441055744.0;  /* 1.5 * 2^52 */ \
    VD kd, n, r, r2, r4, q; \
    VI ni, n1, n2; \
    x = fc_vsel##SFX(x < -746.0, zero - 746.0, x); \
    x = fc_vsel##SFX(x > 710.0, zero + 710.0, x); \
    kd = x * 1.4426950408889634 + shifter; \
    n = kd - shifter; \
    ni = (VI)kd - (VI)shifter; \
    r = x - n * 6.93145751953125E-1; \
    r = r - n * 1.42860682030941723212E-6; \
    r2 = r * r; \
    r4 = r2 * r2; \
    /* q = sum_{k=0..11} r^k / (k+2)!, Estrin */ \
    q = ((1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120))) \
        + r4 * (((1.0 / 720 + r * (1.0 / 5040)) + r2 * (1.0 / 40320 + r * (1.0 / 362880))) \
                + r4 * ((1.0 / 3628800 + r * (1.0 / 39916800)) \
                        + r2 * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))); \
    n1 = ni >> 1; \
    n2 = ni - n1; \
    return (1.0 + (r + r2 * q)) * (VD)((n1 + 1023) << 52) * (VD)((n2 + 1023) << 52); \
} \
ATTR static inline VD fc_vld_d##SFX(const double *p) { \
    VD v; memcpy(&v, p, sizeof v); return v; } \
ATTR static inline void fc_vst_d##SFX(double *p, VD v) { \
    memcpy(p, &v, sizeof v); } \
ATTR static inline VD fc_vld_f##SFX(const float *p) { \
    VF v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, VD); } \
ATTR static inline void fc_vst_f##SFX(float *p, VD v) { \
    VF f = __builtin_convertvector(v, VF); memcpy(p, &f, sizeof f); }

/* fc_vlog: log(y) for normal y > 0 (callers pass y >= 6 or masked lanes):
   y = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) /
   (m + 1), |s| <= 0.1716, series to s^21 (truncation < 1e-18), e ln 2 in two
   parts. fc_vany(m): 1 if any lane of the mask m is set. */
#define FC_DEFINE_VLOG(VD, VI, L, ATTR, SFX) \
ATTR static inline VD fc_vlog##SFX(VD y) { \
    const VD zero = {0}; \
    const VD shifter = zero + 6755399441055744.0; \
    VI bits = (VI)y, e, big; \
    VD m, ed, f, s, w, w2, w4, p; \
    e = (bits >> 52) - 1023; \
    m = (VD)((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL); \
    big = m > 1.4142135623730951; \
    m = fc_vsel##SFX(big, m * 0.5, m); \
    e = e - big; \
    ed = (VD)(e + (VI)shifter) - shifter; \
    f = m - 1.0; \
    s = f / (m + 1.0); \
    w = s * s; w2 = w * w; w4 = w2 * w2; \
    p = ((1.0 / 3 + w * (1.0 / 5)) + w2 * (1.0 / 7 + w * (1.0 / 9))) \
        + w4 * (((1.0 / 11 + w * (1.0 / 13)) + w2 * (1.0 / 15 + w * (1.0 / 17))) \
                + w4 * (1.0 / 19 + w * (1.0 / 21))); \
    return ed * 6.93145751953125E-1 \
           + (((s + s) + (s + s) * (w * p)) + ed * 1.42860682030941723212E-6); \
} \
ATTR static inline int fc_vany##SFX(VI m) { \
    long long a = 0; \
    int l; \
    for (l = 0; l < L; ++l) a |= m[l]; \
    return a != 0; \
}

/* Float32 vectors VF of L lanes, VIF the int32 vector of L lanes.
   fc_vexpf: exp by round(v / ln 2) and the Taylor polynomial of exp(r) to
   r^7, |r| <= 0.347 (truncation < 6e-9), times 2^n as two factors; v < -104
   gives 0 (FTZ), v > 88 is clamped. */
#define FC_DEFINE_VMATHF(VF, VIF, L, ATTR, SFX) \
ATTR static inline VF fc_vself##SFX(VIF m, VF a, VF b) { \
    return (VF)(((VIF)a & m) | ((VIF)b & ~m)); } \
ATTR static inline VF fc_vexpf##SFX(VF x) { \
    const VF zero = {0}; \
    const VF shifter = zero + 12582912.0f;  /* 1.5 * 2^23 */ \
    VF kd, n, r, r2, r4, q; \
    VIF ni, n1, n2; \
    x = fc_vself##SFX(x < -104.0f, zero - 104.0f, x); \
    x = fc_vself##SFX(x > 88.0f, zero + 88.0f, x); \
    kd = x * 1.44269504f + shifter; \
    n = kd - shifter; \
    ni = (VIF)kd - (VIF)shifter; \
    r = x - n * 0.693359375f; \
    r = r - n * -2.12194440e-4f; \
    r2 = r * r; \
    r4 = r2 * r2; \
    /* q = sum_{k=0..5} r^k / (k+2)!, Estrin */ \
    q = ((0.5f + r * (1.0f / 6)) + r2 * (1.0f / 24 + r * (1.0f / 120))) \
        + r4 * (1.0f / 720 + r * (1.0f / 5040)); \
    n1 = ni >> 1; \
    n2 = ni - n1; \
    return (1.0f + (r + r2 * q)) * (VF)((n1 + 127) << 23) * (VF)((n2 + 127) << 23); \
}
#endif /* FC_GNU_VECTORS */

#endif /* FC_VEC_H */
