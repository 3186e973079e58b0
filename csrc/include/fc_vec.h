/* fc_vec.h -- the pieces of vector arithmetic every family shares: the fixed
   order of a sum of 8 partial sums, the vector types of every width, select,
   exp (float64 and float32) and log.

   Included by fc_special.h and the kernel headers: fc_lda_kernels.h (all of
   it), fc_gmm_kernels.h (FC_HSUM8, select and exp) and
   fc_spikeslab_kernels.h (FC_HSUM8). The vector functions are macros over
   the vector type, expanded once per variant by the including header (SFX
   names the instance, ATTR is its target or inline attribute): each lane
   performs the same IEEE operations whatever the number of lanes L, so every
   instance returns the same bits; they differ from libm by about 1 ulp.

   No division in the exps and short dependency chains (Estrin's scheme),
   since they run latency-bound on rows of ~50 topics. */

#ifndef FC_VEC_H
#define FC_VEC_H

#include <string.h>

#include "fc_cpu.h"

/* The sum of 8 partial sums p[0..7] (an array or a vector), in the one order
   every kernel uses: ((p0+p4)+(p2+p6))+((p1+p5)+(p3+p7)), the order of
   halving a vector of 8 lanes twice. Give it an array, or a vector passed by
   value to an inline function (gmm's fc_hsum): subscripting a vector
   accumulator in place makes GCC keep it in memory in the loop that updates
   it (the gmm E-step ran up to 1.5x slower). */
#define FC_HSUM8(p)                                                            \
    ((((p)[0] + (p)[4]) + ((p)[2] + (p)[6])) + (((p)[1] + (p)[5]) + ((p)[3] + (p)[7])))

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

/* fc_comb4_<S>(a, b, c, d): FC_HSUM8 of four words at once, from their
   halved partial sums h = [l0+l4, l1+l5, l2+l6, l3+l7] (4-lane vectors V):
   lane w of the result is (h0+h2)+(h1+h3) of the w-th argument. */
#define FC_DEFINE_COMB4(V, ATTR, S)                                            \
ATTR static inline V fc_comb4_##S(V a, V b, V c, V d) {                        \
    V x = __builtin_shufflevector(a, b, 0, 1, 4, 5) + __builtin_shufflevector(a, b, 2, 3, 6, 7); \
    V y = __builtin_shufflevector(c, d, 0, 1, 4, 5) + __builtin_shufflevector(c, d, 2, 3, 6, 7); \
    return __builtin_shufflevector(x, y, 0, 2, 4, 6) + __builtin_shufflevector(x, y, 1, 3, 5, 7); \
}
FC_DEFINE_COMB4(fc_v4f, , f)
#if FC_X86
FC_DEFINE_COMB4(fc_v4d, FC_TARGET_AVX2, d)
#endif

/* exp(x) = 2^n exp(r), the scheme of both precisions: n = round(x log2 e)
   by adding and subtracting SHIFTER (1.5 * 2^52, or 2^23 in float32), NI its
   integer value (from the bits), r = (x - n C1) - n C2 with C1 + C2 = ln 2
   in two parts as in Cephes (n C1 exact), |r| <= 0.347. */
#define FC_EXP_REDUCE(VI, x, SHIFTER, LOG2E, C1, C2, n, ni, r) do {            \
    __typeof__(x) kd_ = (x) * (LOG2E) + (SHIFTER);                             \
    n = kd_ - (SHIFTER);                                                       \
    ni = (VI)kd_ - (VI)(SHIFTER);                                              \
    r = (x) - n * (C1);                                                        \
    r = r - n * (C2);                                                          \
} while (0)
/* p 2^ni as two factors 2^(ni>>1) 2^(ni-(ni>>1)) (of exponent bias BIAS and
   MANT mantissa bits), so that results in the subnormal range round once */
