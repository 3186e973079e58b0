"""Linear models fitted by mean-field variational inference.

- :class:`VBLinearRegression`: Normal-Gamma q(w, tau) and Gamma q(alpha),
  shared or per-feature (ARD) weight precision (Bishop PRML 10.3;
  Drugowitsch 2013, arXiv:1310.5438, section 2);
- :class:`VBLogisticRegression`: the Jaakkola-Jordan bound (PRML 10.6;
  Drugowitsch 2013, section 3), one-vs-rest for more than two classes;
- :class:`SpikeSlabRegression`: Bayesian variable selection by the
  fully factorised spike-and-slab posterior of Carbonetto & Stephens (2012),
  averaged over a grid of hyperparameters.

Each estimator validates input, builds its engine model
(:mod:`.gaussian`, :mod:`.spikeslab_model`), runs
:func:`fastcavi.engine.run_cavi` and publishes the fit in one transaction.
"""

from . import _kernels  # noqa: F401  (registers the kernels)
from .spikeslab import SpikeSlabRegression, spikeslab_elbo
from .vb_linear import VBLinearRegression
from .vb_logistic import VBLogisticRegression

__all__ = ["VBLinearRegression", "VBLogisticRegression", "SpikeSlabRegression",
           "spikeslab_elbo"]
