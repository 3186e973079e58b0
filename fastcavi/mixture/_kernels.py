"""Registers the mixture's fused E-step kernel as the "gmm" family of :mod:`fastcavi.kernels`.

Imported by ``fastcavi/mixture/__init__.py``, hence whenever fastcavi is.
"""

from ..kernels import register_family

register_family(
    "gmm",
    numpy="fastcavi.mixture.gmm_reference",
    numba="fastcavi.mixture.gmm_numba",
    cython="fastcavi._ext._gmm",
)
