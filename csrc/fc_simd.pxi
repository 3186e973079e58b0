# The Python face of a model family's SIMD variants, shared by the extensions
# that have them: csrc/_lda.pyx, csrc/_gmm.pyx and csrc/_spikeslab.pyx
# `include` it after setting _FAMILY (the family's name for
# fastcavi.kernels.simd) and after their `cdef extern` block of a kernel
# header that expands FC_DEFINE_SIMD_TABLE (csrc/include/fc_cpu.h), which
# defines fc_simd_built(level) and fc_set_simd(level).
#
# At import the variant is chosen by fastcavi.kernels.simd.choose, the one
# reader of FASTCAVI_SIMD: the widest the CPU runs, or the environment
# variable's (see that module for the rule and each family's variants).

cdef extern from "fc_cpu.h" nogil:
    enum:
        FC_SIMD_SCALAR
        FC_SIMD_GENERIC
        FC_SIMD_AVX2
        FC_SIMD_AVX512
    int fc_cpu_supports(int level)

# defined by the family's kernel header (FC_DEFINE_SIMD_TABLE), included above
cdef extern from * nogil:
    int fc_simd_built(int level)
    int fc_set_simd(int level)

from fastcavi.kernels.simd import choose as _choose_simd

#: the variants this family has, narrowest first: name -> number (fc_cpu.h)
_SIMD_LEVELS = {name: level for name, level in (
    ("scalar", FC_SIMD_SCALAR), ("generic", FC_SIMD_GENERIC), ("avx2", FC_SIMD_AVX2),
    ("avx512", FC_SIMD_AVX512)) if fc_simd_built(level)}
_simd = None


def simd_variants():
    """Names of this family's vector-kernel variants that the CPU can run.

    Returns
    -------
    names : list of str
        A subset of ``["scalar", "generic", "avx2", "avx512"]``, narrowest
        first (see :mod:`fastcavi.kernels.simd` for each family's variants;
        the vector variants of a family return the same bits).
    """
    return [name for name, level in _SIMD_LEVELS.items() if fc_cpu_supports(level)]


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


# the widest usable variant, or FASTCAVI_SIMD's
_usable = simd_variants()
if _usable:
    _set_simd(_choose_simd(_FAMILY, list(_SIMD_LEVELS), _usable))
del _usable
