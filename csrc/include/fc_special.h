/* fc_special.h -- digamma, lgamma and exp(digamma), scalar and in vectors.

   Included by the LDA kernel headers (fc_lda_rows.h, fc_lda_kernels.h); the
   other families have no special functions. The scalar functions are plain
   C; the vector ones are macros over the vector type (see fc_vec.h),
   expanded once per variant by fc_lda_kernels.h, each lane performing the
   same IEEE operations whatever the number of lanes.

   The algorithm is that of fastcavi/kernels/special.py: near the positive
   root x0 of psi a Taylor series in t = x - x0 (24 coefficients
   (-1)^(n+1) zeta(n+1, x0), filled into fc_psi_taylor at import by
   csrc/_lda.pyx), elsewhere the recurrence psi(x) = psi(x + n) -
   sum_{i<n} 1/(x+i) up to y = x + n >= 6 (n = 6 in vectors) and the
   asymptotic (Bernoulli) series of psi and Stirling's series of lgamma in y,
   both to y^-20 (Abramowitz and Stegun 6.3.18, 6.1.40). exp(psi(x)) =
   y exp(-sum_{i<6} 1/(x+i) - 1/(2y) - tail(y)), y = x + 6, takes one exp and
   no log. */

#ifndef FC_SPECIAL_H
#define FC_SPECIAL_H

#include <math.h>

#include "fc_vec.h"

/* lgamma writes the global signgam in glibc/BSD libms (a data race under
   OpenMP); the reentrant variant does not. */
#if defined(__APPLE__)
extern double lgamma_r(double, int *);
#endif
#if defined(__GLIBC__) || defined(__APPLE__) || defined(__FreeBSD__)           \
    || defined(__NetBSD__) || defined(__OpenBSD__)
static inline double fc_lgamma(double x) { int sign; return lgamma_r(x, &sign); }
#else
static inline double fc_lgamma(double x) { return lgamma(x); }
#endif

/* psi near its positive root x0 = hi + lo (a double-double): the Taylor
   series in t = x - x0 with coefficients (-1)^(n+1) zeta(n+1, x0), n = 1..24,
   filled into fc_psi_taylor at import by csrc/_lda.pyx (with
   scipy.special.zeta, as fastcavi.kernels.special.PSI_ROOT_TAYLOR), used
   for |t| < FC_PSI_ROOT_RADIUS */
#define FC_N_TAYLOR 24
#define FC_PSI_ROOT_RADIUS 0.25
static double fc_psi_taylor[FC_N_TAYLOR];
static const double fc_psi_root_hi = 1.4616321449683622;
static const double fc_psi_root_lo = 9.549995429965697e-17;

/* sum_{k=1..10} B_2k / (2k x^2k) with z = 1/x^2, Horner (error < 3e-15 at
   x >= 6) */
static inline double fc_asym_tail(double z) {
    return z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (
        1.0 / 132 - z * (691.0 / 32760 - z * (1.0 / 12 - z * (3617.0 / 8160 - z * (
            43867.0 / 14364 - z * (174611.0 / 6600))))))))));
}

/* psi(x) in float64, the algorithm of fastcavi.kernels.special.digamma:
   relative error below 1e-13 against scipy.special.digamma on (0, 1e6].
   Near the root the Taylor series (t is exact; the root's low part enters
   to first order); else psi(x) = psi(x + n) - sum_{i<n} 1/(x + i) up to
   x + n >= 6, the sum as one fraction, and the asymptotic series.
   psi(0) = -inf; negative or NaN arguments give NaN. */
static inline double fc_digamma(double x) {
    double t, acc, result = 0.0, inv, num, den;
    int i;
    if (!(x > 0.0)) return x == 0.0 ? -INFINITY : NAN;
    t = x - fc_psi_root_hi;
    if (fabs(t) < FC_PSI_ROOT_RADIUS) {
        acc = 0.0;
        for (i = FC_N_TAYLOR - 1; i >= 0; --i) acc = (acc + fc_psi_taylor[i]) * t;
        return acc - fc_psi_root_lo * fc_psi_taylor[0];
    }
    if (x < 6.0) {
        num = 0.0;
        den = 1.0;
        while (x < 6.0) {
            num = num * x + den;
            den *= x;
            x += 1.0;
        }
        result = -num / den;
    }
    inv = 1.0 / x;
    return result + log(x) - 0.5 * inv - fc_asym_tail(inv * inv);
}