#define FC_EXP_SCALE2(V, p, ni, BIAS, MANT)                                    \
    ((p) * (V)((((ni) >> 1) + (BIAS)) << (MANT)) * (V)((((ni) - ((ni) >> 1)) + (BIAS)) << (MANT)))

/* Float64 vectors VD of L lanes, VI the signed 64-bit integer vector and VF
   the float vector of L lanes.

   fc_vsel(m, a, b): a where the mask m is set, else b.
   fc_vexp_core(x, &ni): exp(r) = 1 + (r + r^2 q(r)), q the Taylor series to
   r^11 / 13! (truncation 4e-18), and ni = n (FC_EXP_REDUCE); needs |x| <= 746.
   fc_vexp: exp(x) for every x: 2^n in two factors, x >= 710 gives inf,
   x <= -746 gives 0 and NaN gives NaN. Error <= 1 ulp against numpy's exp
   (tested).
   fc_vexp_flush: exp(x) for x <= 708 (the GMM's x <= 0), exactly 0 below
   -708 (where exp(x) < 3.3e-308): no subnormal is formed, 2^n in one factor;
   the same bits as fc_vexp for -708 <= x <= 708.
   fc_vld_d/fc_vst_d, fc_vld_f/fc_vst_f: L doubles, or L floats widened to
   double (narrowed on store), from/to unaligned memory. */
#define FC_DEFINE_VMATH(VD, VI, VF, L, ATTR, SFX)                              \
ATTR static inline VD fc_vsel##SFX(VI m, VD a, VD b) {                         \
    return (VD)(((VI)a & m) | ((VI)b & ~m)); }                                 \
ATTR static inline VD fc_vexp_core##SFX(VD x, VI *ni) {                        \
    const VD shifter = (VD){0} + 6755399441055744.0;                           \
    VD n, r, r2, r4, q;                                                        \
    FC_EXP_REDUCE(VI, x, shifter, 1.4426950408889634, 6.93145751953125E-1,     \
                  1.42860682030941723212E-6, n, *ni, r);                       \
    r2 = r * r;                                                                \
    r4 = r2 * r2;                                                              \
    /* q = sum_{k=0..11} r^k / (k+2)!, Estrin */                               \
    q = ((1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)))        \
        + r4 * (((1.0 / 720 + r * (1.0 / 5040)) + r2 * (1.0 / 40320 + r * (1.0 / 362880))) \
                + r4 * ((1.0 / 3628800 + r * (1.0 / 39916800))                 \
                        + r2 * (1.0 / 479001600 + r * (1.0 / 6227020800.0)))); \
    return 1.0 + (r + r2 * q);                                                 \
}                                                                              \
ATTR static inline VD fc_vexp##SFX(VD x) {                                     \
    const VD zero = {0};                                                       \
    VI ni;                                                                     \
    x = fc_vsel##SFX(x < -746.0, zero - 746.0, x);                             \
    x = fc_vsel##SFX(x > 710.0, zero + 710.0, x);                              \
    VD p = fc_vexp_core##SFX(x, &ni);                                          \
    return FC_EXP_SCALE2(VD, p, ni, 1023, 52);                                 \
}                                                                              \
ATTR static inline VD fc_vexp_flush##SFX(VD x) {                               \
    const VI under = x < -708.0;                                               \
    VI ni;                                                                     \
    VD p = fc_vexp_core##SFX(fc_vsel##SFX(under, (VD){0} - 708.0, x), &ni);    \
    return (VD)((VI)(p * (VD)((ni + 1023) << 52)) & ~under);                   \
}                                                                              \
ATTR static inline VD fc_vld_d##SFX(const double *p) {                         \
    VD v; memcpy(&v, p, sizeof v); return v; }                                 \
ATTR static inline void fc_vst_d##SFX(double *p, VD v) {                       \
    memcpy(p, &v, sizeof v); }                                                 \
ATTR static inline VD fc_vld_f##SFX(const float *p) {                          \
    VF v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, VD); }    \
