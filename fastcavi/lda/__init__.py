"""Latent Dirichlet allocation: the estimator, its model steps and prior learning.

- :mod:`.estimator`: :class:`LatentDirichletAllocation`, the scikit-learn
  drop-in (validation, initialisation, the drivers' calls, publication);
- :mod:`.model`: :class:`~fastcavi.lda.model.LDAModel`, LDA's local step
  (the E-step), global step and ELBO for :mod:`fastcavi.engine`'s drivers;
- :mod:`.corpus`: the blocks (a CSR corpus, a minibatch over its own words);
- :mod:`.prior`: learning the document-topic prior (Minka's Newton step).

The kernels are in :mod:`fastcavi.kernels` (NumPy reference, Numba) and
``csrc/_lda.pyx`` (Cython).
"""

import sys
import types

from . import model as _model
from .estimator import LatentDirichletAllocation
from .model import e_step

__all__ = ["LatentDirichletAllocation"]

# Pickles name the class by its public path, whatever module defines it.
LatentDirichletAllocation.__module__ = __name__


class _Package(types.ModuleType):
    """This package, where setting ``e_step`` sets the one the model's steps call.

    ``fastcavi.lda`` was one module, and a test interrupts a fit by patching
    ``fastcavi.lda.e_step`` (tests/test_lda.py); the E-step now runs in
    :mod:`fastcavi.lda.model`, so the name is forwarded there.
    """

    def __setattr__(self, name, value):
        if name == "e_step":
            setattr(_model, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