/* exp(psi(x)) with one exp and no log, the algorithm of
   fastcavi.kernels.special.exp_digamma: y exp(-sum_{i<6} 1/(x+i) - 1/(2y) -
   tail(1/y^2)), y = x + 6, the sum as one fraction */
static inline double fc_exp_digamma(double x) {
    double num = 1.0, den = x, y = x + 1.0, inv;
    int i;
    for (i = 0; i < 5; ++i) { num = num * y + den; den *= y; y += 1.0; }
    inv = 1.0 / y;
    return y * exp(-(num / den) - 0.5 * inv - fc_asym_tail(inv * inv));
}

#if FC_GNU_VECTORS
/* fc_vexpdig: exp(psi(x)) by the algorithm of fc_exp_digamma (shift to
   y = x + 6, asymptotic series), with sum_{i<6} 1/(x+i) summed pairwise
   as one fraction and the series by Estrin; within 4 ulp of the scalar
   variant. Needs FC_DEFINE_VMATH and FC_DEFINE_VLOG of the same SFX. */
#define FC_DEFINE_VSPECIAL(VD, VI, L, ATTR, SFX)                               \
/* sum_{i<6} 1/(x+i) = num / den (returned, and *den = prod_{i<6} (x+i)),      \
   summed pairwise as one fraction */                                          \
ATTR static inline VD fc_vrecur6##SFX(VD x, VD *den) {                         \
    VD x1 = x + 1.0, x2 = x + 2.0, x3 = x + 3.0, x4 = x + 4.0, x5 = x + 5.0;   \
    VD p01 = x * x1, p23 = x2 * x3, p45 = x4 * x5, p2345 = p23 * p45;          \
    *den = p01 * p2345;                                                        \
    return (x + x1) * p2345 + p01 * ((x2 + x3) * p45 + (x4 + x5) * p23);       \
}                                                                              \
/* sum_{k=1..10} B_2k / (2k y^2k) = z P(z), z = 1/y^2, Estrin */               \
ATTR static inline VD fc_vasym_tail##SFX(VD z) {                               \
    VD z2 = z * z, z4 = z2 * z2;                                               \
    return z * (((1.0 / 12 - z * (1.0 / 120)) + z2 * (1.0 / 252 - z * (1.0 / 240))) \
                + z4 * (((1.0 / 132 - z * (691.0 / 32760)) + z2 * (1.0 / 12 - z * (3617.0 / 8160))) \
                        + z4 * (43867.0 / 14364 - z * (174611.0 / 6600))));    \
}                                                                              \
ATTR static inline VD fc_vexpdig##SFX(VD x) {                                  \
    VD den, num = fc_vrecur6##SFX(x, &den);                                    \
    VD y = x + 6.0, inv = 1.0 / y;                                             \
    return y * fc_vexp##SFX(-(num / den) - 0.5 * inv - fc_vasym_tail##SFX(inv * inv)); \
}                                                                              \
/* psi(x) and lgamma(x), lane-wise: shift to y = x + 6 (fc_vrecur6), then the  \
   asymptotic series of psi and Stirling's series of lgamma to y^-20; psi near \
   its positive root by the Taylor series of fc_digamma (the same      \
   operations, blended by mask, evaluated only when a lane needs it). Outside  \
   1e15 (or NaN) a lane is replaced by the scalar formulas (libm). Error: psi  \
   within 1e-13 relative of scipy (tested), lgamma within ~1e-15 absolute for  \
   x ~ 1 (relative elsewhere). */                                              \
