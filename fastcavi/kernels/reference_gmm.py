"""The old path of :func:`fastcavi.mixture.gmm_reference.chunk_bounds`, for the compiled ``_gmm``.

``csrc/_gmm.pyx`` imports ``chunk_bounds`` from here when the extension loads,
so that the Numba and Cython backends partition the samples alike. The module
goes once the extension is built from a ``csrc/_gmm.pyx`` that imports
:mod:`fastcavi.mixture.gmm_reference` instead (``tests/test_registry.py`` fails
when csrc/ no longer names this path). Nothing else should import it.
"""

from fastcavi.mixture.gmm_reference import chunk_bounds

__all__ = ["chunk_bounds"]
