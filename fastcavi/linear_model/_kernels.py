"""Registers the linear models' kernels with :mod:`fastcavi.kernels`: two families.

- "regression": the weighted Gram, predictive moments and Jaakkola-Jordan
  sweep of :class:`~fastcavi.linear_model.VBLinearRegression` and
  :class:`~fastcavi.linear_model.VBLogisticRegression`;
- "spikeslab": the coordinate sweeps of
  :class:`~fastcavi.linear_model.SpikeSlabRegression`.

Imported by ``fastcavi/linear_model/__init__.py``, hence whenever fastcavi is.
"""

from ..kernels import register_family

register_family(
    "regression",
    numpy="fastcavi.linear_model.regression_reference",
    numba="fastcavi.linear_model.regression_numba",
    cython="fastcavi._ext._regression",
)
register_family(
    "spikeslab",
    numpy="fastcavi.linear_model.spikeslab_reference",
    numba="fastcavi.linear_model.spikeslab_numba",
    cython="fastcavi._ext._spikeslab",
)
