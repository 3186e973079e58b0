"""fastcavi: fast mean-field variational inference for latent-variable models.

Coordinate-ascent VI (CAVI) and stochastic VI with compiled kernels (Numba and
Cython/OpenMP, each held to a NumPy reference) behind scikit-learn estimators.
"""

__version__ = "0.1.0.dev0"

from .lda import LatentDirichletAllocation  # noqa: E402
from .mixture import BayesianGaussianMixture  # noqa: E402
from .linear_model import SpikeSlabRegression, VBLinearRegression, VBLogisticRegression  # noqa: E402
from .kernels import available_backends  # noqa: E402

__all__ = [
    "LatentDirichletAllocation",
    "BayesianGaussianMixture",
    "VBLinearRegression",
    "VBLogisticRegression",
    "SpikeSlabRegression",
    "available_backends",
    "__version__",
]
