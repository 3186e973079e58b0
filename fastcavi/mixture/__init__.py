"""The variational Bayesian Gaussian mixture family.

- :mod:`.estimator`: :class:`BayesianGaussianMixture`, the scikit-learn
  drop-in (validation, initialisation, ``n_init``, verbose output, publishing);
- :mod:`.steps`: statistics, M-step, expectations and pruning, as array code;
- :mod:`.priors`, :mod:`.bounds`, :mod:`.natural`, :mod:`.predictive`: the
  hyper-parameters, scikit-learn's lower bound and the complete ELBO, the
  natural parameters of the stochastic step, the Student-t predictive.

The fused E-step kernel: :mod:`.gmm_reference` (the NumPy reference) and
:mod:`.gmm_numba` here, ``csrc/_gmm.pyx`` (Cython); :mod:`._kernels` registers
them as the family ``"gmm"`` of :mod:`fastcavi.kernels`.
"""

from . import _kernels  # noqa: F401  (registers the kernels)
from .estimator import BayesianGaussianMixture

__all__ = ["BayesianGaussianMixture"]
