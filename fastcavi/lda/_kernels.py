"""Registers LDA's kernels as the "lda" family of :mod:`fastcavi.kernels`.

Imported by ``fastcavi/lda/__init__.py``, hence whenever fastcavi is.
"""

from ..kernels import register_family

register_family(
    "lda",
    numpy="fastcavi.lda.lda_reference",
    numba="fastcavi.lda.lda_numba",
    cython="fastcavi._ext._lda",
)
