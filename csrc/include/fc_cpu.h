/* fc_cpu.h -- build configuration, CPU-feature detection, the one numbering of
   the SIMD variants and the FTZ/DAZ switch.

   Included by every extension in csrc/: _lda.pyx, _gmm.pyx and _spikeslab.pyx
   (through their kernel headers and csrc/fc_simd.pxi) and _regression.pyx (for
   FC_OPENMP_ENABLED only).

   Variants. Every family numbers its variants alike (the order of
   fastcavi.kernels.simd.VARIANTS, which picks one at import and is the only
   reader of FASTCAVI_SIMD):

     FC_SIMD_SCALAR   0  plain C, libm's special functions
     FC_SIMD_GENERIC  1  GCC/Clang vector extensions of 16 bytes (SSE2, NEON),
                         or plain C where the compiler has none
     FC_SIMD_AVX2     2  32-byte vectors, functions with FC_TARGET_AVX2
     FC_SIMD_AVX512   3  64-byte vectors, functions with FC_TARGET_AVX512

   A family builds a subset of them: its kernel header fills a table of
   FC_SIMD_N structs of function pointers (a NULL entry: not built) and
   expands FC_DEFINE_SIMD_TABLE, which defines fc_simd_built(level) and
   fc_set_simd(level) over that table. fc_cpu_supports(level) is the one
   run-time check of the CPU: AVX2 needs the avx2 flag, AVX-512 the flags
   avx2, avx512f and avx512dq (the ISA of FC_TARGET_AVX512).

   No variant uses FMA: the build passes -ffp-contract=off and the target
   attributes do not enable it, so each lane of each variant performs the same
   IEEE operations in the same order and returns the same bits. */

#ifndef FC_CPU_H
#define FC_CPU_H

/* ---- OpenMP: setup.py defines FASTCAVI_OPENMP=1 when -fopenmp works */
#ifndef FASTCAVI_OPENMP
#define FASTCAVI_OPENMP 0
#endif
#if FASTCAVI_OPENMP && defined(_OPENMP)
#define FC_OPENMP_ENABLED 1
#include <omp.h>
#else
#define FC_OPENMP_ENABLED 0
#endif

/* ---- compiler and architecture */
#if defined(__GNUC__) || defined(__clang__)
#define FC_GNU_VECTORS 1
/* vector arguments of static inline helpers never cross an ABI boundary */
#pragma GCC diagnostic ignored "-Wpsabi"
#else
#define FC_GNU_VECTORS 0
#endif
/* the AVX2 and AVX-512 variants are compiled (next to the baseline) here */
#if FC_GNU_VECTORS && (defined(__x86_64__) || defined(__i386__))
#define FC_X86 1
#else
#define FC_X86 0
#endif
#define FC_TARGET_AVX2 __attribute__((target("avx2")))
#define FC_TARGET_AVX512 __attribute__((target("avx2,avx512f,avx512dq")))

/* ---- the variants */
enum { FC_SIMD_SCALAR = 0, FC_SIMD_GENERIC = 1, FC_SIMD_AVX2 = 2, FC_SIMD_AVX512 = 3,
       FC_SIMD_N = 4 };

/* 1 if this CPU (and this build) can run variant `level`, else 0 */
static inline int fc_cpu_supports(int level) {
    if (level == FC_SIMD_SCALAR || level == FC_SIMD_GENERIC) return 1;
#if FC_X86
    __builtin_cpu_init();
    if (level == FC_SIMD_AVX2) return __builtin_cpu_supports("avx2") ? 1 : 0;
    if (level == FC_SIMD_AVX512)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("avx512f")
               && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

/* fc_simd_built(level): 1 if TABLE[level] (TABLE: FC_SIMD_N structs of
   function pointers) has its member KEY set. fc_set_simd(level): copy
   TABLE[level] into CUR, the family's current variant; 0, or -1 (nothing
   changed) when the variant is not built or the CPU cannot run it. Not
   thread-safe: called at import, and by tests between kernel calls. */
#define FC_DEFINE_SIMD_TABLE(TABLE, CUR, KEY)                                  \
    static int fc_simd_built(int level) {                                      \
        return level >= 0 && level < FC_SIMD_N && TABLE[level].KEY != NULL;    \
    }                                                                          \
    static int fc_set_simd(int level) {                                        \
        if (!fc_simd_built(level) || !fc_cpu_supports(level)) return -1;       \
        CUR = TABLE[level];                                                    \
        return 0;                                                              \
    }

/* ---- FTZ/DAZ. The float32 LDA kernels flush subnormals to zero on their
   threads: products of small exp(E[log theta]) and exp(E[log beta]) fall
   below 1.2e-38 and every subnormal operand costs a microcode assist (the
   float32 E-step ran slower than float64). Such values are 1e31 times smaller
   than the eps added to every phinorm, so results are unaffected.
   fc_ftz_on() sets FTZ and DAZ in MXCSR and returns the old value for
   fc_ftz_restore(); elsewhere both do nothing. */
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
static inline unsigned int fc_ftz_on(void) {
    unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040);
    return old;
}
static inline void fc_ftz_restore(unsigned int old) { _mm_setcsr(old); }
#else
static inline unsigned int fc_ftz_on(void) { return 0; }
static inline void fc_ftz_restore(unsigned int old) { (void)old; }
#endif

#endif /* FC_CPU_H */