ATTR static inline void fc_vst_f##SFX(float *p, VD v) {                        \
    VF f = __builtin_convertvector(v, VF); memcpy(p, &f, sizeof f); }

/* fc_vlog: log(y) for normal y > 0 (callers pass y >= 6 or masked lanes):
   y = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) /
   (m + 1), |s| <= 0.1716, series to s^21 (truncation < 1e-18), e ln 2 in two
   parts. fc_vany(m): 1 if any lane of the mask m is set. */
#define FC_DEFINE_VLOG(VD, VI, L, ATTR, SFX)                                   \
ATTR static inline VD fc_vlog##SFX(VD y) {                                     \
    const VD zero = {0};                                                       \
    const VD shifter = zero + 6755399441055744.0;                              \
    VI bits = (VI)y, e, big;                                                   \
    VD m, ed, f, s, w, w2, w4, p;                                              \
    e = (bits >> 52) - 1023;                                                   \
    m = (VD)((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);            \
    big = m > 1.4142135623730951;                                              \
    m = fc_vsel##SFX(big, m * 0.5, m);                                         \
    e = e - big;                                                               \
    ed = (VD)(e + (VI)shifter) - shifter;                                      \
    f = m - 1.0;                                                               \
    s = f / (m + 1.0);                                                         \
    w = s * s; w2 = w * w; w4 = w2 * w2;                                       \
    p = ((1.0 / 3 + w * (1.0 / 5)) + w2 * (1.0 / 7 + w * (1.0 / 9)))           \
        + w4 * (((1.0 / 11 + w * (1.0 / 13)) + w2 * (1.0 / 15 + w * (1.0 / 17))) \
                + w4 * (1.0 / 19 + w * (1.0 / 21)));                           \
    return ed * 6.93145751953125E-1                                            \
           + (((s + s) + (s + s) * (w * p)) + ed * 1.42860682030941723212E-6); \
}                                                                              \
ATTR static inline int fc_vany##SFX(VI m) {                                    \
    long long a = 0;                                                           \
    int l;                                                                     \
    for (l = 0; l < L; ++l) a |= m[l];                                         \
    return a != 0;                                                             \
}

/* Float32 vectors VF of L lanes, VIF the int32 vector of L lanes.
   fc_vexpf: exp by FC_EXP_REDUCE in float32 and the Taylor polynomial of
   exp(r) to r^7 (truncation < 6e-9), times 2^n as two factors; v < -104
   gives 0 (FTZ), v > 88 is clamped. */
#define FC_DEFINE_VMATHF(VF, VIF, L, ATTR, SFX)                                \
ATTR static inline VF fc_vself##SFX(VIF m, VF a, VF b) {                       \
    return (VF)(((VIF)a & m) | ((VIF)b & ~m)); }                               \
ATTR static inline VF fc_vexpf##SFX(VF x) {                                    \
    const VF zero = {0};                                                       \
    const VF shifter = zero + 12582912.0f;  /* 1.5 * 2^23 */                   \
    VF n, r, r2, r4, q;                                                        \
    VIF ni;                                                                    \
    x = fc_vself##SFX(x < -104.0f, zero - 104.0f, x);                          \
    x = fc_vself##SFX(x > 88.0f, zero + 88.0f, x);                             \
    FC_EXP_REDUCE(VIF, x, shifter, 1.44269504f, 0.693359375f, -2.12194440e-4f, n, ni, r); \
    r2 = r * r;                                                                \
    r4 = r2 * r2;                                                              \
    /* q = sum_{k=0..5} r^k / (k+2)!, Estrin */                                \
    q = ((0.5f + r * (1.0f / 6)) + r2 * (1.0f / 24 + r * (1.0f / 120)))        \
        + r4 * (1.0f / 720 + r * (1.0f / 5040));                               \
    return FC_EXP_SCALE2(VF, 1.0f + (r + r2 * q), ni, 127, 23);                \
}
#endif /* FC_GNU_VECTORS */

#endif /* FC_VEC_H */
