"""Latent Dirichlet allocation: the estimator, its model steps and prior learning.

- :mod:`.estimator`: :class:`LatentDirichletAllocation`, the scikit-learn
  drop-in (validation, initialisation, the drivers' calls, publication);
- :mod:`.model`: :class:`~fastcavi.lda.model.LDAModel`, LDA's local step
  (the E-step), global step and ELBO for :mod:`fastcavi.engine`'s drivers;
- :mod:`.corpus`: the blocks (a CSR corpus, a minibatch over its own words);
- :mod:`.data`: the estimator's input, a matrix or a sharded corpus
  (:class:`fastcavi.datasets.ShardedCorpus`, streamed one shard at a time),
  as blocks, and the evaluations over them; ``write_doc_topic`` /
  ``read_doc_topic`` for ``transform(out=...)``'s folders;
- :mod:`.prior`: learning the document-topic prior (Minka's Newton step);
- :mod:`.lda_reference`, :mod:`.lda_numba`: the kernels' NumPy reference and
  Numba backend (the Cython one is ``csrc/_lda.pyx``), registered as the
  family "lda" of :mod:`fastcavi.kernels` by :mod:`._kernels`.
"""

from . import _kernels  # noqa: F401  (registers the kernels)
from .estimator import LatentDirichletAllocation

__all__ = ["LatentDirichletAllocation"]

# Pickles name the class by its public path, whatever module defines it.
LatentDirichletAllocation.__module__ = __name__

