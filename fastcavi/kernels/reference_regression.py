"""The old path of the regression kernels' partition helpers, for the compiled ``_regression``.

``csrc/_regression.pyx`` imports :func:`~fastcavi.linear_model.regression_reference.block_rows`,
:func:`~fastcavi.linear_model.regression_reference.moment_factor` and
:func:`~fastcavi.linear_model.regression_reference.row_chunks` from here when
the extension loads, so that the Numba and Cython backends block and chunk the
rows alike. The module goes once the extension is built from a
``csrc/_regression.pyx`` that imports :mod:`fastcavi.linear_model.regression_reference`
instead (``tests/test_registry.py`` fails when csrc/ no longer names this
path). Nothing else should import it.
"""

from fastcavi.linear_model.regression_reference import block_rows, moment_factor, row_chunks

__all__ = ["block_rows", "moment_factor", "row_chunks"]