ATTR static inline void fc_vdiglgam##SFX(VD x, VD *psi, VD *lgam) {            \
    VD den, num = fc_vrecur6##SFX(x, &den);                                    \
    VD y = x + 6.0, inv = 1.0 / y, z = inv * inv, z2 = z * z, z4 = z2 * z2, st; \
    VD logy = fc_vlog##SFX(y), t, acc;                                         \
    VI near, odd;                                                              \
    int i, l;                                                                  \
    /* sum_{k=1..10} B_2k / (2k (2k-1) y^(2k-1)) */                            \
    st = inv * (((1.0 / 12 - z * (1.0 / 360)) + z2 * (1.0 / 1260 - z * (1.0 / 1680))) \
                + z4 * (((1.0 / 1188 - z * (691.0 / 360360)) + z2 * (1.0 / 156 - z * (3617.0 / 122400))) \
                        + z4 * (43867.0 / 244188 - z * (174611.0 / 125400)))); \
    *psi = ((logy - num / den) - 0.5 * inv) - fc_vasym_tail##SFX(z);                            \
    *lgam = (((y - 0.5) * logy - y) + (0.91893853320467274178 + st)) - fc_vlog##SFX(den); \
    t = x - fc_psi_root_hi;                                                    \
    near = (t < 0.25) & (t > -0.25);                                           \
    if (fc_vany##SFX(near)) {                                                  \
        acc = (VD){0};                                                         \
        for (i = FC_N_TAYLOR - 1; i >= 0; --i) acc = (acc + fc_psi_taylor[i]) * t; \
        *psi = fc_vsel##SFX(near, acc - fc_psi_root_lo * fc_psi_taylor[0], *psi); \
    }                                                                          \
    odd = ~((x > 1e-300) & (x < 1e15));                                        \
    if (fc_vany##SFX(odd)) {                                                   \
        for (l = 0; l < L; ++l) {                                              \
            if (!odd[l]) continue;                                             \
            double v = x[l];                                                   \
            /* psi(x) = log x - 1/(2x) + O(x^-2) for x >= 1e15;                \
               -1/x - Euler's gamma + O(x) for x <= 1e-300 */                  \
            (*psi)[l] = v > 0.0 ? (v == INFINITY ? v : v >= 1e15 ? log(v) - 0.5 / v \
                                   : -1.0 / v - 0.57721566490153286061)        \
                                : (v == 0.0 ? -INFINITY : NAN);                \
            (*lgam)[l] = fc_lgamma(v);                                         \
        }                                                                      \
    }                                                                          \
}

/* exp(psi(x)) in float32 lanes, for float32 data (VF: L floats).
   Same scheme as fc_vexpdig in float: y = x + 6, psi(x) = psi(y) - sum_{i<6}
   1/(x+i), with the factors x + i scaled by 1/y so that their products
   cannot overflow (t_i = (x+i)/y < 1; then the sum is num / (den y)), the
   asymptotic series to B_8 (next term < 2e-10 relative for y >= 6) and
   fc_vexpf. Relative error of exp(psi(x)) a few float32 ulp times
   max(1, |psi(x)|) (tested). Needs FC_DEFINE_VMATHF of the same SFX. */
#define FC_DEFINE_VSPECIALF(VF, L, ATTR, SFX)                                  \
ATTR static inline VF fc_vexpdigf##SFX(VF x) {                                 \
    VF y = x + 6.0f, inv = 1.0f / y;                                           \
    VF t0 = x * inv, t1 = (x + 1.0f) * inv, t2 = (x + 2.0f) * inv;             \
    VF t3 = (x + 3.0f) * inv, t4 = (x + 4.0f) * inv, t5 = (x + 5.0f) * inv;    \
    VF p01 = t0 * t1, p23 = t2 * t3, p45 = t4 * t5, p2345 = p23 * p45;         \
    VF num = (t0 + t1) * p2345 + p01 * ((t2 + t3) * p45 + (t4 + t5) * p23);    \
    VF den = p01 * p2345, z = inv * inv;                                       \
    VF tail = z * (1.0f / 12 - z * (1.0f / 120 - z * (1.0f / 252 - z * (1.0f / 240)))); \
    return y * fc_vexpf##SFX(-(num / (den * y)) - 0.5f * inv - tail);          \
}
#endif /* FC_GNU_VECTORS */

#endif /* FC_SPECIAL_H */
